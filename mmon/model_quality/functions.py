"""Model-quality metrics, one pure function per metric.

Every function takes counts or sums (never rows) and returns the metric. Counts may be plain
numbers or numpy arrays of the same shape, one entry per *sample*: the run computes the full data
set and SageMaker's five 80 % samples (for ``standard_deviation``) in one call. The row-level
work -- counting, summing, the one sort for the curves -- is done by polars in
:mod:`mmon.model_quality.compute`; :func:`score_groups` is the one helper here that touches rows.

Reference: format study ``shared/reference/sagemaker-formats.md`` §4.2 (DG
``model-monitor-model-quality-metrics``; REAL-MQ-2021, the churn example whose baseline these
functions reproduce bit for bit). Where SageMaker's Spark code fixes the floating-point evaluation
order, the same order is used here:

* Spark MLlib ``MulticlassMetrics``: ``precision(c) = tp / (tp + fp)`` (0 when nothing is
  predicted ``c``), ``recall(c) = tp / (tp + fn)``, ``fMeasure(c, β) = (1 + β²)·p·r / (β²·p + r)``
  (0 when ``p + r == 0``), weighted averages ``Σ_c metric(c) · n_c / n`` over the actual classes;
* Spark MLlib ``BinaryClassificationMetrics``: one ROC / PR point per distinct score (scores
  descending), ``AreaUnderCurve`` = left-to-right sum of trapezoids ``(x2 − x1)·(y2 + y1)/2``;
* SageMaker: ``true_negative_rate = 1 − false_positive_rate`` and
  ``false_negative_rate = 1 − recall`` -- the only forms that give the real thresholds
  ``0.4285714285714286`` (= 1 − 16/28; 12/28 is ``…855``) and ``0.8667953667953667``
  (= 1 − 69/518; 449/518 is ``…668``) of REAL-MQ-2021 (§4.4).

Division by zero gives 0 (REAL-MQ-2021: ``precision_best_constant_classifier`` is 0 when the
constant classifier predicts nothing positive).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

ArrayLike = Any  # float | int | np.ndarray

__all__ = [
    "safe_divide",
    "recall",
    "precision",
    "accuracy",
    "true_positive_rate",
    "false_positive_rate",
    "true_negative_rate",
    "false_negative_rate",
    "f_beta",
    "best_constant_class",
    "multiclass_accuracy",
    "weighted_recall",
    "weighted_precision",
    "weighted_f_beta",
    "score_groups",
    "roc_curve",
    "precision_recall_curve",
    "area_under_curve",
    "area_under_pr_counts",
    "area_under_roc_curve",
    "area_under_roc_counts",
    "thin_curve",
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "r2",
]


def _out(x: np.ndarray) -> ArrayLike:
    return float(x) if x.ndim == 0 else x


def safe_divide(num: ArrayLike, den: ArrayLike) -> ArrayLike:
    """``num / den`` in float64, 0 where ``den == 0`` (SageMaker's rule for every ratio, §4.2)."""
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    shape = np.broadcast_shapes(n.shape, d.shape)
    out = np.zeros(shape, dtype=np.float64)
    np.divide(n, d, out=out, where=np.broadcast_to(d != 0, shape))
    return _out(out)


# -- binary classification: confusion counts of the positive class ------------------------------


def recall(tp: ArrayLike, fn: ArrayLike) -> ArrayLike:
    """Recall = TP / (TP + FN): share of actual positives predicted positive (0 if none).

    DG ``model-monitor-model-quality-metrics``; Spark ``MulticlassMetrics.recall``. Equals
    scikit-learn ``recall_score(pos_label=…)``.
    """
    return safe_divide(tp, np.add(tp, fn))


def precision(tp: ArrayLike, fp: ArrayLike) -> ArrayLike:
    """Precision = TP / (TP + FP): share of positive predictions that are right (0 if none).

    REAL-MQ-2021 writes 0 for a constant negative classifier; scikit-learn
    ``precision_score(zero_division=0)`` agrees.
    """
    return safe_divide(tp, np.add(tp, fp))


def accuracy(correct: ArrayLike, total: ArrayLike) -> ArrayLike:
    """Accuracy = correct predictions / all predictions (binary: (TP + TN) / n)."""
    return safe_divide(correct, total)


def true_positive_rate(tp: ArrayLike, fn: ArrayLike) -> ArrayLike:
    """TPR = TP / (TP + FN), the same number as :func:`recall` (SageMaker reports both)."""
    return recall(tp, fn)


def false_positive_rate(fp: ArrayLike, tn: ArrayLike) -> ArrayLike:
    """FPR = FP / (FP + TN): share of actual negatives predicted positive (0 if no negatives)."""
    return safe_divide(fp, np.add(fp, tn))


def true_negative_rate(fp: ArrayLike, tn: ArrayLike) -> ArrayLike:
    """TNR = 1 − FPR (= TN / (TN + FP) up to rounding).

    SageMaker computes it as ``1 − FPR``: REAL-MQ-2021's run reports ``0.8667953667953667`` for
    69 false positives out of 518 negatives, which is ``1 − 69/518``, not ``449/518``. With no
    actual negatives FPR is 0, so TNR is 1.
    """
    return _out(1.0 - np.asarray(false_positive_rate(fp, tn), dtype=np.float64))


def false_negative_rate(tp: ArrayLike, fn: ArrayLike) -> ArrayLike:
    """FNR = 1 − recall (= FN / (FN + TP) up to rounding).

    SageMaker computes it as ``1 − recall``: REAL-MQ-2021's suggested threshold is
    ``0.4285714285714286`` = ``1 − 16/28`` (``12/28`` is ``0.42857142857142855``).
    """
    return _out(1.0 - np.asarray(recall(tp, fn), dtype=np.float64))


def f_beta(p: ArrayLike, r: ArrayLike, beta: float) -> ArrayLike:
    """F-beta = (1 + β²)·P·R / (β²·P + R), 0 when P + R = 0.

    β = 0.5, 1, 2 give SageMaker's ``f0_5``, ``f1``, ``f2``. Evaluation order of Spark's
    ``MulticlassMetrics.fMeasure`` (reproduces REAL-MQ-2021's ``0.19512195121951217`` and
    ``0.13633980073413737`` bit for bit). Equals scikit-learn ``fbeta_score``.
    """
    pa = np.asarray(p, dtype=np.float64)
    ra = np.asarray(r, dtype=np.float64)
    b2 = beta * beta
    num = (1.0 + b2) * pa * ra
    den = b2 * pa + ra
    shape = np.broadcast_shapes(pa.shape, ra.shape)
    out = np.zeros(shape, dtype=np.float64)
    np.divide(num, den, out=out, where=np.broadcast_to((pa + ra) != 0, shape))
    return _out(out)


def best_constant_class(support: ArrayLike) -> ArrayLike:
    """Index of the class a best constant classifier predicts: the most frequent actual class.

    ``support`` holds the actual-class counts along its last axis (one row per sample). Ties go
    to the first class in the given order. This is the accuracy-maximising constant and what the
    real 2021 container did (REAL-MQ-2021: ``accuracy_best_constant_classifier`` 173/201, recall
    and precision 0 -- the majority class 0 predicted throughout; the DG's examples predict the
    minority class instead, §4.2).
    """
    s = np.asarray(support)
    out = np.argmax(s, axis=-1)
    return int(out) if np.ndim(out) == 0 else out


# -- multiclass classification: confusion matrix cm[..., actual, predicted] ---------------------


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)  # actual counts
    predicted = cm.sum(axis=-2)
    n = support.sum(axis=-1)
    return tp, support, predicted, n


def _weighted(per_class: np.ndarray, support: np.ndarray, n: np.ndarray) -> ArrayLike:
    # Σ_c metric(c) · n_c / n, left to right over the classes (Spark: precision(c) * count / n).
    terms = np.asarray(safe_divide(per_class * support, n[..., None]))
    total = np.zeros(terms.shape[:-1], dtype=np.float64)
    for j in range(terms.shape[-1]):  # sequential over classes (few), vectorised over samples
        total = total + terms[..., j]
    return _out(total)


def multiclass_accuracy(cm: ArrayLike) -> ArrayLike:
    """Accuracy = trace(CM) / n for a confusion matrix ``cm[actual, predicted]``.

    Equals scikit-learn ``accuracy_score``.
    """
    tp, _support, _pred, n = _per_class(np.asarray(cm))
    return safe_divide(tp.sum(axis=-1), n)


def weighted_recall(cm: ArrayLike) -> ArrayLike:
    """Σ_c recall(c) · n_c / n, n_c = actual count of class c (mathematically the accuracy).

    Spark ``MulticlassMetrics.weightedRecall``; scikit-learn ``recall_score(average="weighted")``.
    """
    tp, support, _pred, n = _per_class(np.asarray(cm))
    return _weighted(np.asarray(safe_divide(tp, support)), support, n)


def weighted_precision(cm: ArrayLike) -> ArrayLike:
    """Σ_c precision(c) · n_c / n, precision(c) = 0 when nothing is predicted c.

    Spark ``MulticlassMetrics.weightedPrecision``; scikit-learn
    ``precision_score(average="weighted", zero_division=0)``; reproduces the DG example's 0.6983.
    """
    tp, support, predicted, n = _per_class(np.asarray(cm))
    return _weighted(np.asarray(safe_divide(tp, predicted)), support, n)


def weighted_f_beta(cm: ArrayLike, beta: float) -> ArrayLike:
    """Σ_c F_β(c) · n_c / n with F_β(c) from :func:`f_beta` of the class's precision and recall.

    Spark ``MulticlassMetrics.weightedFMeasure(beta)``; scikit-learn
    ``fbeta_score(average="weighted", zero_division=0)``.
    """
    tp, support, predicted, n = _per_class(np.asarray(cm))
    f = np.asarray(f_beta(safe_divide(tp, predicted), safe_divide(tp, support), beta))
    return _weighted(f, support, n)


# -- curves ---------------------------------------------------------------------------------


def score_groups(
    score: pl.Series, positive: pl.Series, weights: pl.Series | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (TP, FP) counts (int64) after each distinct score, scores descending (one sort).

    ``positive`` is the boolean "actual class is the positive class"; ``weights`` an optional
    boolean row filter (a sample). Spark ``BinaryClassificationMetrics`` builds its curves from
    exactly these counts (one point per distinct score, the whole tie group at once). Rows whose
    score is null or NaN are ignored.
    """
    df = pl.DataFrame({"s": score, "y": positive})
    if weights is not None:
        df = df.with_columns(w=weights)
    df = df.filter(pl.col("s").is_not_null() & pl.col("s").is_not_nan())
    if weights is not None:
        df = df.filter(pl.col("w"))
    df = df.sort("s", descending=True)
    end = (pl.col("s") != pl.col("s").shift(-1)).fill_null(True)
    out = df.select(
        tp=pl.col("y").cast(pl.Int64).cum_sum().filter(end),
        fp=(~pl.col("y")).cast(pl.Int64).cum_sum().filter(end),
    )
    return out["tp"].to_numpy(), out["fp"].to_numpy()


def roc_curve(tp_cum: np.ndarray, fp_cum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC points (false positive rates, true positive rates) from :func:`score_groups` counts.

    Spark ``BinaryClassificationMetrics.roc()``: (0, 0), then (FP/N, TP/P) after each distinct
    score, then (1, 1). A rate is 0 when its class is absent.
    """
    tp = np.asarray(tp_cum)
    fp = np.asarray(fp_cum)
    pos = float(tp[-1]) if tp.size else 0.0
    neg = float(fp[-1]) if fp.size else 0.0
    x = np.zeros(tp.size + 2, dtype=np.float64)
    y = np.zeros(tp.size + 2, dtype=np.float64)
    if neg:
        np.divide(fp, neg, out=x[1:-1])
    if pos:
        np.divide(tp, pos, out=y[1:-1])
    x[-1] = y[-1] = 1.0
    return x, y


def _without_empty_lead(tp: np.ndarray, fp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts without their leading points that hold no row (a sample that left out the top
    scores): on a PR curve they are no points."""
    if tp.size and tp[0] + fp[0] == 0:
        first = int(np.argmax((tp + fp) > 0)) if (tp[-1] + fp[-1]) > 0 else tp.size
        tp, fp = tp[first:], fp[first:]
    return tp, fp


def precision_recall_curve(tp_cum: np.ndarray, fp_cum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PR points (recalls, precisions) from :func:`score_groups` counts.

    Spark 3 ``BinaryClassificationMetrics.pr()``: (recall TP/P, precision TP/(TP+FP)) after each
    distinct score, preceded by (0, precision of the first point). Recall is 0 without positives.
    """
    tp, fp = _without_empty_lead(np.asarray(tp_cum), np.asarray(fp_cum))
    if tp.size == 0:
        return np.array([0.0]), np.array([1.0])
    pos = float(tp[-1])
    # Every point now has rows (counts are cumulative and the first is not empty): no 0/0.
    prec = np.empty(tp.size + 1, dtype=np.float64)
    np.add(tp, fp, out=prec[1:], dtype=np.float64)
    np.divide(tp, prec[1:], out=prec[1:])
    prec[0] = prec[1]
    rec = np.zeros(tp.size + 1, dtype=np.float64)
    if pos:
        np.divide(tp, pos, out=rec[1:])
    return rec, prec


def area_under_curve(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoid rule, summed left to right: Σ (x[i+1] − x[i])·(y[i+1] + y[i]) / 2.

    Spark ``AreaUnderCurve.of``; on :func:`roc_curve` it gives ``auc`` (REAL-MQ-2021's
    ``0.9395127993393898`` exactly -- a rank formula or a compensated sum gives ``…889``), on
    :func:`precision_recall_curve` ``au_prc`` (Spark ``areaUnderPR``). scikit-learn ``auc`` of the
    same points agrees to rounding. The sequential order comes from ``cumsum``.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    return _trapezoids(xa.size, lambda lo, hi: (xa[lo : hi + 1], ya[lo : hi + 1]))


AREA_BLOCK = 1 << 20  # curve points a block of the trapezoid sum (its temporaries stay small)


def _trapezoids(n: int, points: Callable[[int, int], tuple[np.ndarray, np.ndarray]]) -> float:
    """:func:`area_under_curve` of ``n`` points given block by block: ``points(lo, hi)`` are the
    points ``lo`` … ``hi`` (both included). The sum stays strictly left to right."""
    if n < 2:
        return 0.0
    total = 0.0
    for lo in range(0, n - 1, AREA_BLOCK):
        hi = min(lo + AREA_BLOCK, n - 1)
        x, y = points(lo, hi)
        terms = np.empty(hi - lo + 1, dtype=np.float64)
        terms[0] = total
        seg = terms[1:]
        np.subtract(x[1:], x[:-1], out=seg)  # (x2 − x1) · (y2 + y1) / 2.0,
        np.multiply(seg, y[1:] + y[:-1], out=seg)  # Spark's operation order
        np.divide(seg, 2.0, out=seg)
        total = float(np.cumsum(terms, out=terms)[-1])
    return total


def area_under_roc_curve(tp_cum: np.ndarray, fp_cum: np.ndarray) -> float:
    """``area_under_curve(*roc_curve(tp_cum, fp_cum))``, the same number to the bit, with the
    curve's points made block by block (the reported ``auc``: two float64 arrays of every distinct
    score were 160 MiB on 10M scores)."""
    tp = np.asarray(tp_cum)
    fp = np.asarray(fp_cum)
    pos = float(tp[-1]) if tp.size else 0.0
    neg = float(fp[-1]) if fp.size else 0.0
    m = tp.size

    def points(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        # Curve point k in 1 … m is count k − 1; point 0 is (0, 0), point m + 1 is (1, 1).
        a, b = max(lo, 1) - 1, min(hi, m)
        x = np.divide(fp[a:b], neg) if neg else np.zeros(b - a, dtype=np.float64)
        y = np.divide(tp[a:b], pos) if pos else np.zeros(b - a, dtype=np.float64)
        if lo == 0:
            x, y = np.concatenate(([0.0], x)), np.concatenate(([0.0], y))
        if hi == m + 1:
            x, y = np.concatenate((x, [1.0])), np.concatenate((y, [1.0]))
        return x, y

    return _trapezoids(m + 2, points)


def area_under_pr_counts(tp_cum: np.ndarray, fp_cum: np.ndarray) -> float:
    """``area_under_curve(*precision_recall_curve(tp_cum, fp_cum))``, the same number to the bit,
    with the curve's points made block by block: the samples behind ``au_prc``'s
    ``standard_deviation`` held two float64 arrays of every distinct score (160 MiB on 10M scores)."""
    tp, fp = _without_empty_lead(np.asarray(tp_cum), np.asarray(fp_cum))
    if tp.size == 0:
        return area_under_curve(*precision_recall_curve(tp, fp))
    pos = float(tp[-1])

    def points(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        # Curve point k ≥ 1 is count k − 1; point 0 is (0, point 1's precision).
        a = max(lo, 1) - 1
        prec = np.add(tp[a:hi], fp[a:hi], dtype=np.float64)
        np.divide(tp[a:hi], prec, out=prec)
        rec = np.divide(tp[a:hi], pos) if pos else np.zeros(hi - a, dtype=np.float64)
        if lo == 0:
            prec = np.concatenate(([prec[0]], prec))
            rec = np.concatenate(([0.0], rec))
        return rec, prec

    return _trapezoids(tp.size + 1, points)


ROC_COUNTS_BLOCK = 1 << 20  # groups a block of :func:`area_under_roc_counts` (16 MiB of temporaries)


def area_under_roc_counts(tp_cum: np.ndarray, fp_cum: np.ndarray) -> float:
    """The area under :func:`roc_curve` in exact integer arithmetic, from the same counts.

    Σ_g neg_g·(TP_{g−1} + TP_g) / (2·P·N) over the distinct scores g (neg_g the negatives of
    group g): the trapezoid rule term by term, without rounding until the final division. Points
    that add no row change nothing, so a sample's counts need no clean-up. Used for the samples
    behind ``standard_deviation``; the reported ``auc`` uses Spark's floating-point order
    (:func:`area_under_curve`), which can differ in the last bits. NaN with one class only.
    """
    tp = np.asarray(tp_cum)
    fp = np.asarray(fp_cum)
    if tp.dtype.kind == "f" or fp.dtype.kind == "f":
        tp, fp = tp.astype(np.int64), fp.astype(np.int64)
    if tp.size == 0 or tp[-1] == 0 or fp[-1] == 0:
        return math.nan
    # Σ_g neg_g·(TP_{g−1} + TP_g), the first group (TP_{−1} = 0) apart; < 2·P·N, far below 2^63.
    # In blocks: two int64 temporaries of every group were 160 MiB on 10M distinct scores, at the
    # peak of a model-quality run; integer sums are exact in any grouping: the same result.
    total = int(fp[0]) * int(tp[0])
    for lo in range(0, tp.size - 1, ROC_COUNTS_BLOCK):
        hi = min(lo + ROC_COUNTS_BLOCK, tp.size - 1)
        neg = np.subtract(fp[lo + 1 : hi + 1], fp[lo:hi], dtype=np.int64)
        both = np.add(tp[lo:hi], tp[lo + 1 : hi + 1], dtype=np.int64)
        total += int(np.dot(neg, both))
    return total / (2 * int(tp[-1]) * int(fp[-1]))


def thin_curve(n_points: int, max_points: int) -> np.ndarray:
    """Indices of the curve points kept when a curve is written with at most ~``max_points``.

    Spark's ``numBins`` down-sampling: with ``g = n // max_points`` ≥ 2, the cumulative point at
    the end of every run of ``g`` distinct scores is kept, plus the last one; otherwise all.
    Applied to the points between the fixed end points of the written curves only -- ``auc`` and
    ``au_prc`` always use every point.
    """
    g = n_points // max_points if max_points > 0 else 0
    if g < 2:
        return np.arange(n_points)
    idx = np.arange(g - 1, n_points, g)
    if idx.size == 0 or idx[-1] != n_points - 1:
        idx = np.append(idx, n_points - 1)
    return idx


# -- regression: sums over the rows ---------------------------------------------------------------


def mean_absolute_error(sum_abs_error: ArrayLike, n: ArrayLike) -> ArrayLike:
    """MAE = Σ|y − ŷ| / n. Spark ``RegressionMetrics.meanAbsoluteError``; scikit-learn
    ``mean_absolute_error``."""
    return safe_divide(sum_abs_error, n)


def mean_squared_error(sum_squared_error: ArrayLike, n: ArrayLike) -> ArrayLike:
    """MSE = Σ(y − ŷ)² / n. Spark ``RegressionMetrics.meanSquaredError``; scikit-learn
    ``mean_squared_error``."""
    return safe_divide(sum_squared_error, n)


def root_mean_squared_error(mse: ArrayLike) -> ArrayLike:
    """RMSE = √MSE. Spark ``RegressionMetrics.rootMeanSquaredError``."""
    return _out(np.sqrt(np.asarray(mse, dtype=np.float64)))


def r2(ss_res: ArrayLike, ss_tot: ArrayLike) -> ArrayLike:
    """R² = 1 − SS_res / SS_tot, SS_res = Σ(y − ŷ)², SS_tot = Σ(y − ȳ)².

    Constant labels (SS_tot = 0) give 1.0 for a perfect prediction and 0.0 otherwise instead of a
    division by zero -- scikit-learn ``r2_score``'s ``force_finite`` rule.
    """
    res = np.asarray(ss_res, dtype=np.float64)
    tot = np.asarray(ss_tot, dtype=np.float64)
    shape = np.broadcast_shapes(res.shape, tot.shape)
    out = np.where(np.broadcast_to(res == 0, shape), 1.0, 0.0).astype(np.float64)
    np.subtract(1.0, np.divide(res, tot, where=tot != 0, out=np.zeros(shape)), out=out, where=np.broadcast_to(tot != 0, shape))
    return _out(out)
