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
# Files with at most this many values are replayed together, one numpy step per row position.
_VECTOR_MAX = 256


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
    out: list[tuple[float, float, float] | None] = [None] * len(arrays)
    short = [j for j, a in enumerate(arrays) if a.shape[0] <= _VECTOR_MAX]
    for j, a in enumerate(arrays):
        if a.shape[0] > _VECTOR_MAX:
            out[j] = (float(np.cumsum(a)[-1]) if sums else 0.0, *spark_moments(a))
    if short:
        lens = np.array([arrays[j].shape[0] for j in short])
        width = int(lens.max())
        grid = np.zeros((width, len(short)))
        for col, j in enumerate(short):
            grid[: lens[col], col] = arrays[j]
        total = np.zeros(len(short))
        avg = np.zeros(len(short))
        m2 = np.zeros(len(short))
        # Overflow gives inf as Python floats do, silently.
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(width):
                live = lens > k
                if sums:
                    total = np.where(live, total + grid[k], total)
                delta = grid[k] - avg
                delta_n = delta / float(k + 1)
                avg = np.where(live, avg + delta_n, avg)
                m2 = np.where(live, m2 + delta * (delta - delta_n), m2)
        for col, j in enumerate(short):
            out[j] = (float(total[col]), float(avg[col]), float(m2[col]))
    return [r for r in out if r is not None]
