"""Text columns classified from their distinct values (later batches of a file): exact value
counts and Deequ's type classes from a regex over a few hundred distinct values, not every row."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from mmon.stats import dtypes
from mmon.stats.state import CATEGORY_CAP, SMALL_MAP, ColumnState


@dataclass
class Classified:
    counts: dict[str, int]
    present: int
    numbers: int
    integral: int
    fractional: int
    boolean: int


def classified_counts(batch: pl.DataFrame, name: str, prior: ColumnState | None) -> Classified | None:
    """Value counts of a text column and its class counts from its distinct values, or None when
    the column must be classified value by value.

    Only for a column whose earlier batches stayed under the category cap (its counts are needed
    anyway, and a regex over a few hundred distinct values is cheaper than over every row), and
    only when polars' cast to a number accepts exactly the Deequ-numeric values (no ``inf``,
    ``.5`` or ``- 4``) and gives a finite number for each (no ``1e999``), so the per-row values
    can come from the plain cast.
    """
    if prior is None or prior.categories is None:
        return None
    text = batch.get_column(name).drop_nulls()
    counts = text.rename("v").value_counts(name="n")
    if counts.height > CATEGORY_CAP:
        return None
    numeric = dtypes.is_numeric_text("v")
    info = counts.select(
        numeric.alias("numeric"),
        dtypes.is_fractional_text("v", numeric).alias("fractional"),
        pl.col("v").cast(pl.Float64, strict=False).is_not_null().alias("casts"),
        pl.col("v").cast(pl.Float64, strict=False).is_infinite().any().alias("overflow"),
        dtypes.is_boolean_text("v").alias("boolean"),
    )
    if info.get_column("overflow")[0] or not info.get_column("numeric").equals(info.get_column("casts")):
        return None
    sums = pl.concat([counts, info], how="horizontal").select(
        pl.col("n").filter(pl.col(c)).sum().alias(c) for c in ("numeric", "fractional", "boolean")
    )
    numbers, fractional, boolean = (int(x) for x in sums.row(0))
    found = dict(zip(counts.get_column("v").to_list(), counts.get_column("n").to_list(), strict=True))
    if len(found) > SMALL_MAP:
        found = dict(sorted(found.items()))  # value_counts' order varies from run to run
    elif any(v not in prior.categories for v in found):
        # Scala's Map1..Map4 keep insertion order, which SageMaker's buckets show: new values in
        # first-seen order.
        found = {v: found[v] for v in text.unique(maintain_order=True).to_list()}
    return Classified(found, text.len(), numbers, numbers - fractional, fractional, boolean)
