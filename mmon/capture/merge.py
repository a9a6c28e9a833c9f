"""``capture_merge``: a window of SageMaker capture (and ground truth) → one dataset file.

Outputs, in the folder ``output``:

* ``merged.jsonl`` or ``merged.parquet`` — one file per run, written atomically:

  - without ground truth: the flat table the data-quality run reads — output columns, then input
    columns (SageMaker's layout of a CSV capture), then the reserved ``__mmon_*`` columns;
  - with ground truth: SageMaker's merged records (the captured record plus
    ``groundTruthData``), JSON Lines only, one per captured record that has a label;
  - with ground truth and ``flat=True``: a table ``prediction``, [``probability``], ``label``,
    the output and input columns, and the reserved columns;
  - with a preprocessor: the preprocessor's rows (columns by name) and the reserved columns.

* ``merge_summary.json`` — the counts (also returned as :class:`MergeSummary`).

Order and determinism: files are read in hour-folder then file-name order and records in line
order; that order is kept. A duplicated ``eventId`` keeps its first record; a duplicated label
(same ``eventId`` in ground truth) keeps its last one (a later correction wins). The same input
gives byte-identical output.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import polars as pl

from mmon.capture import batch, layout
from mmon.capture.flat import (  # noqa: F401 - the package's names
    EVENT_ID,
    INFERENCE_ID,
    INFERENCE_TIME,
    LABEL,
    META_COLUMNS,
    META_PREFIX,
    PREDICTION,
    PROBABILITY,
)
from mmon.capture.dedup import SeenIds
from mmon.capture.flat import attach_labels as _attach_labels
from mmon.capture.labels import LabelSpill, label_budget, read_labels
from mmon.capture.parts import PartsPublisher, part_name, parts_uuid
from mmon.capture.payload import flatten
from mmon.capture.preprocess import Preprocessor, PreprocessorError, load_preprocessor
from mmon.capture.records import MAX_EXAMPLES, ParsedFile, Problem, parse_capture_batch
from mmon.capture.table import (
    ChunkSpill,
    is_meta_column,  # noqa: F401 - the package's name
    serialise,
    table_exprs,
    text_lines,
)
from mmon.capture.window import Window, format_duration
from mmon.errors import InputError
from mmon.store import Store, join

OUTPUT_FORMATS = ("jsonl", "parquet")
DATA_NAME = "merged"
SUMMARY_NAME = "merge_summary.json"
DEFAULT_CHUNK_RECORDS = 100_000  # records per part: bounds memory (a few times a part's bytes)
FILES_PER_BATCH = 16
BATCH_BYTES = 32 * 2**20

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class MergeSummary:
    window: Window
    capture: str
    ground_truth: str | None
    output: str
    output_format: str
    output_kind: str  # "flat" | "merged" | "preprocessed"
    hour_folders: int = 0
    files: int = 0
    records: int = 0  # non-blank lines of the capture files read
    malformed_lines: int = 0
    shadow_skipped: int = 0
    outside_window: int = 0
    in_window: int = 0
    duplicates: int = 0
    malformed_payloads: int = 0
    preprocessor_errors: int = 0
    preprocessor_dropped: int = 0
    label_hour_folders: int = 0
    label_files: int = 0
    label_lines: int = 0
    label_malformed_lines: int = 0
    labels: int = 0  # distinct labelled keys
    duplicate_labels: int = 0
    matched: int = 0
    captured_without_label: int = 0
    labels_without_capture: int = 0
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    part_names: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    preprocessor_problems: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    capture_lookbehind: timedelta = timedelta(0)
    ground_truth_lookahead: timedelta = timedelta(0)

    @property
    def kept(self) -> int:
        """Records of the window after duplicates are dropped."""
        return self.in_window - self.duplicates

    def add_problem(self, p: Problem) -> None:
        if len(self.problems) < MAX_EXAMPLES:
            self.problems.append(p)

    def add_problems(self, problems: list[Problem], malformed: int, strict: bool, where: str = "") -> None:
        """A parsed file's (or batch's) problems, the first MAX_EXAMPLES kept; with ``--strict`` a
        malformed line is an error naming the first one."""
        for p in problems:
            self.add_problem(p)
        if strict and malformed:
            raise InputError(f"{problems[0]} ({malformed} malformed line(s){where}; --strict)")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "window": self.window.to_dict(),
            "capture": {
                "uri": self.capture,
                "lookbehind": format_duration(self.capture_lookbehind),
                "hour_folders": self.hour_folders,
                "files": self.files,
                "records": self.records,
                "malformed_lines": self.malformed_lines,
                "shadow_skipped": self.shadow_skipped,
                "outside_window": self.outside_window,
                "in_window": self.in_window,
                "duplicates": self.duplicates,
                "kept": self.kept,
                "malformed_payloads": self.malformed_payloads,
                "preprocessor_errors": self.preprocessor_errors,
                "preprocessor_dropped": self.preprocessor_dropped,
            },
            "ground_truth": None,
            "output": {
                "path": self.output,
                "format": self.output_format,
                "kind": self.output_kind,
                "rows": self.rows,
                "columns": self.columns,
                "parts": self.part_names,
            },
            "malformed_examples": [p.to_dict() for p in self.problems],
            "preprocessor_error_examples": self.preprocessor_problems,
            "warnings": self.warnings,
        }
        if self.ground_truth is not None:
            d["ground_truth"] = {
                "uri": self.ground_truth,
                "lookahead": format_duration(self.ground_truth_lookahead),
                "hour_folders": self.label_hour_folders,
                "files": self.label_files,
                "records": self.label_lines,
                "malformed_lines": self.label_malformed_lines,
                "labels": self.labels,
                "duplicate_labels": self.duplicate_labels,
                "matched": self.matched,
                "captured_without_label": self.captured_without_label,
                "labels_without_capture": self.labels_without_capture,
            }
        return d


# -- helpers ----------------------------------------------------------------------------------------


def _bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int, inflight: int) -> Iterator[R]:
    """``map`` in order on a thread pool with at most ``inflight`` results waiting (bounded memory).

    ``items`` may be an iterator (drawn in the calling thread as results are taken), so one map can
    feed another: reads of files feed the parses of their batches.
    """
    it = iter(items)
    first = next(it, _END)
    if first is _END:
        return
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[Future[R]] = deque([pool.submit(fn, first)])  # type: ignore[arg-type]
        try:
            while len(pending) < inflight:
                item = next(it, _END)
                if item is _END:
                    break
                pending.append(pool.submit(fn, item))  # type: ignore[arg-type]
            while pending:
                result = pending.popleft().result()
                item = next(it, _END)
                if item is not _END:
                    pending.append(pool.submit(fn, item))  # type: ignore[arg-type]
                yield result
        finally:
            for f in pending:
                f.cancel()


_END = object()


def header_names(store: Store, url: str) -> list[str]:
    """Feature names in order, from a baseline ``statistics.json`` or from a dataset's header."""
    if url.lower().endswith(".json"):
        text = store.read_text(url)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"--header-from {url}: not valid JSON ({exc.msg})") from exc
        if isinstance(doc, dict) and isinstance(doc.get("features"), list):
            from mmon.documents import load_document

            doc = load_document(store, url, "statistics")
            return [str(f["name"]) for f in doc["features"]]
    from mmon.readers import dataset_files, iter_batches

    files = dataset_files(store, [url], None, header=True)
    if not files:
        raise InputError(f"--header-from {url}: no data file")
    first = next(iter_batches(store, files[0], batch_rows=1), None)
    if first is None:
        raise InputError(f"--header-from {url}: the file is empty")
    return list(first.columns)


def _problem_at(files: list[str], rec: pl.DataFrame, reasons: pl.DataFrame, limit: int) -> list[Problem]:
    """Problems (file:line) for the first ``limit`` bad records of a chunk."""
    if limit <= 0 or reasons.height == 0:
        return []
    located = reasons.head(limit).join(rec.select("_rec", "_file", "_line"), on="_rec", how="left").sort("_rec")
    return [Problem(files[f], int(line), reason) for f, line, reason in located.select("_file", "_line", "_reason").iter_rows()]


# -- the merge --------------------------------------------------------------------------------------


@dataclass
class _State:
    summary: MergeSummary
    files: list[str]
    seen: SeenIds
    chunks: ChunkSpill
    parts: PartsPublisher | None = None  # merged records: parts staged as they are made
    uid: str = ""
    part_names: list[str] = field(default_factory=list)
    matched_keys: list[pl.Series] = field(default_factory=list)
    label_hit: np.ndarray | None = None  # per row of the in-memory label index: matched by a capture

    def add_part(self, data: bytes, fmt: str) -> None:
        assert self.parts is not None
        name = part_name(self.uid, len(self.part_names), fmt)
        self.parts.add(name, data)
        self.part_names.append(name)


def capture_merge(
    store: Store,
    capture: str,
    output: str,
    window: Window,
    ground_truth: str | None = None,
    header_from: str | None = None,
    fmt: str = "jsonl",
    flat: bool = False,
    preprocessor: str | None = None,
    preprocessor_errors: str = "fail",
    inference_attribute: str | None = None,
    probability_attribute: str | None = None,
    strict: bool = False,
    capture_lookbehind: timedelta = timedelta(0),
    ground_truth_lookahead: timedelta = timedelta(0),
    workers: int = 16,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
    progress: Callable[[str, int, int], None] | None = None,
    label_memory: int | None = None,
) -> MergeSummary:
    """Merge one window of capture (and ground truth) into ``output``; see the module docstring."""
    if fmt not in OUTPUT_FORMATS:
        raise InputError(f"--format {fmt!r}: expected jsonl or parquet")
    if preprocessor_errors not in ("fail", "skip"):
        raise InputError(f"--preprocessor-errors {preprocessor_errors!r}: expected fail or skip")
    if capture_lookbehind < timedelta(0) or ground_truth_lookahead < timedelta(0):
        raise InputError("--capture-lookbehind and --ground-truth-lookahead must not be negative")
    if ground_truth is None and (flat or inference_attribute or probability_attribute):
        raise InputError("--flat, --inference-attribute and --probability-attribute need --ground-truth")
    if preprocessor and (inference_attribute or probability_attribute):
        raise InputError("--inference-attribute/--probability-attribute do not apply with --preprocessor "
                         "(the preprocessor's rows are the table)")  # fmt: skip
    if ground_truth is not None and not flat and not preprocessor and fmt != "jsonl":
        raise InputError("merged records with ground truth are JSON Lines; add --flat for a parquet table")
    kind = "preprocessed" if preprocessor else ("merged" if ground_truth is not None and not flat else "flat")
    summary = MergeSummary(
        window=window, capture=capture, ground_truth=ground_truth, output=output, output_format=fmt,
        output_kind=kind, capture_lookbehind=capture_lookbehind, ground_truth_lookahead=ground_truth_lookahead,
    )  # fmt: skip
    store.check_writable(output)
    for root in (capture, ground_truth):
        if root is not None:
            store.require_bucket(root)  # a missing bucket is an error, not an empty window
    is_batch = batch.is_batch_capture(store, capture)
    if is_batch and kind != "flat":
        raise InputError(f"{capture} is a batch-transform capture: only the flat table is supported "
                         "(no --preprocessor; with --ground-truth add --flat)")  # fmt: skip
    names = header_names(store, header_from) if header_from else None
    pre = load_preprocessor(store, preprocessor) if preprocessor else None

    # Ground truth first: it is small (a key and a label per record) and every capture chunk joins it.
    spill_dir = tempfile.mkdtemp(prefix="mmon-merge-")
    labels: pl.DataFrame | LabelSpill | None = None
    try:
        if ground_truth is not None:
            labels = read_labels(store, ground_truth, window, ground_truth_lookahead, summary, strict, workers,
                                 label_budget(label_memory), spill_dir, _bounded_map)  # fmt: skip
            if is_batch and isinstance(labels, LabelSpill):
                labels = labels.whole(summary)  # batch transform's join is not partitioned
    except BaseException:
        shutil.rmtree(spill_dir, ignore_errors=True)
        raise
    state = _State(summary, [], SeenIds(spill_dir), ChunkSpill(spill_dir, chunk_records))
    state.parts = PartsPublisher(store, output)
    state.uid = parts_uuid(summary.window.to_dict()["start"], summary.window.to_dict()["end"], kind, fmt)
    try:
        if is_batch:
            assert not isinstance(labels, LabelSpill)
            batch.merge_batch(store, capture, window, state, labels, strict, capture_lookbehind, workers, progress)
        else:
            _merge_realtime(store, capture, window, state, labels, pre, preprocessor_errors, strict, kind,
                            capture_lookbehind, workers, chunk_records, progress)  # fmt: skip
            if isinstance(labels, LabelSpill):
                for recs in labels.join(summary):
                    _emit_chunk(recs, state, True, pre, preprocessor_errors, strict, kind)
        return _write(store, state, labels, names, kind, fmt, inference_attribute, probability_attribute)
    except BaseException:
        state.parts.abort()  # staged parts are named by no marker: the previous generation stays whole
        raise
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)


def _merge_realtime(
    store: Store,
    capture: str,
    window: Window,
    state: _State,
    labels: pl.DataFrame | LabelSpill | None,
    pre: Preprocessor | None,
    preprocessor_errors: str,
    strict: bool,
    kind: str,
    capture_lookbehind: timedelta,
    workers: int,
    chunk_records: int,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    summary = state.summary
    roots = layout.capture_roots(store, capture)
    folders = layout.hour_folders(roots, window.hours(before=capture_lookbehind))
    summary.hour_folders = len(folders)
    files = layout.list_window_files(store, folders, workers)
    summary.files = len(files)
    if not files:
        summary.warnings.append(
            f"no capture files in the window's {len(folders)} hour folder(s) under {capture} "
            f"({summary.window.to_dict()['start']} to {summary.window.to_dict()['end']})"
        )
    keep_raw = kind in ("merged", "preprocessed")
    state.files = files

    # Files are parsed a few at a time: one polars pass over several small files costs far less
    # than one per file. Reads wait on the store (many at once hide its latency) and run file by
    # file on ``workers`` threads; parsing is polars' work on every core, so batches are parsed no
    # more at once than there are cores, and only a few parsed batches wait: memory stays flat.
    slots = max(1, min(workers, os.cpu_count() or 1))

    def read(item: tuple[int, str]) -> tuple[int, str, bytes]:
        return item[0], item[1], store.read_bytes(item[1])

    def batches() -> Iterator[list[tuple[int, str, bytes]]]:
        reads = _bounded_map(read, enumerate(files), workers, 2 * workers)
        while batch := list(itertools.islice(reads, FILES_PER_BATCH)):
            yield batch

    def work(batch: list[tuple[int, str, bytes]]) -> ParsedFile:
        # A batch's raw bytes are parsed BATCH_BYTES (plus one file) at a time.
        parts: list[ParsedFile] = []
        items: list[tuple[int, str, bytes]] = []
        size = 0
        for item in batch:
            items.append(item)
            size += len(item[2])
            if size >= BATCH_BYTES:
                parts.append(parse_capture_batch(items, window.start, window.end, keep_raw))
                items, size = [], 0
        if items:
            parts.append(parse_capture_batch(items, window.start, window.end, keep_raw))
        return _combine(parts)

    pending: list[pl.DataFrame] = []
    pending_rows = 0
    done = 0
    for pf in _bounded_map(work, batches(), slots, slots + 1):
        done += FILES_PER_BATCH
        summary.records += pf.lines
        summary.malformed_lines += pf.malformed
        summary.shadow_skipped += pf.shadow
        summary.outside_window += pf.outside
        summary.add_problems(pf.problems, pf.malformed, strict)
        if progress is not None:
            progress(pf.url, min(done, len(files)), len(files))
        if pf.frame.height:
            pending.append(pf.frame)
            pending_rows += pf.frame.height
        if pending_rows >= chunk_records:
            _process_chunk(pl.concat(pending, rechunk=False), state, labels, pre, preprocessor_errors, strict, kind)
            pending, pending_rows = [], 0
    if pending:
        _process_chunk(pl.concat(pending, rechunk=False), state, labels, pre, preprocessor_errors, strict, kind)


def _write(
    store: Store,
    state: _State,
    labels: pl.DataFrame | LabelSpill | None,
    names: list[str] | None,
    kind: str,
    fmt: str,
    inference_attribute: str | None,
    probability_attribute: str | None,
) -> MergeSummary:
    """Make the window's parts (merged records are already staged), then publish them with the summary."""
    summary = state.summary
    _finish(state, labels, names, kind, fmt, inference_attribute, probability_attribute)
    assert state.parts is not None
    summary.output = join(summary.output, state.part_names[0])
    summary.part_names = list(state.part_names)
    summary_bytes = (json.dumps(summary.to_dict(), indent=2) + "\n").encode("utf-8")
    # The summary completes a run: it reaches its final name last.
    state.parts.add(SUMMARY_NAME, summary_bytes)
    state.parts.commit()
    return summary


def _combine(parts: list[ParsedFile]) -> ParsedFile:
    if len(parts) == 1:
        return parts[0]
    out = ParsedFile(parts[-1].url, pl.concat([p.frame for p in parts]))
    for p in parts:
        out.lines += p.lines
        out.malformed += p.malformed
        out.shadow += p.shadow
        out.outside += p.outside
        out.problems.extend(p.problems)
    out.problems = out.problems[:MAX_EXAMPLES]
    return out


def _process_chunk(
    recs: pl.DataFrame,
    state: _State,
    labels: pl.DataFrame | LabelSpill | None,
    pre: Preprocessor | None,
    pre_errors: str,
    strict: bool,
    kind: str,
) -> None:
    s = state.summary
    s.in_window += recs.height
    # Duplicate event ids: the first record (in folder, file, line order) wins.
    first = state.seen.first(recs["event_id"])
    dups = recs.height - int(first.sum())
    if dups:
        recs = recs.filter(first)
    s.duplicates += dups
    recs = recs.with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_rec"),
        pl.coalesce("inference_id", "event_id").alias("_key"),
    )
    if isinstance(labels, LabelSpill):
        labels.add_captures(recs)  # joined partition by partition once every chunk is read
        return
    if labels is not None:
        recs = _join_labels(recs, labels, state, kind)
    _emit_chunk(recs, state, labels is not None, pre, pre_errors, strict, kind)


def _join_labels(recs: pl.DataFrame, labels: pl.DataFrame, state: _State, kind: str) -> pl.DataFrame:
    """A chunk's labelled records, in record order, with the label columns; counts the chunk.

    Only the labelled records are kept (an inner join: one gather of the chunk, not a left join
    and a filter), and merged records carry just what their lines are made of. Each label's row
    is marked as matched (a byte per label, not the matched keys).
    """
    s = state.summary
    if state.label_hit is None:
        state.label_hit = np.zeros(labels.height, dtype=bool)
    index = labels.with_row_index("_li")
    kept = recs.height
    if kind == "merged":
        recs = recs.select("_raw", "_key")
    recs = recs.join(index, left_on="_key", right_on="key", how="inner", maintain_order="left")
    s.matched += recs.height
    s.captured_without_label += kept - recs.height
    state.label_hit[recs["_li"].to_numpy()] = True
    return recs.drop("_li")


def _emit_chunk(
    recs: pl.DataFrame, state: _State, with_labels: bool, pre: Preprocessor | None, pre_errors: str, strict: bool, kind: str
) -> None:
    """A chunk's kept (and, with ground truth, labelled) records → a part, or the rows of one."""
    s = state.summary
    if recs.height == 0:
        return
    if kind == "merged":
        # SageMaker's merged record: the captured record, as written, plus groundTruthData.
        line = pl.col("_raw").str.strip_suffix("}") + pl.lit(',"groundTruthData":') + pl.col("gt_json") + pl.lit("}")
        state.summary.rows += recs.height
        state.add_part(text_lines(recs.select(line)), "jsonl")
        return
    if kind == "preprocessed":
        assert pre is not None
        state.chunks.append(_preprocess_chunk(recs, state, pre, pre_errors, with_labels))
        state.chunks.flush()  # a part per chunk of records, as for the other outputs
        return
    rows, bad = flatten(recs)
    if with_labels and rows.height:
        n_bad = bad.height
        rows, bad = _attach_labels(recs, rows, bad)
        if bad.height > n_bad:
            # Records refused for their labels are read again as absent (no column of theirs stays).
            good = recs.join(bad.select("_rec"), on="_rec", how="anti")
            rows, _ = flatten(good)
            if rows.height:
                rows, _ = _attach_labels(good, rows, pl.DataFrame(schema={"_rec": pl.UInt32, "_reason": pl.String}))
    if bad.height:
        s.malformed_payloads += bad.height
        problems = _problem_at(state.files, recs, bad, MAX_EXAMPLES - len(s.problems))
        for p in problems:
            s.add_problem(p)
        if strict:
            first_bad = problems[0] if problems else _problem_at(state.files, recs, bad, 1)[0]
            raise InputError(f"{first_bad} ({bad.height} record(s) with a payload that cannot be read; --strict)")
    meta = recs.select(
        "_rec",
        pl.col("event_id").alias(EVENT_ID),
        pl.col("inference_id").alias(INFERENCE_ID),
        pl.col("inference_time").alias(INFERENCE_TIME),
    )
    state.chunks.append(rows.join(meta, on="_rec", how="left").sort("_rec", "_row").drop("_rec", "_row"))
    state.chunks.flush()


def _preprocess_chunk(recs: pl.DataFrame, state: _State, pre: Preprocessor, pre_errors: str, with_gt: bool) -> pl.DataFrame:
    """The per-record loop SageMaker runs when a record preprocessor is given."""
    s = state.summary
    out_rows: list[dict[str, Any]] = []
    cols = ["_raw", "_file", "_line", "event_id", "inference_id", "inference_time"] + (["gt_json"] if with_gt else [])
    for values in recs.select(cols).iter_rows():
        raw, f, line, eid, iid, itime = values[:6]
        record = json.loads(raw)
        if with_gt:
            record["groundTruthData"] = json.loads(values[6])
        try:
            rows = pre(record)
        except PreprocessorError as exc:
            s.preprocessor_errors += 1
            where = f"{state.files[f]}:{line}"
            if pre_errors == "fail":
                raise InputError(
                    f"the preprocessor failed on event {eid} ({where}): {exc} "
                    "(--preprocessor-errors skip to go on without such records)"
                ) from exc
            if len(s.preprocessor_problems) < MAX_EXAMPLES:
                s.preprocessor_problems.append({"event_id": eid, "file": state.files[f], "line": line, "error": str(exc)})
            continue
        if not rows:
            s.preprocessor_dropped += 1
            continue
        for r in rows:
            r[EVENT_ID], r[INFERENCE_ID], r[INFERENCE_TIME] = eid, iid, itime
            out_rows.append(r)
    if not out_rows:
        return pl.DataFrame()
    keys: dict[str, None] = {}
    for r in out_rows:
        for k in r:
            keys.setdefault(k, None)
    columns = {}
    for k in keys:
        vals = [r.get(k) for r in out_rows]
        try:
            columns[k] = pl.Series(k, vals, strict=False)
        except Exception:  # noqa: BLE001 - mixed values: keep their text
            columns[k] = pl.Series(k, [None if v is None else str(v) for v in vals], dtype=pl.String)
    return pl.DataFrame(columns)


def _finish(
    state: _State,
    labels: pl.DataFrame | LabelSpill | None,
    names: list[str] | None,
    kind: str,
    fmt: str,
    inference_attribute: str | None,
    probability_attribute: str | None,
) -> None:
    """Count what only the whole window tells, and stage the parts of a table output.

    Each part is a chunk cast to the window's columns: the parts concatenated are, byte for byte,
    the single table mmon wrote before parts (same columns, types and rows).
    """
    s = state.summary
    if isinstance(labels, pl.DataFrame):  # (a spilled index counts these as it joins)
        hit = state.label_hit if state.label_hit is not None else np.zeros(labels.height, dtype=bool)
        if state.matched_keys:  # batch transform's matched keys
            hit = hit | labels["key"].is_in(pl.concat(state.matched_keys).implode()).to_numpy()
        s.labels_without_capture = int(labels.height - np.count_nonzero(hit))
    if kind == "merged":
        s.columns = []
        if not state.part_names:
            state.add_part(b"", "jsonl")  # an empty window is one empty part, not a missing dataset
        return
    spill = state.chunks
    spill.flush()
    union = spill.union() if spill.paths else pl.DataFrame()
    exprs = table_exprs(union, labels is not None, names, kind, s, inference_attribute, probability_attribute)
    chunks = [i for i, h in enumerate(spill.heights) if h] or ([0] if spill.paths else [])
    s.rows = 0
    for i in chunks:
        table = spill.read(i, union).select(exprs)
        s.rows += table.height
        s.columns = list(table.columns)
        state.add_part(serialise(table, fmt), fmt)
        del table
    if not chunks:
        table = (union if union.width else pl.DataFrame(schema={c: pl.String for c in META_COLUMNS})).select(exprs)
        s.columns = list(table.columns)
        state.add_part(serialise(table, fmt), fmt)


