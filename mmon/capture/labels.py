"""Ground truth for ``capture_merge``: the label index (key → label) that the captures stream through.

Labels are far fewer than captures, so the index is read first and each chunk of captures is
joined to it as it comes; the window's captures are never held. The index stays in memory while
it fits the label memory budget (``label_memory``, default 64 MiB, counted as
:func:`index_bytes`; ``MMON_MERGE_LABEL_MEMORY`` in bytes overrides it). Past the budget the join becomes a
**partitioned (grace) join on local temporary disk**:

1. labels are written to spill files by a hash of their key, in reading order, in as many
   partitions as make each about half the budget (estimated when the budget is crossed, from the
   share of label files read then: 2 to :data:`MAX_PARTITIONS`; fixed by the input and the budget,
   so the output is too). Few large partitions, not a fixed 64: each partition costs a file read,
   joined and written per chunk, and with 64 that per-file cost made the 10 M-record day's join
   take 95 s;
2. each chunk of captures (after its duplicate event ids are dropped) is written the same way,
   one file per chunk and partition, with its record number in the chunk (``_rec``);
3. partition by partition (two at a time, each about half the budget: a cap set by memory, not
   one per core), the labels of that partition (the only ones in memory, deduplicated: the last
   label of a key wins, as in memory), sorted once, are searched by every chunk's captures of it
   (:func:`search_join`, as the in-memory index is);
4. chunk by chunk, the joined partitions are put back in record order and go on exactly as an
   in-memory chunk would: same rows, same order, same columns, so the output is byte-identical.

Memory then holds two label partitions (about the budget) plus a chunk or two. Merged records
spill only their line and key, not the parsed fields a flat table needs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from mmon.capture import layout
from mmon.capture.records import ParsedFile, parse_ground_truth
from mmon.capture.window import Window
from mmon.errors import InputError
from mmon.store import Store

if TYPE_CHECKING:
    from collections.abc import Callable

    from mmon.capture.summary import MergeSummary

ENV_BUDGET = "MMON_MERGE_LABEL_MEMORY"
DEFAULT_BUDGET = 64 * 2**20
MAX_PARTITIONS = 64
INDEX_COLUMNS = ("key", "gt_data", "gt_enc")
_SEED = 0x6D6D6F6E  # one fixed hash for both sides of the join


def label_budget(given: int | None = None) -> int:
    """The label memory budget in bytes: the argument, else the environment variable, else 64 MiB."""
    if given is not None:
        return given
    text = os.environ.get(ENV_BUDGET)
    if text is None:
        return DEFAULT_BUDGET
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{ENV_BUDGET}={text!r}: expected a number of bytes") from None
    if value < 0:
        raise InputError(f"{ENV_BUDGET}={text!r}: must not be negative")
    return value


def index_bytes(frame: pl.DataFrame) -> int:
    """What a label frame holds in memory: polars' estimate plus the 16-byte view of every string.

    ``estimated_size`` leaves the views out: 2 M labels (three short strings each) are 20 MiB by
    it and 117 MiB of RSS, so a budget counted by it let the 10 M-record day's 7 M labels stay in
    memory at 1.3 GiB.
    """
    strings = sum(1 for dtype in frame.dtypes if dtype == pl.String)
    return int(frame.estimated_size()) + 16 * strings * frame.height


def partitions_for(estimate: float, budget: int) -> int:
    """Partitions for an index of ``estimate`` bytes: each about half the ``budget``."""
    if budget <= 0:
        return MAX_PARTITIONS
    return int(min(MAX_PARTITIONS, max(2, math.ceil(2 * estimate / budget))))


def search_join(recs: pl.DataFrame, index: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """The rows of ``recs`` whose ``_key`` is a key of ``index`` (sorted by ``key``), in their order,
    with the index's other columns; and the index rows they matched.

    The rows and columns of an inner join kept in the left order. Why not a join: polars hashes the
    index for every join, and chunks of captures come one after another against one index of
    millions of labels -- a search of the sorted keys costs the chunk, not the index (the 10 M-record
    day's join peaked at 1.4 GiB hashing its 7 M labels chunk after chunk).
    """
    keys, values = index["key"], index.drop("key")
    if not len(keys):
        return recs.clear().hstack(values.clear()), np.zeros(0, dtype=np.int64)
    at = keys.search_sorted(recs["_key"], side="left").clip(0, len(keys) - 1)
    hit = (keys.gather(at) == recs["_key"]).fill_null(False)
    at = at.filter(hit)
    return recs.filter(hit).hstack(values[at]), at.to_numpy()


class LabelSpill:
    """The label index partitioned by key hash on local disk, and the captures waiting to be joined."""

    def __init__(self, folder: str, partitions: int = MAX_PARTITIONS) -> None:
        self.folder = folder
        self.partitions = partitions
        self.label_files: list[list[str]] = [[] for _ in range(partitions)]
        self.capture_files: list[dict[int, str]] = []  # per chunk of captures: partition -> file
        self._written = 0

    def _write(self, frame: pl.DataFrame, key: str) -> dict[int, str]:
        out: dict[int, str] = {}
        if not frame.height:
            return out
        by = (pl.col(key).hash(seed=_SEED) % self.partitions).cast(pl.UInt32).alias("_p")
        for (p,), part in frame.with_columns(by).partition_by("_p", as_dict=True, include_key=False).items():
            path = os.path.join(self.folder, f"{key.strip('_')}-{self._written:06d}-p{int(str(p)):03d}.parquet")
            part.write_parquet(path, compression="lz4", statistics=False)
            out[int(str(p))] = path
        self._written += 1
        return out

    def add_labels(self, frame: pl.DataFrame) -> None:
        """Labels in reading order (files, then lines): the order that decides which label is last."""
        for p, path in self._write(frame.select(INDEX_COLUMNS), "key").items():
            self.label_files[p].append(path)

    def add_captures(self, recs: pl.DataFrame) -> None:
        """One chunk of captures (with ``_rec`` and ``_key``), to be joined at the end."""
        self.capture_files.append(self._write(recs, "_key"))

    def index(self, p: int) -> tuple[pl.DataFrame, int]:
        """Partition ``p`` of the label index (the last label of a key wins) and its label count."""
        files = self.label_files[p]
        if not files:
            return pl.DataFrame(schema={c: pl.String for c in INDEX_COLUMNS}), 0
        labels = pl.concat([pl.read_parquet(f, glob=False) for f in files])
        return labels.unique(subset="key", keep="last", maintain_order=True), labels.height

    def _join_partition(self, p: int) -> tuple[tuple[int, int, int, int, int], dict[int, str]]:
        """Step 3 for partition ``p``: its joined file per chunk, and its counts (labels, duplicate
        labels, matched, captured without label, labels without capture)."""
        index, n = self.index(p)
        index = index.sort("key")
        hit = np.zeros(index.height, dtype=bool)
        matched = unmatched = 0
        joined: dict[int, str] = {}
        for c, by_partition in enumerate(self.capture_files):
            path = by_partition.get(p)
            if path is None:
                continue
            recs = pl.read_parquet(path, glob=False)
            has, rows = search_join(recs, index)
            hit[rows] = True
            matched += has.height
            unmatched += recs.height - has.height
            out = os.path.join(self.folder, f"joined-c{c:06d}-p{p:03d}.parquet")
            has.write_parquet(out, compression="lz4", statistics=False)
            joined[c] = out
            os.unlink(path)
        return (index.height, n - index.height, matched, unmatched, index.height - int(np.count_nonzero(hit))), joined

    def _chunk(self, files: list[str]) -> pl.DataFrame | None:
        parts = [pl.read_parquet(f, glob=False) for f in files]
        return pl.concat(parts).sort("_rec") if parts else None

    def join(self, summary: MergeSummary) -> Iterator[pl.DataFrame]:
        """Steps 3 and 4: every chunk's labelled captures, in chunk and record order; counts them.

        Partitions are joined two at a time (one on a single core): two hold about the budget, each
        being half of it, so more cores do not mean more at once. The next chunk is read while the
        caller makes the last one's part: done one after another on one core, this was half of the
        10M-record day's merge.
        """
        joined: dict[int, list[str]] = {}
        slots = max(1, min(2, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=slots) as pool:
            for counts, files in pool.map(self._join_partition, range(self.partitions)):  # in partition order
                labels, duplicates, matched, unmatched, unused = counts
                summary.labels += labels
                summary.duplicate_labels += duplicates
                summary.matched += matched
                summary.captured_without_label += unmatched
                summary.labels_without_capture += unused
                for c, path in files.items():
                    joined.setdefault(c, []).append(path)
        chunks = [joined[c] for c in range(len(self.capture_files)) if c in joined]
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(self._chunk, chunks[0]) if chunks else None
            for k in range(len(chunks)):
                assert ahead is not None
                frame = ahead.result()
                ahead = pool.submit(self._chunk, chunks[k + 1]) if k + 1 < len(chunks) else None
                if frame is not None:
                    yield frame

    def whole(self, summary: MergeSummary) -> pl.DataFrame:
        """The whole index in memory (batch-transform capture, whose join is not partitioned)."""
        frames = []
        for p in range(self.partitions):
            index, n = self.index(p)
            summary.labels += index.height
            summary.duplicate_labels += n - index.height
            frames.append(index)
        return pl.concat(frames)


def read_labels(
    store: Store,
    uri: str,
    window: Window,
    lookahead: timedelta,
    summary: MergeSummary,
    strict: bool,
    workers: int,
    budget: int,
    spill_dir: str,
    bounded_map: Callable[..., Iterator[ParsedFile]],
) -> pl.DataFrame | LabelSpill:
    """The window's label index: a frame of ``key, gt_data, gt_enc`` sorted by key (one row per key, the
    last label wins), or a :class:`LabelSpill` once it outgrows ``budget`` bytes."""
    layout.require_root(store, uri, "--ground-truth")
    folders = layout.hour_folders([uri], window.hours(after=lookahead))
    summary.label_hour_folders = len(folders)
    files = layout.list_window_files(store, folders, workers)
    summary.label_files = len(files)
    if not files:
        summary.warnings.append(f"no ground-truth files in the window's {len(folders)} hour folder(s) under {uri}")

    # As for captures: reads many at once, parses no more at once than there are cores, and only
    # a few parsed files wait.
    slots = max(1, min(workers, os.cpu_count() or 1))

    def read(item: tuple[int, str]) -> tuple[int, str, bytes]:
        return item[0], item[1], store.read_bytes(item[1])

    def parse(item: tuple[int, str, bytes]) -> ParsedFile:
        i, url, data = item
        return parse_ground_truth(data, url, i)

    frames: list[pl.DataFrame] = []
    size = 0
    done = 0
    spill: LabelSpill | None = None
    # Label files can be large (one upload a day): a few reads ahead of the parses, not ``workers``.
    reads = bounded_map(read, enumerate(files), workers, slots + 2)
    for pf in bounded_map(parse, reads, slots, slots + 1):
        done += 1
        summary.label_lines += pf.lines
        summary.label_malformed_lines += pf.malformed
        summary.add_problems(pf.problems, pf.malformed, strict, " in this file")
        frame = pf.frame.select(INDEX_COLUMNS)
        if spill is not None:
            spill.add_labels(frame)
            continue
        frames.append(frame)
        size += index_bytes(frame)
        if size > budget:
            spill = LabelSpill(spill_dir, partitions_for(size * len(files) / done, budget))
            for f in frames:
                spill.add_labels(f)
            frames = []
    if spill is not None:
        return spill
    labels = pl.concat(frames) if frames else parse_ground_truth(b"", "", 0).frame.select(INDEX_COLUMNS)
    # The last label of a key wins. A mask on the key alone, not ``unique`` on the frame: a window
    # without duplicate labels keeps its frames as they are (no copy of the whole index).
    last = labels.select(pl.col("key").is_last_distinct()).to_series()
    unique = labels if last.all() else labels.filter(last)
    summary.duplicate_labels = labels.height - unique.height
    summary.labels = unique.height
    return unique.sort("key")  # sorted once: each chunk of captures searches it (search_join)
