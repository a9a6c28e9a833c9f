"""Consecutive small files measured and folded as one group, with the bytes of the per-file fold.

The contract (:mod:`mmon.engine`): the dataset's state is the left fold, in file order, of every
file's own state. For a group of consecutive small files (each one batch, same schema) read as one
frame, building a :class:`ColumnState` per file and column and merging them one by one costs far
more than the polars passes (a thousand files x 20 columns = 20 000 states, each with its own KLL
sketch and category dict). :class:`FileGroup` keeps instead, per column:

* what merges associatively, summed over the group once: the class and null counts, the
  HyperLogLog registers (a union), and the category counts -- merging first-seen-ordered counts
  is associative (a value's place is its first place in file order, and the cap of
  ``CATEGORY_CAP`` distinct values is crossed by the group's union exactly when it is crossed by
  some prefix of the files), so the group's counts are computed from all its rows at once, each
  file's values taken in that file's own order (first-seen up to ``SMALL_MAP`` values, else by
  value: see :meth:`mmon.stats.measure.Measured._count_parts`);
* what does not (``ProfileState.merge``'s rule): each file's count, sum, mean, M2, min and max and
  its numbers in row order, folded file by file into the running state by :func:`merge_group` --
  the same Chan update and the same KLL merges (``KLLSketch.merge_values``) in the same order.

Anything rarer than plain small files -- non-finite numbers, numeric text polars cannot cast, a
``-0.0`` (whose sign a min may pick either way), typed columns other than numbers and text -- is
left to the per-file path (:func:`measure_group` returns None), which is byte-identical by
construction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import polars as pl

from mmon.readers import DatasetFile, column_warnings
from mmon.stats import dtypes, hll, moments
from mmon.stats.kll import KLLSketch
from mmon.stats.measure import _NONFINITE_WORDS, _prepare
from mmon.stats.state import CATEGORY_CAP, SMALL_MAP, ColumnState, ProfileState

_PART = "\0part"
_NEG_ZERO = np.float64(-0.0).view(np.int64)


@dataclass
class GroupColumn:
    """One column over the files of a group."""

    # Summed counts, category counts / HyperLogLog of the whole group; no moments, empty KLL.
    summary: ColumnState
    # Per file with numbers, in file order: (count, sum, mean, M2, min, max).
    numbers: list[tuple[int, float, float, float, float, float]] = field(default_factory=list)
    # Every file's numbers in row order, file after file; ``offsets[p]:offsets[p + 1]`` is file p's.
    values: np.ndarray | None = None
    offsets: list[int] = field(default_factory=list)
    # ``numbers`` while they are measured (count, sum, mean, M2, min, max as floats).
    pending: list[list[float]] = field(default_factory=list)


@dataclass
class FileGroup:
    """Consecutive files measured together; :func:`merge_group` folds them as their states would."""

    files: list[DatasetFile]
    rows: list[int]
    columns: list[GroupColumn]
    warnings: list[str] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f.url for f in self.files]


def merge_group(total: ProfileState, group: FileGroup) -> None:
    """``total.merge(state of file)`` for every file of ``group`` in order (lazy category merges)."""
    rows = sum(group.rows)
    for gc in group.columns:
        s = gc.summary
        if s.name not in total.columns:
            total.columns[s.name] = ColumnState(name=s.name, rows=total.rows, nulls=total.rows, kind=s.kind)
        col = total.columns[s.name]
        # Not associative: moments and KLL compaction, file by file as ColumnState.merge does.
        for n, s_sum, mean, m2, lo, hi in gc.numbers:
            if col.num_n == 0:
                col.num_n, col.num_sum, col.num_mean, col.num_m2 = n, s_sum, mean, m2
                col.num_min, col.num_max = lo, hi
                continue
            both = col.num_n + n
            delta = mean - col.num_mean
            col.num_m2 = col.num_m2 + m2 + delta * delta * col.num_n * n / both
            col.num_sum += s_sum
            col.num_n = both
            col.num_mean = col.num_sum / both
            col.num_min = min(col.num_min, lo)
            col.num_max = max(col.num_max, hi)
        kll = col.kll
        if gc.values is None:
            kll.merge_values(np.empty(0))  # the merges of sketches without values (a condense check)
        else:
            for a, b in itertools.pairwise(gc.offsets):
                if b - a <= kll._caps[0]:
                    kll.merge_values(gc.values[a:b])
                else:  # a file's own sketch compacts past its first level's capacity
                    alone = KLLSketch(kll.k, kll.c)
                    alone.update(gc.values[a:b])
                    kll.merge(alone)
        # Associative: counts, HyperLogLog union, first-seen category counts, kind.
        col.merge(s, lazy=True)
    names = {gc.summary.name for gc in group.columns}
    if rows:
        for name, col in total.columns.items():
            if name not in names:
                col.merge(ColumnState(name=name, rows=rows, nulls=rows, kind=col.kind))
    total.rows += rows


def measure_group(files: list[DatasetFile], frames: list[pl.DataFrame]) -> FileGroup | None:
    """The :class:`FileGroup` of consecutive one-batch files with one schema, or None when one of
    the rarer cases needs the per-file path (see the module's docstring)."""
    sizes = [f.height for f in frames]
    if len(frames) < 2 or min(sizes) == 0:
        return None
    batch, kinds = _prepare(pl.concat(frames, rechunk=True))
    names = list(batch.columns)
    if not names or any(kinds[c] not in ("text", "integral", "fractional") for c in names):
        return None
    n_parts = len(frames)
    part = pl.Series(_PART, np.repeat(np.arange(n_parts, dtype=np.uint32), sizes))
    text = [i for i, c in enumerate(names) if kinds[c] == "text"]
    work = batch.with_columns([dtypes.is_numeric_text(names[i]).alias(f"r{i}") for i in text])
    has_numbers = work.select([pl.col(f"r{i}").any().alias(str(i)) for i in text]).row(0) if text else ()
    numeric_text = [i for i, has in zip(text, has_numbers, strict=True) if has]
    values: dict[int, pl.Expr] = {i: dtypes.text_value(names[i], pl.col(f"r{i}")) for i in numeric_text}
    for i, c in enumerate(names):
        if kinds[c] != "text":
            values[i] = pl.col(c).cast(pl.Float64)
    work = work.with_columns([e.alias(f"v{i}") for i, e in values.items()])
    # The per-file path's rare cases: numbers polars cannot cast ('- 4'), non-finite numbers.
    rare = [(pl.col(f"r{i}") & pl.col(f"v{i}").is_null()).any() for i in numeric_text]
    # ('nan', 'inf' are never numeric text: only the other values need the slower test.)
    rare += [_nonfinite(pl.col(names[i]).filter(~pl.col(f"r{i}"))).any() for i in numeric_text]
    rare += [(pl.col(c).is_not_null() & ~pl.col(c).cast(pl.Float64).is_finite()).any() for c in names if kinds[c] == "fractional"]
    # Numeric text past the float range ('1e999' casts to inf): measure.py's rule for it (issue 15
    # item 6) applies, whatever it is.
    rare += [pl.col(f"v{i}").is_infinite().any() for i in numeric_text]
    if rare and any(work.select(rare).row(0)):
        return None

    flags: list[pl.Expr] = []
    for i, c in enumerate(names):
        if kinds[c] == "text":
            flags += [pl.col(c).is_null().alias(f"null{i}"), dtypes.is_boolean_text(c).alias(f"bool{i}")]
            if i in values:
                flags += [pl.col(f"r{i}").alias(f"num{i}"), dtypes.is_fractional_text(c, pl.col(f"r{i}")).alias(f"frac{i}")]
        else:
            flags.append(pl.col(c).is_not_null().alias(f"num{i}"))
    # Per file: the flags summed inside the group-by (not materialised first).
    counts = work.with_columns(part).group_by(_PART).agg([e.sum() for e in flags]).sort(_PART)

    def per_file(name: str) -> list[int]:
        return counts.get_column(name).cast(pl.Int64).to_list()

    columns: list[GroupColumn] = []
    # Files' numbers (every column's) whose sum, mean and M2 are replayed side by side at the end.
    replay: list[tuple[list[float], np.ndarray]] = []
    for i, c in enumerate(names):
        kind = kinds[c]
        rows = sum(sizes)
        s = ColumnState(name=c, rows=rows, kind=kind)
        num = per_file(f"num{i}") if i in values else [0] * n_parts
        if kind == "text":
            s.nulls = sum(per_file(f"null{i}"))
            s.n_boolean = sum(per_file(f"bool{i}"))
            s.n_fractional = sum(per_file(f"frac{i}")) if i in values else 0
            s.n_integral = sum(num) - s.n_fractional
            s.n_string = rows - s.nulls - s.n_boolean - sum(num)
        else:
            s.nulls = rows - sum(num)
            if kind == "integral":
                s.n_integral = sum(num)
            else:
                s.n_fractional = sum(num)
        gc = GroupColumn(summary=s)
        if i in values and max(num) > 0:
            if not _numbers(gc, work.get_column(f"v{i}"), num, sizes, replay):
                return None
        if kind == "text":
            _categories(s, batch.get_column(c), part, sizes)
        else:
            s.categories = None
            s.hll_state = hll.empty()
            hll.add_keys(s.hll_state, batch.select(hll.key_expr(pl.col(c))).to_series())
        columns.append(gc)
    for (row, _), stats in zip(replay, moments.sums_and_moments_many([seg for _, seg in replay]), strict=True):
        row[1:4] = stats
    for gc in columns:
        gc.numbers = [(int(n), s_sum, mean, m2, lo, hi) for n, s_sum, mean, m2, lo, hi in gc.pending]
        gc.pending = []
    # The same header for every file: its warnings (rare) are looked for once.
    warnings = [w for f in files for w in column_warnings(f, names)] if column_warnings(files[0], names) else []
    return FileGroup(list(files), sizes, columns, warnings)


def _nonfinite(text: pl.Expr) -> pl.Expr:
    """NaN/inf words (``mmon.stats.measure._nonfinite_text`` as an expression)."""
    return text.str.strip_chars().str.to_lowercase().is_in(_NONFINITE_WORDS).fill_null(False)


def _numbers(
    gc: GroupColumn, column: pl.Series, num: list[int], sizes: list[int], replay: list[tuple[list[float], np.ndarray]]
) -> bool:
    """Each file's moments from its own numbers in row order, as ``Measured._first_moments``, into
    ``gc.pending`` (the replayed ones queued on ``replay``); False for the per-file path's case of
    a -0.0."""
    raw = column.to_numpy()
    present = np.ascontiguousarray(raw[~np.isnan(raw)], dtype=np.float64)
    if np.count_nonzero(present.view(np.int64) == _NEG_ZERO):
        return False
    offsets = np.concatenate([[0], np.cumsum(num)]).astype(np.int64)
    full = [p for p, n in enumerate(num) if n]
    starts = offsets[full]
    lows = np.minimum.reduceat(present, starts).tolist()
    highs = np.maximum.reduceat(present, starts).tolist()
    row_starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    whole: pl.Series | None = None
    for k, p in enumerate(full):
        segment = present[offsets[p] : offsets[p + 1]]
        row = [float(num[p]), 0.0, 0.0, 0.0, float(lows[k]), float(highs[k])]
        gc.pending.append(row)
        # SageMaker's sum, left to right in row order (no -0.0 here); up to REPLAY_MAX numbers,
        # mean and M2 by Spark's sequential replay; above, polars' mean and variance over the
        # file's rows of the column made one chunk -- the per-file path's rules and bits.
        if segment.shape[0] <= moments.REPLAY_MAX:
            replay.append((row, segment))
            continue
        whole = column.rechunk() if whole is None else whole
        rows = whole.slice(row_starts[p], sizes[p])
        mean, var = float(cast(float, rows.mean())), float(cast(float, rows.var(ddof=0)))
        row[1:4] = [float(np.cumsum(segment)[-1]), mean, var * num[p]]
    gc.values = present
    gc.offsets = offsets.tolist()
    return True


def _categories(s: ColumnState, column: pl.Series, part: pl.Series, sizes: list[int]) -> bool:
    """The group's category counts (each file's values in its own order, files in order), or
    None with the HyperLogLog registers of all its values when any file or the union is over
    the cap."""
    frame = (
        pl.DataFrame({_PART: part, "v": column.rename("v")}).with_row_index("row").filter(pl.col("v").is_not_null())
    )
    values = frame.get_column("v")
    # The union over the cap: some prefix of the files is over it (a prefix of the values over it
    # already says so at a fraction of the cost), or some file is.
    over = values.head(4 * CATEGORY_CAP).n_unique() > CATEGORY_CAP
    if not over:
        # Each value's count, first row and first file (rows are in file order: its first row is
        # in its first file).
        by_value = frame.group_by("v").agg(
            pl.len().alias("n"), pl.col("row").min().alias("first"), pl.col(_PART).min().alias("file")
        )
        over = by_value.height > CATEGORY_CAP
    if not over:
        present = np.bincount(frame.get_column(_PART).to_numpy(), minlength=len(sizes))
        offset = 0
        for p, n in enumerate(sizes):
            # The per-file path's cheap estimate (Measured._count_parts): same rule, same slices.
            if present[p] > CATEGORY_CAP * 1.2:
                text = column.slice(offset, n).drop_nulls()
                if text.len() > CATEGORY_CAP * 1.2 and int(text.approx_n_unique()) > CATEGORY_CAP * 1.2:  # type: ignore[arg-type]
                    over = True
                    break
            offset += n
    if not over:
        # Merging the files' counts in order lists a value where its first file lists it: in a
        # file of at most SMALL_MAP values by first row, else by value.
        few = frame.group_by(_PART).agg(pl.col("v").n_unique().alias("d")).filter(pl.col("d") <= SMALL_MAP)
        ordered = by_value.with_columns(
            pl.when(pl.col("file").is_in(few.get_column(_PART).implode()))
            .then(pl.col("first"))
            .otherwise(pl.col("v").rank("dense").cast(pl.UInt32))
            .alias("key")
        ).sort("file", "key")
        s.categories = dict(zip(ordered.get_column("v").to_list(), ordered.get_column("n").to_list(), strict=True))
        return True
    s.categories = None
    s.hll_state = hll.empty()
    hll.update(s.hll_state, values)
    return False
