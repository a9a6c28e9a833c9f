"""Mean and M2 exactly as SageMaker's analyzer computes them on one Spark partition.

Deequ's standard deviation is Spark's ``CentralMomentAgg``: for each row, in partition order,

    n' = n + 1;  delta = x - avg;  deltaN = delta / n';  avg' = avg + deltaN;
    m2' = m2 + delta * (delta - deltaN)

and ``std_dev = sqrt(m2 / n)``. Replaying that sequence reproduces SageMaker's ``std_dev`` bit for
bit on a file it reads as one partition (pairwise or two-pass formulas differ in the last bits).
The replay is sequential, so mmon does it where it is cheap: the first batch of a file when the
column has at most ``REPLAY_MAX`` values (larger files are split by Spark into partitions whose
states it merges in an order no one can reproduce, so no formula is exact there anyway).

Python floats and numpy float64 element-wise operations are the same IEEE operations, so the
scalar loop and the vectorised one (many small files at once) give identical bits.
"""

from __future__ import annotations

import numpy as np

REPLAY_MAX = 10_000
# Arrays are replayed side by side, one numpy step per row position, while at least this many
# are still running; the last few finish in Python (a numpy step costs what a few values do).
_VECTOR_MIN = 8


def spark_moments(values: np.ndarray) -> tuple[float, float]:
    """(avg, m2) of ``values`` (row order) by Spark's sequential update."""
    n = 0.0
    avg = 0.0
    m2 = 0.0
    for x in values.tolist():
        n += 1.0
        delta = x - avg
        delta_n = delta / n
        avg += delta_n
        m2 += delta * (delta - delta_n)
    return avg, m2


def spark_moments_many(arrays: list[np.ndarray]) -> list[tuple[float, float]]:
    """:func:`spark_moments` of each array; short arrays are replayed side by side."""
    return [(avg, m2) for _, avg, m2 in _replay_many(arrays, sums=False)]


def sums_and_moments_many(arrays: list[np.ndarray]) -> list[tuple[float, float, float]]:
    """(sum, avg, m2) of each array: the sum left to right in row order (SageMaker's, as
    ``np.cumsum(a)[-1]``) and :func:`spark_moments`. No array may hold a -0.0 (``0.0 + -0.0`` is
    0.0, where a sum that starts at its first value keeps the sign)."""
    return _replay_many(arrays, sums=True)


def _replay_many(arrays: list[np.ndarray], sums: bool) -> list[tuple[float, float, float]]:
    """(sum or 0.0, avg, m2) of each array, the same IEEE operations in the same order as
    :func:`spark_moments` (and a left-to-right sum from 0.0) whether a step is numpy's or Python's."""
    n = len(arrays)
    lens = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    order = np.argsort(-lens, kind="stable")  # longest first: the running arrays are a prefix
    total = np.zeros(n)
    avg = np.zeros(n)
    m2 = np.zeros(n)
    width = int(lens.max()) if n else 0
    k = 0
    if n >= _VECTOR_MIN:
        grid = np.zeros((width, n))
        for col, j in enumerate(order.tolist()):
            grid[: lens[j], col] = arrays[j]
        running = np.searchsorted(-lens[order], -np.arange(width), side="left")  # lens > k, per k
        # Overflow gives inf as Python floats do, silently.
        with np.errstate(over="ignore", invalid="ignore"):
            while k < width and (m := int(running[k])) >= _VECTOR_MIN:
                x = grid[k, :m]
                if sums:
                    total[:m] = total[:m] + x
                delta = x - avg[:m]
                delta_n = delta / float(k + 1)
                avg[:m] = avg[:m] + delta_n
                m2[:m] = m2[:m] + delta * (delta - delta_n)
                k += 1
    out: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * n
    for col, j in enumerate(order.tolist()):
        t, a, q = float(total[col]), float(avg[col]), float(m2[col])
        count = float(k)
        for x in arrays[j][k:].tolist():  # the rest of this array, value by value
            count += 1.0
            t += x
            delta = x - a
            delta_n = delta / count
            a += delta_n
            q += delta * (delta - delta_n)
        out[j] = (t if sums else 0.0, a, q)
    return out
