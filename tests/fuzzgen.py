"""A seeded fuzz generator for mmon's inputs (issue 15): capture lines mixed with good ones, datasets,
mutated SageMaker JSON documents, and option values.

Each ``*_case(rng, tmp)`` builds one input from a ``random.Random``, runs mmon on it (the library for
capture, the CLI in-process for the rest) and returns a :class:`Outcome` with what went wrong, if
anything. The contract checked is the README's: no internal error (only ``MmonError``s, and the CLI's
exit codes 0/1/2), every capture line accounted for, good records unchanged by bad neighbours, every
error one line naming its file and line or JSON pointer. Same seed, same inputs.
"""

from __future__ import annotations

import base64
import io
import json
import multiprocessing
import random
import re
import shutil
import string
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmon.capture.merge import capture_merge
from mmon.capture.window import Window, parse_time
from mmon.errors import MmonError
from mmon.store import Store
from tests.capture_parts import one_part

HOUR = Window(parse_time("2022-04-18T00:00Z"), parse_time("2022-04-18T01:00Z"))


# What can go wrong with a case: an Outcome's lists of messages, counted in Figures.failures, and
# the tag of their examples.
FAILURES = {"internal_errors": "internal", "lost_or_altered": "lost", "no_location": "no location",
            "wrong_exit": "wrong exit"}  # fmt: skip


@dataclass
class Outcome:
    kind: str
    internal_errors: list[str] = field(default_factory=list)
    lost_or_altered: list[str] = field(default_factory=list)  # capture: good lines lost/altered, counts not adding up
    no_location: list[str] = field(default_factory=list)
    wrong_exit: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in FAILURES)


@dataclass
class Figures:
    cases: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # messages per FAILURES name
    capture_lines: int = 0
    capture_bad_lines: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, o: Outcome, cases: int = 1) -> None:
        self.cases[o.kind] += cases
        for name, tag in FAILURES.items():
            msgs = getattr(o, name)
            self.failures[name] += len(msgs)
            # A few examples of each kind of failure, so a rare one is not hidden behind a common one.
            for msg in msgs:
                self._example(f"{tag}: {o.kind}: {msg[:300]}")

    def _example(self, text: str) -> None:
        tag = text.split(":", 1)[0]
        if sum(e.split(":", 1)[0] == tag for e in self.examples) < 5:
            self.examples.append(text)

    def merge(self, o: Figures) -> None:
        self.cases.update(o.cases)
        self.failures.update(o.failures)
        self.capture_lines += o.capture_lines
        self.capture_bad_lines += o.capture_bad_lines
        for e in o.examples:
            self._example(e)

    def summary(self) -> str:
        return (
            f"{sum(self.cases.values())} cases ({', '.join(f'{k} {v}' for k, v in sorted(self.cases.items()))}); "
            f"capture lines {self.capture_lines} of which malformed {self.capture_bad_lines}; "
            f"internal errors {self.failures['internal_errors']}, lost or altered good lines {self.failures['lost_or_altered']}, "
            f"errors without a location {self.failures['no_location']}, wrong exit codes {self.failures['wrong_exit']}"
        )


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """``mmon ARGS`` in-process: (exit code, stdout, stderr); a raised non-SystemExit is an internal error."""
    from mmon.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    code: int
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def _error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("mmon: error:") or ln.startswith("mmon: internal error:")]


def check_cli(o: Outcome, args: list[str], allowed: set[int], located: Callable[[str], bool] | None) -> tuple[int, str, str]:
    """Run the CLI and record what breaks the contract."""
    code, out, err = run_cli(args)
    if "internal error" in err or "Traceback" in err:
        o.internal_errors.append(f"{args[:1]}: {err.strip()[:200]}")
        return code, out, err
    if code not in allowed:
        o.wrong_exit.append(f"{args}: exit {code} not in {sorted(allowed)}: {err.strip()[:200]}")
    if code == 2:
        lines = _error_lines(err)
        if len(lines) != 1:
            o.no_location.append(f"{args[:1]}: not one error line: {err.strip()[:200]!r}")
        elif located is not None and not located(lines[0]):
            o.no_location.append(f"{args[:1]}: {lines[0][:200]}")
    return code, out, err


# -- capture lines -------------------------------------------------------------------------------


def _side(ct: str, enc: str, data: str, mode: str) -> dict[str, str]:
    return {"observedContentType": ct, "mode": mode, "data": data, "encoding": enc}


def _good_record(rng: random.Random, style: str, eid: str) -> dict[str, Any]:
    n_in = rng.randint(1, 4)
    rows = 1 if rng.random() < 0.8 else rng.randint(2, 3)

    def num() -> str:
        # An empty field only beside others: a row of one empty field is a blank line, not a row.
        return rng.choice([str(rng.randint(-50, 50)), f"{rng.uniform(-5, 5):.3f}", "abc"] + ([""] if n_in > 1 else []))

    if style == "csv":
        inp = "\n".join(",".join(num() for _ in range(n_in)) for _ in range(rows))
        out = "\n".join(f"{rng.random():.4f}" for _ in range(rows))
        cd = {"endpointInput": _side("text/csv", "CSV", inp, "INPUT"), "endpointOutput": _side("text/csv", "CSV", out, "OUTPUT")}
    elif style == "json":
        inst = [[rng.randint(0, 9) for _ in range(3)] for _ in range(rows)]
        preds = [{"score": round(rng.random(), 4)} for _ in range(rows)]
        cd = {
            "endpointInput": _side("application/json", "JSON", json.dumps({"instances": inst}), "INPUT"),
            "endpointOutput": _side("application/json", "JSON", json.dumps({"predictions": preds}), "OUTPUT"),
        }
    else:  # base64 CSV
        inp = ",".join(str(rng.randint(0, 9)) for _ in range(3))
        cd = {
            "endpointInput": _side("text/csv", "BASE64", base64.b64encode(inp.encode()).decode(), "INPUT"),
            "endpointOutput": _side("text/csv", "CSV", f"{rng.random():.3f}", "OUTPUT"),
        }
    minute, second = rng.randint(0, 59), rng.randint(0, 59)
    t = rng.choice([f"2022-04-18T00:{minute:02d}:{second:02d}Z", f"2022-04-18T00:{minute:02d}:{second:02d}.{rng.randint(0, 999999):06d}"])
    return {"captureData": cd, "eventMetadata": {"eventId": eid, "inferenceTime": t, "inferenceId": f"i-{eid}"}, "eventVersion": "0"}


def _with_csv_sides(text: str, inp: str, out: str) -> bytes:
    """The capture record ``text`` with CSV payloads ``inp`` and ``out`` as its input and output."""
    r = json.loads(text)
    r["captureData"]["endpointInput"] = _side("text/csv", "CSV", inp, "INPUT")
    r["captureData"]["endpointOutput"] = _side("text/csv", "CSV", out, "OUTPUT")
    return json.dumps(r).encode()


def _json_payload_record(base: dict[str, Any], data: str) -> dict[str, Any]:
    r = json.loads(json.dumps(base))
    r["captureData"]["endpointInput"] = _side("application/json", "JSON", data, "INPUT")
    r["captureData"]["endpointOutput"] = _side("application/json", "JSON", json.dumps({"predictions": [{"score": 0.5}]}), "OUTPUT")
    return r


def _set(r: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    r = json.loads(json.dumps(r))
    *keys, last = path.split(".")
    d = r
    for k in keys:
        d = d[k]
    if value is _DELETE:
        d.pop(last, None)
    else:
        d[last] = value
    return r


_DELETE = object()
_WRONG_VALUES: list[Any] = [[1, 2], 7, 1.5, True, {"x": 1}]


def _bad_line(rng: random.Random, base: dict[str, Any], style: str) -> tuple[str, bytes]:
    """(mutation name, a line that must be counted as malformed: line or payload)."""
    text = json.dumps(base)
    kinds = [
        "truncated", "garbage", "utf8", "deep", "array", "scalar", "wrong_type", "no_data", "no_event_id",
        "no_time", "bad_time", "nan_payload", "bad_json_payload", "mixed_shape", "row_mismatch", "bad_base64",
        "unknown_encoding", "control_byte", "empty_payload", "deep_payload", "nested_mismatch",
    ]  # fmt: skip
    kind = rng.choice(kinds)
    if kind == "truncated":
        return kind, text[: rng.randint(1, len(text) - 2)].encode()
    if kind == "garbage":
        return kind, "".join(rng.choice(string.printable.strip()) for _ in range(rng.randint(1, 60))).replace("\n", " ").encode()
    if kind == "utf8":
        cut = rng.randint(1, len(text) - 1)
        return kind, text[:cut].encode() + rng.choice([b"\xff", b"\xc3\x28", b"\xe9"]) + text[cut:].encode()
    if kind == "deep":
        n = rng.choice([600, 1500, 5000])
        return kind, ("[" * n + "]" * n).encode()
    if kind == "array":
        return kind, json.dumps([base]).encode()
    if kind == "scalar":
        return kind, rng.choice([b"42", b'"text"', b"null", b"true"])
    if kind == "wrong_type":
        path = rng.choice([
            "captureData.endpointInput.data", "captureData.endpointOutput.data", "captureData.endpointInput.encoding",
            "captureData.endpointOutput.observedContentType", "eventMetadata.eventId", "eventMetadata.inferenceTime",
            "eventMetadata.inferenceId", "captureData", "eventMetadata", "captureData.endpointInput",
        ])  # fmt: skip
        value = rng.choice(_WRONG_VALUES + (["a string"] if path in ("captureData", "eventMetadata", "captureData.endpointInput") else []))
        if path in ("captureData", "eventMetadata", "captureData.endpointInput") and isinstance(value, dict):
            value = [1]
        return kind, json.dumps(_set(base, path, value)).encode()
    if kind == "no_data":
        r = _set(base, "captureData.endpointInput.data", _DELETE)
        return kind, json.dumps(_set(r, "captureData.endpointOutput.data", _DELETE)).encode()
    if kind == "no_event_id":
        return kind, json.dumps(_set(base, "eventMetadata.eventId", _DELETE)).encode()
    if kind == "no_time":
        return kind, json.dumps(_set(base, "eventMetadata.inferenceTime", _DELETE)).encode()
    if kind == "bad_time":
        return kind, json.dumps(_set(base, "eventMetadata.inferenceTime", rng.choice(["yesterday", "2022-13-45T00:00Z", ""]))).encode()
    if kind == "nan_payload":
        v = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
        return kind, json.dumps(_json_payload_record(base, '{"instances": [[1, ' + v + ", 3]]}")).encode()
    if kind == "bad_json_payload":
        return kind, json.dumps(_json_payload_record(base, rng.choice(['{"instances": [1, 2', "{nope", "[1,,2]", '{"a": }']))).encode()
    if kind == "mixed_shape":
        return kind, json.dumps(_json_payload_record(base, rng.choice(["[[1, 2], 3]", '{"instances": [[1, 2], 3]}']))).encode()
    if kind == "row_mismatch":
        return kind, _with_csv_sides(text, "1,2\n3,4\n5,6", "0.1\n0.2")
    if kind == "bad_base64":
        return kind, json.dumps(_set(base, "captureData.endpointInput", _side("text/csv", "BASE64", "%%%not base64", "INPUT"))).encode()
    if kind == "unknown_encoding":
        return kind, json.dumps(_set(base, "captureData.endpointInput", _side("application/x-unknown", "ZIP", "abc", "INPUT"))).encode()
    if kind == "control_byte":
        cut = rng.choice([0, len(text)])
        return kind, (text[:cut] + "\x1f" + text[cut:]).encode()
    if kind == "empty_payload":
        return kind, _with_csv_sides(text, "\n \n", "\n")
    if kind == "deep_payload":
        n = rng.choice([1100, 5000])
        return kind, json.dumps(_json_payload_record(base, "[" * n + "]" * n)).encode()
    # nested_mismatch: a JSON payload whose rows clash with the others' shapes and with its output
    return kind, json.dumps(_json_payload_record(base, '{"instances": [[1, 2], [3]]}')).encode()


@dataclass
class _CaptureInput:
    """One capture case's lines, cut into files, and the choices its two writes make."""

    case: int
    lines: list[tuple[bool, bytes, str]]  # (good, line, event id or mutation)
    parts: list[list[tuple[bool, bytes, str]]]
    n_good: int
    bad_kinds: list[str]
    # per write (with the bad lines, without), per file: (blank lines between, trailing newline)
    layout: list[list[tuple[bool, bool]]]


def capture_style(seed: int) -> str:
    """The payload style a capture case's seed draws first (cases of one style are merged together)."""
    return random.Random(seed).choice(["csv", "json", "b64"])


def _capture_input(rng: random.Random, case: int) -> _CaptureInput:
    """Good records with malformed lines among them, in 1-3 files. Event ids carry the case
    number, so the records of several cases can share one window."""
    style = rng.choice(["csv", "json", "b64"])
    n_good = rng.randint(1, 12)
    n_bad = rng.randint(1, 5)
    good = [_good_record(rng, style, f"g{case}.{i}") for i in range(n_good)]
    bad = [_bad_line(rng, _good_record(rng, style, f"b{case}.{i}"), style) for i in range(n_bad)]
    lines: list[tuple[bool, bytes, str]] = [(True, json.dumps(g).encode(), g["eventMetadata"]["eventId"]) for g in good]
    lines += [(False, line, kind) for kind, line in bad]
    rng.shuffle(lines)
    n_files = rng.randint(1, 3)
    cuts = sorted(rng.sample(range(1, len(lines)), k=min(n_files - 1, len(lines) - 1))) if len(lines) > 1 else []
    parts = [lines[a:b] for a, b in zip([0, *cuts], [*cuts, len(lines)], strict=True)]
    layout = [[(rng.random() < 0.2, rng.random() < 0.7) for _ in parts] for _ in range(2)]
    return _CaptureInput(case, lines, parts, n_good, sorted(kind for kind, _ in bad), layout)


def _write_capture(root: Path, cases: list[_CaptureInput], keep_bad: bool) -> None:
    folder = root / "cap" / "AllTraffic" / "2022" / "04" / "18" / "00"
    folder.mkdir(parents=True)
    for c in cases:
        for k, part in enumerate(c.parts):
            chosen = [line for is_good, line, _ in part if is_good or keep_bad]
            blank, trailing = c.layout[0 if keep_bad else 1][k]
            data = (b"\n\n" if blank else b"\n").join(chosen) + (b"\n" if trailing else b"")
            (folder / f"f-{c.case:05d}-{k:02d}.jsonl").write_bytes(data)


def capture_batch(cases: list[_CaptureInput], tmp: Path, figures: Figures | None = None) -> Outcome:
    """The cases' files in one hour folder, merged with and without their malformed lines: every
    line accounted for, and the good records' rows the same as when the bad lines are absent
    (isolation across cases' files too, since they share the window)."""
    o = Outcome("capture")
    mixed, alone = tmp / "mixed", tmp / "alone"
    _write_capture(mixed, cases, True)
    _write_capture(alone, cases, False)
    lines = sum(len(c.lines) for c in cases)
    n_good = sum(c.n_good for c in cases)
    n_bad = lines - n_good
    bad_kinds = sorted(k for c in cases for k in c.bad_kinds)
    if figures is not None:
        figures.capture_lines += lines
        figures.capture_bad_lines += n_bad
    try:
        s = capture_merge(Store(), str(mixed / "cap"), str(mixed / "out"), HOUR)
        s0 = capture_merge(Store(), str(alone / "cap"), str(alone / "out"), HOUR)
    except MmonError as exc:
        o.lost_or_altered.append(f"capture-merge refused the window: {exc}")
        return o
    except Exception as exc:  # noqa: BLE001 - what the fuzz looks for
        o.internal_errors.append(f"{type(exc).__name__}: {str(exc)[:200]} [{traceback.format_exc().splitlines()[-3][:120]}]")
        return o
    # Every line accounted for.
    if s.records != lines:
        o.lost_or_altered.append(f"records {s.records} != lines written {lines} ({bad_kinds})")
    if s.records != s.malformed_lines + s.shadow_skipped + s.outside_window + s.in_window:
        o.lost_or_altered.append(f"counts do not add up: {s.to_dict()['capture']}")
    if s.malformed_lines + s.malformed_payloads != n_bad:
        o.lost_or_altered.append(
            f"malformed {s.malformed_lines} + bad payloads {s.malformed_payloads} != {n_bad} bad lines ({bad_kinds})"
        )
    rows = [json.loads(x) for x in one_part(mixed / "out", "jsonl").read_text().splitlines()]
    rows0 = [json.loads(x) for x in one_part(alone / "out", "jsonl").read_text().splitlines()]
    ids = {r["__mmon_event_id"] for r in rows}
    if s.in_window != s.duplicates + s.malformed_payloads + len(ids):
        o.lost_or_altered.append(f"in_window {s.in_window} != duplicates + bad payloads + records with rows ({bad_kinds})")
    # Good records unchanged: the same rows as when the bad lines are absent.
    good_rows = [r for r in rows if str(r["__mmon_event_id"]).startswith("g")]
    if good_rows != rows0 or len(rows) != len(good_rows):
        o.lost_or_altered.append(f"good rows differ from the run without bad lines ({bad_kinds})")
    if s0.records != n_good or s0.malformed_lines or s0.malformed_payloads:
        o.lost_or_altered.append(f"the good records alone are not all read: {s0.to_dict()['capture']}")
    for p in s.problems:
        if not p.file or p.line <= 0 or not p.reason:
            o.no_location.append(f"problem without file/line: {p}")
    return o


def capture_case(rng: random.Random, tmp: Path, figures: Figures | None = None) -> Outcome:
    """One capture case alone in its window."""
    return capture_batch([_capture_input(rng, 0)], tmp, figures)


# -- datasets ------------------------------------------------------------------------------------

# Mutations that make a dataset unreadable: the error must name the line (or say why, for a file).
# (A stray quote inside an unquoted field is read literally by polars in some places, as by Spark;
# elsewhere polars refuses it: then the error must name the line. Both are fine.)
_REFUSED = {"unclosed_quote", "nan_jsonl", "inf_jsonl", "bom_jsonl", "truncated_json", "ragged",
            "bad_utf8", "huge_unclosed", "not_object_jsonl", "deep_jsonl", "overflow_number"}  # fmt: skip


def dataset_case(rng: random.Random, tmp: Path) -> Outcome:
    o = Outcome("dataset")
    fmt = rng.choice(["csv", "jsonl", "json"])
    n = rng.randint(1, 30)
    cols = ["a", "b", "c"][: rng.randint(1, 3)]
    rows = [{c: rng.choice([rng.randint(-9, 99), round(rng.uniform(-1, 1), 3), None, "x"]) for c in cols} for _ in range(n)]
    common = ["none", "blank_lines", "empty_file", "bad_utf8"]
    if fmt == "csv":
        mutation = rng.choice(common + ["dup_header", "empty_header", "unclosed_quote", "stray_quote", "ragged",
                                        "huge_unclosed", "overflow_number"])  # fmt: skip
    else:
        mutation = rng.choice(common + ["nan_jsonl", "inf_jsonl", "bom_jsonl", "truncated_json", "not_object_jsonl",
                                        "deep_jsonl", "nested_late_json"])  # fmt: skip
    if fmt == "csv":
        lines = [",".join(cols)] + [",".join("" if r[c] is None else str(r[c]) for c in cols) for r in rows]
        k = rng.randint(1, len(lines) - 1) if len(lines) > 1 else 1
        if mutation == "blank_lines":
            lines.insert(k, "")
            lines.append("")
        elif mutation == "dup_header":
            lines[0] = ",".join([cols[0]] * len(cols))
        elif mutation == "empty_header":
            lines[0] = ",".join([""] * len(cols))
        elif mutation == "unclosed_quote":  # a field that opens a quote and never closes it
            lines[k] = ",".join(["1"] * (len(cols) - 1) + ['"open'])
        elif mutation == "stray_quote":
            lines[k] = 'x"y' + lines[k][1:] if lines[k] else 'x"y'
        elif mutation == "ragged":
            lines[k] += ",1,2"
        elif mutation == "huge_unclosed":
            lines[k] = '"' + "y" * 140_000
        elif mutation == "overflow_number":
            lines = [cols[0]] + [str(rng.randint(0, 9)) for _ in range(n)]
            lines[k] = rng.choice(["1e999", "-1e999", "1" + "0" * 400])
        data = "\n".join(lines).encode()
        if mutation == "bad_utf8":
            data = data.replace(b"\n", b"\n\xff", 1)
        if mutation == "empty_file":
            data = b""
    else:
        texts = [json.dumps(r) for r in rows]
        k = rng.randrange(len(texts))
        if mutation == "nan_jsonl":
            texts[k] = '{"a": NaN}'
        elif mutation == "inf_jsonl":
            texts[k] = '{"a": 1e400}'
        elif mutation == "not_object_jsonl":
            texts[k] = "[1, 2]"
        elif mutation == "deep_jsonl":
            texts[k] = '{"a": ' + "[" * 3000 + "]" * 3000 + "}"
        elif mutation == "nested_late_json":
            texts.append(json.dumps({"a": 1, "n": {"x": [1, 2]}}))
        elif mutation == "blank_lines":
            texts.insert(k, "")
        if fmt == "jsonl":
            data = "\n".join(texts).encode()
            if mutation == "bom_jsonl":
                data = b"\xef\xbb\xbf" + data
            if mutation == "truncated_json":
                data = data[: max(1, len(data) - 3)]
        else:
            data = ("[" + ",\n".join(t for t in texts if t) + "]").encode()
            if mutation == "truncated_json":
                data = data[: max(1, len(data) - 3)]
            if mutation == "bom_jsonl":
                data = b"\xef\xbb\xbf" + data
        if mutation == "bad_utf8":
            data = data[:-2] + b"\xff" + data[-2:]
        if mutation == "empty_file":
            data = b""
    path = tmp / f"data.{fmt}"
    path.write_bytes(data)
    name = path.name

    def located(line: str) -> bool:
        if name not in line:
            return False
        return mutation not in _REFUSED | {"stray_quote"} or mutation == "overflow_number" or any(
            w in line for w in ("line", "empty", "column", " at /")
        )

    code, _, err = check_cli(o, ["baseline", path, "-o", tmp / "out"], {0, 2}, located)  # not -q: warnings are checked
    if mutation in _REFUSED and code == 0 and not (fmt == "json" and mutation == "bom_jsonl"):  # .json: polars skips a BOM
        o.wrong_exit.append(f"{fmt} with {mutation} was accepted (exit 0)")
    if code == 0 and mutation == "blank_lines" and fmt == "csv":
        stats = json.loads((tmp / "out" / "statistics.json").read_text())
        # A row of one empty field is an empty line too: Spark skips it like any blank line.
        expected = sum(1 for r in rows if not (len(cols) == 1 and r[cols[0]] is None))
        if stats["dataset"]["item_count"] != expected:
            o.lost_or_altered.append(f"blank lines counted as rows: item_count {stats['dataset']['item_count']} != {expected}")
    if mutation in ("dup_header", "empty_header") and code == 0 and len(cols) > 1 and "mmon: warning:" not in err:
        o.wrong_exit.append(f"{mutation}: no warning")
    return o


# -- JSON documents ------------------------------------------------------------------------------


def _mutate_json(rng: random.Random, doc: Any) -> Any:
    """One random change somewhere in the document: a key removed, a value of another type, a
    non-finite or huge number, deep nesting, an empty container."""
    doc = json.loads(json.dumps(doc))
    paths: list[list[Any]] = []

    def walk(v: Any, path: list[Any]) -> None:
        paths.append(path)
        if len(paths) > 4000:
            return
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, [*path, k])
        elif isinstance(v, list):
            for i, x in enumerate(v[:20]):
                walk(x, [*path, i])

    walk(doc, [])
    path = rng.choice(paths)
    replacement = rng.choice([
        "delete", None, "", "text", -1, 0, 1e308, 10**400, "NaN", "Infinity", [], {}, [None], True,
        "deep", {"unexpected": 1},
    ])  # fmt: skip
    if replacement == "deep":
        replacement = json.loads("[" * 300 + "]" * 300)
    if not path:
        return rng.choice([[], "text", 42, None])
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if replacement == "delete":
        if isinstance(parent, dict):
            parent.pop(last, None)
        elif isinstance(parent, list) and last < len(parent):
            parent.pop(last)
    else:
        parent[last] = replacement
    return doc


def _documents(tmp: Path) -> dict[str, Any]:
    """A baseline and a report made by mmon itself on a small dataset (made once per folder)."""
    cache = tmp.parent / "fuzz-docs.json"
    if cache.exists():
        return json.loads(cache.read_text())
    work = tmp.parent / "fuzz-docs"
    work.mkdir(exist_ok=True)
    base = work / "base.csv"
    base.write_text("a,b,c\n" + "\n".join(f"{i},{i * 0.5},{'xyz'[i % 3]}" for i in range(50)) + "\n")
    cur = work / "cur.csv"
    cur.write_text("a,b,c\n" + "\n".join(f"{i * 3},{i * 0.7},{'xyw'[i % 3]}" for i in range(40)) + "\n")
    assert run_cli(["baseline", base, "-o", work / "bl", "-q"])[0] == 0
    code, _, err = run_cli(["run", cur, "--baseline-statistics", work / "bl" / "statistics.json",
                            "--baseline-constraints", work / "bl" / "constraints.json", "-o", work / "rep", "-q"])  # fmt: skip
    assert code in (0, 1), err
    docs = {
        "statistics": json.loads((work / "bl" / "statistics.json").read_text()),
        "constraints": json.loads((work / "bl" / "constraints.json").read_text()),
        "violations": json.loads((work / "rep" / "constraint_violations.json").read_text()),
        "cur": str(cur),
        "bl": str(work / "bl"),
    }
    cache.write_text(json.dumps(docs))
    return docs


def document_case(rng: random.Random, tmp: Path) -> Outcome:
    o = Outcome("document")
    docs = _documents(tmp)
    which = rng.choice(["statistics", "constraints", "violations"])
    doc = docs[which]
    for _ in range(rng.randint(1, 3)):
        doc = _mutate_json(rng, doc)
    text = json.dumps(doc, allow_nan=True)
    if rng.random() < 0.15:
        text = text[: rng.randint(1, max(1, len(text) - 1))]  # truncated
    path = tmp / f"{which}.json"
    path.write_text(text)

    def located(line: str) -> bool:
        return path.name in line and (" at /" in line or "line " in line or "not valid JSON" in line or ": no " in line or "column" in line)

    if which == "violations":
        check_cli(o, ["violations", path], {0, 1, 2}, located)
    else:
        bl = Path(docs["bl"])
        stats = path if which == "statistics" else bl / "statistics.json"
        cons = path if which == "constraints" else bl / "constraints.json"
        check_cli(o, ["run", docs["cur"], "--baseline-statistics", stats, "--baseline-constraints", cons,
                      "-o", tmp / "rep", "-q"], {0, 1, 2}, None)  # fmt: skip
    return o


# -- option values -------------------------------------------------------------------------------

_ODD = ["", " ", "garbage", "0", "-1", "1e999", "NaN", "9999-12-31T23:59:59Z", "0001-01-01T00:00Z", "-P99999999D",
        "P1Y", "-PT", "cron(0 0 30 2 ? *)", "0 0 31 4 *", "☃", "x" * 300, "--", "-", "2024-02-30T00:00Z",
        "now", "every:0h", "every:99h", "daily:25", "-P1,5D", "PT1H", "secret:VALUE", "a=b", "@reboot"]  # fmt: skip


def option_case(rng: random.Random, tmp: Path) -> Outcome:
    o = Outcome("option")
    docs = _documents(tmp)
    bl = Path(docs["bl"])
    value = rng.choice(_ODD) if rng.random() < 0.7 else "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 12)))
    run = ["run", docs["cur"], "--baseline-statistics", bl / "statistics.json", "--baseline-constraints",
           bl / "constraints.json", "-o", tmp / "rep", "-q"]  # fmt: skip
    capture = ["capture-merge", "--capture", tmp / "nocap", "-o", tmp / "m", "-q"]
    choices: list[list[Any]] = [
        [*run, "--metric-time", value],
        [*run, "--scheduled-time", value],
        [*run, "--scheduled-time", "2024-01-31T13:00Z", "--start-offset", value],
        [*run, "--scheduled-time", "2024-01-31T13:00Z", "--end-offset", value],
        [*run, "--scheduled-time", "now", "--schedule-expression", value],
        [*run, "--drift-test", value],
        [*run, "--disable", value],
        [*run, "--format", value],
        [*run, "-s", value],
        [*capture, "--scheduled-time", value],
        [*capture, "--start-time", value, "--end-time", "2024-01-31T13:00Z"],
        [*capture, "--scheduled-time", "2024-01-31T13:00Z", "--start-offset", value],
        [*capture, "--scheduled-time", "2024-01-31T13:00Z", "--capture-lookbehind", value],
        ["schedule-print", value],
        ["schedule-print", "hourly", "--from", value],
        ["schedule-print", "hourly", "--count", value],
        ["executions", tmp / "rep", "--last", value],
        ["executions", tmp / "rep", "--since", value],
        ["baseline", docs["cur"], "-o", tmp / "b", "--categorical-drift-method", value],
        ["violations", value or "x"],
    ]
    args = rng.choice(choices)
    code, out, err = check_cli(o, args, {0, 1, 2}, lambda line: True)
    if "-s" in args and "secret" in value and "VALUE" in out + err:
        o.wrong_exit.append("a storage option's value was printed")
    return o


# -- the runner ----------------------------------------------------------------------------------

CASES: dict[str, Callable[..., Outcome]] = {
    "capture": capture_case,
    "dataset": dataset_case,
    "document": document_case,
    "option": option_case,
}


# A unit of work: one case, or several capture cases of one payload style merged in one window.
Unit = tuple[str, list[tuple[int, int]]]  # (kind, [(case number, case seed)])


def fuzz_units(seed: int, counts: dict[str, int], capture_batch_size: int = 1) -> list[Unit]:
    """The cases of a run, from one seed (each case's seed drawn in case order, whatever the
    batching), as units of work."""
    rng = random.Random(seed)
    units: list[Unit] = []
    i = 0
    for kind, n in counts.items():
        pending: dict[str, list[tuple[int, int]]] = {}
        for _ in range(n):
            case_seed = rng.getrandbits(64)
            if kind == "capture" and capture_batch_size > 1:
                bucket = pending.setdefault(capture_style(case_seed), [])
                bucket.append((i, case_seed))
                if len(bucket) == capture_batch_size:
                    units.append((kind, pending.pop(capture_style(case_seed))))
            else:
                units.append((kind, [(i, case_seed)]))
            i += 1
        units += [(kind, cases) for cases in pending.values()]
    return units


def run_unit(unit: Unit, tmp: Path) -> Figures:
    """Run one unit in its own folder (removed when nothing went wrong); returns its figures."""
    figures = Figures()
    kind, cases = unit
    folder = tmp / f"c{cases[0][0]}"
    folder.mkdir(parents=True)
    if kind == "capture":
        outcome = capture_batch([_capture_input(random.Random(sd), i) for i, sd in cases], folder, figures)
        if not outcome.ok and len(cases) > 1:
            # Which case? Each one alone in its window; if none fails alone, the failure needs
            # the cases together (a bad record changing another file's records): said as such.
            alone = [capture_batch([_capture_input(random.Random(sd), i)], folder / f"alone-{i}") for i, sd in cases]
            failed = [o for o in alone if not o.ok]
            if failed:
                outcome = Outcome("capture")
                for o in failed:
                    for name in FAILURES:
                        getattr(outcome, name).extend(getattr(o, name))
            else:
                outcome.lost_or_altered[:] = [f"only with cases {[i for i, _ in cases]} in one window: {m}" for m in outcome.lost_or_altered]
        figures.add(outcome, len(cases))
    else:
        (i, case_seed), = cases
        outcome = CASES[kind](random.Random(case_seed), folder)
        figures.add(outcome)
    if outcome.ok:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def _run_units(units: list[Unit], tmp: Path) -> Figures:
    figures = Figures()
    for unit in units:
        figures.merge(run_unit(unit, tmp))
    return figures


def run_fuzz(
    seed: int, counts: dict[str, int], tmp: Path, progress: bool = False, workers: int = 1, capture_batch_size: int = 1
) -> Figures:
    """``counts[kind]`` cases of each kind from one seed; returns the figures.

    ``capture_batch_size``: capture cases of one payload style merged together in one window
    (one merge per batch instead of per case; a failing batch is re-run case by case to name
    the case). ``workers``: processes the units are spread over (the figures do not depend on it).
    """
    units = fuzz_units(seed, counts, capture_batch_size)
    if counts.get("document") or counts.get("option"):
        _documents(tmp / "docs")  # made once, before any worker could race to make it
    figures = Figures()
    done = 0
    if workers <= 1:
        results: Iterator[Figures] = (run_unit(u, tmp) for u in units)
        pool = None
    else:
        # Spawned, not forked: a fork of a process with polars' thread pool can hang.
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        # Interleaved slices: every worker gets its share of each kind.
        slices = [units[k::workers * 8] for k in range(workers * 8)]
        results = pool.map(_run_units, slices, [tmp] * len(slices))
    try:
        for f in results:
            figures.merge(f)
            done += sum(f.cases.values())
            if progress:
                print(f"... {done} cases: {figures.summary()}", file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return figures


if __name__ == "__main__":  # python -m tests.fuzzgen SEED N_PER_KIND [WORKERS]
    import tempfile

    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    with tempfile.TemporaryDirectory() as d:
        workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        f = run_fuzz(seed, dict.fromkeys(CASES, per), Path(d), progress=True, workers=workers, capture_batch_size=25)
    print(f.summary())
    for e in f.examples:
        print(" ", e)
    _ = re  # kept for ad-hoc filtering in a debugger
