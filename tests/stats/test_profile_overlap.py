"""The two overlapping stages of profile_batches (measure batch i + 1 while batch i is folded) must not
let the running state change under a measurement: a text column that passes the category cap in a
later batch crashed with "argument of type 'NoneType' is not iterable" (field report: mmon run on ten
100 000-row Parquet parts), and any thread count must give the bytes of ``threads=1``."""

from __future__ import annotations

import polars as pl
import pytest

from mmon.engine.state_codec import encode_profile
from mmon.stats.profile import profile_batches
from mmon.stats.state import CATEGORY_CAP


def _batches(rows: int, columns: int) -> list[pl.DataFrame]:
    """Text columns with 600 values, then 600 new ones (the fold of that batch passes the cap), then
    three values (few enough that the measurement looks them up in the running categories) --
    repeated, so a measurement overlaps a fold that drops the categories."""
    half = CATEGORY_CAP * 3 // 5
    out = []
    for b in range(6):
        kind = b % 3
        width = half if kind < 2 else 3
        col = [f"{b}_{i % width}" for i in range(rows)]
        out.append(pl.DataFrame({f"s{c}": col for c in range(columns)} | {"x": [str(i * 0.5 + b) for i in range(rows)]}))
    return out


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_category_cap_passed_in_a_later_batch(threads: int) -> None:
    batches = _batches(100_000, 12)
    want = encode_profile("f", profile_batches(iter(batches), threads=1), [])
    got = encode_profile("f", profile_batches(iter(batches), threads=threads), [])
    assert got == want
