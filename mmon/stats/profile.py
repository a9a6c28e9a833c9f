"""The file loop: the batches of one file, in order, into one profile state.

A file is profiled as one sequential stream, as Deequ profiles one Spark partition: its batches are
measured (:mod:`mmon.stats.measure`) one after the other and their values fed to the file's
sketches in row order. The state of a dataset is the fold of its files' states in file order
(:mod:`mmon.engine`); the states themselves live in :mod:`mmon.stats.state`.

The same code profiles a baseline dataset and every window of current data, so a monitoring run
compares like with like.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import polars as pl

from mmon.stats.measure import Measured, measure_batch
from mmon.stats.state import CATEGORY_CAP, SMALL_MAP, ColumnState, ProfileState

__all__ = [
    "CATEGORY_CAP",
    "SMALL_MAP",
    "ColumnState",
    "Measured",
    "ProfileState",
    "measure_batch",
    "profile_batch",
    "profile_batches",
    "profile_small_files",
]


def profile_batch(
    batch: pl.DataFrame, threads: int = 2, running: ProfileState | None = None, row_offset: int = 0
) -> ProfileState:
    """Profile one batch of rows: the polars passes (:func:`measure_batch`), then the sketches per
    column (:meth:`Measured.sketch`).

    With ``running`` (the state of the earlier batches of the same file) the batch's values go
    straight into the running KLL sketches and HyperLogLog states, so a file is sketched in one
    sequential stream exactly as Deequ sketches one Spark partition; the returned state then has
    empty sketches and is merged into ``running`` by the caller.

    Sums: the first batch of a file is summed left to right in row order, which is SageMaker's
    ``sum`` bit for bit on a file it reads as one partition (``np.sum`` and polars add pairwise,
    which differs in the last bits). Later batches are summed by polars and added to the running
    sum: SageMaker splits larger files into partitions whose sums it adds, so no order is exact
    there, and the pairwise sum is the more accurate one.
    """
    measured = measure_batch(batch, running, row_offset)
    return measured.sketch(threads)


def profile_small_files(frames: list[pl.DataFrame], threads: int = 2) -> list[ProfileState]:
    """Profile consecutive small files (each one batch, all with the same schema) in one set of
    polars passes; returns one state per file, each exactly :func:`profile_batches` of that file
    alone (a folder of a thousand small files then costs about what one file of their rows costs).
    """
    if len(frames) == 1:
        return [profile_batches(iter(frames), threads=threads)]
    batch = pl.concat(frames, rechunk=True)
    measured = measure_batch(batch, parts=[f.height for f in frames])
    return measured.sketch_parts(threads)


def profile_batches(batches: Iterable[pl.DataFrame], threads: int = 2) -> ProfileState:
    """Profile the batches of one file (in order) into one state, sketching values sequentially.

    Two stages overlap: while one thread feeds the sketches of batch ``i`` (numpy, mostly), the
    caller's thread reads batch ``i + 1``. Sketches are still fed one batch after the other, in
    file order; at most two batches are held at a time. ``threads=1`` runs everything on the
    caller's thread.

    Batch ``i + 1`` is *measured* only once batch ``i`` is folded: its polars passes read the
    running state (which text columns are still categorical, their known values), and reading it
    while the fold changes it made the choice depend on timing -- an internal error when a
    column passed the category cap mid-measure, and in principle other paths than ``threads=1``
    takes. Now every thread count measures batch ``i + 1`` against the state of batches ``0..i``.
    """
    total: ProfileState | None = None
    rows = 0
    if threads <= 1:
        for batch in batches:
            measured = measure_batch(batch, total, rows)
            rows += measured.rows
            if total is None:
                total = measured.sketch()
            else:
                total.merge(measured.sketch())
        return total if total is not None else ProfileState()

    def fold(measured: Measured, into: ProfileState) -> None:
        into.merge(measured.sketch())

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[Any] | None = None
        for batch in batches:
            if pending is not None:
                pending.result()  # batch i folded before batch i + 1 reads the running state
            measured = measure_batch(batch, total, rows)
            rows += measured.rows
            if total is None:
                # The first batch's state becomes the running state; later batches feed its
                # sketches (after this one's, the worker being a single thread).
                total = measured.state
                pending = pool.submit(measured.sketch)
            else:
                pending = pool.submit(fold, measured, total)
        if pending is not None:
            pending.result()
    return total if total is not None else ProfileState()
