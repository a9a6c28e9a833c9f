"""Clarify's bias metrics as pure functions of counts (format study §7.3; smclarify 0.5 code).

Notation (Clarify's): facet *d* = the rows of the sensitive group (``value_or_threshold``), facet
*a* = every other row. ``n_a``/``n_d`` are row counts, ``n_a1``/``n_d1`` rows with a positive
*observed* label, ``n_a1hat``/``n_d1hat`` rows with a positive *predicted* label (``0`` suffixes:
negative), and ``tp_a, fp_a, fn_a, tn_a`` (``_d``) the confusion-matrix cells of each facet.

Every function is pure: numbers in, one float out. A metric that is undefined on its input raises
:class:`MetricUndefined` with Clarify's message (``"Facet set is empty"``, ``"No positive labels in
set"`` …); the analysis writes it as ``"value": null, "error": message``. Division follows
smclarify's ``divide``: ``0/0 = 0``, ``x/0 = ±inf``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

INF = math.inf


class MetricUndefined(ValueError):
    """The metric has no value on this data (Clarify reports ``value: null`` with this error)."""


def divide(a: float, b: float) -> float:
    """smclarify ``divide``: ``a/b``; ``0/0 = 0.0``; ``a/0 = +inf`` (``-inf`` when ``a < 0``)."""
    if b == 0:
        if a == 0:
            return 0.0
        return -INF if a < 0 else INF
    return a / b


def _facets_present(n_a: int, n_d: int) -> None:
    if n_d == 0:
        raise MetricUndefined("Facet set is empty")
    if n_a == 0:
        raise MetricUndefined("Negated facet set is empty")


def _diff(x: float, y: float) -> float:
    """``x - y`` with smclarify's rule: 0 when both are +inf (instead of NaN)."""
    if x == y and x == INF:
        return 0.0
    return x - y


# -- pre-training -------------------------------------------------------------------------------


def ci(n_a: int, n_d: int) -> float:
    """Class Imbalance (CI)

    CI = (n_a - n_d) / (n_a + n_d), in [-1, 1]; 0 = both facets equally represented.
    """
    _facets_present(n_a, n_d)
    return float(n_a - n_d) / (n_a + n_d)


def dpl(n_a: int, n_a1: int, n_d: int, n_d1: int) -> float:
    """Difference in Positive Proportions in Labels (DPL)

    DPL = q_a - q_d with q = n^(1) / n, the share of positive observed labels of each facet.
    """
    _facets_present(n_a, n_d)
    return n_a1 / n_a - n_d1 / n_d


def _aligned_nonzero(p_a: Sequence[float], p_d: Sequence[float]) -> tuple[list[float], list[float]]:
    """Keep the label values with non-zero mass in both distributions (smclarify pdfs_aligned_nonzero)."""
    pairs = [(x, y) for x, y in zip(p_a, p_d, strict=True) if x != 0 and y != 0]
    if not pairs:
        raise MetricUndefined("No instance of common facet found, dataset may be too small")
    return [x for x, _ in pairs], [y for _, y in pairs]


def kl(p_a: Sequence[float], p_d: Sequence[float]) -> float:
    """Kullback-Liebler Divergence (KL)

    KL(P_a, P_d) = sum_x P_a(x) * ln(P_a(x) / P_d(x)), over the label values x with non-zero mass
    in both facets' label distributions (P_a, P_d aligned on the same values, natural log).
    """
    a, d = _aligned_nonzero(p_a, p_d)
    return float(sum(x * math.log(x / y) for x, y in zip(a, d, strict=True)))


def js(p_a: Sequence[float], p_d: Sequence[float]) -> float:
    """Jensen-Shannon Divergence (JS)

    JS = 1/2 [KL(P_a, P) + KL(P_d, P)] with P = (P_a + P_d) / 2, over values non-zero in both.
    """
    a, d = _aligned_nonzero(p_a, p_d)
    m = [(x + y) / 2 for x, y in zip(a, d, strict=True)]
    return 0.5 * (
        sum(x * math.log(x / z) for x, z in zip(a, m, strict=True))
        + sum(y * math.log(y / z) for y, z in zip(d, m, strict=True))
    )


def lp(p_a: Sequence[float], p_d: Sequence[float]) -> float:
    """L-p Norm (LP)

    LP = ||P_a - P_d||_2 = sqrt(sum_x (P_a(x) - P_d(x))^2), over values non-zero in both.
    """
    a, d = _aligned_nonzero(p_a, p_d)
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, d, strict=True)))


def tvd(p_a: Sequence[float], p_d: Sequence[float]) -> float:
    """Total Variation Distance (TVD)

    TVD = 1/2 ||P_a - P_d||_1 = 1/2 sum_x |P_a(x) - P_d(x)|, over values non-zero in both.
    """
    a, d = _aligned_nonzero(p_a, p_d)
    return 0.5 * sum(abs(x - y) for x, y in zip(a, d, strict=True))


def ks(p_a: Sequence[float], p_d: Sequence[float]) -> float:
    """Kolmogorov-Smirnov Distance (KS)

    KS = max_x |P_a(x) - P_d(x)|, over values non-zero in both.
    """
    a, d = _aligned_nonzero(p_a, p_d)
    return max(abs(x - y) for x, y in zip(a, d, strict=True))


@dataclass(frozen=True)
class GroupCounts:
    """Counts of one subgroup i of the group variable (for CDDL / CDDPL)."""

    n: int  # rows of the subgroup
    n_pos: int  # rows with a positive (observed or predicted) label
    n_pos_d: int  # … of them in facet d
    n_neg: int  # rows with a negative label
    n_neg_d: int  # … of them in facet d


def cdd(groups: Sequence[GroupCounts] | None, total_pos: int, total_neg: int) -> float:
    """Conditional Demographic Disparity (CDDL on observed labels, CDDPL on predicted labels)

    CDD = sum_i n_i * (D_i - A_i) / sum_i n_i over the subgroups i of ``group_variable``, with
    D_i = n_neg_d,i / n_neg,i (share of facet d among the subgroup's rejections) and
    A_i = n_pos_d,i / n_pos,i (share among its acceptances), each 0 when its denominator is 0.
    """
    if not groups:
        raise MetricUndefined("Group variable is empty or not provided")
    if total_pos == 0:
        raise MetricUndefined("No positive labels in set")
    if total_neg == 0:
        raise MetricUndefined("No negative labels in set")
    num = 0.0
    den = 0
    for g in groups:
        a = g.n_pos_d / g.n_pos if g.n_pos else 0.0
        d = g.n_neg_d / g.n_neg if g.n_neg else 0.0
        num += g.n * (d - a)
        den += g.n
    return divide(num, den)


# -- post-training ------------------------------------------------------------------------------


def dppl(n_a: int, n_a1hat: int, n_d: int, n_d1hat: int) -> float:
    """Difference in Positive Proportions in Predicted Labels (DPPL)

    DPPL = q^_a - q^_d with q^ = n^(1)hat / n, the share of positive predictions of each facet.
    """
    return dpl(n_a, n_a1hat, n_d, n_d1hat)


def di(n_a: int, n_a1hat: int, n_d: int, n_d1hat: int) -> float:
    """Disparate Impact (DI)

    DI = q^_d / q^_a (ratio of the predicted-positive shares; 1 = parity, +inf when q^_a = 0).
    """
    _facets_present(n_a, n_d)
    return divide(n_d1hat / n_d, n_a1hat / n_a)


def dca(n_a1: int, n_a1hat: int, n_d1: int, n_d1hat: int, n_a: int = 1, n_d: int = 1) -> float:
    """Difference in Conditional Acceptance (DCA)

    DCA = c_a - c_d with c = n^(1) / n^(1)hat (observed positives per predicted positive);
    0 when both c are +inf.
    """
    _facets_present(n_a, n_d)
    return _diff(divide(n_a1, n_a1hat), divide(n_d1, n_d1hat))


def dcr(n_a0: int, n_a0hat: int, n_d0: int, n_d0hat: int, n_a: int = 1, n_d: int = 1) -> float:
    """Difference in Conditional Rejection (DCR)

    DCR = r_d - r_a with r = n^(0) / n^(0)hat (observed negatives per predicted negative);
    0 when both r are +inf.
    """
    _facets_present(n_a, n_d)
    return _diff(divide(n_d0, n_d0hat), divide(n_a0, n_a0hat))


def rd(tp_a: int, fn_a: int, tp_d: int, fn_d: int, n_a: int = 1, n_d: int = 1) -> float:
    """Recall Difference (RD)

    RD = TP_a / (TP_a + FN_a) - TP_d / (TP_d + FN_d)  (recall of a minus recall of d).
    """
    _facets_present(n_a, n_d)
    return _diff(divide(tp_a, tp_a + fn_a), divide(tp_d, tp_d + fn_d))


def sd(tn_a: int, fp_a: int, tn_d: int, fp_d: int, n_a: int = 1, n_d: int = 1) -> float:
    """Specificity Difference (SD)

    SD = TN_d / (TN_d + FP_d) - TN_a / (TN_a + FP_a)  (specificity of d minus specificity of a).
    """
    _facets_present(n_a, n_d)
    return _diff(divide(tn_d, tn_d + fp_d), divide(tn_a, tn_a + fp_a))


def dar(tp_a: int, n_a1hat: int, tp_d: int, n_d1hat: int, n_a: int = 1, n_d: int = 1) -> float:
    """Difference in Acceptance Rates (DAR)

    DAR = TP_a / n^(1)hat_a - TP_d / n^(1)hat_d  (precision of a minus precision of d).
    """
    _facets_present(n_a, n_d)
    return _diff(divide(tp_a, n_a1hat), divide(tp_d, n_d1hat))


def drr(tn_a: int, n_a0hat: int, tn_d: int, n_d0hat: int, n_a: int = 1, n_d: int = 1) -> float:
    """Difference in Rejection Rates (DRR)

    DRR = TN_d / n^(0)hat_d - TN_a / n^(0)hat_a  (negative predictive value of d minus that of a).
    """
    _facets_present(n_a, n_d)
    return _diff(divide(tn_d, n_d0hat), divide(tn_a, n_a0hat))


def ad(tp_a: int, tn_a: int, n_a: int, tp_d: int, tn_d: int, n_d: int) -> float:
    """Accuracy Difference (AD)

    AD = (TP_a + TN_a) / n_a - (TP_d + TN_d) / n_d  (accuracy of a minus accuracy of d).
    """
    _facets_present(n_a, n_d)
    return _diff(divide(tp_a + tn_a, n_a), divide(tp_d + tn_d, n_d))


def te(fn_a: int, fp_a: int, fn_d: int, fp_d: int, n_a: int = 1, n_d: int = 1) -> float:
    """Treatment Equality (TE)

    TE = FN_d / FP_d - FN_a / FP_a; 0 when both ratios are +inf.
    """
    _facets_present(n_a, n_d)
    return _diff(divide(fn_d, fp_d), divide(fn_a, fp_a))


def ge(tp: int, fp: int, fn: int, tn: int, alpha: float = 2.0) -> float:
    """Generalized Entropy (GE)

    Over all rows (both facets): benefit b_i = yhat_i - y_i + 1 (FN → 0, TP/TN → 1, FP → 2),
    mu = mean(b); GE = sum_i [(b_i / mu)^alpha - 1] / (n * alpha * (alpha - 1)), alpha = 2.
    """
    n = tp + fp + fn + tn
    if n == 0:
        raise MetricUndefined("dataset must be non-empty")
    total = (tp + tn) * 1 + fp * 2
    if total == 0:
        raise MetricUndefined(
            "All predicted labels are false negatives. There should be at least one prediction that is not false negative."
        )
    mu = total / n
    s = fn * ((0 / mu) ** alpha - 1) + (tp + tn) * ((1 / mu) ** alpha - 1) + fp * ((2 / mu) ** alpha - 1)
    return s / (n * alpha * (alpha - 1))


def ft(n_d: int, flips_pos: int, flips_neg: int, n_a: int = 1) -> float:
    """Flip Test (FT)

    FT = (|F+| - |F-|) / n_d: a k-NN (k = 5, or 1 when n_a <= 9; Euclidean) fitted on facet a's
    features → predicted labels predicts each facet-d row; F+ = rows the model predicts positive
    and the k-NN negative, F- the reverse (counts from :func:`mmon.bias.fliptest.flip_counts`,
    smclarify's tie rule included).
    """
    _facets_present(n_a, n_d)
    return divide(flips_pos - flips_neg, n_d)


# -- registry -----------------------------------------------------------------------------------

PRE_TRAINING = ("CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD")
POST_TRAINING = ("AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "FT", "GE", "RD", "SD", "TE")
# Names accepted in analysis_config.json methods lists for the names the files use.
ALIASES = {"DCACC": "DCA", "DCAcc": "DCA"}

DESCRIPTIONS = {
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "AD": "Accuracy Difference (AD)",
    "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
    "DAR": "Difference in Acceptance Rates (DAR)",
    "DCA": "Difference in Conditional Acceptance (DCA)",
    "DCR": "Difference in Conditional Rejection (DCR)",
    "DI": "Disparate Impact (DI)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DRR": "Difference in Rejection Rates (DRR)",
    "FT": "Flip Test (FT)",
    "GE": "Generalized Entropy (GE)",
    "RD": "Recall Difference (RD)",
    "SD": "Specificity Difference (SD)",
    "TE": "Treatment Equality (TE)",
}
