"""Tests for mmon.stats.kll: bit-exact with SageMaker/Deequ, mergeable, exact for small n."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mmon.stats.kll import KLLSketch, capacity, linf_distance

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
SAGEMAKER = REFERENCE / "sagemaker"
CSV_2024 = SAGEMAKER / "data" / "aai540-train_data.csv.gz"
STATS_2024 = SAGEMAKER / "data" / "aai540-statistics.2024-10.json.gz"
STATS_2020 = SAGEMAKER / "dq-statistics.2020-05.from-log.json"


# --------------------------------------------------------------------------- reference transcription


def _java_key(v: float) -> tuple[float, float]:
    # java.lang.Double.compare: -0.0 sorts before 0.0 (IEEE says they are equal).
    return (v, math.copysign(1.0, v))


class DeequRef:
    """Line-by-line Python transcription of Deequ's QuantileNonSample / NonSampleCompactor.

    One value at a time, plain lists, no shortcuts: the oracle the vectorised sketch must match.
    """

    def __init__(self, k: int = 2048, c: float = 0.64) -> None:
        self.k, self.c = k, c
        self.levels: list[list[float]] = []
        self.ncomp: list[int] = []
        self.offset: list[int] = []
        self.actual = 0
        self.total = 0
        self.expand()

    @classmethod
    def reconstruct(cls, data: list[list[float]], k: int = 2048, c: float = 0.64) -> DeequRef:
        ref = cls(k, c)
        ref.levels = [list(level) for level in data]
        ref.ncomp = [0] * len(data)
        ref.offset = [0] * len(data)
        ref.actual = sum(map(len, ref.levels))
        ref.total = sum(ref.capacity(h) for h in range(len(data)))
        return ref

    def capacity(self, h: int) -> int:
        return 2 * (math.ceil(self.k * math.pow(self.c, h) / 2) + 1)

    def expand(self) -> None:
        self.levels.append([])
        self.ncomp.append(0)
        self.offset.append(0)
        self.total = sum(self.capacity(h) for h in range(len(self.levels)))

    def update(self, x: float) -> None:
        self.levels[0].append(x)
        self.actual += 1
        if self.actual > self.total:
            self.condense()

    def condense(self) -> None:
        for h in range(len(self.levels)):
            if len(self.levels[h]) >= self.capacity(h):
                if h + 1 >= len(self.levels):
                    self.expand()
                self.levels[h + 1].extend(self.compact(h))
                self.actual = sum(map(len, self.levels))
                break

    def compact(self, h: int) -> list[float]:
        buf = self.levels[h]
        items = len(buf)
        length = items - items % 2
        if self.ncomp[h] % 2 == 1:
            self.offset[h] = 1 - self.offset[h]
        s_buff = sorted(buf[:length], key=_java_key)
        output = [s_buff[i] for i in range(self.offset[h], length, 2)]
        self.levels[h] = [buf[items - 1]] if items % 2 == 1 else []
        self.ncomp[h] += 1
        return output

    def merge(self, that: DeequRef) -> DeequRef:
        while len(self.levels) < len(that.levels):
            self.expand()
        for i in range(len(that.levels)):
            self.levels[i] = self.levels[i] + that.levels[i]
        self.actual = sum(map(len, self.levels))
        while self.actual >= self.total:
            self.condense()
        return self

    def output(self) -> list[tuple[float, int]]:
        return [(x, 1 << h) for h, level in enumerate(self.levels) for x in level]

    def quantiles(self, q: int) -> list[float]:
        sorted_items = sorted(self.output(), key=lambda t: t[0])
        size = sum(w for _, w in sorted_items)
        next_thresh = size // q
        curq, i, sum_so_far = 1, 0, 0
        result = [sorted_items[0][0]] * (q - 1)
        while i < len(sorted_items) and curq < q:
            while sum_so_far < next_thresh:
                sum_so_far += sorted_items[i][1]
                i += 1
            result[curq - 1] = sorted_items[min(i, len(sorted_items) - 1)][0]
            curq += 1
            next_thresh = curq * size // q
        return result


def _bits(data: list[list[float]]) -> list[list[int]]:
    # Compare IEEE bit patterns: `==` would treat -0.0 and 0.0 as equal.
    return [np.asarray(level, dtype=np.float64).view(np.int64).tolist() for level in data]


def _feed_both(ref: DeequRef, sketch: KLLSketch, values: np.ndarray) -> None:
    """The same values into the Deequ transcription (one by one, as Deequ does) and the sketch (vectorised)."""
    for v in values.tolist():
        ref.update(v)
    sketch.update(values)


def _chunks(values: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    cuts = np.cumsum(sizes)
    return [c for c in np.split(values, cuts[cuts < values.shape[0]]) if c.shape[0]]


def _tie_heavy(rng: np.random.Generator, n: int) -> np.ndarray:
    # Ties and both signed zeros stress the sort order of compactions.
    v = rng.integers(-40, 40, n).astype(np.float64) * 0.25
    zeros = v == 0.0
    v[zeros] = np.where(rng.random(int(zeros.sum())) < 0.5, -0.0, 0.0)
    return v


# --------------------------------------------------------------------------- SageMaker files


def _require(*paths: Path) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(
            f"SageMaker reference files not found (expected the shared folder next to the repo): {missing}"
        )


@pytest.fixture(scope="module")
def real_2024() -> tuple[pl.DataFrame, list[dict]]:
    _require(CSV_2024, STATS_2024)
    frame = pl.read_csv(CSV_2024, infer_schema=False)
    with gzip.open(STATS_2024, "rt", encoding="utf-8") as fh:
        statistics = json.load(fh)
    numeric = [f for f in statistics["features"] if "numerical_statistics" in f]
    assert len(numeric) == 8
    return frame, numeric


@pytest.mark.parametrize("chunking", ["one-call", "uneven-chunks", "tiny-chunks"])
def test_sagemaker_2024_sketch_and_buckets_bit_exact(real_2024, chunking: str) -> None:
    frame, numeric = real_2024
    rng = np.random.default_rng(7)
    for feature in numeric:
        ns = feature["numerical_statistics"]
        kll = ns["distribution"]["kll"]
        values = frame[feature["name"]].drop_nulls().cast(pl.Float64).to_numpy()
        assert values.shape[0] == ns["common"]["num_present"]
        params = kll["sketch"]["parameters"]
        sketch = KLLSketch(k=params["k"], c=params["c"])
        if chunking == "one-call":
            sketch.update(values)
        elif chunking == "uneven-chunks":
            for chunk in _chunks(values, [1, 2049, 1, 5000, 3, 777, 10_000]):
                sketch.update(chunk)
        else:
            for chunk in _chunks(values, rng.integers(1, 40, values.shape[0]).tolist()):
                sketch.update(chunk)
        assert sketch.count == ns["common"]["num_present"]
        assert sketch.to_data() == kll["sketch"]["data"], feature["name"]
        assert _bits(sketch.to_data()) == _bits(kll["sketch"]["data"]), feature["name"]
        assert sketch.parameters == params
        assert sketch.buckets(ns["min"], ns["max"]) == kll["buckets"], feature["name"]


def test_sagemaker_2024_from_data_round_trip(real_2024) -> None:
    _, numeric = real_2024
    for feature in numeric:
        ns = feature["numerical_statistics"]
        kll = ns["distribution"]["kll"]
        sketch = KLLSketch.from_data(kll["sketch"]["data"], k=kll["sketch"]["parameters"]["k"])
        assert sketch.to_data() == kll["sketch"]["data"]
        assert sketch.count == ns["common"]["num_present"]
        assert sketch.buckets(ns["min"], ns["max"]) == kll["buckets"]


def test_sagemaker_2020_merged_sketch_from_data() -> None:
    _require(STATS_2020)
    statistics = json.loads(STATS_2020.read_text(encoding="utf-8"))
    numeric = [f for f in statistics["features"] if "numerical_statistics" in f]
    assert numeric
    for feature in numeric:
        ns = feature["numerical_statistics"]
        kll = ns["distribution"]["kll"]
        params = kll["sketch"]["parameters"]
        sketch = KLLSketch.from_data(kll["sketch"]["data"], k=params["k"], c=params["c"])
        assert sketch.count == ns["common"]["num_present"] == statistics["dataset"]["item_count"]
        assert sketch.num_levels == len(kll["sketch"]["data"])
        assert sketch.to_data() == kll["sketch"]["data"]
        assert sketch.buckets(ns["min"], ns["max"]) == kll["buckets"]


# --------------------------------------------------------------------------- against the transcription


def test_capacity_matches_format_study() -> None:
    assert [capacity(2048, 0.64, h) for h in range(10)] == [2050, 1314, 842, 540, 346, 222, 144, 94, 60, 40]


def test_update_matches_reference_transcription() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate([_tie_heavy(rng, 40_000), rng.standard_normal(30_000)])
    ref = DeequRef()
    for v in values.tolist():
        ref.update(v)
    sketch = KLLSketch()
    for chunk in _chunks(values, [3, 2047, 1, 2, 9000, 123, 50_000, 8824]):
        sketch.update(chunk)
    assert sketch.num_levels >= 6
    assert _bits(sketch.to_data()) == _bits(ref.levels)
    assert list(sketch.compaction_counts) == ref.ncomp
    assert sketch.count == values.shape[0]
    # Both signed zeros must have survived somewhere, otherwise the sign check proved nothing.
    flat = np.concatenate([np.asarray(level) for level in ref.levels])
    assert np.any((flat == 0) & np.signbit(flat)) and np.any((flat == 0) & ~np.signbit(flat))


def test_merge_matches_reference_transcription() -> None:
    rng = np.random.default_rng(12)
    parts = [_tie_heavy(rng, 7_000), rng.standard_normal(45_000), rng.exponential(size=2_500)]
    refs, sketches = [], []
    for part in parts:
        ref = DeequRef()
        sketch = KLLSketch()
        _feed_both(ref, sketch, part)
        refs.append(ref)
        sketches.append(sketch)
    # Spark treeReduce-like shape: (a + b) + c, and c + (a + b) to exercise a shorter `this`.
    merged_ref = refs[0].merge(refs[1]).merge(refs[2])
    merged = sketches[0].copy().merge(sketches[1]).merge(sketches[2])
    assert _bits(merged.to_data()) == _bits(merged_ref.levels)
    assert merged.count == sum(p.shape[0] for p in parts)
    # Counters/offsets survive the merge: continuing to update must still agree.
    tail = rng.standard_normal(20_000)
    _feed_both(merged_ref, merged, tail)
    assert _bits(merged.to_data()) == _bits(merged_ref.levels)

    small_first_ref, small_first = DeequRef(), KLLSketch()
    _feed_both(small_first_ref, small_first, parts[2])
    small_first_ref.merge(merged_ref)
    small_first.merge(merged)
    assert _bits(small_first.to_data()) == _bits(small_first_ref.levels)


def test_from_data_then_update_and_merge_match_reference() -> None:
    rng = np.random.default_rng(13)
    base = KLLSketch()
    base.update(rng.standard_normal(60_000))
    data = base.to_data()

    ref = DeequRef.reconstruct(data)
    sketch = KLLSketch.from_data(data)
    assert sketch.compaction_counts == (0,) * len(data)  # reconstruct starts fresh compactors
    more = rng.standard_normal(15_000)
    _feed_both(ref, sketch, more)
    assert _bits(sketch.to_data()) == _bits(ref.levels)

    other = KLLSketch()
    other.update(rng.uniform(size=9_000))
    other_ref = DeequRef.reconstruct(other.to_data())
    sketch.merge(KLLSketch.from_data(other.to_data()))
    ref.merge(other_ref)
    assert _bits(sketch.to_data()) == _bits(ref.levels)


def test_from_data_over_capacity_condenses_on_next_update() -> None:
    # A stored level may exceed the total capacity (Deequ never checks on reconstruct); the next
    # update must then condense once per value, as in Deequ.
    rng = np.random.default_rng(14)
    data = [rng.standard_normal(2500).tolist(), rng.standard_normal(1400).tolist()]
    ref = DeequRef.reconstruct(data)
    sketch = KLLSketch.from_data(data)
    values = rng.standard_normal(5000)
    _feed_both(ref, sketch, values)
    assert _bits(sketch.to_data()) == _bits(ref.levels)


def test_boundaries_level_at_capacity_and_merge_at_total() -> None:
    rng = np.random.default_rng(16)
    # condense() takes the first level with length >= capacity: level 1 holds exactly 1314 items
    # while level 2 is over its 842, so level 1 (not level 2) must be compacted.
    data = [rng.standard_normal(n).tolist() for n in (2000, 1314, 900)]
    ref = DeequRef.reconstruct(data)
    sketch = KLLSketch.from_data(data)
    ref.update(0.5)
    sketch.update(np.array([0.5]))
    assert ref.ncomp == [0, 1, 0]
    assert _bits(sketch.to_data()) == _bits(ref.levels)

    # merge() condenses while actual >= total: 1000 + 1050 = 2050 items is exactly the capacity.
    a = KLLSketch.from_data([rng.standard_normal(1000).tolist()])
    b = KLLSketch.from_data([rng.standard_normal(1050).tolist()])
    ref_a = DeequRef.reconstruct(a.to_data())
    ref_a.merge(DeequRef.reconstruct(b.to_data()))
    a.merge(b)
    assert [len(level) for level in ref_a.levels] == [0, 1025]
    assert _bits(a.to_data()) == _bits(ref_a.levels)


def test_deequ_quantiles_match_transcription() -> None:
    rng = np.random.default_rng(15)
    for n in (1, 5, 10, 2050, 30_000):
        values = np.round(rng.lognormal(size=n), 2)
        ref = DeequRef()
        sketch = KLLSketch()
        _feed_both(ref, sketch, values)
        for q in (2, 3, 4, 10, 100):
            assert sketch.deequ_quantiles(q) == ref.quantiles(q), (n, q)


# --------------------------------------------------------------------------- accuracy and merge


def test_merge_of_halves_is_accurate() -> None:
    rng = np.random.default_rng(21)
    n = 1_000_000
    values = rng.lognormal(size=n)
    first, second = KLLSketch(), KLLSketch()
    first.update(values[: n // 2])
    second.update(values[n // 2 :])
    second_counts = second.compaction_counts
    merged = first.merge(second)
    assert merged is first
    assert merged.count == n

    exact = np.sort(values)
    qs = np.linspace(0.0, 1.0, 1001)
    estimates = merged.quantile(qs)
    # Rank error of each returned quantile: where its exact rank falls vs the requested q*n.
    rank_hi = np.searchsorted(exact, estimates, side="right")
    rank_lo = np.searchsorted(exact, estimates, side="left")
    target = qs * n
    q_error = np.maximum(0, np.maximum(rank_lo - target, target - rank_hi))
    # Rank error of the sketch at many points.
    grid = np.quantile(values, qs)
    r_error = np.abs(merged.rank(grid) - np.searchsorted(exact, grid, side="right"))

    # Deterministic bound: compacting a level-h buffer changes any rank by at most 2^h (of the
    # sorted pairs, only the one straddling x loses or gains one item's weight), so the error is
    # at most sum_h C_h 2^h over every compaction in both halves' history and the merge.
    bound = sum(c << h for h, c in enumerate(merged.compaction_counts))
    bound += sum(c << h for h, c in enumerate(second_counts))
    assert r_error.max() <= bound
    assert q_error.max() <= bound
    # k = 2048 is far better than that worst case in practice (~0.15 % here); 1 % of n is the
    # spec's tolerance and leaves a wide margin.
    assert r_error.max() <= 0.01 * n
    assert q_error.max() <= 0.01 * n


def test_merge_with_sagemaker_sketch(real_2024) -> None:
    _, numeric = real_2024
    kll = numeric[0]["numerical_statistics"]["distribution"]["kll"]
    stored = KLLSketch.from_data(kll["sketch"]["data"])
    ours = KLLSketch()
    ours.update(np.random.default_rng(3).uniform(0, 1e6, 100_000))
    total = stored.count + ours.count
    merged = ours.copy().merge(stored)
    assert merged.count == total
    again = stored.copy().merge(ours)
    assert again.count == total
    assert stored.count == 23_432  # copy() left the original alone


def test_merge_requires_same_parameters() -> None:
    with pytest.raises(ValueError):
        KLLSketch(k=2048).merge(KLLSketch(k=1024))


def test_merge_with_itself_doubles() -> None:
    sketch = KLLSketch()
    sketch.update(np.arange(1500, dtype=np.float64))
    sketch.merge(sketch)
    assert sketch.count == 3000


# --------------------------------------------------------------------------- exact regime


@pytest.mark.parametrize("n", [1, 2, 17, 1000, 2050])
def test_small_n_is_exact(n: int) -> None:
    rng = np.random.default_rng(n)
    values = np.round(rng.normal(size=n) * 10, 1)  # with ties
    sketch = KLLSketch()
    sketch.update(values)
    assert sketch.num_levels == 1 and sketch.compaction_counts == (0,)
    assert sketch.to_data() == [values.tolist()]

    exact = np.sort(values)
    probes = np.concatenate([exact, exact - 0.05, exact + 0.05, [-1e9, 1e9]])
    np.testing.assert_array_equal(sketch.rank(probes), np.searchsorted(exact, probes, side="right"))
    np.testing.assert_array_equal(
        sketch.rank(probes, inclusive=False), np.searchsorted(exact, probes, side="left")
    )
    np.testing.assert_array_equal(sketch.cdf(probes), np.searchsorted(exact, probes, side="right") / n)
    assert sketch.rank(float(exact[0])) == int(np.sum(values <= exact[0]))
    assert sketch.cdf(1e9) == 1.0

    qs = np.concatenate([[0.0, 1.0], rng.uniform(size=200)])
    np.testing.assert_array_equal(sketch.quantile(qs), np.quantile(values, qs, method="inverted_cdf"))
    assert sketch.quantile(0.5) == float(np.quantile(values, 0.5, method="inverted_cdf"))

    items, weights = sketch.sorted_items()
    np.testing.assert_array_equal(items, exact)
    assert weights.sum() == n and np.all(weights == 1)


def test_2051_values_compacts() -> None:
    sketch = KLLSketch()
    sketch.update(np.arange(2051, dtype=np.float64))
    assert sketch.num_levels == 2
    assert sketch.count == 2051


def test_constant_column_all_weight_in_last_bucket() -> None:
    sketch = KLLSketch()
    sketch.update(np.full(50_000, 3.5))
    buckets = sketch.buckets(3.5, 3.5)
    assert len(buckets) == 10
    assert [b["count"] for b in buckets] == [0.0] * 9 + [50_000.0]
    assert all(b["lower_bound"] == b["upper_bound"] == 3.5 for b in buckets)


def test_bucket_bounds_evaluation_order() -> None:
    sketch = KLLSketch()
    sketch.update(np.array([0.0, 1.0, 2.0, 3.0]))
    buckets = sketch.buckets(0.75, 66.0)
    # lower_i = lo + (hi - lo) * i / 10.0, not lo + i * ((hi - lo) / 10.0)
    for i, b in enumerate(buckets):
        assert b["lower_bound"] == 0.75 + (66.0 - 0.75) * i / 10.0
        assert b["upper_bound"] == 0.75 + (66.0 - 0.75) * (i + 1) / 10.0
    assert isinstance(buckets[0]["count"], float)
    assert sum(b["count"] for b in buckets) == 3.0  # 0.0 is below the range
    # Half-open buckets except the last one, which is closed.
    s2 = KLLSketch()
    s2.update(np.array([0.0, 1.0, 1.0, 10.0]))
    counts = [b["count"] for b in s2.buckets(0.0, 10.0)]
    assert counts == [1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]


def test_empty_sketch() -> None:
    sketch = KLLSketch()
    assert sketch.count == 0
    assert sketch.to_data() == [[]]
    assert sketch.rank(1.0) == 0
    assert math.isnan(sketch.cdf(1.0))
    assert math.isnan(sketch.quantile(0.5))
    assert sketch.deequ_quantiles(4) == []
    buckets = sketch.buckets(0.0, 1.0)
    assert len(buckets) == 10 and all(b["count"] == 0.0 for b in buckets)
    with pytest.raises(ValueError):
        linf_distance(sketch, sketch)
    sketch.update(np.array([], dtype=np.float64))
    assert sketch.count == 0
    assert KLLSketch.from_data([]).to_data() == [[]]


def test_copy_is_independent() -> None:
    sketch = KLLSketch()
    sketch.update(np.arange(5000, dtype=np.float64))
    clone = sketch.copy()
    clone.update(np.arange(5000, dtype=np.float64))
    assert sketch.count == 5000 and clone.count == 10_000
    assert sketch.to_data() != clone.to_data()


# --------------------------------------------------------------------------- distance


def _ecdf_linf(x: np.ndarray, y: np.ndarray) -> float:
    xs, ys = np.sort(x), np.sort(y)
    keys = np.union1d(xs, ys)
    fx = np.searchsorted(xs, keys, side="right") / xs.shape[0]
    fy = np.searchsorted(ys, keys, side="right") / ys.shape[0]
    return float(np.max(np.abs(fx - fy)))


@pytest.mark.parametrize("seed", range(5))
def test_linf_distance_exact_sketches(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    x = np.round(rng.normal(0, 1, rng.integers(5, 2000)), 2)
    y = np.round(rng.normal(0.3 * seed, 1.2, rng.integers(5, 2000)), 2)
    a, b = KLLSketch(), KLLSketch()
    a.update(x)
    b.update(y)
    d = linf_distance(a, b)
    assert d == _ecdf_linf(x, y)
    assert d == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-12)
    assert linf_distance(b, a) == d
    assert linf_distance(a, a) == 0.0


def test_linf_distance_detects_shift_on_compacted_sketches() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=200_000)
    y = rng.normal(0.5, 1.0, size=150_000)
    a, b = KLLSketch(), KLLSketch()
    a.update(x)
    b.update(y)
    exact = _ecdf_linf(x, y)
    assert abs(linf_distance(a, b) - exact) < 0.01
