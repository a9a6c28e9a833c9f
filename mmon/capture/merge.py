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

import dataclasses
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import polars as pl

from mmon.capture import batch, layout
from mmon.capture.chunks import (  # noqa: F401 - the CLI reads SUMMARY_NAME here
    SUMMARY_NAME,
    MergeState,
    emit_chunk,
    process_chunk,
    publish_window,
    stage_early,
)
from mmon.capture.chunks import MergeState as _State  # noqa: F401 - batch's name for it
from mmon.capture.dedup import SeenIds
from mmon.capture.labels import LabelSpill, label_budget, read_labels
from mmon.capture.parts import PartsPublisher, parts_uuid
from mmon.capture.preprocess import Preprocessor, load_preprocessor
from mmon.capture.records import MAX_EXAMPLES, ParsedFile, parse_capture_batch
from mmon.capture.summary import MergeSummary
from mmon.capture.table import (
    ChunkSpill,
    is_meta_column,  # noqa: F401 - the package's name
    table_exprs,
)
from mmon.capture.window import Window
from mmon.errors import InputError
from mmon.memory import return_freed_memory
from mmon.store import Store

OUTPUT_FORMATS = ("jsonl", "parquet")
DATA_NAME = "merged"
DEFAULT_CHUNK_RECORDS = 100_000  # records per part: bounds memory (a few times a part's bytes)
FILES_PER_BATCH = 16
# Bytes of a batch of files (one file more may cross it): a parse holds a few times its batch's
# bytes and up to ``cores + 1`` parses wait, so this, not the window, bounds the reading side's
# memory -- 16 files of a busy endpoint (MiBs each) were once parsed at once.
BATCH_BYTES = 8 * 2**20
# Bytes of files read ahead of the parses, about (at least two files, at most ``2 * workers``):
# many reads at once hide a store's latency, but 32 files of 2 MiB waited on the 10M-record day.
READ_AHEAD_BYTES = 2 * BATCH_BYTES
MERGED_COLUMNS = ("_file", "_line", "_raw", "event_id", "inference_id")

T = TypeVar("T")
R = TypeVar("R")


# -- helpers ----------------------------------------------------------------------------------------


def _bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int, inflight: int | Callable[[], int]) -> Iterator[R]:
    """``map`` in order on a thread pool with at most ``inflight`` results waiting (bounded memory);
    ``inflight`` may be a function, asked again as each result is taken.

    ``items`` may be an iterator (drawn in the calling thread as results are taken), so one map can
    feed another: reads of files feed the parses of their batches.
    """
    limit = inflight if callable(inflight) else (lambda: inflight)
    it = iter(items)
    first = next(it, _END)
    if first is _END:
        return
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[Future[R]] = deque([pool.submit(fn, first)])  # type: ignore[arg-type]

        def fill() -> None:
            while len(pending) < max(1, limit()):
                item = next(it, _END)
                if item is _END:
                    break
                pending.append(pool.submit(fn, item))  # type: ignore[arg-type]

        try:
            fill()
            while pending:
                result = pending.popleft().result()
                fill()  # before the caller takes its time with the result
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


# -- the merge --------------------------------------------------------------------------------------


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
    return_freed_memory()  # batches come and go: keep peak RSS at what is live (mmon.memory)
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
        state = MergeState(summary, [], SeenIds(spill_dir), ChunkSpill(spill_dir, chunk_records))
        state.parts = PartsPublisher(store, output)
        state.uid = parts_uuid(summary.window.to_dict()["start"], summary.window.to_dict()["end"], kind, fmt)
        if kind == "flat":
            scratch = dataclasses.replace(summary, warnings=[])  # the final call says the warnings
            state.chunks.on_flush = stage_early(state, fmt, lambda union: table_exprs(
                union, labels is not None, names, kind, scratch, inference_attribute, probability_attribute))  # fmt: skip
    except BaseException:  # nothing staged yet; the labels may have spilled
        shutil.rmtree(spill_dir, ignore_errors=True)
        raise
    try:
        if is_batch:
            assert not isinstance(labels, LabelSpill)
            batch.merge_batch(store, capture, window, state, labels, strict, capture_lookbehind, workers, progress)
        else:
            _merge_realtime(store, capture, window, state, labels, pre, preprocessor_errors, strict, kind,
                            capture_lookbehind, workers, chunk_records, progress)  # fmt: skip
            state.seen.forget()  # every record is read: the kept ids' hashes (4 bytes each in memory) go
            if isinstance(labels, LabelSpill):
                for recs in labels.join(summary):
                    emit_chunk(recs, state, True, pre, preprocessor_errors, strict, kind)
        return publish_window(state, labels, names, kind, fmt, inference_attribute, probability_attribute)
    except BaseException:
        state.parts.abort()  # staged parts are named by no marker: the previous generation stays whole
        raise
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)


def _merge_realtime(
    store: Store,
    capture: str,
    window: Window,
    state: MergeState,
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

    # Files read and their bytes: the read-ahead is counted in files of that mean size. Updated by
    # the read threads without a lock: a lost update only nudges an estimate.
    read_sizes = [0, 0]

    def read(item: tuple[int, str]) -> tuple[int, str, bytes]:
        data = store.read_bytes(item[1])
        read_sizes[0] += 1
        read_sizes[1] += len(data)
        return item[0], item[1], data

    def read_ahead() -> int:
        mean = read_sizes[1] / read_sizes[0] if read_sizes[0] else 0
        return 2 * workers if not mean else max(2, min(2 * workers, int(READ_AHEAD_BYTES / mean)))

    def batches() -> Iterator[list[tuple[int, str, bytes]]]:
        # Cut by file count and by bytes, both fixed by the input: part boundaries stay deterministic.
        batch: list[tuple[int, str, bytes]] = []
        size = 0
        for item in _bounded_map(read, enumerate(files), workers, read_ahead):
            batch.append(item)
            size += len(item[2])
            if len(batch) >= FILES_PER_BATCH or size >= BATCH_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def work(batch: list[tuple[int, str, bytes]]) -> tuple[int, ParsedFile]:
        # A batch's raw bytes are parsed BATCH_BYTES (plus one file) at a time (a batch is cut at
        # that size already; a test lowers it to cut inside a batch).
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
        pf = _combine(parts)
        if kind == "merged":  # a merged record is its line and label: the rest need not wait
            pf.frame = pf.frame.select(MERGED_COLUMNS)
        return len(batch), pf

    def take(frames: list[pl.DataFrame], parsed: list[ParsedFile]) -> None:
        # One chunk, in the chunk thread and in chunk order: its batches' counts and problems,
        # then its records (so the summary's problems keep input order, as if read serially).
        for pf in parsed:
            summary.records += pf.lines
            summary.malformed_lines += pf.malformed
            summary.shadow_skipped += pf.shadow
            summary.outside_window += pf.outside
            summary.add_problems(pf.problems, pf.malformed, strict)
        if frames:
            process_chunk(pl.concat(frames, rechunk=False), state, labels, pre, preprocessor_errors, strict, kind)

    # A chunk is processed (duplicates, labels, payloads, its part) in a thread of its own while
    # the next chunk's batches are parsed: done in the reading loop, the parses stalled for each
    # chunk's processing (1M records: the two cores 1.5 busy of 2). Memory: one chunk more.
    pending: list[pl.DataFrame] = []
    parsed: list[ParsedFile] = []
    pending_rows = 0
    done = 0
    with ThreadPoolExecutor(max_workers=1) as tail:
        running: Future[None] | None = None
        for n_files, pf in _bounded_map(work, batches(), slots, slots + 1):
            done += n_files
            if progress is not None:
                progress(pf.url, min(done, len(files)), len(files))
            if pf.frame.height:
                pending.append(pf.frame)
                pending_rows += pf.frame.height
            parsed.append(dataclasses.replace(pf, frame=_EMPTY))
            if pending_rows >= chunk_records:
                if running is not None:
                    running.result()  # chunks in order; an error of the last one stops the reading
                running = tail.submit(take, pending, parsed)
                pending, parsed, pending_rows = [], [], 0
        if running is not None:
            running.result()
    take(pending, parsed)


_EMPTY = pl.DataFrame()


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
