"""Deequ's KLL quantile sketch (``QuantileNonSample``), bit-exact and vectorised.

SageMaker Model Monitor writes this sketch into ``statistics.json`` as
``distribution.kll.sketch`` = ``{"parameters": {"c": 0.64, "k": 2048.0}, "data": [[...], ...]}``:
``data[h]`` is the buffer of compactor level ``h`` in insertion order (not sorted) and each of
its items stands for ``2**h`` input values.

The algorithm is a transcription of Deequ (awslabs/deequ, ``analyzers/QuantileNonSample.scala``
and ``analyzers/NonSampleCompactor.scala``, unchanged since 2.0.2):

* ``capacity(h) = 2 * (ceil(k * c**h / 2) + 1)`` -- depends on the level only, not on the
  number of levels (2050, 1314, 842, 540, 346, ... for k = 2048, c = 0.64).  Levels are not
  bounded individually; only the *total* item count is compared with the *total* capacity.
* ``update(x)``: append ``x`` to level 0; ``actual += 1``; if ``actual > total capacity``,
  ``condense()``.
* ``condense()``: find the FIRST level whose length >= its capacity; if it is the top level,
  add a level (``expand``); compact that one level, append the output to the level above.
  Exactly one compaction per call.
* ``compact`` of a level with ``L`` items: if the level's compaction counter is odd, flip its
  offset (``offset = 1 - offset``; the random branch is commented out in Deequ, so offsets go
  0, 1, 1, 0, 0, 1, 1, 0, ...); sort the first ``L - L % 2`` items, output every second one
  starting at ``offset``; the last item (buffer order) stays in the level when ``L`` is odd;
  increment the counter.
* ``merge(that)``: add levels until this has as many as ``that``; per level
  ``this[h] = this[h] ++ that[h]``; ``condense()`` while ``actual >= total capacity``
  (note ``>=`` here, ``>`` in ``update``).  Compaction counters/offsets of ``this`` are kept,
  those of ``that`` are dropped -- exactly as Deequ does.
* ``reconstruct(k, c, data)`` (``from_data``): levels from ``data`` with fresh compactors
  (counter 0, offset 0).

Vectorisation (exact, not an approximation): between two ``condense()`` calls only level 0
grows, and a condense fires exactly when ``actual`` first exceeds ``total``.  So
``update(values)`` appends the next ``total - actual + 1`` values to level 0 in one slice,
condenses once, and repeats.  Each round costs one in-place sort of one level (~1-3 thousand
items); the number of rounds is about ``n / 1000``.

Ordering: Scala 2.12 sorts ``Array[Double]`` with ``Ordering.Double.compare``
(``java.lang.Double.compare``: ``-0.0 < 0.0``), but ``getRank`` uses ``gt``/``lt``, which are
IEEE comparisons (``-0.0 == 0.0``).  Both are reproduced.  NaN must be removed by the caller
(SageMaker's type inference never produces NaN for a numeric column).

Queries follow ``KLLSketch.scala`` (``computeMetricFrom``: the 10 ``buckets``) and
``Distance.scala`` (``numericalDistance``: L-infinity distance of the two sketch CDFs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["KLLSketch", "linf_distance", "capacity"]

DEFAULT_K = 2048
DEFAULT_C = 0.64

_F64 = np.float64
_NEG_ZERO_BITS = np.float64(-0.0).view(np.int64)


def capacity(k: int, c: float, height: int) -> int:
    """Deequ ``QuantileNonSample.capacity``: ``2 * (ceil(k * c^height / 2) + 1)``.

    Java evaluates ``sketchSize * Math.pow(shrinkingFactor, height) / 2`` in doubles; Python's
    ``math.pow`` and ``*``/``/`` are the same IEEE operations.
    """
    return 2 * (math.ceil(k * math.pow(c, height) / 2) + 1)


def _count_negative_zeros(part: np.ndarray) -> int:
    """Number of ``-0.0`` items (exact bit pattern), counted before a sort."""
    return int(np.count_nonzero(part.view(np.int64) == _NEG_ZERO_BITS))


def _restore_signed_zeros(part: np.ndarray, negative: int) -> None:
    """Rewrite the zero block of a sorted array as ``java.lang.Double.compare`` orders it.

    Java sorts ``-0.0`` before ``0.0``; numpy compares them equal, and its SIMD sort (min/max
    networks) does not even keep their sign bits -- it may return a different number of each.
    Which zero survives a compaction decides the bit written to ``sketch.data``, so the block
    is rebuilt from the count taken before the sort: ``negative`` times ``-0.0``, then ``0.0``.
    """
    i = int(part.searchsorted(0.0, "left"))
    j = int(part.searchsorted(0.0, "right"))
    part[i : i + negative] = -0.0
    part[i + negative : j] = 0.0


class KLLSketch:
    """Deequ ``QuantileNonSample[Double]`` (KLL without sampling), as SageMaker writes it.

    State per level ``h``: a growable float64 buffer (``_bufs[h][:_lens[h]]`` is the compactor's
    ``buffer``), Deequ's ``numOfCompress`` and ``offset``.  ``_actual``/``_total`` mirror
    ``compactorActualSize``/``compactorTotalSize``.
    """

    __slots__ = ("k", "c", "_bufs", "_lens", "_ncomp", "_offsets", "_caps", "_actual", "_total", "_cache", "_negzero")

    def __init__(self, k: int = DEFAULT_K, c: float = DEFAULT_C) -> None:
        k_int = int(k)
        if k_int != k or k_int < 1:
            raise ValueError(f"KLL sketch size k must be a positive integer, got {k!r}")
        if not 0.0 < float(c) <= 1.0:
            raise ValueError(f"KLL shrinking factor c must be in (0, 1], got {c!r}")
        self.k: int = k_int
        self.c: float = float(c)
        self._bufs: list[np.ndarray] = []
        self._lens: list[int] = []
        self._ncomp: list[int] = []
        self._offsets: list[int] = []
        self._caps: list[int] = []
        self._actual = 0
        self._total = 0
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # Whether a -0.0 may be in a level: only then does a compaction need its signed-zero fix-up
        # (checked once per update instead of once per compaction).
        self._negzero = False
        # Deequ's constructor calls expand() once: a fresh sketch has one empty level.
        self._expand()

    # ------------------------------------------------------------------ construction / export

    @classmethod
    def from_data(cls, data: list[list[float]], k: int = DEFAULT_K, c: float = DEFAULT_C) -> KLLSketch:
        """Deequ ``QuantileNonSample.reconstruct(k, c, data)``: levels from a stored sketch.

        Every level gets a fresh compactor (counter 0, offset 0), as in Deequ; ``k`` may be given
        as the float SageMaker writes (``2048.0``).  ``data == []`` gives an empty sketch (Deequ
        would be left without a level 0 and fail on the next update).
        """
        sketch = cls(k, c)
        if not data:
            return sketch
        sketch._bufs, sketch._lens = [], []
        sketch._ncomp, sketch._offsets, sketch._caps = [], [], []
        sketch._total = 0
        for level in data:
            arr = np.asarray(level, dtype=_F64).ravel()
            if arr.shape[0] and np.isnan(arr).any():
                raise ValueError("KLL sketch data contains NaN")
            sketch._expand()
            sketch._append(len(sketch._lens) - 1, arr)
            sketch._negzero = sketch._negzero or _count_negative_zeros(arr) > 0
        sketch._actual = sum(sketch._lens)
        return sketch

    def export_state(self) -> tuple[dict[str, Any], list[np.ndarray]]:
        """The full internal state (levels plus Deequ's per-level counters and offsets), for a
        lossless binary form (:mod:`mmon.engine.state_codec`); :meth:`from_state` inverts it."""
        meta = {
            "k": self.k,
            "c": self.c.hex(),
            "ncomp": list(self._ncomp),
            "offsets": list(self._offsets),
            "actual": self._actual,
            "negzero": self._negzero,
        }
        return meta, [np.ascontiguousarray(buf[:n]) for buf, n in zip(self._bufs, self._lens, strict=True)]

    @classmethod
    def from_state(cls, meta: dict[str, Any], levels: list[np.ndarray]) -> KLLSketch:
        """Inverse of :meth:`export_state`."""
        sketch = cls(int(meta["k"]), float.fromhex(meta["c"]))
        if len(meta["ncomp"]) != len(levels) or len(meta["offsets"]) != len(levels):
            raise ValueError("KLL state: counters and levels differ in number")
        sketch._bufs, sketch._lens = [], []
        sketch._ncomp, sketch._offsets, sketch._caps = [], [], []
        sketch._total = 0
        for level in levels:
            sketch._expand()
            sketch._append(len(sketch._lens) - 1, np.asarray(level, dtype=_F64))
        sketch._ncomp = [int(x) for x in meta["ncomp"]]
        sketch._offsets = [int(x) for x in meta["offsets"]]
        sketch._actual = int(meta["actual"])
        sketch._negzero = bool(meta["negzero"])
        return sketch

    def to_data(self) -> list[list[float]]:
        """``getCompactorItems``: one list of Python floats per level, buffer order, empty levels kept."""
        return [buf[:n].tolist() for buf, n in zip(self._bufs, self._lens, strict=True)]

    @property
    def parameters(self) -> dict[str, float]:
        """``sketch.parameters`` as SageMaker writes it: ``{"c": 0.64, "k": 2048.0}``."""
        return {"c": self.c, "k": float(self.k)}

    def copy(self) -> KLLSketch:
        """Deep copy, including the per-level compaction counters and offsets."""
        new = KLLSketch.__new__(KLLSketch)
        new.k, new.c = self.k, self.c
        new._bufs = [buf.copy() for buf in self._bufs]
        new._lens = list(self._lens)
        new._ncomp = list(self._ncomp)
        new._offsets = list(self._offsets)
        new._caps = list(self._caps)
        new._actual, new._total = self._actual, self._total
        new._cache = self._cache
        new._negzero = self._negzero
        return new

    def __repr__(self) -> str:
        return f"KLLSketch(k={self.k}, c={self.c}, count={self.count}, levels={self._lens})"

    # ------------------------------------------------------------------ Deequ internals

    def _expand(self) -> None:
        """Deequ ``expand``: add an empty top level; total capacity grows by its capacity."""
        height = len(self._lens)
        cap = capacity(self.k, self.c, height)
        # Buffers start small and double as items arrive (many sketches of small files stay small).
        self._bufs.append(np.empty(16, dtype=_F64))
        self._lens.append(0)
        self._ncomp.append(0)
        self._offsets.append(0)
        self._caps.append(cap)
        self._total += cap

    def _append(self, height: int, items: np.ndarray) -> None:
        """Append ``items`` to a level's buffer (amortised doubling, so one copy per item)."""
        n = self._lens[height]
        m = items.shape[0]
        buf = self._bufs[height]
        if n + m > buf.shape[0]:
            grown = np.empty(max(n + m, 2 * buf.shape[0]), dtype=_F64)
            grown[:n] = buf[:n]
            self._bufs[height] = buf = grown
        buf[n : n + m] = items
        self._lens[height] = n + m

    def _condense(self) -> None:
        """Deequ ``condense``: compact the first level at or over capacity, only that one."""
        lens, caps = self._lens, self._caps
        for height in range(len(lens)):
            if lens[height] >= caps[height]:
                if height + 1 >= len(lens):
                    self._expand()
                self._compact(height)
                return

    def _compact(self, height: int) -> None:
        """``NonSampleCompactor.compact`` of one level, output appended to ``height + 1``."""
        n = self._lens[height]
        buf = self._bufs[height]
        even = n - (n & 1)
        if self._ncomp[height] & 1:
            self._offsets[height] = 1 - self._offsets[height]
        # The odd item is the last one in buffer order, taken before the sort (findOdd); it is
        # outside buf[:even], so sorting in place leaves it untouched.
        part = buf[:even]
        negative_zeros = _count_negative_zeros(part) if self._negzero else 0
        part.sort()
        if negative_zeros:
            _restore_signed_zeros(part, negative_zeros)
        out = part[self._offsets[height] :: 2]
        self._append(height + 1, out)
        if n & 1:
            buf[0] = buf[even]
        self._lens[height] = n & 1
        self._ncomp[height] += 1
        # getCompactorItemsCount after the compaction, kept incrementally.
        self._actual -= even - out.shape[0]

    # ------------------------------------------------------------------ update / merge

    def update(self, values: np.ndarray) -> None:
        """Feed values in order; identical to calling Deequ's ``update(item)`` once per value.

        ``values``: 1-D float64 (other numeric dtypes are converted), nulls and NaN removed by the
        caller.  Exactness: a condense happens in Deequ exactly when ``actual`` first exceeds
        ``total``, and until then only level 0 changes, so the values up to that point are
        appended as one slice.  Splitting the input into several calls gives the same sketch.
        """
        v = np.asarray(values, dtype=_F64)
        if v.ndim != 1:
            v = v.ravel()
        n = v.shape[0]
        if n == 0:
            return
        self._cache = None
        if not self._negzero and _count_negative_zeros(v):
            self._negzero = True
        pos = 0
        while pos < n:
            # Number of appends until actual > total (at least 1: after from_data or merge the
            # sketch may already hold more than its total capacity; then each update condenses).
            room = self._total - self._actual + 1
            take = n - pos if n - pos < room else (room if room > 1 else 1)
            self._append(0, v[pos : pos + take])
            self._actual += take
            pos += take
            if self._actual > self._total:
                self._condense()

    def merge(self, other: KLLSketch) -> KLLSketch:
        """Deequ ``QuantileNonSample.merge``, in place; returns ``self``.

        Levels are concatenated ``self[h] ++ other[h]`` and condensed while ``actual >= total``.
        The result depends on the order (``a.merge(b)`` != ``b.merge(a)`` item-wise), as in Deequ;
        Spark combines partition sketches with ``treeReduce`` (``runners/KLLRunner.scala``).
        Deequ does not check parameters; mmon refuses to merge sketches with different k or c.
        """
        if other.k != self.k or other.c != self.c:
            raise ValueError(
                f"cannot merge KLL sketches with different parameters: (k={self.k}, c={self.c}) "
                f"vs (k={other.k}, c={other.c})"
            )
        if other is self:
            other = other.copy()
        self._cache = None
        self._negzero = self._negzero or other._negzero
        while len(self._lens) < len(other._lens):
            self._expand()
        for height in range(len(other._lens)):
            self._append(height, other._bufs[height][: other._lens[height]])
        self._actual = sum(self._lens)
        while self._actual >= self._total:
            self._condense()
        return self

    def merge_values(self, values: np.ndarray) -> KLLSketch:
        """``merge`` of a fresh sketch fed ``values`` alone, without building that sketch.

        A fresh sketch compacts only past ``capacity(k, c, 0)`` values, so the other sketch is one
        level holding ``values`` in order: its merge appends them to level 0 and condenses while
        ``actual >= total`` -- also when ``values`` is empty, as merging an empty sketch does.
        The local engine folds many small files' values into the dataset's sketch this way.
        """
        v = np.asarray(values, dtype=_F64)
        m = v.shape[0]
        if m > self._caps[0]:
            raise ValueError(f"{m} values would have been compacted in their own sketch: merge a KLLSketch")
        self._cache = None
        if m:
            if not self._negzero and _count_negative_zeros(v):
                self._negzero = True
            self._append(0, v)
        self._actual = sum(self._lens)
        while self._actual >= self._total:
            self._condense()
        return self

    # ------------------------------------------------------------------ queries

    @property
    def count(self) -> int:
        """Total weight ``sum_h len(level h) * 2^h`` = number of values seen (merged)."""
        return sum(n << h for h, n in enumerate(self._lens))

    @property
    def num_levels(self) -> int:
        return len(self._lens)

    @property
    def compaction_counts(self) -> tuple[int, ...]:
        """Deequ's ``numOfCompress`` per level.

        A compaction of level ``h`` moves any rank by at most ``2^h`` (of the sorted pairs only the
        one straddling ``x`` can change its count), so ``sum_h counts[h] * 2^h`` -- summed over every
        sketch merged in, since merge drops the other side's counters -- bounds the rank error.
        """
        return tuple(self._ncomp)

    def _sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(items ascending, weights, cumulative weights with a leading 0), cached until the next change."""
        if self._cache is None:
            parts = [buf[:n] for buf, n in zip(self._bufs, self._lens, strict=True)]
            items = np.concatenate(parts) if parts else np.empty(0, dtype=_F64)
            weights = np.concatenate([np.full(n, 1 << h, dtype=np.int64) for h, n in enumerate(self._lens)])
            order = np.argsort(items, kind="stable")
            items = items[order]
            weights = weights[order]
            cum = np.zeros(weights.shape[0] + 1, dtype=np.int64)
            np.cumsum(weights, out=cum[1:])
            self._cache = (items, weights, cum)
        return self._cache

    def sorted_items(self) -> tuple[np.ndarray, np.ndarray]:
        """(items ascending, int64 weights ``2^h``): Deequ's ``output`` sorted by item."""
        items, weights, _ = self._sorted()
        return items.copy(), weights.copy()

    def rank(self, x: np.ndarray | float, inclusive: bool = True) -> np.ndarray | int:
        """Deequ ``getRank`` (Σ weights of items <= x) or ``getRankExclusive`` (items < x).

        Integer weights: an ``int`` for a scalar ``x``, an int64 array otherwise.  Comparisons are
        IEEE (``-0.0 == 0.0``), like Scala's ``Ordering.Double.gt``/``lt``; a NaN query counts
        everything when inclusive and nothing when exclusive, as those comparisons do.
        """
        items, _, cum = self._sorted()
        xa = np.asarray(x, dtype=_F64)
        idx = np.searchsorted(items, xa, side="right" if inclusive else "left")
        out = cum[idx]
        nan = np.isnan(xa)
        if nan.any():
            out = np.where(nan, cum[-1] if inclusive else 0, out)
        if np.ndim(out) == 0:
            return int(out)
        return out

    def cdf(self, x: np.ndarray | float) -> np.ndarray | float:
        """``rank(x) / count`` (inclusive rank, as ``getCDF``/``numericalDistance``); NaN when empty."""
        total = self.count
        r = self.rank(x)
        if total == 0:
            return float("nan") if np.ndim(r) == 0 else np.full(np.shape(r), np.nan)
        if np.ndim(r) == 0:
            return r / float(total)
        return np.asarray(r, dtype=_F64) / float(total)

    def quantile(self, q: np.ndarray | float) -> np.ndarray | float:
        """Standard lower quantile: smallest item whose cumulative weight >= ``q * count``.

        For an exact sketch (n <= 2050) this equals ``numpy.quantile(x, q, method="inverted_cdf")``.
        ``q = 0`` gives the minimum item, ``q = 1`` the maximum.  NaN for an empty sketch.
        Deequ's own ``quantiles(n)`` differs (it picks the item *after* the one reaching the
        threshold); see :meth:`deequ_quantiles`.
        """
        items, _, cum = self._sorted()
        qa = np.asarray(q, dtype=_F64)
        if np.any((qa < 0.0) | (qa > 1.0)) or np.isnan(qa).any():
            raise ValueError("quantile levels must be in [0, 1]")
        if items.shape[0] == 0:
            return float("nan") if qa.ndim == 0 else np.full(qa.shape, np.nan)
        idx = np.searchsorted(cum[1:], qa * float(cum[-1]), side="left")
        out = items[np.minimum(idx, items.shape[0] - 1)]
        return float(out) if qa.ndim == 0 else out

    def deequ_quantiles(self, q: int) -> list[float]:
        """Deequ ``QuantileNonSample.quantiles(q)`` verbatim: the ``q - 1`` values "1/q .. (q-1)/q".

        Thresholds ``j * total / q`` in integer (Long) division; for each, weights are summed up
        to the first item reaching it and the item *after* that one is returned (clamped to the
        last).  Once the walk reaches the end, the remaining slots keep the smallest item (the
        array's initial fill).  Kept for parity only; prefer :meth:`quantile`.
        """
        items, _, cum = self._sorted()
        m = items.shape[0]
        if m == 0:
            return []
        total = int(cum[-1])
        result = [float(items[0])] * (q - 1)
        i = 0
        for j in range(1, q):
            if i >= m:
                break
            thresh = j * total // q
            i = max(i, int(np.searchsorted(cum, thresh, side="left")))
            result[j - 1] = float(items[min(i, m - 1)])
        return result

    def buckets(self, lo: float, hi: float, n: int = 10) -> list[dict[str, float]]:
        """Deequ ``KLLSketch.computeMetricFrom``: ``n`` equal-width buckets with sketch counts.

        ``lower_i = lo + (hi - lo) * i / n`` and ``upper_i = lo + (hi - lo) * (i + 1) / n`` in that
        evaluation order (doubles); ``count_i = rankExclusive(upper_i) - rankExclusive(lower_i)``,
        last bucket ``rank(upper) - rankExclusive(lower)``.  ``lo``/``hi`` are the column's exact
        min/max.  Counts are floats (SageMaker writes ``23191.0``).  An empty sketch gives ``n``
        buckets with count 0.0 -- what Deequ computes for an empty state (its KLLRunner then uses
        ``min = Int.MaxValue``, ``max = Int.MinValue``); whether to write them is the caller's
        choice (SageMaker has no numerical statistics for an all-null column).
        """
        lo_f, hi_f, nd = float(lo), float(hi), float(n)
        width = hi_f - lo_f
        lows = [lo_f + width * i / nd for i in range(n)]
        highs = [lo_f + width * (i + 1) / nd for i in range(n)]
        excl_lo = np.asarray(self.rank(np.asarray(lows, dtype=_F64), inclusive=False))
        excl_hi = np.asarray(self.rank(np.asarray(highs, dtype=_F64), inclusive=False))
        counts = (excl_hi - excl_lo).tolist()
        if n:
            # The last bucket is closed: inclusive rank at the upper bound.
            counts[-1] = int(self.rank(highs[-1])) - int(excl_lo[-1])
        return [
            {"lower_bound": low, "upper_bound": high, "count": float(cnt)}
            for low, high, cnt in zip(lows, highs, counts, strict=True)
        ]

    def to_json(self) -> dict[str, Any]:
        """``{"parameters": ..., "data": ...}``, the ``sketch`` object of ``statistics.json``."""
        return {"parameters": self.parameters, "data": self.to_data()}


def linf_distance(a: KLLSketch, b: KLLSketch) -> float:
    """Deequ ``Distance.numericalDistance`` "linf_simple": ``max_x |cdf_a(x) - cdf_b(x)|``.

    ``x`` ranges over the union of both sketches' items, ``cdf = getRank(x) / total`` with
    inclusive ranks (Long divided by double, so bit-identical to Deequ).  For exact sketches
    this is the two-sample Kolmogorov-Smirnov statistic.  Deequ's robust variant
    (``correctForLowNumberOfSamples = false``) subtracts ``c_alpha * sqrt((n + m) / (n m))``;
    that belongs to the caller.  Raises ``ValueError`` on an empty sketch (Deequ throws too:
    ``max`` of an empty rank map).
    """
    n, m = a.count, b.count
    if n == 0 or m == 0:
        raise ValueError("L-infinity distance of an empty KLL sketch is undefined")
    items_a, _, _ = a._sorted()
    items_b, _, _ = b._sorted()
    keys = np.union1d(items_a, items_b)
    ra = np.asarray(a.rank(keys), dtype=_F64)
    rb = np.asarray(b.rank(keys), dtype=_F64)
    diff = np.abs(ra / float(n) - rb / float(m))
    return max(0.0, float(diff.max()))
