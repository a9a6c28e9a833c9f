"""Per-value data-type classes against Deequ's own regular expressions (independent reference).

Deequ 2.0.2 (``analyzers/catalyst/StatefulDataType.scala``) classifies each non-null string with
Java regexes, Fractional first, then Integral, then Boolean, else String. Java's ``\\d`` is ASCII
only, so Python's ``re`` with ``re.ASCII`` and ``fullmatch`` is the same language.
"""

from __future__ import annotations

import math
import re

import numpy as np
import polars as pl
import pytest

from mmon.stats.profile import measure_batch, profile_batch, profile_batches

FRACTIONAL = re.compile(r"(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))", re.ASCII)
INTEGRAL = re.compile(r"(-|\+)? ?\d+", re.ASCII)
BOOLEAN = re.compile(r"(true|false)", re.ASCII)

TRICKY = [
    "7", "-7", "+7", " 7", "- 7", "+ 7", "007", "-0", "12345678901234567890",
    "3.0", "-3.25", "+0.5", "- 0.5", ".5", "5.", "-.5", "1e5", "1E5", "1e-5", "1.5E+3", "1.5e", "e5",
    "inf", "-inf", "Infinity", "NaN", "nan", "true", "false", "True", "FALSE", "",
    "\u0663", "1\u0663", "7 ", "1,000", "1_000", "0x10", "abc", "3.0.1", "--7", "+-7",
]


def deequ_class(v: str | None) -> str:
    if v is None:
        return "null"
    if FRACTIONAL.fullmatch(v):
        return "fractional"
    if INTEGRAL.fullmatch(v):
        return "integral"
    if BOOLEAN.fullmatch(v):
        return "boolean"
    return "string"


def _counts(values: list[str | None]) -> dict[str, int]:
    out = {"null": 0, "integral": 0, "fractional": 0, "boolean": 0, "string": 0}
    for v in values:
        out[deequ_class(v)] += 1
    return out


def _numbers(values: list[str | None]) -> list[float]:
    return [float(v.replace(" ", "")) for v in values if deequ_class(v) in ("integral", "fractional")]


@pytest.mark.parametrize("seed", [0, 1])
def test_classes_match_deequ_regexes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values: list[str | None] = [TRICKY[i] for i in rng.integers(0, len(TRICKY), 5000)]
    values += [None] * 37
    rng.shuffle(values)  # type: ignore[arg-type]
    col = profile_batch(pl.DataFrame({"x": pl.Series(values, dtype=pl.String)})).columns["x"]
    want = _counts(values)
    # mmon counts 'inf'/'NaN' text in a column with numbers as missing numbers (non-finite), not String.
    nonfinite = sum(1 for v in values if v is not None and v.strip().lower() in ("inf", "-inf", "infinity", "nan"))
    assert col.n_nonfinite == nonfinite
    assert (col.nulls, col.n_integral, col.n_fractional, col.n_boolean, col.n_string) == (
        want["null"] + nonfinite,
        want["integral"],
        want["fractional"],
        want["boolean"],
        want["string"] - nonfinite,
    )
    numbers = _numbers(values)
    assert col.num_n == len(numbers)
    assert col.num_sum == pytest.approx(math.fsum(numbers), rel=1e-12)
    assert (col.num_min, col.num_max) == (min(numbers), max(numbers))


def test_word_columns_and_numbers_appearing_in_a_later_batch() -> None:
    # A String column whose first batches hold no number, then one appears: the classes of every
    # batch still follow Deequ's, whatever shortcut a batch without numbers takes.
    first = ["red", "true", None, "blue"] * 500
    later = ["red", "42", "false", "4.5", None] * 400
    state = profile_batches(iter([pl.DataFrame({"c": first}), pl.DataFrame({"c": later})]))
    col = state.columns["c"]
    want = _counts(first + later)
    assert (col.nulls, col.n_integral, col.n_fractional, col.n_boolean, col.n_string) == (
        want["null"], want["integral"], want["fractional"], want["boolean"], want["string"]
    )
    assert col.num_sum == pytest.approx(400 * 46.5)
    assert col.inferred_type == "String"
    assert col.categories == {"red": 900, "true": 500, "blue": 500, "42": 400, "false": 400, "4.5": 400}


def test_column_names_that_look_like_internal_ones() -> None:
    # Internal working columns must not clash with user columns of any name.
    df = pl.DataFrame({"r0": ["1", "2", "x"], "v0": ["a", "b", "c"], "k1": [1.5, 2.5, None], "h0": ["3", "4", "5"]})
    cols = profile_batch(df).columns
    assert (cols["r0"].n_integral, cols["r0"].n_string) == (2, 1)
    assert (cols["v0"].n_string, cols["v0"].num_n) == (3, 0)
    assert (cols["k1"].n_fractional, cols["k1"].nulls, cols["k1"].num_sum) == (2, 1, 4.0)
    assert (cols["h0"].n_integral, cols["h0"].num_sum) == (3, 12.0)


def test_category_order_is_reproducible() -> None:
    # Up to 4 values: first-seen order (Scala's Map1..Map4 keep insertion order, SageMaker's
    # buckets show it). More: each batch adds its new values in value order, whatever order the
    # parallel value count returns them in, so reruns write the same files.
    few = profile_batch(pl.DataFrame({"c": ["b", "a", "b", "d", None, "c"]})).columns["c"]
    assert list(few.categories or {}) == ["b", "a", "d", "c"]
    rng = np.random.default_rng(3)
    words = [f"w{i:03d}" for i in rng.permutation(300)]
    first = pl.DataFrame({"c": [words[i] for i in rng.integers(0, 150, 20_000)]})
    later = pl.DataFrame({"c": [words[i] for i in rng.integers(0, 300, 20_000)]})
    orders = set()
    for _ in range(3):
        cats = profile_batches(iter([first, later])).columns["c"].categories or {}
        orders.add(tuple(cats))
    assert len(orders) == 1
    order = list(orders.pop())
    n_first = first["c"].n_unique()
    assert order[:n_first] == sorted(order[:n_first]) and order[n_first:] == sorted(order[n_first:])


def _casts_exactly(v: str) -> bool:
    """polars' float cast accepts the value exactly when Deequ calls it a number."""
    try:
        float(v)
        casts = v.strip() == v and "_" not in v
    except ValueError:
        casts = False
    return casts == (deequ_class(v) in ("integral", "fractional"))


CLEAN = ["7", "-7", "+7", "007", "3.0", "-3.25", "1e5", "1.5E+3", "true", "false", "abc", "", "12345678901234567890"]


@pytest.mark.parametrize("pool", [TRICKY, CLEAN, CLEAN + ["inf"], CLEAN + [" 7"], CLEAN + [".5"]])
def test_later_batches_classified_from_distinct_values_agree(pool: list[str]) -> None:
    # After the first batch, a column with few values is classified from its distinct values;
    # whenever polars' cast and Deequ's regex disagree on one of them it falls back to per-value
    # classes. Either way the counts, sums and sketches equal those of one pass over all rows.
    rng = np.random.default_rng(len(pool))
    values: list[str | None] = [pool[i] for i in rng.integers(0, len(pool), 8000)] + [None] * 50
    rng.shuffle(values)  # type: ignore[arg-type]
    frame = pl.DataFrame({"x": pl.Series(values, dtype=pl.String)})
    whole = profile_batch(frame).columns["x"]
    parts = profile_batches(iter(frame.iter_slices(2000))).columns["x"]
    want = _counts(values)
    for col in (whole, parts):
        assert col.n_integral == want["integral"] and col.n_fractional == want["fractional"]
        assert col.n_boolean == want["boolean"]
        assert col.n_string + col.n_nonfinite == want["string"]
        assert col.nulls == want["null"] + col.n_nonfinite
    assert parts.categories == whole.categories
    # Which path a later batch took: distinct values when cast and regex agree on all of them.
    running = profile_batch(frame[:2000])
    measured = measure_batch(frame[2000:4000], running, 2000)
    assert (0 in measured.counted) == all(ok for ok in (_casts_exactly(v) for v in pool))
    assert parts.num_sum == pytest.approx(whole.num_sum, rel=1e-12)
    assert parts.kll.to_data() == whole.kll.to_data()
