"""One window's chunks of records on their way out: duplicates dropped, labels joined, payloads
flattened (or merged records made, or the preprocessor run), and at the end the parts made and
published with the summary. The reading side is :mod:`mmon.capture.merge`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mmon.capture.dedup import SeenIds
from mmon.capture.flat import EVENT_ID, INFERENCE_ID, INFERENCE_TIME, META_COLUMNS
from mmon.capture.flat import attach_labels as _attach_labels
from mmon.capture.labels import LabelSpill, search_join
from mmon.capture.parts import PartsPublisher, part_name
from mmon.capture.payload import flatten
from mmon.capture.preprocess import Preprocessor, PreprocessorError
from mmon.capture.records import MAX_EXAMPLES, Problem, label_json
from mmon.capture.summary import MergeSummary
from mmon.capture.table import ChunkSpill, serialise, table_exprs, text_lines
from mmon.errors import InputError
from mmon.store import join

SUMMARY_NAME = "merge_summary.json"
TEXT_SLICE = 20_000  # merged records made into text at a time


@dataclass
class MergeState:
    summary: MergeSummary
    files: list[str]
    seen: SeenIds
    chunks: ChunkSpill
    parts: PartsPublisher | None = None  # merged records: parts staged as they are made
    uid: str = ""
    part_names: list[str] = field(default_factory=list)
    matched_keys: list[pl.Series] = field(default_factory=list)
    # Table parts made while the window is read: (chunk number, the columns they were made with).
    early: list[tuple[int, pl.Schema]] = field(default_factory=list)
    early_off: bool = False
    label_hit: np.ndarray | None = None  # per row of the in-memory label index: matched by a capture

    def add_part(self, data: bytes, fmt: str) -> None:
        assert self.parts is not None
        name = part_name(self.uid, len(self.part_names), fmt)
        self.parts.add(name, data)
        self.part_names.append(name)


def _problem_at(files: list[str], rec: pl.DataFrame, reasons: pl.DataFrame, limit: int) -> list[Problem]:
    """Problems (file:line) for the first ``limit`` bad records of a chunk."""
    if limit <= 0 or reasons.height == 0:
        return []
    located = reasons.head(limit).join(rec.select("_rec", "_file", "_line"), on="_rec", how="left").sort("_rec")
    return [Problem(files[f], int(line), reason) for f, line, reason in located.select("_file", "_line", "_reason").iter_rows()]


def process_chunk(
    recs: pl.DataFrame,
    state: MergeState,
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
        # Joined partition by partition once every chunk is read; a merged record is its line.
        labels.add_captures(recs.select("_rec", "_key", "_raw") if kind == "merged" else recs)
        return
    if labels is not None:
        recs = _join_labels(recs, labels, state, kind)
    emit_chunk(recs, state, labels is not None, pre, pre_errors, strict, kind)


def _join_labels(recs: pl.DataFrame, labels: pl.DataFrame, state: MergeState, kind: str) -> pl.DataFrame:
    """A chunk's labelled records, in record order, with the label columns; counts the chunk.

    Only the labelled records are kept (the sorted index searched by the chunk's keys:
    :func:`mmon.capture.labels.search_join`), and merged records carry just what their lines are
    made of. Each label's row is marked as matched (a byte per label, not the matched keys).
    """
    s = state.summary
    if state.label_hit is None:
        state.label_hit = np.zeros(labels.height, dtype=bool)
    kept = recs.height
    if kind == "merged":
        recs = recs.select("_raw", "_key")
    recs, rows = search_join(recs, labels)
    s.matched += recs.height
    s.captured_without_label += kept - recs.height
    state.label_hit[rows] = True
    return recs


def emit_chunk(
    recs: pl.DataFrame, state: MergeState, with_labels: bool, pre: Preprocessor | None, pre_errors: str, strict: bool, kind: str
) -> None:
    """A chunk's kept (and, with ground truth, labelled) records → a part, or the rows of one."""
    s = state.summary
    if recs.height == 0:
        return
    if kind == "merged":
        # SageMaker's merged record: the captured record, as written, plus groundTruthData.
        line = pl.col("_raw").str.strip_suffix("}") + pl.lit(',"groundTruthData":') + label_json() + pl.lit("}")
        state.summary.rows += recs.height
        # Made a slice at a time: a part's lines are never held as a column, a buffer and bytes at once.
        pieces = [text_lines(recs.slice(i, TEXT_SLICE).select(line)) for i in range(0, recs.height, TEXT_SLICE)]
        state.add_part(b"".join(pieces), "jsonl")
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


def _preprocess_chunk(recs: pl.DataFrame, state: MergeState, pre: Preprocessor, pre_errors: str, with_gt: bool) -> pl.DataFrame:
    """The per-record loop SageMaker runs when a record preprocessor is given."""
    s = state.summary
    out_rows: list[dict[str, Any]] = []
    cols: list[str | pl.Expr] = ["_raw", "_file", "_line", "event_id", "inference_id", "inference_time"]
    for values in recs.select(cols + ([label_json()] if with_gt else [])).iter_rows():
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


def publish_window(
    state: MergeState,
    labels: pl.DataFrame | LabelSpill | None,
    names: list[str] | None,
    kind: str,
    fmt: str,
    inference_attribute: str | None,
    probability_attribute: str | None,
) -> MergeSummary:
    """Count what only the whole window tells, stage the parts of a table output (merged records
    are already staged), then publish them with the summary.

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
    else:
        _stage_table(state, fmt, lambda union: table_exprs(union, labels is not None, names, kind, s,
                                                           inference_attribute, probability_attribute))  # fmt: skip
    assert state.parts is not None
    s.output = join(s.output, state.part_names[0])
    s.part_names = list(state.part_names)
    summary_bytes = (json.dumps(s.to_dict(), indent=2) + "\n").encode("utf-8")
    # The summary completes a run: it reaches its final name last.
    state.parts.add(SUMMARY_NAME, summary_bytes)
    state.parts.commit()
    return s


def stage_early(state: MergeState, fmt: str, exprs_of: Callable[[pl.DataFrame], list[pl.Expr]]) -> Callable[[int, pl.DataFrame], None]:
    """``ChunkSpill.on_flush`` for a table: each chunk made into its part as soon as it is spilled,
    with the columns of the window so far.

    Why: making the parts only once the window is read left one core busy and the other idle for
    the last fifth of a merge (1M records: 1.6 of 7 s); made while reading, that work runs beside
    the parses. :func:`_stage_table` keeps a part made so only when the window's columns are the
    ones it was made with -- then its bytes are the bytes it would make -- and makes it again
    otherwise (a later record added a JSON key, or widened a column's type). ``exprs_of`` must not
    record anything (its warnings are the final call's).
    """

    def stage(i: int, frame: pl.DataFrame) -> None:
        if state.early_off or not frame.height:
            return
        union = state.chunks.union()
        try:
            table = pl.concat([union, frame], how="diagonal_relaxed").select(exprs_of(union))
        except (InputError, pl.exceptions.PolarsError):
            state.early_off = True  # decided with the window's columns at the end
            return
        assert state.parts is not None
        state.parts.add(part_name(state.uid, len(state.early), fmt), serialise(table, fmt))
        state.early.append((i, union.schema))

    return stage


def _stage_table(state: MergeState, fmt: str, exprs_of: Callable[[pl.DataFrame], list[pl.Expr]]) -> None:
    """Stage each spilled chunk as a part, cast to the window's columns (``exprs_of`` the union);
    a part staged early (:func:`stage_early`) with those very columns is kept as it is."""
    s = state.summary
    spill = state.chunks
    spill.on_flush = None
    spill.flush()
    union = spill.union() if spill.paths else pl.DataFrame()
    exprs = exprs_of(union)
    chunks = [i for i, h in enumerate(spill.heights) if h] or ([0] if spill.paths else [])
    s.rows = 0
    for k, i in enumerate(chunks):
        if k < len(state.early) and state.early[k] == (i, union.schema):
            s.rows += spill.heights[i]
            s.columns = list(union.select(exprs).columns)
            state.part_names.append(part_name(state.uid, k, fmt))  # staged already, same bytes
            continue
        table = spill.read(i, union).select(exprs)
        s.rows += table.height
        s.columns = list(table.columns)
        state.add_part(serialise(table, fmt), fmt)
        del table
    if not chunks:
        table = (union if union.width else pl.DataFrame(schema={c: pl.String for c in META_COLUMNS})).select(exprs)
        s.columns = list(table.columns)
        state.add_part(serialise(table, fmt), fmt)
