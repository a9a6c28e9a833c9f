"""Many arrays replayed side by side (moments._replay_many: numpy steps while many arrays still run,
then value by value) give the bits of replaying each alone: Spark's sequential mean and M2, and
the left-to-right sum SageMaker takes (np.cumsum adds in that order)."""

from __future__ import annotations

import numpy as np
import pytest

from mmon.stats import moments


@pytest.mark.parametrize("seed", range(3))
def test_side_by_side_replay_gives_each_arrays_own_bits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for trial in range(40):
        # 1 to 40 arrays of 1 to 3000 values (or 1 to 30), many scales: the numpy steps, the
        # Python tails and both mixed.
        n = int(rng.integers(1, 40))
        longest = 3000 if trial % 3 else 30
        arrays = [
            rng.normal(rng.uniform(-1e6, 1e6), rng.uniform(0.1, 1e5), int(rng.integers(1, longest)))
            * 10.0 ** int(rng.integers(-5, 5))
            for _ in range(n)
        ]
        want = [(float(np.cumsum(a)[-1]), *moments.spark_moments(a)) for a in arrays]
        assert moments.sums_and_moments_many(arrays) == want
        assert moments.spark_moments_many(arrays) == [w[1:] for w in want]


def test_overflow_is_inf_as_in_python() -> None:
    arrays = [np.array([1e308, 1e308, -1.0])] * 9
    got = moments.sums_and_moments_many(arrays)
    with np.errstate(over="ignore"):
        assert got == [(float(np.cumsum(arrays[0])[-1]), *moments.spark_moments(arrays[0]))] * 9
    assert got[0][0] == float("inf")
