"""baseline_drift_check: distances against raw-data computations, injected drift, no false alarms."""

from __future__ import annotations

import copy
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from mmon import jsonfmt
from mmon.checks import CheckOptions, check_data_quality
from mmon.checks import drift as D
from mmon.stats.profile import profile_batch
from mmon.stats.statistics import read_statistics, to_statistics
from mmon.suggest import suggest_constraints
from tests.checks.test_checks_core import kinds


def baseline_from(df: pl.DataFrame, *, via_json: bool = True):
    stats = to_statistics(profile_batch(df))
    if via_json:  # exactly what a monitoring run reads back from the store
        stats = jsonfmt.loads(jsonfmt.dumps(stats))
    return read_statistics(stats), suggest_constraints(stats)


def set_method(constraints: dict, **dist) -> dict:
    out = copy.deepcopy(constraints)
    out["monitoring_config"]["distribution_constraints"].update(dist)
    return out


def ecdf_linf(a: np.ndarray, b: np.ndarray) -> float:
    """max_x |F_a(x) - F_b(x)| over all data points, with numpy only."""
    xs = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), xs, side="right") / a.size
    fb = np.searchsorted(np.sort(b), xs, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


# -- numeric L-infinity against the raw data ---------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_sketch_linf_equals_raw_ks_statistic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.round(rng.gamma(2.0, 3.0, 1500), 2)
    b = np.round(rng.gamma(2.2, 3.0, 1800), 2)
    stats, constraints = baseline_from(pl.DataFrame({"v": [repr(float(x)) for x in a]}))
    current = profile_batch(pl.DataFrame({"v": [repr(float(x)) for x in b]}))
    assert stats.features["v"].sketch.count == 1500  # exact: n <= 2050
    raw = ecdf_linf(a, b)
    assert raw == pytest.approx(sps.ks_2samp(a, b).statistic, abs=1e-12)

    simple = check_data_quality(stats, set_method(constraints, comparison_method="Simple"), current).features[0]
    assert simple.drift_method == "linf_simple"
    assert simple.drift_distance == pytest.approx(raw, abs=1e-12)

    robust = check_data_quality(stats, constraints, current).features[0]
    assert robust.drift_method == "linf_robust"
    assert robust.drift_distance == pytest.approx(max(0.0, raw - 1.8 * math.sqrt((1500 + 1800) / (1500 * 1800))), abs=1e-12)


def test_compacted_sketch_linf_close_to_raw() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 60_000), rng.normal(0.15, 1.1, 40_000)
    stats, constraints = baseline_from(pl.DataFrame({"v": a}))
    current = profile_batch(pl.DataFrame({"v": b}))
    got = check_data_quality(stats, set_method(constraints, comparison_method="Simple"), current).features[0]
    assert got.drift_distance == pytest.approx(ecdf_linf(a, b), abs=0.01)


def test_robust_absorbs_small_sample_noise_that_simple_flags() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.normal(0, 1, 60), rng.normal(0, 1, 60)
    assert ecdf_linf(a, b) > 0.1  # precondition: noise alone crosses 0.1
    stats, constraints = baseline_from(pl.DataFrame({"v": a}))
    current = profile_batch(pl.DataFrame({"v": b}))
    assert kinds(check_data_quality(stats, set_method(constraints, comparison_method="Simple"), current)) == [
        ("v", "baseline_drift_check")
    ]
    assert kinds(check_data_quality(stats, constraints, current)) == []


def test_robust_margin_formula() -> None:
    assert D.robust_margin(300, 300) == pytest.approx(0.147, abs=5e-4)
    assert D.robust_margin(10_000, 10_000) == pytest.approx(0.0255, abs=5e-4)
    assert D.linf_robust(0.05, 300, 300) == 0.0
    assert D.c_alpha(None) == 1.8
    assert D.c_alpha(0.003) == pytest.approx(1.8, abs=0.02)


# -- categorical L-infinity and chi-squared ----------------------------------------------------


def test_categorical_linf_is_max_frequency_difference() -> None:
    rng = np.random.default_rng(4)
    cats = ["a", "b", "c", "d", "e"]
    a = rng.choice(cats, 2000, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    b = rng.choice(cats + ["f"], 1500, p=[0.24, 0.3, 0.2, 0.1, 0.1, 0.06])
    stats, constraints = baseline_from(pl.DataFrame({"c": a.tolist()}))
    current = profile_batch(pl.DataFrame({"c": b.tolist()}))
    raw = max(abs(np.mean(a == k) - np.mean(b == k)) for k in cats + ["f"])
    got = check_data_quality(stats, set_method(constraints, comparison_method="Simple"), current)
    assert got.features[0].drift_distance == pytest.approx(raw, abs=1e-12)
    assert 0.03 < raw < 0.1
    assert kinds(got) == [("c", "categorical_values_check")]  # 'f' is unknown; no drift at 0.1
    stricter = set_method(constraints, comparison_method="Simple", categorical_comparison_threshold=0.03)
    assert ("c", "baseline_drift_check") in kinds(check_data_quality(stats, stricter, current))


def test_chi_squared_matches_scipy_without_merging() -> None:
    base = {"a": 400, "b": 300, "c": 200, "d": 100}
    cur = {"a": 90, "b": 80, "c": 60, "d": 20, "new": 7}
    r = D.chi_squared(cur, base)
    obs = np.array([90, 80, 60, 20], dtype=float)
    exp = np.array([400, 300, 200, 100], dtype=float) / 1000 * obs.sum()
    ref = sps.chisquare(obs, exp)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert (r.dof, r.categories) == (3, 4)


def test_chi_squared_merges_small_categories_like_deequ() -> None:
    base = {"a": 500, "b": 480, "c": 10, "d": 6, "e": 4}
    cur = {"a": 40, "b": 45, "c": 8, "d": 4, "e": 3}
    r = D.chi_squared(cur, base)
    # Expected 50, 48, 1, 0.6, 0.4. Five categories allow int(0.2 * 5) = 1 below 5: e folds into d
    # (1.0); four allow none: c (1.0, first on the tie) folds into d (2.0); three allow none: d
    # folds into b (50.0); two categories need >= 10 each: done -> a vs b+c+d+e.
    obs = np.array([40, 60], dtype=float)
    exp = np.array([500, 500], dtype=float) / 1000 * 100
    ref = sps.chisquare(obs, exp)
    assert r.categories == 2
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert math.isnan(D.chi_squared({"a": 5}, {"a": 10}).p_value)
    assert D.chi_squared({"zz": 5}, {"a": 10, "b": 10}).p_value == 0.0


def test_chi_squared_method_in_a_run() -> None:
    rng = np.random.default_rng(8)
    cats, p = ["a", "b", "c"], [0.5, 0.3, 0.2]
    stats, constraints = baseline_from(pl.DataFrame({"c": rng.choice(cats, 3000, p=p).tolist()}))
    chi = set_method(constraints, categorical_drift_method="ChiSquared", categorical_comparison_threshold=0.01)
    same = profile_batch(pl.DataFrame({"c": rng.choice(cats, 2000, p=p).tolist()}))
    report = check_data_quality(stats, chi, same)
    assert kinds(report) == [] and report.features[0].drift_method == "chi_squared"
    assert report.features[0].drift_distance > 0.01
    moved = profile_batch(pl.DataFrame({"c": rng.choice(cats, 2000, p=[0.45, 0.3, 0.25]).tolist()}))
    report = check_data_quality(stats, chi, moved)
    assert kinds(report) == [("c", "baseline_drift_check")]
    desc = report.violations[0]["description"]
    assert desc.startswith("Baseline drift chi-squared p-value: ") and desc.endswith(" is below threshold: 0.01")
    # The same shift is below SageMaker's default L-infinity threshold.
    assert kinds(check_data_quality(stats, constraints, moved)) == []


# -- whole datasets ----------------------------------------------------------------------------

N_COLS = 20
SHIFTED = {"f03": "mean", "f11": "scale", "c17": "mix"}


def _dataset(rng: np.random.Generator, n: int, shift: bool) -> pl.DataFrame:
    cols: dict[str, list[str] | np.ndarray] = {}
    for i in range(N_COLS):
        name = f"c{i:02d}" if i % 4 == 1 else f"f{i:02d}"
        kind = SHIFTED.get(name) if shift else None
        if name.startswith("c"):
            p = np.array([0.4, 0.3, 0.2, 0.1])
            if kind == "mix":
                p = np.array([0.2, 0.3, 0.2, 0.3])
            cols[name] = rng.choice(["w", "x", "y", "z"], n, p=p).tolist()
        elif i % 4 == 2:
            lam = 3.0 + i / 10
            cols[name] = [str(v) for v in rng.poisson(lam, n)]
        else:
            loc, scale = float(i), 1.0 + i / 20
            if kind == "mean":
                loc += 0.8 * scale
            if kind == "scale":
                scale *= 2.0
            cols[name] = rng.normal(loc, scale, n)
    return pl.DataFrame(cols)


def test_injected_drift_is_flagged_in_those_columns_only() -> None:
    rng = np.random.default_rng(2024)
    stats, constraints = baseline_from(_dataset(rng, 5000, shift=False))
    assert set(SHIFTED) <= set(stats.features)
    report = check_data_quality(stats, constraints, profile_batch(_dataset(rng, 4000, shift=True)))
    assert sorted(kinds(report)) == sorted((c, "baseline_drift_check") for c in SHIFTED)
    clean = check_data_quality(stats, constraints, profile_batch(_dataset(rng, 4000, shift=False)))
    assert kinds(clean) == []
    assert all(f.drift_distance is not None for f in clean.features)


def test_large_same_distribution_samples_raise_nothing() -> None:
    def sample(seed: int) -> pl.DataFrame:
        rng = np.random.default_rng(seed)
        n = 200_000
        return pl.DataFrame(
            {
                "normal": rng.normal(50, 10, n),
                "skewed": rng.lognormal(0, 1.5, n),
                "count": [str(x) for x in rng.poisson(4, n)],
                "cat": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]).tolist(),
            }
        )

    stats, constraints = baseline_from(sample(100), via_json=False)
    report = check_data_quality(stats, constraints, profile_batch(sample(200)), CheckOptions())
    assert report.violations == []
    assert [f.drift_distance for f in report.features] == [0.0, 0.0, 0.0, 0.0]
    simple = check_data_quality(stats, set_method(constraints, comparison_method="Simple"), profile_batch(sample(200)))
    assert simple.violations == []
    assert all(0 < f.drift_distance < 0.02 for f in simple.features)


def test_empty_or_text_only_current_column_has_no_drift() -> None:
    rng = np.random.default_rng(1)
    stats, constraints = baseline_from(pl.DataFrame({"v": [str(x) for x in rng.integers(0, 9, 200)]}))
    report = check_data_quality(stats, constraints, profile_batch(pl.DataFrame({"v": ["n/a"] * 30})))
    assert kinds(report) == [("v", "data_type_check")]
    assert report.features[0].drift_distance is None
    assert "baseline_drift_check" not in report.features[0].checks_run
