"""The batch measurement: one batch of rows -> column states, with polars.

One polars pass computes classes, numeric values and hash keys per row, one more the class counts
and moments per column (:func:`measure_batch`); then the sketches are fed per column
(:meth:`Measured.sketch`), in row order.

A batch may hold the rows of several consecutive small files (``parts``): the polars passes then
run once over all of them, but every count, moment and sketch is taken over each file's own rows,
so each file's state is exactly what measuring that file alone gives (the engine's contract: how
files are batched for reading never changes a byte).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import polars as pl

from mmon.stats import dtypes, hll, moments
from mmon.stats.classified import Classified, classified_counts
from mmon.stats.state import CATEGORY_CAP, SMALL_MAP, ColumnState, ProfileState

# Working columns live beside the user's columns in one frame; the NUL byte keeps their names out
# of any CSV header or Parquet schema a user could have.
PART = "\0part"


def _r(i: int) -> str:  # value is Deequ-numeric text
    return f"\0r{i}"


def _v(i: int) -> str:  # numeric value (Float64), null where the value is not a finite number
    return f"\0v{i}"


def _h(i: int) -> str:  # HyperLogLog key
    return f"\0h{i}"


def _o(i: int) -> str:  # Deequ-numeric text too large for a double ('1e999', 400 digits)
    return f"\0o{i}"


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


def _nonfinite_words(col: pl.Series) -> pl.Series:
    """'inf', 'NaN' and the like: String to Deequ, non-finite numbers to mmon (among numbers)."""
    return col.str.strip_chars().str.to_lowercase().is_in(_NONFINITE_WORDS).fill_null(False)


def _overflow_expr(name: str, numeric: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(finite value, overflow flag) of a text column whose Deequ-numeric values may be too large
    for a double: '1e999' or 400 digits are numbers to Deequ but cast to infinity, so they are
    non-finite numbers, counted (and refused) like a typed infinity. Spaces are removed first, as
    the cast of '- 4' needs (the one definition of an overflow, for counts and categories alike)."""
    value = dtypes.text_value(name, numeric, spaced=True)
    return pl.when(value.is_finite()).then(value), (numeric & value.is_infinite()).fill_null(False)


def _nonfinite_text(col: pl.Series) -> pl.Series:
    """The values of a text column counted as non-finite numbers: the words, and overflows."""
    frame = col.rename("v").to_frame()
    _, overflow = _overflow_expr("v", dtypes.is_numeric_text("v"))
    return _nonfinite_words(col) | frame.select(overflow).to_series()


@dataclass
class Measured:
    """A batch after its polars passes: counts done, sketches (and first-batch moments) to feed.

    ``parts`` holds one column-state dict per file in the batch (one, unless several small files
    were read together), ``bounds`` each part's (offset, rows) in the batch.
    """

    batch: pl.DataFrame
    work: pl.DataFrame
    names: list[str]
    parts: list[dict[str, ColumnState]]
    bounds: list[tuple[int, int]]
    priors: dict[str, ColumnState | None]
    # HyperLogLog key expressions per column, evaluated by the sketch stage (which has time to spare).
    hashed: dict[int, pl.Expr]
    # Text columns classified from their distinct values: exact value counts, already complete.
    counted: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.batch.height

    @property
    def states(self) -> dict[str, ColumnState]:
        """The column states of a one-part batch."""
        assert len(self.parts) == 1, "a batch of several files has one state per file"
        return self.parts[0]

    @property
    def state(self) -> ProfileState:
        """The state of a one-part batch (its sketches are complete only after :meth:`sketch`)."""
        return ProfileState(columns=self.states, rows=self.rows)

    def part_states(self) -> list[ProfileState]:
        return [ProfileState(columns=cols, rows=n) for cols, (_, n) in zip(self.parts, self.bounds, strict=True)]

    def sketch(self, threads: int = 1) -> ProfileState:
        """Feed the sketches of a one-part batch; returns :attr:`state`."""
        self.sketch_parts(threads)
        return self.state

    def sketch_parts(self, threads: int = 1) -> list[ProfileState]:
        """Feed the KLL sketches, HyperLogLog states and category counts of every part.

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
        return self.part_states()

    def _sketch_column(self, i: int) -> None:
        name = self.names[i]
        if len(self.parts) == 1:
            self._sketch_part(i, self.parts[0][name], self.batch.get_column(name), self.work)
            return
        # Several files (first batches, no running state): the same per-file steps on each file's
        # slice, except the exact value counts, which one group-by gives for all files at once.
        cols = [c for c in (_v(i), _h(i)) if c in self.work.columns]
        work = self.work.select(cols)
        replay: list[tuple[ColumnState, np.ndarray]] = []
        for p, (offset, n) in enumerate(self.bounds):
            st = self.parts[p][name]
            if st.num_n:
                values = work.get_column(_v(i)).slice(offset, n)
                if (present := self._first_moments(st, values)) is not None:
                    replay.append((st, present))
            if i in self.hashed:
                st.categories = None
                hll.add_keys(st.hll(), work.get_column(_h(i)).slice(offset, n))
        for (st, _), (avg, m2) in zip(replay, moments.spark_moments_many([v for _, v in replay]), strict=True):
            st.num_mean, st.num_m2 = avg, m2
        if i not in self.hashed:
            self._count_parts(i)

    def _first_moments(self, st: ColumnState, column: pl.Series) -> np.ndarray | None:
        """The moments and sketch of a file's first batch, from its own rows; returns the values
        when their mean and M2 are left to Spark's replay (:mod:`mmon.stats.moments`).

        SageMaker's sum is a left-to-right double sum in row order; cumsum adds in that order.
        Up to ``REPLAY_MAX`` values, mean and M2 are Spark's sequential update (SageMaker's
        std_dev bit for bit); above, polars' mean and variance over the column, which is one
        chunk (see :func:`measure_batch`), so a file in a batch of several gets the bits of the
        file read alone.
        """
        values = _present(column)
        st.num_sum = float(np.cumsum(values)[-1])
        st.num_min = float(cast(float, column.min()))
        st.num_max = float(cast(float, column.max()))
        st.kll.update(values)
        if values.shape[0] <= moments.REPLAY_MAX:
            return values
        st.num_mean = float(cast(float, column.mean()))
        st.num_m2 = float(cast(float, column.var(ddof=0))) * st.num_n
        return None

    def _sketch_part(self, i: int, st: ColumnState, col: pl.Series, work: pl.DataFrame) -> None:
        """Feed the values of a one-part batch."""
        prior = self.priors.get(st.name)
        if st.num_n:
            if prior is not None:
                column = work.get_column(_v(i))
                prior.kll.update(_present(column))
            else:
                values = self._first_moments(st, work.get_column(_v(i)))
                if values is not None:
                    st.num_mean, st.num_m2 = moments.spark_moments(values)
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
        text = _category_text(col, st)
        if prior is not None and prior.categories is None:
            st.categories = None
            hll.update(target.hll(), text)
            return
        if prior is None and _too_many(text):
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

    def _count_parts(self, i: int) -> None:
        """Exact value counts of text column ``i`` in every part (first batches of small files)
        with one group-by: the same counts, in the same order, as :meth:`_sketch_part` gives each
        part on its own."""
        name = self.names[i]
        states = [cols[name] for cols in self.parts]
        sizes = [n for _, n in self.bounds]
        column = self.batch.get_column(name)
        ids = pl.Series(PART, np.repeat(np.arange(len(sizes), dtype=np.uint32), sizes))
        keep = column.is_not_null()
        flagged = np.repeat([st.kind == "text" and st.n_nonfinite > 0 for st in states], sizes)
        if flagged.any():
            keep = keep & ~(pl.Series(flagged) & _nonfinite_text(column))
        frame = pl.DataFrame({PART: ids, "v": column.rename("v")}).with_row_index("row").filter(keep)
        present = np.bincount(frame.get_column(PART).to_numpy(), minlength=len(sizes))
        skip = set()
        for p, st in enumerate(states):
            if present[p] > CATEGORY_CAP * 1.2:
                text = _category_text(column.slice(*self.bounds[p]), st)
                if _too_many(text):
                    st.categories = None
                    hll.update(st.hll(), text)
                    skip.add(p)
        # Sorted by file, then value (stable: a run's first row is the value's first occurrence);
        # each run of equal (file, value) is one category.
        runs = frame.sort(PART, "v", maintain_order=True)
        part_of = runs.get_column(PART).to_numpy()
        text = runs.get_column("v")
        new = np.ones(runs.height, dtype=bool)
        if runs.height > 1:
            new[1:] = (part_of[1:] != part_of[:-1]) | (text.slice(1) != text.slice(0, runs.height - 1)).to_numpy()
        heads = np.flatnonzero(new)
        ns = np.diff(np.append(heads, runs.height)).tolist()
        values = text.gather(heads).to_list()
        firsts = runs.get_column("row").gather(heads).to_list()
        starts = np.searchsorted(part_of[heads], np.arange(len(sizes) + 1)).tolist()
        for p, st in enumerate(states):
            lo, hi = starts[p], starts[p + 1]
            if p in skip:
                continue
            if hi - lo > CATEGORY_CAP:
                st.categories = None
                hll.update(st.hll(), _category_text(column.slice(*self.bounds[p]), st))
            elif hi - lo <= SMALL_MAP:
                # first-seen order, as for one file
                st.categories = {values[k]: ns[k] for k in sorted(range(lo, hi), key=firsts.__getitem__)}
            else:
                st.categories = dict(zip(values[lo:hi], ns[lo:hi], strict=True))


def _present(column: pl.Series) -> np.ndarray:
    """The non-null values of a Float64 working column, in row order, as a contiguous array (a
    working column holds no NaN: non-finite numbers are nulls there, so NaN marks the nulls)."""
    values = column.to_numpy()
    return np.ascontiguousarray(values[~np.isnan(values)], dtype=np.float64)


def _too_many(text: pl.Series) -> bool:
    """Exact counts only while the column can still be categorical: on a file's first batch a cheap
    HLL estimate (polars' approx_n_unique) rules out high-cardinality columns before any group-by
    (only for more values than the cap, fewer cannot be too many)."""
    return text.len() > CATEGORY_CAP * 1.2 and cast(int, text.approx_n_unique()) > CATEGORY_CAP * 1.2


def _category_text(col: pl.Series, st: ColumnState) -> pl.Series:
    """The values a column's categories count: non-null text, without the non-finite numbers."""
    text = col if col.dtype == pl.String else col.cast(pl.String)
    if st.kind == "text" and st.n_nonfinite:
        text = text.filter(~_nonfinite_text(text))
    return text.drop_nulls().rename("v")


def measure_batch(
    batch: pl.DataFrame,
    running: ProfileState | None = None,
    row_offset: int = 0,
    parts: list[int] | None = None,
) -> Measured:
    """The polars passes of a batch: numeric values and hash keys per row, then the class counts
    and moments per column (per part).

    Classes are counted, never stored per value: for text, nulls, Deequ-numeric text (one regex,
    materialised once), the Fractional part of it (a point or an exponent) and true/false; String
    is the rest. Typed columns have one class.

    ``parts``: the row counts of consecutive files read together (their first and only batches;
    no ``running`` state then). Counts are aggregated per part; a first batch's moments are
    computed per part in the sketch stage from the part's own values.
    """
    batch, kinds = _prepare(batch)
    names = list(batch.columns)
    n = batch.height
    sizes = [n] if parts is None else parts
    if sum(sizes) != n:
        raise ValueError(f"parts {sizes} do not add up to the batch's {n} rows")
    if running is not None and len(sizes) > 1:
        raise ValueError("a running state belongs to one file: measure later batches one file at a time")
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    bounds = [(offsets[p], sizes[p]) for p in range(len(sizes))]
    if not names:
        return Measured(batch, batch, [], [{} for _ in sizes], bounds, {}, {})
    priors = {name: running.columns.get(name) for name in names} if running is not None else {}
    text_all = [i for i, c in enumerate(names) if kinds[c] == "text"]
    # Text columns the earlier batches found to have few values are classified from their
    # distinct values, not value by value.
    counted = {i: vc for i in text_all if (vc := classified_counts(batch, names[i], priors.get(names[i]))) is not None}
    text_cols = [i for i in text_all if i not in counted]
    work = batch.with_columns([dtypes.is_numeric_text(names[i]).alias(_r(i)) for i in text_cols])
    # Text columns without a single number in this batch (most string columns) skip the cast and
    # the Integral/Fractional split: their values are String, Boolean or null. (In a batch of
    # several files a file without numbers in the column gets zero counts either way.)
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
    per_row: list[pl.Expr] = [dtypes.text_value(names[i], pl.col(_r(i))).alias(_v(i)) for i in numeric_text]
    per_row += [pl.col(names[i]).cast(pl.Float64, strict=False).alias(_v(i)) for i in numeric_counted]
    for i in typed_numbers:
        v = pl.col(names[i]).cast(pl.Float64)
        per_row.append((pl.when(v.is_finite()).then(v) if kinds[names[i]] == "fractional" else v).alias(_v(i)))
    work = work.with_columns(per_row)
    # Deequ-numeric text polars cannot cast ('- 4', ' 7') or casts to infinity ('1e999'): redo
    # those columns with spaces removed and overflows flagged (the same values for every text the
    # plain cast reads finite, so per-file results do not depend on it).
    missed = (
        work.select(
            [(pl.col(_r(i)) & ~pl.col(_v(i)).is_finite().fill_null(False)).any().alias(str(i)) for i in numeric_text]
        ).row(0)
        if numeric_text
        else ()
    )
    respaced = [i for i, bad in zip(numeric_text, missed, strict=True) if bad]
    if respaced:
        redone = [(i, _overflow_expr(names[i], pl.col(_r(i)))) for i in respaced]
        work = work.with_columns(
            [e for i, (value, over) in redone for e in (value.alias(_v(i)), over.alias(_o(i)))]
        )
    has_value = set(numeric_text) | set(typed_numbers) | set(numeric_counted)
    # polars' sums, means and variances add chunk by chunk, and a batch's chunks are however the
    # reader buffered the bytes (local disk and S3 differ, so may two runs): the value columns
    # are made one chunk each, so the moments are a function of the values alone.
    if has_value:
        work = work.with_columns([work.get_column(_v(i)).rechunk() for i in sorted(has_value)])
    first = running is None
    aggs: list[pl.Expr] = []
    # The integer counts as per-row flags, for a batch of several files (summed per file below).
    flags: list[tuple[str, pl.Expr]] = []
    for i, name in enumerate(names):
        kind = kinds[name]
        if i in counted:
            pass
        elif kind == "text":
            aggs += [pl.col(name).null_count().alias(f"null{i}"), dtypes.is_boolean_text(name).sum().alias(f"bool{i}")]
            flags += [(f"null{i}", pl.col(name).is_null()), (f"bool{i}", dtypes.is_boolean_text(name))]
            if i in has_value:
                r = pl.col(_r(i))
                aggs += [r.sum().alias(f"num{i}"), dtypes.is_fractional_text(name, r).sum().alias(f"frac{i}")]
                flags += [(f"num{i}", r), (f"frac{i}", dtypes.is_fractional_text(name, r))]
                if i in respaced:
                    aggs.append(pl.col(_o(i)).sum().alias(f"over{i}"))
                    flags.append((f"over{i}", pl.col(_o(i))))
        elif kind == "boolean":
            aggs.append(pl.col(name).count().alias(f"valid{i}"))
            flags.append((f"valid{i}", pl.col(name).is_not_null()))
        else:
            aggs.append(_typed_valid(name, kind).sum().alias(f"valid{i}"))
            flags.append((f"valid{i}", _typed_valid(name, kind)))
            if kind == "fractional":
                aggs.append(pl.col(name).null_count().alias(f"raw{i}"))
                flags.append((f"raw{i}", pl.col(name).is_null()))
        if i in has_value:
            v = pl.col(_v(i))
            aggs.append(v.count().alias(f"n{i}"))
            flags.append((f"n{i}", v.is_not_null()))
            if not first:
                # Later batches of a (large) file: polars' sums, added to the running state.
                aggs += [
                    v.sum().alias(f"sum{i}"),
                    v.mean().alias(f"mean{i}"),
                    v.var(ddof=0).alias(f"var{i}"),
                    v.min().alias(f"min{i}"),
                    v.max().alias(f"max{i}"),
                ]
    if not aggs:
        rows: list[dict[str, Any]] = [{} for _ in sizes]
    elif len(sizes) == 1:
        rows = [work.select(aggs).row(0, named=True)]
    else:
        # Integer counts per file (exact whatever the grouping): the per-row flags summed over
        # each file's rows.
        flag_rows = work.select([e.fill_null(False).cast(pl.UInt8).alias(a) for a, e in flags]).to_numpy()
        starts = np.minimum(np.asarray(offsets[:-1]), max(n - 1, 0))
        totals = np.add.reduceat(flag_rows, starts, axis=0, dtype=np.int64) if n else np.zeros((len(sizes), len(flags)))
        totals[np.asarray(sizes) == 0] = 0  # reduceat gives a row's value for an empty slice
        names_ = [a for a, _ in flags]
        rows = [dict(zip(names_, t, strict=True)) for t in totals.tolist()]

    part_states = []
    for row, (offset, size) in zip(rows, bounds, strict=True):
        states: dict[str, ColumnState] = {}
        for i, name in enumerate(names):
            states[name] = _column_state(
                batch, work, name, i, kinds[name], row, size, offset, counted, has_value, first, row_offset
            )
        part_states.append(states)
    counts = {i: vc.counts for i, vc in counted.items()}
    return Measured(batch, work, names, part_states, bounds, priors, hashed, counts)


def _column_state(
    batch: pl.DataFrame,
    work: pl.DataFrame,
    name: str,
    i: int,
    kind: str,
    row: dict[str, Any],
    n: int,
    offset: int,
    counted: dict[int, Classified],
    has_value: set[int],
    first: bool,
    row_offset: int,
) -> ColumnState:
    """One column's state in one part from the part's aggregates (moments of a first batch are
    left to the sketch stage, which has the part's values in row order)."""
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
    if kind == "fractional" and st.nulls > (raw_nulls := int(row[f"raw{i}"])):
        st.n_nonfinite = st.nulls - raw_nulls
        bad = batch.get_column(name).slice(offset, n).cast(pl.Float64)
        st.first_nonfinite_row = row_offset + int((bad.is_nan() | bad.is_infinite()).arg_true()[0])
    elif kind == "text" and ((over := int(row.get(f"over{i}") or 0)) or (st.n_string and cnt)):
        # Non-finite numbers in text are counted as missing and reported (the baseline refuses
        # them unless told otherwise): numbers too large for a double ('1e999', a Deequ Integral
        # or Fractional that casts to infinity), and 'inf' or 'NaN' among numbers (Deequ would
        # call the column String). Looked at row by row only in a part that has some.
        col = batch.get_column(name).slice(offset, n)
        masks = []
        if over:
            big = work.get_column(_o(i)).slice(offset, n)
            frac = int((big & col.str.contains("[.eE]")).sum())
            st.n_fractional -= frac
            st.n_integral -= over - frac
            st.nulls += over
            masks.append(big)
        if st.n_string and (words := _nonfinite_words(col)).any():
            k = int(words.sum())
            st.n_string -= k
            st.nulls += k
            masks.append(words)
        if masks:
            mask = masks[0] if len(masks) == 1 else masks[0] | masks[1]
            st.n_nonfinite = int(mask.sum())
            st.first_nonfinite_row = row_offset + int(mask.arg_true()[0])
    if cnt:
        st.num_n = cnt
        if not first:
            st.num_sum = float(row[f"sum{i}"])
            st.num_mean = float(row[f"mean{i}"])
            st.num_m2 = float(row[f"var{i}"]) * cnt
            st.num_min = float(row[f"min{i}"])
            st.num_max = float(row[f"max{i}"])
    return st
