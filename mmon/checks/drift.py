"""``baseline_drift_check``: SageMaker's distribution distances, from the two statistics.

All formulas are Deequ's ``analyzers/Distance.scala`` (format study §2.4), computed from what the
statistics keep -- the baseline's KLL sketch / categorical buckets and the current window's
sketch / value counts -- never from the raw baseline data.

* Numeric (``numericalDistance``): for every item ``x`` of either sketch,
  ``cdf_i(x) = rank_i(x) / n_i`` (inclusive rank, ``n_i`` = total sketch weight);
  ``linf_simple = max_x |cdf_1(x) - cdf_2(x)|``. For exact sketches (n <= 2050) this is the
  two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp(...).statistic``).
* Categorical, ``LInfinity`` (``categoricalLInfinityDistance``):
  ``linf_simple = max_k |c_1(k)/n - c_2(k)/m|`` over the union of categories (frequency, not
  cumulative).
* ``comparison_method``: ``Simple`` uses ``linf_simple``; ``Robust`` (the default) uses
  ``linf_robust = max(0, linf_simple - c_alpha * sqrt((n + m) / (n m)))`` with ``c_alpha = 1.8``
  (Deequ ``selectMetrics``; the two-sample KS critical value for alpha ~ 0.003, Knuth TAOCP 2
  §3.3.1 eq. 15). Deequ applies the same correction to the categorical L-infinity distance.
* Violation when ``distance > threshold`` (``comparison_threshold`` for numeric features,
  ``categorical_comparison_threshold`` for String features); description (SageMaker's wording,
  Java doubles): ``Baseline drift distance: 0.30791265775509713 exceeds threshold: 0.1``.
* ``ChiSquared`` (``categoricalChiSquareTest``): observed = current counts of the baseline's
  categories (current values the baseline never saw are ignored, as in Deequ), expected =
  baseline counts rescaled to the observed total; small expected categories are merged first
  (more than 2 categories: at most 20 % may be below 5; exactly 2: both must be >= 10; otherwise
  the smallest is folded into the second smallest, repeatedly; ties broken by baseline order);
  Pearson's statistic with ``k - 1`` degrees of freedom (Spark MLlib ``chiSqTest``).
  mmon's choices where SageMaker is not documented: the **p-value** is compared, whatever
  ``comparison_method`` says, and **p < categorical_comparison_threshold ⇒ drift** (Deequ would
  return the raw statistic for ``Simple``, which no threshold of 0.1 makes sense for); fewer than 2
  baseline categories left after merging ⇒ no value (Deequ counts the *current* categories there,
  so a window with a single value would escape); a window in which no value is a baseline category
  ⇒ p = 0. Description: ``Baseline drift chi-squared p-value: 1.2E-5 is below threshold: 0.1``.
* Not drift-checked (no distribution to compare): String features without categorical buckets in
  the baseline (> 120 distinct values), current windows with > 1000 distinct values, empty
  sketches. A numeric baseline is compared with the current window's numeric values even when
  that column also holds text (``data_type_check`` reports the text).

Why Robust L-infinity stays the default: it is a *distance* threshold (an effect size), not a
significance test. Sampling noise in ``linf_simple`` shrinks like ``1/sqrt(n)`` and Robust
subtracts the KS critical margin on top, so two large samples of the same distribution give
~0 and never alarm, while a real shift of 0.1 in CDF alarms at any size. P-value tests (KS,
chi-squared; ``mmon.checks.drift_tests``) do the opposite on big windows: with 150 000 rows a
shift of 0.03 standard deviations is "significant" (p < 1e-9, tested), and so can be differences
the size of the KLL sketch's own rank error; so they are opt-in with a user-chosen threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmon.jsonfmt import java_double_str
from mmon.stats.kll import KLLSketch, linf_distance

from .config import ROBUST

DEFAULT_C_ALPHA = 1.8
# Deequ's chi-squared regrouping thresholds (Yates, Moore & McCabe 1999; Cochran 1952).
ABS_THRESHOLD_YATES = 5
PERC_THRESHOLD_YATES = 0.2
ABS_THRESHOLD_COCHRAN = 10


def c_alpha(alpha: float | None = None) -> float:
    """Deequ: 1.8 by default, else ``sqrt(-ln(alpha / 2) / 2)``."""
    return DEFAULT_C_ALPHA if alpha is None else math.sqrt(-math.log(alpha / 2) * 1 / 2)


def robust_margin(n: float, m: float, c: float = DEFAULT_C_ALPHA) -> float:
    """``c_alpha * sqrt((n + m) / (n m))``: what Robust subtracts from ``linf_simple``."""
    return c * math.sqrt((n + m) / (n * m))


def linf_robust(simple: float, n: float, m: float, c: float = DEFAULT_C_ALPHA) -> float:
    """Deequ ``selectMetrics`` (robust branch): ``max(0, simple - robust_margin(n, m))``."""
    return max(0.0, simple - robust_margin(n, m, c))


def select(simple: float, n: float, m: float, method: str) -> float:
    return linf_robust(simple, n, m) if method == ROBUST else simple


def numeric_linf(baseline: KLLSketch, current: KLLSketch) -> tuple[float, int, int]:
    """(linf_simple, n_baseline, n_current) of two KLL sketches (Deequ ``numericalDistance``)."""
    return linf_distance(baseline, current), baseline.count, current.count


def categorical_linf(baseline: dict[str, int], current: dict[str, int]) -> tuple[float, int, int]:
    """(linf_simple, n, m): ``max_k |b(k)/n - c(k)/m|`` (Deequ ``categoricalLInfinityDistance``)."""
    n = sum(baseline.values())
    m = sum(current.values())
    if n == 0 or m == 0:
        raise ValueError("L-infinity distance of an empty distribution is undefined")
    fn, fm = float(n), float(m)
    simple = 0.0
    for key in baseline.keys() | current.keys():
        simple = max(simple, abs(baseline.get(key, 0) / fn - current.get(key, 0) / fm))
    return simple, n, m


@dataclass(frozen=True)
class ChiSquared:
    statistic: float
    p_value: float
    dof: int
    categories: int  # categories compared, after merging


def regroup(observed: dict[str, float], expected: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Deequ ``regroupCategories`` on copies: merge the smallest expected categories until valid."""
    obs, exp = dict(observed), dict(expected)
    while len(exp) >= 2:
        if len(exp) > 2:
            limit, max_below = ABS_THRESHOLD_YATES, int(PERC_THRESHOLD_YATES * len(exp))
        else:
            limit, max_below = ABS_THRESHOLD_COCHRAN, 0
        if sum(1 for v in exp.values() if v < limit) <= max_below:
            break
        smallest = min(exp, key=exp.__getitem__)  # first in order on ties
        e_min = exp.pop(smallest)
        o_min = obs.pop(smallest, 0.0)
        second = min(exp, key=exp.__getitem__)
        exp[second] += e_min
        obs[second] = obs.get(second, 0.0) + o_min
    return obs, exp


def chi_squared(current: dict[str, int], baseline: dict[str, int]) -> ChiSquared:
    """Pearson's chi-squared goodness of fit of the current counts to the baseline frequencies.

    Deequ ``categoricalChiSquareTest`` (see module docstring); reference: Pearson (1900); scipy
    equivalent without merging: ``scipy.stats.chisquare(obs, exp)``.
    """
    base = {k: float(v) for k, v in baseline.items() if v > 0}
    sample_sum = float(sum(current.get(k, 0) for k in base))
    expected_sum = sum(base.values())
    if not base or expected_sum == 0:
        return ChiSquared(math.nan, math.nan, 0, len(base))
    if sample_sum == 0:
        # Every current value is new: the baseline frequencies cannot explain the window at all.
        return ChiSquared(math.inf, 0.0, len(base) - 1, len(base))
    expected = {k: v / expected_sum * sample_sum for k, v in base.items()}
    observed = {k: float(current.get(k, 0)) for k in base}
    observed, expected = regroup(observed, expected)
    k = len(expected)
    if k < 2:
        return ChiSquared(math.nan, math.nan, 0, k)
    statistic = 0.0
    for key, e in expected.items():
        d = observed.get(key, 0.0) - e
        statistic += d * d / e
    dof = k - 1
    from scipy import stats as sps  # here, not at import: scipy.stats costs ~0.5 s of every command's start

    return ChiSquared(statistic, float(sps.chi2.sf(statistic, dof)), dof, k)


def description(distance: float, threshold: float) -> str:
    return f"Baseline drift distance: {java_double_str(distance)} exceeds threshold: {java_double_str(threshold)}"


def chi_squared_description(p_value: float, threshold: float) -> str:
    return (
        f"Baseline drift chi-squared p-value: {java_double_str(p_value)} is below threshold: "
        f"{java_double_str(threshold)}"
    )
