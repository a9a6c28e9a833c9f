"""Profile states: the mergeable summary of a column and of a dataset.

Like Deequ's analyzers, each statistic has a state that two halves of a dataset can merge into the
state of the whole: counts add; moments merge with Chan et al.'s formula; min/max take min/max;
the KLL sketch merges as Deequ merges partition sketches; HyperLogLog states take the union;
exact category counts add until a column has more than ``CATEGORY_CAP`` distinct values.

States are built batch by batch (:mod:`mmon.stats.measure`), a file at a time
(:mod:`mmon.stats.profile`), and folded file by file in file order (:mod:`mmon.engine`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from mmon.stats import dtypes, hll
from mmon.stats.kll import KLLSketch

# Exact value counts are kept while a column has at most this many distinct values. SageMaker
# writes categorical buckets only up to 120 distinct values (Deequ's cardinality threshold), so any
# cap above 120 decides that exactly; 1000 keeps the state small and merges stay exact.
CATEGORY_CAP = 1000
# Scala's immutable maps of up to 4 entries iterate in insertion order (Map1..Map4).
SMALL_MAP = 4


@dataclass
class ColumnState:
    """Everything mmon keeps about one column of a dataset, mergeable."""

    name: str
    rows: int = 0
    nulls: int = 0
    n_integral: int = 0
    n_fractional: int = 0
    n_boolean: int = 0
    n_string: int = 0
    # Non-finite numbers (NaN, ±inf; typed, or as text in an otherwise numeric column): counted
    # as missing, and reported with the first row where one was seen (row index in its file).
    n_nonfinite: int = 0
    first_nonfinite_row: int | None = None
    # Moments of the values that are numbers (Integral or Fractional).
    num_n: int = 0
    num_sum: float = 0.0
    num_mean: float = 0.0
    num_m2: float = 0.0
    num_min: float = math.inf
    num_max: float = -math.inf
    kll: KLLSketch = field(default_factory=KLLSketch)
    # HyperLogLog state (mmon.stats.hll), allocated on first use.
    hll_state: np.ndarray | None = None
    # Text values still to add to the HyperLogLog state: adding is a set union (order and
    # grouping do not matter), so category keys from many small merges are hashed together.
    hll_pending: list[str] = field(default_factory=list, repr=False)
    # value -> count (first-seen order) while distinct <= CATEGORY_CAP; None once over the cap.
    categories: dict[str, int] | None = field(default_factory=dict)
    # Category counts of later states merged lazily (see merge(lazy=True)), in merge order.
    categories_pending: list[dict[str, int]] = field(default_factory=list, repr=False)
    # "text" when the values are classified from their text (CSV, JSON strings); else the typed kind.
    kind: str = "text"

    # -- derived --------------------------------------------------------------------------------
    @property
    def present(self) -> int:
        return self.rows - self.nulls

    @property
    def inferred_type(self) -> str:
        return dtypes.column_type(self.n_integral, self.n_fractional, self.n_boolean, self.n_string)

    def distinct(self) -> float:
        if self.categories is not None:
            return float(len(self.categories))
        self.flush_hll()
        return hll.estimate(self.hll_state) if self.hll_state is not None else 0.0

    def hll(self) -> np.ndarray:
        """The HyperLogLog state (pending values added), allocated on first use."""
        if self.hll_state is None:
            self.hll_state = hll.empty()
        if self.hll_pending:
            self.flush_hll()
        return self.hll_state

    def flush_hll(self) -> None:
        """Add the pending text values to the HyperLogLog state."""
        if self.hll_pending:
            if self.hll_state is None:
                self.hll_state = hll.empty()
            hll.update(self.hll_state, pl.Series(self.hll_pending, dtype=pl.String))
            self.hll_pending = []

    def _hll_text(self, values: list[str]) -> None:
        self.hll_pending.extend(values)
        if len(self.hll_pending) > 200_000:
            self.flush_hll()

    def std_dev(self) -> float:
        return math.sqrt(self.num_m2 / self.num_n) if self.num_n else 0.0

    # -- merging --------------------------------------------------------------------------------
    def merge(self, other: ColumnState, lazy: bool = False) -> ColumnState:
        """Fold ``other`` (later rows of the same column) into this state, in place.

        ``lazy``: category counts are queued and added up together by :meth:`flush_categories`
        (the caller must call it before reading ``categories``): the same counts, first-seen
        order and cap as merging one by one, in one pass instead of a dict update per state.
        """
        self.rows += other.rows
        self.nulls += other.nulls
        self.n_integral += other.n_integral
        self.n_fractional += other.n_fractional
        self.n_boolean += other.n_boolean
        self.n_string += other.n_string
        if self.first_nonfinite_row is None:
            self.first_nonfinite_row = other.first_nonfinite_row
        self.n_nonfinite += other.n_nonfinite
        self._merge_moments(other)
        self.kll.merge(other.kll)
        if other.hll_state is not None:
            if self.hll_state is None:
                self.hll_state = other.hll_state.copy()
            else:
                hll.merge(self.hll_state, other.hll_state)
        if other.hll_pending:
            self._hll_text(other.hll_pending)
        self._merge_categories(other.categories, lazy)
        if other.kind != self.kind and other.rows:
            self.kind = "text" if "text" in (self.kind, other.kind) else other.kind
        return self

    def _merge_moments(self, o: ColumnState) -> None:
        # Chan, Golub, LeVeque (1979): pairwise update of count, mean and M2.
        if o.num_n == 0:
            return
        if self.num_n == 0:
            self.num_n, self.num_sum, self.num_mean, self.num_m2 = o.num_n, o.num_sum, o.num_mean, o.num_m2
            self.num_min, self.num_max = o.num_min, o.num_max
            return
        n = self.num_n + o.num_n
        delta = o.num_mean - self.num_mean
        self.num_m2 = self.num_m2 + o.num_m2 + delta * delta * self.num_n * o.num_n / n
        self.num_sum += o.num_sum
        self.num_n = n
        self.num_mean = self.num_sum / n
        self.num_min = min(self.num_min, o.num_min)
        self.num_max = max(self.num_max, o.num_max)

    def _merge_categories(self, other: dict[str, int] | None, lazy: bool = False) -> None:
        if self.categories is None:
            if other is not None:
                self._hll_text(list(other))
            return
        if other is None:
            self.flush_categories()
            if self.categories is not None:
                self._hll_text(list(self.categories))
                self.categories = None
            return
        if lazy:
            self.categories_pending.append(other)
            if len(self.categories_pending) >= 1000:
                self.flush_categories()
            return
        self.flush_categories()
        if self.categories is None:
            self._hll_text(list(other))
            return
        for k, v in other.items():
            self.categories[k] = self.categories.get(k, 0) + v
        if len(self.categories) > CATEGORY_CAP:
            self._hll_text(list(self.categories))
            self.categories = None


    def flush_categories(self) -> None:
        """Add up the lazily merged category counts: one group-by over all of them, keeping the
        first-seen order (each value's first position in the merge sequence) and the cap."""
        pending, self.categories_pending = self.categories_pending, []
        if not pending or self.categories is None:
            return
        sources = [self.categories, *pending]
        keys = [k for d in sources for k in d]
        if not keys:
            return
        counts = [v for d in sources for v in d.values()]
        summed = (
            pl.DataFrame({"k": keys, "n": counts}, schema={"k": pl.String, "n": pl.Int64})
            .with_row_index("i")
            .group_by("k")
            .agg(pl.col("n").sum(), pl.col("i").min())
            .sort("i")
        )
        if summed.height > CATEGORY_CAP:
            self._hll_text(summed.get_column("k").to_list())
            self.categories = None
            return
        self.categories = dict(zip(summed.get_column("k").to_list(), summed.get_column("n").to_list(), strict=True))


@dataclass
class ProfileState:
    """Column states of a dataset, in column order, plus the row count."""

    columns: dict[str, ColumnState] = field(default_factory=dict)
    rows: int = 0

    def merge(self, other: ProfileState, lazy: bool = False) -> ProfileState:
        """Fold ``other`` (the rows that come after this profile's) into this profile, in place.

        Columns absent from one side count as all-null there; a column first seen in ``other`` is
        appended after this profile's columns.

        **The merge rule.** Counts, min, max and HyperLogLog unions are associative and
        commutative, so any grouping gives the same result. Three things are not, which is why
        mmon always folds per-file states left to right in file order (file 1, then 2, ...;
        :func:`mmon.engine.fold`) and never merges in any other order or tree shape:

        * category first-seen order: exact category counts keep the order values were first seen
          (Scala's small maps show it in SageMaker's buckets), so ``a.merge(b)`` lists ``a``'s
          values first;
        * KLL compaction: merging concatenates levels and compacts when full, so the retained
          items depend on the order and grouping of merges (as in Deequ);
        * sum order: sums, means and M2 (Chan et al.) are floating-point, so ``(a + b) + c`` may
          differ from ``a + (b + c)`` in the last bits.

        A file's own state does not depend on how files were batched for reading
        (:class:`mmon.engine.LocalEngine` reads small files together but measures each one on
        its own rows), so the statistics depend only on the ordered list of files.
        """
        for name, col in other.columns.items():
            if name not in self.columns:
                missing = ColumnState(name=name, rows=self.rows, nulls=self.rows, kind=col.kind)
                self.columns[name] = missing
            self.columns[name].merge(col, lazy)
        for name, col in self.columns.items():
            if name not in other.columns and other.rows:
                col.merge(ColumnState(name=name, rows=other.rows, nulls=other.rows, kind=col.kind))
        self.rows += other.rows
        return self

    def flush(self) -> ProfileState:
        """Complete lazy merges (``merge(lazy=True)``); returns self."""
        for col in self.columns.values():
            col.flush_categories()
        return self
