"""CBPE's metric functions: estimates from calibrated probabilities, realized values from labels,
and the sampling-error components taken from the reference. One pure function per metric.

Binary classification, labels and predictions coded 0/1, ``p`` the calibrated P(y = 1):

* expected confusion matrix (Guo et al. 2017 calibration; NannyML's CBPE): a row predicted 1 is a
  true positive with probability ``p`` and a false positive with ``1 - p``; a row predicted 0 is a
  false negative with ``p`` and a true negative with ``1 - p``. Summed over a window these are
  ``TP, FP, FN, TN`` (:class:`ExpectedCounts`), and every threshold metric is the usual formula
  over them (a zero denominator gives 0, as NannyML does).
* ROC AUC (:func:`estimate_roc_auc`): rows ordered by the model's own (uncalibrated) score, highest
  first; cumulative sums of ``p`` are the expected true positives and of ``1 - p`` the expected
  false positives at each cut; the curve's area by the trapezoid rule. NannyML rounds the
  cumulative sums to 5 decimals before dividing; so do we, to agree with it.
* sampling error (NannyML ``sampling_error/binary_classification.py``): the population standard
  deviation of the metric's per-observation contributions on the reference, divided by
  ``sqrt(n * fraction)``, ``n`` the window's rows and ``fraction`` the share of rows that enter the
  metric (predicted positives for precision, ...).

Every function takes numpy arrays and returns a float; ``nan`` where the metric is undefined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BINARY_METRICS",
    "ExpectedCounts",
    "estimate",
    "estimate_roc_auc",
    "expected_counts",
    "realized",
    "realized_roc_auc",
    "sampling_error",
    "sampling_error_components",
]

# mmon's metric names (SageMaker's model-quality keys) in the order they are written.
BINARY_METRICS = ("accuracy", "precision", "recall", "f1", "true_negative_rate", "auc")


@dataclass(frozen=True)
class ExpectedCounts:
    """Expected confusion-matrix cells of a window: sums, so windows and files add up."""

    tp: float
    fp: float
    fn: float
    tn: float
    n: int

    def __add__(self, other: ExpectedCounts) -> ExpectedCounts:
        return ExpectedCounts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn, self.n + other.n
        )


def expected_counts(y_pred: np.ndarray, proba: np.ndarray) -> ExpectedCounts:
    """``TP = sum(p | pred=1)``, ``FP = sum(1-p | pred=1)``, ``FN = sum(p | pred=0)``, ``TN = sum(1-p | pred=0)``."""
    y_pred = np.asarray(y_pred)
    proba = np.asarray(proba, dtype=np.float64)
    pos = y_pred == 1
    return ExpectedCounts(
        tp=float(np.sum(np.where(pos, proba, 0.0))),
        fp=float(np.sum(np.where(pos, 1.0 - proba, 0.0))),
        fn=float(np.sum(np.where(~pos, proba, 0.0))),
        tn=float(np.sum(np.where(~pos, 1.0 - proba, 0.0))),
        n=len(y_pred),
    )


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 else 0.0


def estimate(metric: str, c: ExpectedCounts) -> float:
    """A threshold metric from expected counts.

    accuracy = (TP + TN) / n; precision = TP / (TP + FP); recall = TP / (TP + FN);
    f1 = TP / (TP + (FP + FN) / 2); true_negative_rate (specificity) = TN / (TN + FP).
    """
    if metric == "accuracy":
        return (c.tp + c.tn) / c.n if c.n else math.nan
    if metric == "precision":
        return _ratio(c.tp, c.tp + c.fp)
    if metric == "recall":
        return _ratio(c.tp, c.tp + c.fn)
    if metric == "f1":
        return _ratio(c.tp, c.tp + 0.5 * (c.fp + c.fn))
    if metric == "true_negative_rate":
        return _ratio(c.tn, c.tn + c.fp)
    raise ValueError(f"unknown threshold metric {metric!r}")


def estimate_roc_auc(calibrated: np.ndarray, uncalibrated: np.ndarray) -> float:
    """Expected ROC AUC: the trapezoid area under (E[FP]/E[N], E[TP]/E[P]) cut at each score.

    Rows are ordered by the uncalibrated score, highest first (numpy's ``argsort`` reversed, as
    NannyML: equal scores keep that order). ``E[TP]`` after ``k`` rows is the sum of their calibrated
    probabilities, ``E[FP] = k - E[TP]``; both rounded to 5 decimals (NannyML's rounding).
    """
    cal = np.asarray(calibrated, dtype=np.float64)
    unc = np.asarray(uncalibrated, dtype=np.float64)
    if len(cal) == 0:
        return math.nan
    n = len(cal)
    # In place where possible (10M rows: each array is 80 MB); every step gives the same doubles
    # as NannyML's r_[0, cumsum], 1 + arange - tps, round and divide.
    sorted_cal = cal[np.argsort(unc)[::-1]]
    tps = np.empty(n + 1)
    tps[0] = 0.0
    np.cumsum(sorted_cal, out=tps[1:])
    del sorted_cal
    fps = np.empty(n + 1)
    fps[0] = 0.0
    fps[1:] = np.arange(1, n + 1, dtype=np.float64)
    fps[1:] -= tps[1:]
    np.round(tps, 5, out=tps)
    np.round(fps, 5, out=fps)
    if tps[-1] == 0 or fps[-1] == 0:
        return math.nan  # every row surely negative (or positive): no curve
    tps /= tps[-1]
    fps /= fps[-1]
    return float(np.trapezoid(tps, fps))


# -- realized values (labels known) ---------------------------------------------------------------


def realized_roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC from labels: the Mann-Whitney statistic with ties counted one half (= scikit-learn's)."""
    y_true = np.asarray(y_true)
    score = np.asarray(score, dtype=np.float64)
    n_pos = int(np.sum(y_true == 1))
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    # Average ranks (1-based) of the scores, ties sharing their mean rank.
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s), dtype=np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, ends - starts)
    u = np.sum(ranks[y_true == 1]) - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def realized(metric: str, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray | None = None) -> float:
    """The metric from labels, with NannyML's rules for undefined cases.

    Precision, recall and F1 are ``nan`` when the labels or the predictions hold one class only
    (and 0 on a zero denominator otherwise, scikit-learn's ``zero_division``); specificity is
    ``nan`` when there is no negative label; accuracy is always defined; ROC AUC (on ``score``) is
    ``nan`` with one class of labels.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if len(y_true) == 0:
        return math.nan
    if metric == "auc":
        assert score is not None
        return realized_roc_auc(y_true, score)
    tp = float(np.sum((y_true == 1) & (y_pred == 1)))
    tn = float(np.sum((y_true == 0) & (y_pred == 0)))
    fp = float(np.sum((y_true == 0) & (y_pred == 1)))
    fn = float(np.sum((y_true == 1) & (y_pred == 0)))
    if metric == "accuracy":
        return (tp + tn) / len(y_true)
    if metric == "true_negative_rate":
        return tn / (tn + fp) if tn + fp else math.nan
    if len(np.unique(y_true)) <= 1 or len(np.unique(y_pred)) <= 1:
        return math.nan
    if metric == "precision":
        return _ratio(tp, tp + fp)
    if metric == "recall":
        return _ratio(tp, tp + fn)
    if metric == "f1":
        return _ratio(2 * tp, 2 * tp + fp + fn)
    raise ValueError(f"unknown metric {metric!r}")


# -- sampling error ---------------------------------------------------------------------------------


def sampling_error_components(
    metric: str, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray | None = None
) -> tuple[float, float]:
    """``(std, fraction)`` of the metric's per-observation contributions on the reference.

    accuracy: correct (1/0) over every row, fraction 1. precision: among predicted positives,
    TP as 1 and FP as 0, fraction = predicted positives / n. recall: among actual positives, TP as
    1 and FN as 0, fraction = actual positives / n. true_negative_rate: TN as 1, FP as 0, fraction =
    (TN + FP) / n. f1: TP as 1, FN and FP as 0, scaled by ``|TP+FN+FP| / (TP + (FN+FP)/2)``,
    fraction = (TP+FN+FP) / n. auc: for positives in ascending score order, the share of negatives
    ranked below each (classes swapped when positives are the majority), fraction = positives / n;
    NannyML drops the first distinct positive rank (``np.unique(...)[1:]``), and so do we.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    n = len(y_true)
    if n == 0:
        return math.nan, 0.0
    tp = (y_true == 1) & (y_pred == 1)
    fp = (y_true == 0) & (y_pred == 1)
    fn = (y_true == 1) & (y_pred == 0)
    tn = (y_true == 0) & (y_pred == 0)
    if metric == "accuracy":
        return float(np.std((y_true == y_pred).astype(np.int64))), 1.0
    if metric == "precision":
        obs = np.r_[np.ones(tp.sum()), np.zeros(fp.sum())]
        return float(np.std(obs)), float(np.sum(y_pred)) / n
    if metric == "recall":
        obs = np.r_[np.ones(tp.sum()), np.zeros(fn.sum())]
        return float(np.std(obs)), float(np.sum(y_true)) / n
    if metric == "true_negative_rate":
        obs = np.r_[np.ones(tn.sum()), np.zeros(fp.sum())]
        return float(np.std(obs)), len(obs) / n
    if metric == "f1":
        obs = np.r_[np.ones(tp.sum()), np.zeros(fn.sum() + fp.sum())]
        if len(obs) == 0:
            return math.nan, 0.0
        factor = len(obs) / ((fn.sum() + fp.sum()) * 0.5 + tp.sum())
        return float(np.std(obs * factor)), len(obs) / n
    if metric == "auc":
        assert score is not None
        s = np.asarray(score, dtype=np.float64)
        yt = y_true
        if np.mean(yt) > 0.5:
            yt = np.abs(yt - 1)
            s = 1 - s
        order = np.argsort(s)
        yt = yt[order]
        positive_ranks = yt * np.arange(n)
        indexes = np.unique(positive_ranks)[1:]
        ser = indexes - np.arange(len(indexes))
        n_pos = int(np.sum(yt))
        n_neg = n - n_pos
        return float(np.std(ser / n_neg)), n_pos / n
    raise ValueError(f"unknown metric {metric!r}")


def sampling_error(metric: str, components: tuple[float, float], n: int) -> float:
    """``std / sqrt(n * fraction)`` (accuracy: ``std / sqrt(n)``), ``n`` the window's rows."""
    std, fraction = components
    if n == 0 or fraction == 0 or not math.isfinite(std):
        return math.nan
    return std / math.sqrt(n * fraction)
