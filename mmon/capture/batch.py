"""Batch-transform data capture (SageMaker DG ``model-monitor-data-capture-batch``) for ``capture_merge``.

Layout of ``DataCaptureConfig.DestinationS3Uri`` (formats reference §5.3)::

    {dest}/input/yyyy/mm/dd/hh/{manifest}    [{"prefix": "s3://<input>/"}, "dummy_0.csv", "dummy_1.csv", …]
    {dest}/output/yyyy/mm/dd/hh/{manifest}   [{"prefix": "s3://<output>/"}, "dummy_0.csv.out", …]

The hour folder is the transform job's start hour. Manifests list the data files, they are not
copies: each is read at ``prefix + name``. With ``GenerateInferenceId: true`` every output row ends
with the inference id and time (CSV: two trailing columns; JSON Lines: the keys
``SageMakerInferenceId`` / ``SageMakerInferenceTime``).

Assumptions (not all visible in §5.3):

* input file ``X`` pairs with output file ``X.out`` (batch transform's naming of outputs); when no
  output name follows that convention, files pair by position in the manifests;
* the n-th input manifest of an hour folder pairs with the output manifest of the same file name in
  the same hour of ``output/``, else with the n-th one;
* within a pair, row ``k`` of the input file is row ``k`` of the output file (``AssembleWith: Line``,
  no ``JoinSource``); a pair whose row counts differ cannot be aligned: all its rows are counted as
  malformed, with a file-level example (line 0);
* ``__mmon_event_id`` and ``__mmon_inference_id`` both take the inference id (SageMaker joins
  ground truth on it), ``__mmon_inference_time`` the inference time; without GenerateInferenceId
  columns they are null and every row of the window's manifests is kept (the window is then the
  manifest's hour folder, i.e. the job start hour);
* a manifest with no counterpart manifest in the same hour folder of the other side (e.g. only
  ``input/`` exists) gives one-sided rows, as an input-only or output-only endpoint capture, with
  a warning when a whole side is missing; a listed file whose counterpart is missing from a
  paired manifest is malformed;
* only the flat table is produced (no ``--preprocessor``; with ground truth, ``--flat``): there is
  no captured record to append ``groundTruthData`` to.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from mmon.capture import layout
from mmon.capture.records import Problem
from mmon.capture.window import Window
from mmon.errors import InputError, MmonError
from mmon.store import Store, is_local, local_path

if TYPE_CHECKING:
    from mmon.capture.merge import _State

SIDES = ("input", "output")
OUTPUT_SUFFIX = ".out"
ID_KEY, TIME_KEY = "SageMakerInferenceId", "SageMakerInferenceTime"
OUTPUT_KEY = "SageMakerOutput"  # the model's answer in an output joined with its input (JoinSource: Input)
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$")


# -- layout -----------------------------------------------------------------------------------------


def parse_manifest(data: bytes) -> tuple[str, list[str]] | None:
    """``(prefix, names)`` of a batch-capture manifest, or None when ``data`` is not one."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if (
        not isinstance(doc, list)
        or not doc
        or not isinstance(doc[0], dict)
        or not isinstance(doc[0].get("prefix"), str)
    ):
        return None
    names = doc[1:]
    if not all(isinstance(n, str) for n in names):
        return None
    return doc[0]["prefix"], names


def _side_dirs(store: Store, uri: str) -> dict[str, str]:
    return {layout._basename(c): c for c in layout._child_dirs(store, uri) if layout._basename(c) in SIDES}


def is_batch_capture(store: Store, uri: str) -> bool:
    """True when ``uri`` holds ``input/`` and/or ``output/`` whose hour folders hold manifests.

    Looks at one hour folder per side (the first), and at its first file.
    """
    for side_url in _side_dirs(store, uri).values():
        url = side_url
        for depth in range(4):  # yyyy/mm/dd/hh
            kids = layout._child_dirs(store, url)
            if depth == 0:
                kids = [k for k in kids if layout._YEAR.match(layout._basename(k))]
            if not kids:
                break
            url = kids[0]
        else:
            files = layout._list_files(store, url, None)
            if files:
                return parse_manifest(store.read_bytes(files[0])) is not None
    return False


def resolve(prefix: str, name: str) -> str:
    """The data file a manifest entry names: ``prefix + name``."""
    if "://" in name and not name.startswith("file://"):
        return name
    if is_local(prefix):
        return os.path.join(local_path(prefix), name.lstrip("/"))
    return prefix.rstrip("/") + "/" + name.lstrip("/")


# -- reading one data file --------------------------------------------------------------------------


def _column(name: str, values: list[Any]) -> pl.Series:
    if all(v is None or isinstance(v, str) for v in values):
        return pl.Series(name, values, dtype=pl.String)
    vals = [json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list) else v for v in values]
    try:
        return pl.Series(name, vals, strict=False)
    except Exception:  # noqa: BLE001 - mixed values: keep their text
        return pl.Series(name, [None if v is None else str(v) for v in vals], dtype=pl.String)


def _instances(doc: Any) -> list[Any] | None:
    """The rows of a JSON input document: ``{"instances": [...]}`` one per element, else None."""
    if isinstance(doc, dict) and isinstance(doc.get("instances"), list):
        return [i["features"] if isinstance(i, dict) and list(i) == ["features"] else i for i in doc["instances"]]
    return None


def _predictions(doc: Any) -> list[Any]:
    """The rows of a JSON output document: ``{"predictions": [...]}`` one per element, else itself."""
    if isinstance(doc, dict) and isinstance(doc.get("predictions"), list):
        return list(doc["predictions"])
    return [doc]


def read_rows(
    data: bytes, side: str
) -> tuple[pl.DataFrame, list[str | None] | None, list[str | None] | None, list[int]]:
    """One input (``side="i"``) or output (``"o"``) file → (value columns, inference ids, times,
    document number of each row).

    CSV (no header) gives ``i#0, i#1, …`` as text, an empty field being missing; JSON (Lines) gives
    ``i:<key>`` for objects and positional columns for arrays and scalars. A JSON document holding
    several rows gives one row each -- ``{"instances": [...]}`` on the input side,
    ``{"predictions": [...]}`` on the output side -- and a transform output joined with its input
    (``JoinSource: Input``: ``{"SageMakerOutput": …, "instances": [...]}``) gives output *and*
    input columns, its k-th prediction beside its k-th instance. Raises ValueError.
    """
    text = data.decode("utf-8-sig")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    ids: list[str | None] | None = None
    times: list[str | None] | None = None
    cols: dict[str, list[Any]] = {}
    docs_of_rows: list[int] = []
    rows_out: list[tuple[Any, Any]] = []  # (output row or None, input row or None)

    if lines and lines[0].lstrip()[:1] in ("{", "["):
        docs = []
        for k, ln in enumerate(lines):
            try:
                docs.append(json.loads(ln))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {k + 1}: not valid JSON ({exc.msg})") from None
        doc_ids: list[str | None] | None = None
        doc_times: list[str | None] | None = None
        if side == "o" and docs and all(isinstance(d, dict) and TIME_KEY in d for d in docs):
            doc_ids = [None if d.get(ID_KEY) is None else str(d.pop(ID_KEY)) for d in docs]
            doc_times = [None if d.get(TIME_KEY) is None else str(d.pop(TIME_KEY)) for d in docs]
            ids, times = [], []
        for k, d in enumerate(docs):
            if side == "o" and isinstance(d, dict) and OUTPUT_KEY in d:
                outs = _predictions(d[OUTPUT_KEY])
                ins = _instances(d)
                if ins is None:
                    ins = [{key: v for key, v in d.items() if key != OUTPUT_KEY}] if len(d) > 1 else [None]
                if len(ins) != len(outs):
                    raise ValueError(
                        f"line {k + 1}: {OUTPUT_KEY} has {len(outs)} prediction(s) but the joined input has "
                        f"{len(ins)} instance(s): rows cannot be aligned"
                    )
                pairs = list(zip(outs, ins, strict=True))
            elif side == "o":
                pairs = [(o, None) for o in _predictions(d)]
            else:
                pairs = [(None, i) for i in (_instances(d) or [d])]
            rows_out += pairs
            docs_of_rows += [k] * len(pairs)
            if doc_ids is not None and doc_times is not None and ids is not None and times is not None:
                ids += [doc_ids[k]] * len(pairs)
                times += [doc_times[k]] * len(pairs)
        n = len(rows_out)

        def put(key: str, row: int, value: Any) -> None:
            cols.setdefault(key, [None] * n)[row] = value

        for r, (o, i) in enumerate(rows_out):
            for prefix, v in ((side, o), ("i", i)):
                if v is None:
                    continue
                if isinstance(v, dict):
                    for key, x in v.items():
                        put(f"{prefix}:{key}", r, x)
                elif isinstance(v, list):
                    for j, x in enumerate(v):
                        put(f"{prefix}#{j}", r, x)
                else:
                    put(f"{prefix}#0", r, v)
    else:
        n = len(lines)
        rows = list(csv.reader(lines))
        if side == "o" and rows and all(len(r) >= 3 and _TIME.match(r[-1].strip()) for r in rows):
            ids = [r[-2].strip() or None for r in rows]
            times = [r[-1].strip() for r in rows]
            rows = [r[:-2] for r in rows]
        for r, fields in enumerate(rows):
            for j, v in enumerate(fields):
                cols.setdefault(f"{side}#{j}", [None] * n)[r] = v if v != "" else None
        docs_of_rows = list(range(n))
    frame = pl.DataFrame([_column(k, v) for k, v in cols.items()]) if cols else pl.DataFrame()
    if frame.width == 0 and n:
        frame = pl.DataFrame({f"{side}#0": [None] * n}, schema={f"{side}#0": pl.String})
    return frame, ids, times, docs_of_rows


# -- manifests and pairs ----------------------------------------------------------------------------


def _manifests(
    store: Store, side_url: str | None, window: Window, before: timedelta, workers: int
) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(hour folder, manifest file name, [(entry name, data url)]) of one side, in time order."""
    if side_url is None:
        return []
    out = []
    for folder in layout.hour_folders([side_url], window.hours(before=before)):
        for f in layout.list_window_files(store, [folder], workers, suffixes=None):
            parsed = parse_manifest(store.read_bytes(f))
            if parsed is None:
                raise InputError(
                    f'{f}: not a batch-transform capture manifest (a JSON array starting with {{"prefix": …}})'
                )
            prefix, names = parsed
            out.append((os.path.relpath(folder, side_url) if is_local(side_url) else folder[len(side_url):].strip("/"),
                        layout._basename(f), [(n, resolve(prefix, n)) for n in names]))  # fmt: skip
    return out


def _pair_manifests(ins: list, outs: list) -> list[tuple[Any, Any]]:
    """Input and output manifests of the same hour: same file name, else the same position."""
    pairs: list[tuple[Any, Any]] = []
    used: set[int] = set()
    for hour in dict.fromkeys(m[0] for m in ins + outs):
        hi = [m for m in ins if m[0] == hour]
        ho = [j for j, m in enumerate(outs) if m[0] == hour]
        for k, m in enumerate(hi):
            same = [j for j in ho if outs[j][1] == m[1] and j not in used]
            j = same[0] if same else (ho[k] if k < len(ho) and ho[k] not in used else None)
            if j is not None:
                used.add(j)
            pairs.append((m, outs[j] if j is not None else None))
        pairs.extend((None, outs[j]) for j in ho if j not in used)
    return pairs


def _pair_files(in_m: Any, out_m: Any) -> list[tuple[str | None, str | None, str | None]]:
    """(input url, output url, reason when a counterpart is missing) in manifest order."""
    if in_m is None:
        return [(None, url, None) for _, url in out_m[2]]
    if out_m is None:
        return [(url, None, None) for _, url in in_m[2]]
    in_e, out_e = in_m[2], out_m[2]
    by_name = {name: (j, url) for j, (name, url) in enumerate(out_e)}
    conventional = any(name.endswith(OUTPUT_SUFFIX) for name, _ in out_e)
    used: set[int] = set()
    pairs: list[tuple[str | None, str | None, str | None]] = []
    for i, (name, url) in enumerate(in_e):
        hit = by_name.get(name + OUTPUT_SUFFIX)
        if hit is None and not conventional and i < len(out_e):
            hit = (i, out_e[i][1])
        if hit is None:
            pairs.append((url, None, f"no output file {name}{OUTPUT_SUFFIX} in the output manifest"))
        else:
            used.add(hit[0])
            pairs.append((url, hit[1], None))
    pairs.extend((None, url, f"output file {name} has no input file in the input manifest")
                 for j, (name, url) in enumerate(out_e) if j not in used)  # fmt: skip
    return pairs


# -- the merge --------------------------------------------------------------------------------------


def merge_batch(
    store: Store,
    capture: str,
    window: Window,
    state: _State,
    labels: pl.DataFrame | None,
    strict: bool,
    lookbehind: timedelta = timedelta(0),
    workers: int = 16,
    progress: Callable[[str, int, int], None] | None = None,
) -> None:
    """Read the window's batch capture into ``state.chunks`` (flat rows) and count it in ``state.summary``."""
    from mmon.capture.merge import EVENT_ID, INFERENCE_ID, INFERENCE_TIME, LABEL, _attach_labels

    s = state.summary
    sides = _side_dirs(store, capture)
    hours = window.hours(before=lookbehind)
    s.hour_folders = len(hours) * len(sides)
    ins = _manifests(store, sides.get("input"), window, lookbehind, workers)
    outs = _manifests(store, sides.get("output"), window, lookbehind, workers)
    if ins and not outs:
        s.warnings.append("batch capture: no output manifest in the window: input columns only")
    elif outs and not ins:
        s.warnings.append(
            "batch capture: no input manifest in the window: output columns only "
            "(and the input columns an output joined with its input carries, JoinSource: Input)"
        )
    pairs = [p for mi, mo in _pair_manifests(ins, outs) for p in _pair_files(mi, mo)]
    s.files = sum((i is not None) + (o is not None) for i, o, _ in pairs)
    if not pairs:
        w = window.to_dict()
        s.warnings.append(f"no batch-transform manifests in the window's {s.hour_folders} hour folder(s) under {capture} "
                          f"({w['start']} to {w['end']})")  # fmt: skip
    seen: set[str] = set()

    def bad(url: str, rows: int, reason: str) -> None:
        s.records += rows
        s.malformed_lines += max(rows, 1)
        p = Problem(url, 0, reason)
        s.add_problem(p)
        if strict:
            raise InputError(f"{p} (--strict)")

    def load(url: str | None, side: str) -> tuple[pl.DataFrame, Any, Any, list[int]] | str | None:
        if url is None:
            return None
        try:
            return read_rows(store.read_bytes(url), side)
        except (ValueError, UnicodeDecodeError) as exc:
            return f"cannot read: {exc}"
        except MmonError as exc:
            return str(exc)

    for done, (in_url, out_url, missing) in enumerate(pairs, 1):
        if progress is not None:
            progress(in_url or out_url or "", done, len(pairs))
        got_in, got_out = load(in_url, "i"), load(out_url, "o")
        for url, got in ((in_url, got_in), (out_url, got_out)):
            if isinstance(got, str):
                other = got_out if url == in_url else got_in
                bad(str(url), other[0].height if isinstance(other, tuple) else 0, got)
        if isinstance(got_in, str) or isinstance(got_out, str):
            continue
        n_in = got_in[0].height if got_in else 0
        n_out = got_out[0].height if got_out else 0
        if missing is not None:
            bad(str(in_url or out_url), max(n_in, n_out), missing)
            continue
        if got_in and got_out and n_in != n_out:
            bad(
                str(out_url),
                max(n_in, n_out),
                f"output has {n_out} row(s) but its input {in_url} has {n_in}: rows cannot be aligned",
            )
            continue
        n = max(n_in, n_out)
        s.records += n
        ids = got_out[1] if got_out else None
        times = got_out[2] if got_out else None
        parts = [got_out[0]] if got_out else []
        parts += [got_in[0]] if got_in else []
        frame = pl.concat(parts, how="horizontal") if parts else pl.DataFrame()
        id_col = pl.Series(INFERENCE_ID, ids if ids is not None else [None] * n, dtype=pl.String)
        time_col = pl.Series(INFERENCE_TIME, times if times is not None else [None] * n, dtype=pl.String)
        # The document each row came from: a JSON document may hold many rows under one inference id.
        doc_col = pl.Series("_doc", (got_out or got_in)[3], dtype=pl.UInt32)  # type: ignore[index]
        frame = frame.with_columns(id_col.alias(EVENT_ID), id_col, time_col, doc_col)
        if times is not None:
            parsed = [_parse_time(t) for t in times]
            ok = [t is not None for t in parsed]
            inside = [t is not None and window.contains(t) for t in parsed]
            n_bad = ok.count(False)
            if n_bad:
                s.malformed_lines += n_bad
                k = ok.index(False)
                s.add_problem(Problem(str(out_url), k + 1, f"{TIME_KEY} {times[k]!r} is not a time"))
                if strict:
                    raise InputError(f"{out_url}:{k + 1}: {TIME_KEY} {times[k]!r} is not a time (--strict)")
            s.outside_window += sum(ok) - sum(inside)
            frame = frame.filter(pl.Series(inside))
        s.in_window += frame.height
        if ids is not None and frame.height:
            # A repeated inference id in a later document is a duplicate (its rows are dropped);
            # the rows of one document share their id.
            docs = frame.select("_doc", INFERENCE_ID).unique(maintain_order=True)
            keep_docs = []
            for doc, v in docs.iter_rows():
                if v is None or v not in seen:
                    keep_docs.append(doc)
                if v is not None:
                    seen.add(v)
            kept = frame.filter(pl.col("_doc").is_in(keep_docs))
            s.duplicates += frame.height - kept.height
            frame = kept
        if labels is not None and frame.height:
            # One record per document: its label payload holds one label for it, or one per row.
            frame = frame.with_columns(
                pl.col("_doc").alias("_rec"), pl.int_range(pl.len(), dtype=pl.UInt32).over("_doc").alias("_row")
            )
            recs = frame.select("_rec", pl.col(INFERENCE_ID).alias("_key")).unique("_rec", maintain_order=True).join(
                labels, left_on="_key", right_on="key", how="left", maintain_order="left"
            )
            has_rec = recs.filter(pl.col("gt_data").is_not_null()).select("_rec")
            n_has = frame.join(has_rec, on="_rec", how="semi").height
            s.matched += n_has
            s.captured_without_label += frame.height - n_has
            state.matched_keys.append(recs.filter(pl.col("gt_data").is_not_null())["_key"].unique())
            recs = recs.filter(pl.col("gt_data").is_not_null())
            frame = frame.join(recs.select("_rec"), on="_rec", how="semi")
            frame, lab_bad = _attach_labels(
                recs, frame, pl.DataFrame(schema={"_rec": pl.UInt32, "_reason": pl.String})
            )
            if lab_bad.height:
                s.malformed_payloads += lab_bad.height
                s.add_problem(Problem(str(out_url), 0, str(lab_bad["_reason"][0])))
            frame = frame.drop("_rec", "_row")
            assert LABEL in frame.columns
        frame = frame.drop("_doc")
        if frame.height:
            state.chunks.append(frame)


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    t = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(t, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None
