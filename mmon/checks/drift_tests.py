"""Extra drift tests (mmon extension, ``--drift-test``), computed from the statistics alone.

Every test reads only what ``statistics.json`` keeps -- the baseline's KLL sketch, ``std_dev`` and
categorical buckets -- and the current window's profile; no second pass over the baseline data.
On exact sketches (n <= 2050 values) the numeric tests equal scipy's on the raw data (tested in
``tests/checks/test_drift_tests.py``); on compacted sketches they inherit the sketch's rank error.

Numeric features:

* ``ks`` -- two-sample Kolmogorov-Smirnov. ``D = max_x |F_b(x) - F_c(x)|`` over the sketches'
  items (= Deequ's ``linf_simple``); p-value from Smirnov's distribution for the effective size
  ``round(n m / (n + m))``: ``scipy.stats.kstwo.sf(D, round(n m / (n + m)))`` -- exactly what
  ``scipy.stats.ks_2samp(method="asymp")`` computes (Hodges 1958; Simard & L'Ecuyer 2011).
  Reported value: the p-value (``ks``; the statistic as ``ks_statistic``); drift when p < threshold.
  A compacted sketch counts as at most ``SKETCH_EFFECTIVE_N`` = 250 000 observations, because its
  own rank error (~0.15 % of n) would otherwise dominate D and make the test call identical
  distributions different at large n.
* ``wasserstein`` -- first Wasserstein (earth mover's) distance
  ``W1 = integral |F_b(x) - F_c(x)| dx``, exact for the two step CDFs of the sketches
  (``sum_i |F_b(u_i) - F_c(u_i)| (u_{i+1} - u_i)`` over the sorted union of items; equals
  ``scipy.stats.wasserstein_distance`` on exact sketches), **divided by the baseline's population
  standard deviation** (``std_dev`` of statistics.json) so one threshold fits every column: 0.1 =
  "mass moved by a tenth of a standard deviation on average". A constant baseline (std 0) gives
  0 when nothing moved and +inf otherwise. Drift when value > threshold.
* ``psi`` -- population stability index on the baseline's deciles: edges = the distinct baseline
  sketch quantiles at 0.1 … 0.9 (lower quantile, ``numpy.quantile(method="inverted_cdf")`` on
  exact sketches), bins ``(-inf, e_1], (e_1, e_2], …, (e_k, +inf)`` -- deciles rather than the 10
  equal-width KLL buckets, which put almost everything in one bucket for skewed columns. Bin
  shares from both sketches' CDFs, floored at ``EPSILON = 1e-4`` and renormalised;
  ``PSI = sum (c_i - b_i) ln(c_i / b_i)`` = KL(c‖b) + KL(b‖c) (Siddiqi 2006, "Credit Risk
  Scorecards"; Deequ ``populationStabilityIndex``). Rule of thumb: < 0.1 stable, > 0.2 shifted.
* ``js`` -- Jensen-Shannon distance (square root of the JS divergence, base 2, in [0, 1]) of the
  same bin shares (no epsilon needed): ``sqrt((KL(b‖m) + KL(c‖m)) / 2)``, ``m = (b + c) / 2``
  (Lin 1991; ``scipy.spatial.distance.jensenshannon(b, c, base=2)``).

Categorical features (baseline categorical buckets vs current value counts):

* ``psi`` and ``js`` on the category shares over the union of categories (new categories have
  baseline share 0, floored at the epsilon for PSI);
* ``chi2`` -- Pearson's chi-squared goodness of fit of the current counts to the baseline
  shares, with Deequ's merging of small categories (``mmon.checks.drift.chi_squared``);
  ``scipy.stats.chisquare`` when nothing is merged. Value: the p-value (``chi2``; statistic as
  ``chi2_statistic``); drift when p < threshold; no value when fewer than 2 categories remain.

The p-value tests are opt-in for a reason: on large windows they call tiny differences (and the
sketch's own approximation) significant; see the ``mmon.checks.drift`` docstring.
"""

from __future__ import annotations

import math

import numpy as np

from mmon.jsonfmt import java_double_str
from mmon.stats.kll import KLLSketch, linf_distance

from .drift import chi_squared
from .model import CHI2, JS, KS, P_VALUE_TESTS, PSI, WASSERSTEIN

EPSILON = 1e-4
DECILES = np.arange(1, 10) / 10.0


# -- numeric ------------------------------------------------------------------------------------


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided two-sample KS p-value, Smirnov's distribution at the effective size (scipy asymp)."""
    big, small = max(n, m), min(n, m)
    en = max(1, int(np.round(big * small / (big + small))))
    from scipy import stats as sps  # here, not at import: scipy.stats costs ~0.5 s of every command's start

    return float(sps.kstwo.sf(d, en))


# A compacted KLL sketch (k = 2048) answers ranks to about 0.1-0.2 % of n (measured: 0.15 % at
# 10^6 values). Beyond ~1/eps^2 = 250 000 values that error is larger than the KS statistic's own
# resolution, and p-values computed with the full n call same-distribution samples drifted
# (measured: p ~ 1e-7 for two independent 10^6-row samples). A compacted sketch therefore counts
# as at most this many observations; exact sketches (n <= 2050) keep their n.
SKETCH_EFFECTIVE_N = 250_000


def effective_n(sketch: KLLSketch) -> int:
    """Sample size a sketch's CDF can vouch for (see SKETCH_EFFECTIVE_N)."""
    return sketch.count if sketch.num_levels <= 1 else min(sketch.count, SKETCH_EFFECTIVE_N)


def ks_test(baseline: KLLSketch, current: KLLSketch) -> tuple[float, float]:
    """(D, p-value) of the two sketches; sizes capped by what a compacted sketch can resolve."""
    d = linf_distance(baseline, current)
    return d, ks_pvalue(d, effective_n(baseline), effective_n(current))


def wasserstein(baseline: KLLSketch, current: KLLSketch) -> float:
    """W1 distance of the two sketches' step CDFs (exact for the step functions)."""
    items_b, _ = baseline.sorted_items()
    items_c, _ = current.sorted_items()
    if items_b.size == 0 or items_c.size == 0:
        raise ValueError("Wasserstein distance of an empty sketch is undefined")
    u = np.union1d(items_b, items_c)
    if u.size < 2:
        return 0.0
    fb = np.asarray(baseline.cdf(u[:-1]), dtype=np.float64)
    fc = np.asarray(current.cdf(u[:-1]), dtype=np.float64)
    return float(np.sum(np.abs(fb - fc) * np.diff(u)))


def normalised_wasserstein(baseline: KLLSketch, current: KLLSketch, scale: float | None) -> float:
    """``wasserstein / scale`` (scale = the baseline's std_dev); 0 or +inf for a zero scale."""
    w = wasserstein(baseline, current)
    if scale is None or not math.isfinite(scale) or scale <= 0:
        return 0.0 if w == 0 else math.inf
    return w / scale


def decile_edges(baseline: KLLSketch) -> np.ndarray:
    """Distinct baseline quantiles at 0.1 … 0.9 (the PSI / JS bin edges)."""
    return np.unique(np.asarray(baseline.quantile(DECILES), dtype=np.float64))


def binned_shares(sketch: KLLSketch, edges: np.ndarray) -> np.ndarray:
    """Shares of bins ``(-inf, e_1], (e_1, e_2], …, (e_k, +inf)`` from the sketch CDF."""
    cdf = np.asarray(sketch.cdf(edges), dtype=np.float64) if edges.size else np.empty(0)
    return np.diff(np.concatenate(([0.0], cdf, [1.0])))


# -- categorical --------------------------------------------------------------------------------


def category_shares(baseline: dict[str, int], current: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Shares of the union of categories (baseline order, then new current categories)."""
    keys = list(baseline) + [k for k in current if k not in baseline]
    b = np.array([baseline.get(k, 0) for k in keys], dtype=np.float64)
    c = np.array([current.get(k, 0) for k in keys], dtype=np.float64)
    if b.sum() == 0 or c.sum() == 0:
        raise ValueError("shares of an empty distribution are undefined")
    return b / b.sum(), c / c.sum()


# -- divergences on shares ----------------------------------------------------------------------


def psi(baseline_shares: np.ndarray, current_shares: np.ndarray, eps: float = EPSILON) -> float:
    """``sum (c - b) ln(c / b)`` after flooring both at ``eps`` and renormalising."""
    b = np.maximum(np.asarray(baseline_shares, dtype=np.float64), eps)
    c = np.maximum(np.asarray(current_shares, dtype=np.float64), eps)
    b, c = b / b.sum(), c / c.sum()
    return float(np.sum((c - b) * np.log(c / b)))


def _kl2(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))


def js_distance(baseline_shares: np.ndarray, current_shares: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (0 = identical, 1 = disjoint)."""
    b = np.asarray(baseline_shares, dtype=np.float64)
    c = np.asarray(current_shares, dtype=np.float64)
    b, c = b / b.sum(), c / c.sum()
    m = (b + c) / 2
    return math.sqrt(max(0.0, (_kl2(b, m) + _kl2(c, m)) / 2))


# -- running the requested tests on one feature -------------------------------------------------


def numeric_tests(
    names: list[str], baseline: KLLSketch, current: KLLSketch, baseline_std: float | None
) -> dict[str, float]:
    """Values of the requested numeric tests (``ks`` adds ``ks_statistic``)."""
    out: dict[str, float] = {}
    shares: tuple[np.ndarray, np.ndarray] | None = None
    for name in names:
        if name == KS:
            d, p = ks_test(baseline, current)
            out[KS], out["ks_statistic"] = p, d
        elif name == WASSERSTEIN:
            out[WASSERSTEIN] = normalised_wasserstein(baseline, current, baseline_std)
        elif name in (PSI, JS):
            if shares is None:
                edges = decile_edges(baseline)
                shares = (binned_shares(baseline, edges), binned_shares(current, edges))
            out[name] = psi(*shares) if name == PSI else js_distance(*shares)
    return out


def categorical_tests(names: list[str], baseline: dict[str, int], current: dict[str, int]) -> dict[str, float]:
    """Values of the requested categorical tests (``chi2`` adds ``chi2_statistic``)."""
    out: dict[str, float] = {}
    for name in names:
        if name == CHI2:
            r = chi_squared(current, baseline)
            if not math.isnan(r.p_value):  # < 2 categories: no test, no value
                out[CHI2], out["chi2_statistic"] = r.p_value, r.statistic
        elif name in (PSI, JS):
            b, c = category_shares(baseline, current)
            out[name] = psi(b, c) if name == PSI else js_distance(b, c)
    return out


def exceeds(name: str, value: float, threshold: float) -> bool:
    """Whether a test value means drift: p-values below, distances above the threshold."""
    if math.isnan(value):
        return False
    return value < threshold if name in P_VALUE_TESTS else value > threshold


def description(name: str, value: float, threshold: float) -> str:
    if name in P_VALUE_TESTS:
        return f"Baseline drift {name} p-value: {java_double_str(value)} is below threshold: {java_double_str(threshold)}"
    return f"Baseline drift {name}: {java_double_str(value)} exceeds threshold: {java_double_str(threshold)}"
