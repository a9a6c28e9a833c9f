"""Profile states: the mergeable summary of a column, built batch by batch with polars.

Like Deequ's analyzers, each statistic has a state that two halves of a dataset can merge into the
state of the whole: counts add; moments merge with Chan et al.'s formula; min/max take min/max;
the KLL sketch merges as Deequ merges partition sketches; HyperLogLog states take the union;
exact category counts add until a column has more than ``CATEGORY_CAP`` distinct values.

The same code profiles a baseline dataset and every window of current data, so a monitoring run
compares like with like.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

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
    # value -> count (first-seen order) while distinct <= CATEGORY_CAP; None once over the cap.
    categories: dict[str, int] | None = field(default_factory=dict)
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
        return hll.estimate(self.hll_state) if self.hll_state is not None else 0.0

    def hll(self) -> np.ndarray:
        """The HyperLogLog state, allocated on first use."""
        if self.hll_state is None:
            self.hll_state = hll.empty()
        return self.hll_state

    def std_dev(self) -> float:
        return math.sqrt(self.num_m2 / self.num_n) if self.num_n else 0.0

    # -- merging --------------------------------------------------------------------------------
    def merge(self, other: ColumnState) -> ColumnState:
        """Fold ``other`` (later rows of the same column) into this state, in place."""
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
        self._merge_categories(other.categories)
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

    def _merge_categories(self, other: dict[str, int] | None) -> None:
        if self.categories is None:
            if other is not None:
                hll.update(self.hll(), pl.Series(list(other), dtype=pl.String))
            return
        if other is None:
            hll.update(self.hll(), pl.Series(list(self.categories), dtype=pl.String))
            self.categories = None
            return
        for k, v in other.items():
            self.categories[k] = self.categories.get(k, 0) + v
        if len(self.categories) > CATEGORY_CAP:
            hll.update(self.hll(), pl.Series(list(self.categories), dtype=pl.String))
            self.categories = None


@dataclass
class ProfileState:
    """Column states of a dataset, in column order, plus the row count."""

    columns: dict[str, ColumnState] = field(default_factory=dict)
    rows: int = 0

    def merge(self, other: ProfileState) -> ProfileState:
        """Fold ``other`` into this profile. Columns absent from one side count as all-null there."""
        for name, col in other.columns.items():
            if name not in self.columns:
                missing = ColumnState(name=name, rows=self.rows, nulls=self.rows, kind=col.kind)
                self.columns[name] = missing
            self.columns[name].merge(col)
        for name, col in self.columns.items():
            if name not in other.columns and other.rows:
                col.merge(ColumnState(name=name, rows=other.rows, nulls=other.rows, kind=col.kind))
        self.rows += other.rows
        return self


# -- building a state from one batch --------------------------------------------------------------


# Working columns live beside the user's columns in one frame; the NUL byte keeps their names out
# of any CSV header or Parquet schema a user could have.
def _r(i: int) -> str:  # value is Deequ-numeric text
    return f"\0r{i}"


def _v(i: int) -> str:  # numeric value (Float64), null where the value is not a finite number
    return f"\0v{i}"


def _h(i: int) -> str:  # HyperLogLog key
    return f"\0h{i}"


def _finite(v: pl.Expr) -> pl.Expr:
    return pl.when(v.is_finite()).then(v)


def _typed_valid(name: str, kind: str) -> pl.Expr:
    """Which values of a typed column count as present: non-null, and finite for floats."""
    if kind == "fractional":
        return pl.col(name).cast(pl.Float64).is_finite().fill_null(False)
    return pl.col(name).is_not_null()


def _prepare(batch: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Normalise dtypes: odd types (dates, nested) become text, as Spark would hand them over."""
    kinds: dict[str, str] = {}
    casts = []
    for name, dtype in batch.schema.items():
        kind = dtypes.native_kind(dtype)
        if kind == "other":
            casts.append(pl.col(name).cast(pl.String))
            kind = "text"
        elif kind == "null":
            casts.append(pl.col(name).cast(pl.String))
            kind = "text"
        elif dtype != pl.String and kind == "text":
            casts.append(pl.col(name).cast(pl.String))
        kinds[name] = kind
    if casts:
        batch = batch.with_columns(casts)
    return batch, kinds


_NONFINITE_WORDS = ["nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"]


def _nonfinite_text(batch: pl.DataFrame, name: str) -> pl.Series:
    return batch.get_column(name).str.strip_chars().str.to_lowercase().is_in(_NONFINITE_WORDS).fill_null(False)


def profile_batch(
    batch: pl.DataFrame, threads: int = 2, running: ProfileState | None = None, row_offset: int = 0
) -> ProfileState:
    """Profile one batch of rows: one polars pass for classes, values and hash keys, one for counts
    and moments (:func:`measure_batch`), then the sketches per column (:meth:`Measured.sketch`).

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


@dataclass
class Measured:
    """A batch after its polars passes: counts and moments done, sketches still to feed."""

    batch: pl.DataFrame
    work: pl.DataFrame
    names: list[str]
    states: dict[str, ColumnState]
    priors: dict[str, ColumnState | None]
    # HyperLogLog key expressions per column, evaluated by the sketch stage (which has time to spare).
    hashed: dict[int, pl.Expr]
    rows: int
    # Text columns classified from their distinct values: exact value counts, already complete.
    counted: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def state(self) -> ProfileState:
        """The batch's state (its sketches are complete only after :meth:`sketch`)."""
        return ProfileState(columns=self.states, rows=self.rows)

    def sketch(self, threads: int = 1) -> ProfileState:
        """Feed the KLL sketches, HyperLogLog states and category counts; returns :attr:`state`.

        With priors (a running state) the values go into the priors' sketches, in row order.
        """
        if self.hashed:
            keys = self.batch.select([expr.alias(_h(i)) for i, expr in self.hashed.items()])
            self.work = self.work.hstack(keys.get_columns())
        if threads > 1 and len(self.names) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(self._sketch_column, range(len(self.names))))
        else:
            for i in range(len(self.names)):
                self._sketch_column(i)
        return self.state

    def _sketch_column(self, i: int) -> None:
        batch, work, names, states, priors = self.batch, self.work, self.names, self.states, self.priors
        name = names[i]
        st = states[name]
        prior = priors.get(name)
        if st.num_n:
            values = np.ascontiguousarray(work.get_column(_v(i)).drop_nulls().to_numpy(), dtype=np.float64)
            if prior is not None:
                prior.kll.update(values)
            else:
                # SageMaker's sum is a left-to-right double sum in row order; cumsum adds in that order.
                st.num_sum = float(np.cumsum(values)[-1])
                st.kll.update(values)
        target = prior if prior is not None else st
        if i in self.counted:
            st.categories = self.counted[i]
            return
        if i in self.hashed and not (st.kind == "text" and st.n_nonfinite):
            # Typed numbers never get categorical buckets (distinct count only); text columns here
            # are past the category cap already.
            st.categories = None
            hll.add_keys(target.hll(), work.get_column(_h(i)))
            return
        col = batch.get_column(name)
        text = col if col.dtype == pl.String else col.cast(pl.String)
        if st.kind == "text" and st.n_nonfinite:
            text = text.filter(~_nonfinite_text(batch, name))
        text = text.drop_nulls()
        if prior is not None and prior.categories is None:
            st.categories = None
            hll.update(target.hll(), text)
            return
        # Exact counts only while the column can still be categorical: on a file's first batch a
        # cheap HLL estimate (polars' approx_n_unique) rules out high-cardinality columns before any
        # group-by; later batches of a column still under the cap go straight to the group-by.
        if prior is None and cast(int, text.approx_n_unique()) > CATEGORY_CAP * 1.2:
            st.categories = None
            hll.update(target.hll(), text)
            return
        counts = text.rename("v").value_counts(name="n")
        if counts.height > CATEGORY_CAP:
            st.categories = None
            hll.update(target.hll(), text)
            return
        if counts.height > SMALL_MAP:
            # value_counts' order varies from run to run; value order keeps reports reproducible.
            counts = counts.sort("v")
        found = dict(zip(counts.get_column("v").to_list(), counts.get_column("n").to_list(), strict=True))
        if len(found) <= SMALL_MAP:
            # Scala's Map1..Map4 keep insertion order, which SageMaker's buckets then show: keep the
            # values in first-seen order (a larger map's order comes from hashes, not insertion).
            found = {v: found[v] for v in text.unique(maintain_order=True).to_list()}
        st.categories = found


def measure_batch(batch: pl.DataFrame, running: ProfileState | None = None, row_offset: int = 0) -> Measured:
    """The polars passes of :func:`profile_batch`: numeric values and hash keys per row, then the
    class counts and moments per column.

    Classes are counted, never stored per value: for text, nulls, Deequ-numeric text (one regex,
    materialised once), the Fractional part of it (a point or an exponent) and true/false; String
    is the rest. Typed columns have one class.
    """
    batch, kinds = _prepare(batch)
    names = list(batch.columns)
    n = batch.height
    if not names:
        return Measured(batch, batch, [], {}, {}, {}, n)
    priors = {name: running.columns.get(name) for name in names} if running is not None else {}
    text_all = [i for i, c in enumerate(names) if kinds[c] == "text"]
    # Text columns the earlier batches found to have few values are classified from their
    # distinct values, not value by value.
    counted = {i: vc for i in text_all if (vc := _classified_counts(batch, names[i], priors.get(names[i]))) is not None}
    text_cols = [i for i in text_all if i not in counted]
    work = batch.with_columns([dtypes.is_numeric_text(names[i]).alias(_r(i)) for i in text_cols])
    # Text columns without a single number in this batch (most string columns) skip the cast and
    # the Integral/Fractional split: their values are String, Boolean or null.
    any_number = work.select([pl.col(_r(i)).any() for i in text_cols]).row(0) if text_cols else ()
    numeric_text = [i for i, has in zip(text_cols, any_number, strict=True) if has]
    # A counted column's numbers are exactly the values polars casts (checked on its distinct values).
    numeric_counted = [i for i, vc in counted.items() if vc.numbers]
    typed_numbers = [i for i, c in enumerate(names) if kinds[c] in ("integral", "fractional")]
    # HyperLogLog keys straight from the values for the columns that need no exact category counts:
    # typed numbers, and text columns the earlier batches already found to have too many values.
    past_cap = [i for i in text_cols if (p := priors.get(names[i])) is not None and p.categories is None]
    hashed = {
        i: hll.key_expr(pl.col(names[i]), valid=_typed_valid(names[i], kinds[names[i]]) if i in typed_numbers else None)
        for i in typed_numbers + past_cap
    }
    # Deequ-numeric text too large for a double ('1e999', 400 digits) casts to infinity: counted
    # apart (``inf{i}``), like a typed infinity, so it is refused or counted as missing.
    inf_text = {i: dtypes.text_value(names[i], pl.col(_r(i))).is_infinite().fill_null(False) for i in numeric_text}
    per_row: list[pl.Expr] = [_finite(dtypes.text_value(names[i], pl.col(_r(i)))).alias(_v(i)) for i in numeric_text]
    per_row += [pl.col(names[i]).cast(pl.Float64, strict=False).alias(_v(i)) for i in numeric_counted]
    for i in typed_numbers:
        v = pl.col(names[i]).cast(pl.Float64)
        per_row.append((pl.when(v.is_finite()).then(v) if kinds[names[i]] == "fractional" else v).alias(_v(i)))
    work = work.with_columns(per_row)
    # Deequ-numeric text polars cannot cast ('- 4', ' 7'): redo those columns with spaces removed.
    missed = (
        work.select([(pl.col(_r(i)) & pl.col(_v(i)).is_null()).any().alias(str(i)) for i in numeric_text]).row(0)
        if numeric_text
        else ()
    )
    respaced = [i for i, bad in zip(numeric_text, missed, strict=True) if bad]
    if respaced:
        work = work.with_columns(
            [_finite(dtypes.text_value(names[i], pl.col(_r(i)), spaced=True)).alias(_v(i)) for i in respaced]
        )
    has_value = set(numeric_text) | set(typed_numbers) | set(numeric_counted)
    aggs: list[pl.Expr] = []
    for i, name in enumerate(names):
        kind = kinds[name]
        if i in counted:
            pass
        elif kind == "text":
            aggs += [pl.col(name).null_count().alias(f"null{i}"), dtypes.is_boolean_text(name).sum().alias(f"bool{i}")]
            if i in has_value:
                r = pl.col(_r(i))
                aggs += [r.sum().alias(f"num{i}"), dtypes.is_fractional_text(name, r).sum().alias(f"frac{i}")]
                if i in inf_text:
                    aggs += [inf_text[i].sum().alias(f"inf{i}"), inf_text[i].arg_max().alias(f"infat{i}")]
        elif kind == "boolean":
            aggs.append(pl.col(name).count().alias(f"valid{i}"))
        else:
            aggs.append(_typed_valid(name, kind).sum().alias(f"valid{i}"))
        if i in has_value:
            v = pl.col(_v(i))
            aggs += [
                v.count().alias(f"n{i}"),
                v.sum().alias(f"sum{i}"),
                v.mean().alias(f"mean{i}"),
                v.var(ddof=0).alias(f"var{i}"),
                v.min().alias(f"min{i}"),
                v.max().alias(f"max{i}"),
            ]
    row = work.select(aggs).row(0, named=True) if aggs else {}

    states: dict[str, ColumnState] = {}
    for i, name in enumerate(names):
        kind = kinds[name]
        st = ColumnState(name=name, rows=n, kind=kind)
        if i in counted:
            vc = counted[i]
            st.nulls = n - vc.present
            st.n_integral, st.n_fractional, st.n_boolean = vc.integral, vc.fractional, vc.boolean
            st.n_string = vc.present - vc.numbers - vc.boolean
        elif kind == "text":
            st.nulls = int(row[f"null{i}"])
            st.n_boolean = int(row[f"bool{i}"])
            numbers = int(row.get(f"num{i}") or 0)
            st.n_fractional = int(row.get(f"frac{i}") or 0)
            st.n_integral = numbers - st.n_fractional
            st.n_string = n - st.nulls - st.n_boolean - numbers
            if too_big := int(row.get(f"inf{i}") or 0):
                st.n_nonfinite, st.first_nonfinite_row = too_big, row_offset + int(row[f"infat{i}"])
                st.nulls += too_big
                frac = int(work.select(dtypes.is_fractional_text(name, inf_text[i]).sum()).item())
                st.n_fractional -= frac
                st.n_integral -= too_big - frac
        else:
            present = int(row[f"valid{i}"])
            st.nulls = n - present
            if kind == "integral":
                st.n_integral = present
            elif kind == "fractional":
                st.n_fractional = present
            else:
                st.n_boolean = present
        cnt = int(row[f"n{i}"]) if i in has_value else 0
        if kind == "fractional" and st.nulls > (raw_nulls := batch[name].null_count()):
            st.n_nonfinite = st.nulls - raw_nulls
            bad = batch.get_column(name).cast(pl.Float64)
            st.first_nonfinite_row = row_offset + int((bad.is_nan() | bad.is_infinite()).arg_true()[0])
        elif kind == "text" and st.n_string and cnt:
            # 'inf' or 'NaN' among numbers: Deequ would call the column String; mmon counts them as
            # missing numbers and reports them (the baseline refuses them unless told otherwise).
            mask = _nonfinite_text(batch, name)
            bad_count = int(mask.sum())
            if bad_count:
                st.n_nonfinite = bad_count
                st.first_nonfinite_row = row_offset + int(mask.arg_true()[0])
                st.nulls += bad_count
                st.n_string -= bad_count
        if cnt:
            st.num_n = cnt
            st.num_sum = float(row[f"sum{i}"])
            st.num_mean = float(row[f"mean{i}"])
            st.num_m2 = float(row[f"var{i}"]) * cnt
            st.num_min = float(row[f"min{i}"])
            st.num_max = float(row[f"max{i}"])
        states[name] = st
    return Measured(batch, work, names, states, priors, hashed, n, {i: vc.counts for i, vc in counted.items()})


@dataclass
class _Classified:
    counts: dict[str, int]
    present: int
    numbers: int
    integral: int
    fractional: int
    boolean: int


def _classified_counts(batch: pl.DataFrame, name: str, prior: ColumnState | None) -> _Classified | None:
    """Value counts of a text column and its class counts from its distinct values, or None when
    the column must be classified value by value.

    Only for a column whose earlier batches stayed under the category cap (its counts are needed
    anyway, and a regex over a few hundred distinct values is cheaper than over every row), and
    only when polars' cast to a number accepts exactly the Deequ-numeric values (no ``inf``,
    ``.5`` or ``- 4``), so the per-row values can come from the plain cast.
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
        dtypes.is_boolean_text("v").alias("boolean"),
    )
    if not info.get_column("numeric").equals(info.get_column("casts")):
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
    return _Classified(found, text.len(), numbers, numbers - fractional, fractional, boolean)


def profile_batches(batches: Iterable[pl.DataFrame], threads: int = 2) -> ProfileState:
    """Profile the batches of one file (in order) into one state, sketching values sequentially.

    Two stages overlap: while one thread feeds the sketches of batch ``i`` (numpy, mostly), the
    caller's thread reads batch ``i + 1`` and runs its polars passes. Sketches are still fed one
    batch after the other, in file order; at most two batches are held at a time. ``threads=1``
    runs everything on the caller's thread.
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
            measured = measure_batch(batch, total, rows)
            rows += measured.rows
            if pending is not None:
                pending.result()
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
