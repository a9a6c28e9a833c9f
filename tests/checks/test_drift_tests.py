"""Extra drift tests (--drift-test) from the statistics, against scipy on the same raw data."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from mmon.checks import CheckOptions, DriftTest, check_data_quality, parse_drift_test
from mmon.checks import drift_tests as T
from mmon.stats.kll import KLLSketch
from mmon.stats.profile import profile_batch
from mmon.stats.statistics import read_statistics, to_statistics
from mmon.suggest import suggest_constraints

ALL = [DriftTest(n) for n in ("ks", "wasserstein", "psi", "js", "chi2")]


def sketch(values: np.ndarray) -> KLLSketch:
    s = KLLSketch()
    s.update(np.asarray(values, dtype=np.float64))
    return s


def numpy_decile_shares(base: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.unique(np.quantile(base, np.arange(1, 10) / 10, method="inverted_cdf"))

    def shares(x: np.ndarray) -> np.ndarray:
        cum = np.searchsorted(np.sort(x), edges, side="right") / x.size
        return np.diff(np.concatenate(([0.0], cum, [1.0])))

    return shares(base), shares(cur)


def psi_reference(b: np.ndarray, c: np.ndarray, eps: float = 1e-4) -> float:
    b, c = np.maximum(b, eps), np.maximum(c, eps)
    return float(sps.entropy(c, b) + sps.entropy(b, c))  # symmetric KL; entropy() renormalises


@pytest.fixture(scope="module", params=[0, 1])
def pair(request) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(request.param)
    return np.round(rng.normal(10, 2, 1800), 3), np.round(rng.normal(10.4, 2.3, 1300), 3)


# -- numeric, exact sketches: equal to scipy ---------------------------------------------------


def test_ks_matches_scipy(pair) -> None:
    a, b = pair
    d, p = T.ks_test(sketch(a), sketch(b))
    asymp = sps.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(asymp.statistic, abs=1e-12)
    assert p == pytest.approx(asymp.pvalue, rel=1e-9)
    exact = sps.ks_2samp(a, b)  # scipy's default ("exact" at these sizes)
    assert p == pytest.approx(exact.pvalue, rel=0.25, abs=1e-3)


def test_ks_pvalue_no_drift_is_large() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)
    _, p = T.ks_test(sketch(a), sketch(b))
    assert p == pytest.approx(sps.ks_2samp(a, b).pvalue, abs=0.02)
    assert p > 0.05


def test_wasserstein_matches_scipy_normalised_by_baseline_std(pair) -> None:
    a, b = pair
    ref = sps.wasserstein_distance(a, b)
    assert T.wasserstein(sketch(a), sketch(b)) == pytest.approx(ref, rel=1e-9)
    assert T.normalised_wasserstein(sketch(a), sketch(b), float(np.std(a))) == pytest.approx(ref / np.std(a), rel=1e-9)


def test_wasserstein_compacted_sketches_close_to_scipy() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.exponential(2.0, 50_000), rng.exponential(2.4, 30_000)
    assert T.wasserstein(sketch(a), sketch(b)) == pytest.approx(sps.wasserstein_distance(a, b), rel=0.03)


def test_wasserstein_constant_baseline() -> None:
    same = sketch(np.full(100, 5.0))
    assert T.normalised_wasserstein(same, sketch(np.full(50, 5.0)), 0.0) == 0.0
    assert T.normalised_wasserstein(same, sketch(np.full(50, 6.0)), 0.0) == math.inf


def test_psi_and_js_on_baseline_deciles_match_numpy_scipy(pair) -> None:
    a, b = pair
    sa, sb = sketch(a), sketch(b)
    edges = T.decile_edges(sa)
    got_b, got_c = T.binned_shares(sa, edges), T.binned_shares(sb, edges)
    ref_b, ref_c = numpy_decile_shares(a, b)
    np.testing.assert_allclose(got_b, ref_b, atol=1e-12)
    np.testing.assert_allclose(got_c, ref_c, atol=1e-12)
    assert T.psi(got_b, got_c) == pytest.approx(psi_reference(ref_b, ref_c), rel=1e-9)
    assert T.js_distance(got_b, got_c) == pytest.approx(jensenshannon(ref_b, ref_c, base=2), rel=1e-9)


def test_psi_on_discrete_column_merges_equal_deciles() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 3, 1000).astype(float), rng.integers(0, 4, 1000).astype(float)
    edges = T.decile_edges(sketch(a))
    assert edges.tolist() == [0.0, 1.0, 2.0]
    ref_b, ref_c = numpy_decile_shares(a, b)
    got = T.psi(T.binned_shares(sketch(a), edges), T.binned_shares(sketch(b), edges))
    assert got == pytest.approx(psi_reference(ref_b, ref_c), rel=1e-9)
    assert got > 0.2  # a quarter of the window is a value the baseline never had


# -- categorical ---------------------------------------------------------------------------------


def test_categorical_tests_match_scipy() -> None:
    base = {"a": 500, "b": 300, "c": 200}
    cur = {"a": 180, "b": 150, "c": 90, "new": 30}
    vals = T.categorical_tests(["psi", "js", "chi2"], base, cur)
    b = np.array([500, 300, 200, 0]) / 1000
    c = np.array([180, 150, 90, 30]) / 450
    assert vals["psi"] == pytest.approx(psi_reference(b, c), rel=1e-9)
    assert vals["js"] == pytest.approx(jensenshannon(b, c, base=2), rel=1e-9)
    obs = np.array([180, 150, 90], dtype=float)
    ref = sps.chisquare(obs, np.array([0.5, 0.3, 0.2]) * obs.sum())
    assert vals["chi2"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert vals["chi2_statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert T.categorical_tests(["chi2"], {"a": 10}, {"a": 5}) == {}  # one category: no test


# -- in a monitoring run -------------------------------------------------------------------------


def _run(base: pl.DataFrame, cur: pl.DataFrame, tests: list[DriftTest]):
    stats = to_statistics(profile_batch(base))
    return check_data_quality(read_statistics(stats), suggest_constraints(stats), profile_batch(cur), CheckOptions(drift_tests=tests))


def _frames(shift: float, n: int = 3000, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    cats = ["x", "y", "z"]
    base = pl.DataFrame({"num": rng.normal(0, 1, n), "cat": rng.choice(cats, n, p=[0.5, 0.3, 0.2]).tolist()})
    p2 = [0.5 - shift / 2, 0.3, 0.2 + shift / 2]
    cur = pl.DataFrame({"num": rng.normal(shift, 1, n), "cat": rng.choice(cats, n, p=p2).tolist()})
    return base, cur


def test_report_only_tests_give_values_and_no_violations() -> None:
    base, cur = _frames(0.15)
    report = _run(base, cur, ALL)
    assert report.violations == []  # a 0.15-sigma shift is below the default Robust L-infinity 0.1
    num, cat = report.features
    assert set(num.extra) == {"ks", "ks_statistic", "wasserstein", "psi", "js"}
    assert set(cat.extra) == {"psi", "js", "chi2", "chi2_statistic"}
    assert num.extra["ks"] < 0.01 and num.extra["wasserstein"] > 0.1


def test_thresholds_raise_violations_naming_the_test() -> None:
    base, cur = _frames(0.15)
    tests = [parse_drift_test(s) for s in ("ks=0.01", "wasserstein=0.1", "psi=0.5", "js=0.5", "chi2=0.01")]
    report = _run(base, cur, tests)
    descs = [(v["feature_name"], v["constraint_check_type"], v["description"].split(":")[0]) for v in report.violations]
    assert descs == [
        ("num", "baseline_drift_check", "Baseline drift ks p-value"),
        ("num", "baseline_drift_check", "Baseline drift wasserstein"),
        ("cat", "baseline_drift_check", "Baseline drift chi2 p-value"),
    ]
    wass = report.violations[1]["description"]
    assert wass.endswith(" exceeds threshold: 0.1")
    assert float(wass.split(": ")[1].split(" ")[0]) == pytest.approx(report.features[0].extra["wasserstein"])


def test_same_distribution_raises_no_extra_test_violation() -> None:
    base, cur = _frames(0.0, seed=3)
    tests = [parse_drift_test(s) for s in ("ks=0.001", "wasserstein=0.1", "psi=0.1", "js=0.1", "chi2=0.001")]
    assert _run(base, cur, tests).violations == []


def test_p_value_tests_alarm_on_tiny_shifts_in_big_windows_robust_does_not() -> None:
    rng = np.random.default_rng(12)
    base = pl.DataFrame({"v": rng.normal(0, 1, 150_000)})
    cur = pl.DataFrame({"v": rng.normal(0.03, 1, 150_000)})  # 0.03 sigma: practically nothing
    report = _run(base, cur, [parse_drift_test("ks=0.01")])
    assert [v["description"].split(":")[0] for v in report.violations] == ["Baseline drift ks p-value"]
    assert report.features[0].drift_distance < 0.01  # Robust L-infinity: far below 0.1


def test_disabled_drift_check_computes_no_tests() -> None:
    base, cur = _frames(0.3)
    stats = to_statistics(profile_batch(base))
    opts = CheckOptions(disabled={("num", "baseline_drift_check")}, drift_tests=[parse_drift_test("psi=0.01")])
    report = check_data_quality(read_statistics(stats), suggest_constraints(stats), profile_batch(cur), opts)
    assert report.features[0].extra == {} and report.features[0].drift_distance is None
    assert [v["feature_name"] for v in report.violations] == ["cat", "cat"]


def test_ks_on_large_compacted_sketches_does_not_call_same_distribution_drifted() -> None:
    """Sketch rank error must not masquerade as drift: two 600k samples of one distribution."""
    import numpy as np

    from mmon.checks.drift_tests import ks_test
    from mmon.stats.kll import KLLSketch

    pvalues = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        a, b = KLLSketch(), KLLSketch()
        a.update(rng.normal(0, 1, 600_000))
        b.update(rng.normal(0, 1, 600_000))
        pvalues.append(ks_test(a, b)[1])
    assert min(pvalues) > 0.001, pvalues
    # ...while a real shift of a tenth of a standard deviation is still found.
    rng = np.random.default_rng(9)
    a, b = KLLSketch(), KLLSketch()
    a.update(rng.normal(0, 1, 600_000))
    b.update(rng.normal(0.1, 1, 600_000))
    assert ks_test(a, b)[1] < 1e-6
