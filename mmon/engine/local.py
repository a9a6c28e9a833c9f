"""The local engine: files profiled on this machine, one after the other.

Consecutive small files (one batch, under ``DEFAULT_BATCH_ROWS`` rows, the same columns) are read
and measured together, up to a batch's worth of rows: a folder of a thousand small part files then
costs about what one file of the same rows costs, instead of a thousand times the fixed cost of a
profile. :meth:`LocalEngine.map_files` still yields each file's own state, measured on its own rows
only (:func:`mmon.stats.profile.profile_small_files`), identical to :func:`mmon.engine.profile_file`;
:meth:`LocalEngine.map_groups`, which :func:`mmon.engine.profile_files` uses, yields such a group
as one :class:`mmon.engine.batched.FileGroup` that folds into the same bytes without a state per
file (:func:`mmon.engine.batched.merge_group`).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import polars as pl

from mmon.engine import FileProfile, ProfilePolicy, check_file_state
from mmon.engine.batched import FileGroup, measure_group
from mmon.readers import (
    DEFAULT_BATCH_ROWS,
    RUN_BYTES,
    DatasetFile,
    drop_blank_lines,
    iter_batches,
    read_csv_run,
    small_csv,
)
from mmon.stats.profile import profile_batches, profile_small_files
from mmon.store import Store

_Read = tuple[list[tuple[DatasetFile, pl.DataFrame]], DatasetFile | None, Iterator[pl.DataFrame] | None]


def _without_blank_lines(store: Store, group: list[tuple[DatasetFile, pl.DataFrame]]) -> Iterator[_Read]:
    """The group with its CSV files' blank lines dropped: one all-null test over all its rows; a
    file that has some is read on its own (rare: a blank line, or a row of empty fields)."""
    frames = [frame for _, frame in group]
    if any(f.format == "csv" for f, _ in group) and frames[0].width:
        all_null = pl.concat(frames, rechunk=False).select(pl.all_horizontal(pl.all().is_null())).to_series()
        if all_null.any():
            for f, frame in group:
                yield [], f, iter([drop_blank_lines(store, f, frame)])
            return
    yield group, None, None


def _first_batches(
    store: Store, files: list[DatasetFile]
) -> Iterator[tuple[DatasetFile, pl.DataFrame | None, pl.DataFrame | None, Iterator[pl.DataFrame]]]:
    """Per file in order: its first batch (blank lines kept: they are looked for once per group,
    _without_blank_lines), its second batch when the first is under ``DEFAULT_BATCH_ROWS`` rows
    (a file is small when it is one batch: iter_batches cuts at DEFAULT_BATCH_ROWS), the rest.
    Runs of small local CSV files are read in one scan (readers.read_csv_run)."""
    k = 0
    while k < len(files):
        run: list[DatasetFile] = []
        size, header = 0, b""
        while k + len(run) < len(files) and size < RUN_BYTES:
            f = files[k + len(run)]
            got = small_csv(store, f)
            if got is None or (run and (f.header != run[0].header or got[1] != header)):
                break
            run.append(f)
            size += got[0]
            header = got[1]
        run = run or files[k : k + 1]
        # A run that cannot be scanned as one (rare: headers differ, bad input) is read file by file.
        frames = (read_csv_run(store, run) if len(run) > 1 else None) or [None] * len(run)
        for f, frame in zip(run, frames, strict=True):
            if frame is not None:
                yield f, frame, None, iter(())
                continue
            batches = iter_batches(store, f, check_first=False)
            first = next(batches, None)
            second = next(batches, None) if first is not None and first.height < DEFAULT_BATCH_ROWS else None
            yield f, first, second, batches
        k += len(run)


class LocalEngine:
    """Profiles files in this process (reading overlaps sketching inside a file)."""

    def __init__(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        # How many rows of consecutive small files are measured together (reading only: the
        # statistics do not depend on it).
        self.batch_rows = batch_rows

    def _read(self, store: Store, files: list[DatasetFile]) -> Iterator[_Read]:
        """Files in order: runs of small files ``(group, None, None)``, or one larger file
        ``([], file, its batches)``."""
        group: list[tuple[DatasetFile, pl.DataFrame]] = []
        rows = 0
        for f, first, second, batches in _first_batches(store, files):
            if first is not None and second is None and 0 < first.height < DEFAULT_BATCH_ROWS:
                if group and (group[0][1].schema != first.schema or rows + first.height > self.batch_rows):
                    yield from _without_blank_lines(store, group)
                    group, rows = [], 0
                group.append((f, first))
                rows += first.height
                continue
            if group:
                yield from _without_blank_lines(store, group)
                group, rows = [], 0
            if first is not None:
                first = drop_blank_lines(store, f, first)
            yield [], f, chain([b for b in (first, second) if b is not None], batches)
        if group:
            yield from _without_blank_lines(store, group)

    def _one_by_one(
        self, store: Store, group: list[tuple[DatasetFile, pl.DataFrame]], policy: ProfilePolicy
    ) -> Iterator[FileProfile]:
        states = profile_small_files([frame for _, frame in group], threads=policy.threads)
        for (f, _), state in zip(group, states, strict=True):
            yield check_file_state(f, state, policy, store)

    def map_files(self, store: Store, files: list[DatasetFile], policy: ProfilePolicy) -> Iterator[FileProfile]:
        """One :class:`FileProfile` per file, in file order."""
        for group, f, batches in self._read(store, files):
            if group:
                yield from self._one_by_one(store, group, policy)
            elif f is not None and batches is not None:
                yield check_file_state(f, profile_batches(batches, threads=policy.threads), policy, store)

    def map_groups(
        self, store: Store, files: list[DatasetFile], policy: ProfilePolicy
    ) -> Iterator[FileProfile | FileGroup]:
        """Like :meth:`map_files`, with runs of small files as :class:`FileGroup` where they can be."""
        for group, f, batches in self._read(store, files):
            if group:
                measured = measure_group([g for g, _ in group], [frame for _, frame in group])
                if measured is not None:
                    yield measured
                else:
                    yield from self._one_by_one(store, group, policy)
            elif f is not None and batches is not None:
                yield check_file_state(f, profile_batches(batches, threads=policy.threads), policy, store)
