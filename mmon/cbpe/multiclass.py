"""CBPE for multiclass classifiers: one-vs-rest calibration, probabilities renormalised, macro averages.

As NannyML 0.13 (``_fit_calibrators``, ``_calibrate_predicted_probabilities``, the
``MulticlassClassification*`` metrics and ``sampling_error/multiclass_classification.py``):

* classes in sorted order; per class, the one-vs-rest reference (``y == class`` against that
  class's score) decides and fits its own isotonic calibrator; calibrated rows are divided by their
  sum (a row whose calibrated scores are all 0 becomes uniform);
* precision, recall, F1 and specificity: the binary estimate of each class (predicted = this class,
  p = its calibrated probability), averaged over classes (macro); accuracy: the mean calibrated
  probability of the predicted class; ROC AUC: the mean of the per-class estimated AUCs, each over
  that class's uncalibrated score order;
* sampling error: per class the *variance* of the per-observation contributions and the fraction,
  combined as ``sqrt(sum(var_c / (n * fraction_c))) / K``; ROC AUC's is multiplied by 1.2 (NannyML's
  code does; its docs say nothing of it); F1's per-observation values are not rescaled as in the
  binary case (again NannyML's code); accuracy: ``std(correct) / sqrt(n)``.

Thresholds come from the realized macro metrics of the reference chunks (scikit-learn's
definitions: ``average="macro"`` over every class, ROC AUC one-vs-rest on the uncalibrated scores,
``nan`` when a chunk lacks a class of labels or predictions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmon.cbpe import metrics as M
from mmon.cbpe.calibration import Isotonic, fit_isotonic, needs_calibration
from mmon.cbpe.estimator import (
    SAMPLING_ERROR_RANGE,
    Estimate,
    ReferenceFit,
    _thresholds,
    bounds_json,
    check_reference,
    check_version,
    header_json,
    json_num,
    reference_chunks,
)

__all__ = ["MULTICLASS_METRICS", "MulticlassModel", "fit_multiclass"]

MULTICLASS_METRICS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "macro_true_negative_rate", "macro_auc")
_BINARY_OF = {
    "macro_precision": "precision",
    "macro_recall": "recall",
    "macro_f1": "f1",
    "macro_true_negative_rate": "true_negative_rate",
}


def _class_variance(metric: str, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """(variance, fraction) of one class's one-vs-rest contributions (0/1 arrays)."""
    n = len(y_true)
    tp = int(np.sum((y_true == 1) & (y_pred == 1)))
    fp = int(np.sum((y_true == 0) & (y_pred == 1)))
    fn = int(np.sum((y_true == 1) & (y_pred == 0)))
    tn = int(np.sum((y_true == 0) & (y_pred == 0)))
    if metric == "precision":
        return float(np.var(np.r_[np.ones(tp), np.zeros(fp)])), float(np.sum(y_pred)) / n
    if metric == "recall":
        return float(np.var(np.r_[np.ones(tp), np.zeros(fn)])), float(np.sum(y_true)) / n
    if metric == "true_negative_rate":
        return float(np.var(np.r_[np.ones(tn), np.zeros(fp)])), (tn + fp) / n
    if metric == "f1":
        return float(np.var(np.r_[np.ones(tp), np.zeros(fn + fp)])), (tp + fn + fp) / n
    if metric == "auc":
        std, fraction = M.sampling_error_components("auc", y_true, y_pred, score)
        return std * std, fraction
    raise ValueError(metric)


def _combined(components: list[tuple[float, float]], n: int, factor: float = 1.0) -> float:
    if n == 0:
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        variances = [v / (n * f) for v, f in components]
    return float(np.sqrt(np.sum(variances)) / len(variances) * factor)


def realized_macro(metric: str, classes: list[str], y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray) -> float:
    """Realized macro metric (scikit-learn's definitions, NannyML's undefined cases)."""
    if len(y_true) == 0:
        return math.nan
    if metric == "accuracy":
        return float(np.mean(y_true == y_pred))
    if metric == "macro_auc":
        if set(np.unique(y_true)) != set(classes):
            return math.nan
        return float(np.mean([M.realized_roc_auc((y_true == c).astype(int), scores[:, k]) for k, c in enumerate(classes)]))
    if len(np.unique(y_true)) <= 1 or len(np.unique(y_pred)) <= 1:
        return math.nan
    per_class = []
    for c in classes:
        t, p = (y_true == c), (y_pred == c)
        tp, fp, fn, tn = np.sum(t & p), np.sum(~t & p), np.sum(t & ~p), np.sum(~t & ~p)
        if metric == "macro_precision":
            per_class.append(tp / (tp + fp) if tp + fp else 0.0)
        elif metric == "macro_recall":
            per_class.append(tp / (tp + fn) if tp + fn else 0.0)
        elif metric == "macro_f1":
            per_class.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        elif metric == "macro_true_negative_rate":
            per_class.append(tn / (tn + fp) if tn + fp else math.nan)
        else:
            raise ValueError(metric)
    return float(np.mean(per_class))


@dataclass(kw_only=True)
class MulticlassModel(ReferenceFit):
    classes: list[str]
    calibrators: dict[str, Isotonic]
    components: dict[str, list[tuple[float, float]]]  # per metric: per class (variance, fraction); accuracy: [(std, 1)]

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        """Per-class calibration, then each row divided by its sum (uniform where the sum is 0)."""
        cal = np.column_stack([self.calibrators[c].apply(scores[:, k]) for k, c in enumerate(self.classes)])
        total = cal.sum(axis=1)[:, None]
        uniform = np.full_like(cal, 1.0 / len(self.classes))
        return np.divide(cal, total, out=uniform, where=total != 0)

    def estimate(self, scores: np.ndarray, y_pred: np.ndarray) -> dict[str, Estimate]:
        """``scores``: (n, K) in ``classes`` order; ``y_pred``: class labels (text)."""
        scores = np.asarray(scores, dtype=np.float64)
        y_pred = np.asarray(y_pred).astype(str)
        if np.isnan(scores).any():
            raise ValueError("scores contain NaN")
        n = len(y_pred)
        cal = self.calibrated(scores) if n else scores
        out: dict[str, Estimate] = {}
        for metric in MULTICLASS_METRICS:
            if n == 0:
                value = math.nan
            elif metric == "accuracy":
                onehot = np.column_stack([(y_pred == c) for c in self.classes])
                value = float(np.mean(np.max(onehot * cal, axis=1)))
            elif metric == "macro_auc":
                value = float(np.mean([M.estimate_roc_auc(cal[:, k], scores[:, k]) for k in range(len(self.classes))]))
            else:
                b = _BINARY_OF[metric]
                value = float(
                    np.mean(
                        [M.estimate(b, M.expected_counts((y_pred == c).astype(int), cal[:, k])) for k, c in enumerate(self.classes)]
                    )
                )
            if metric == "accuracy":
                se = M.sampling_error("accuracy", self.components["accuracy"][0], n)
            else:
                se = _combined(self.components[metric], n, 1.2 if metric == "macro_auc" else 1.0)
            lo, hi = self.thresholds[metric]
            out[metric] = Estimate(
                metric, value, se, max(0.0, value - SAMPLING_ERROR_RANGE * se), min(1.0, value + SAMPLING_ERROR_RANGE * se), lo, hi
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            **header_json(self.problem_type, self.reference_rows, self.chunk_size),
            "classes": self.classes,
            "calibration": {c: self.calibrators[c].to_json() for c in self.classes},
            "metrics": {
                m: {
                    "sampling_error_components": [[json_num(v), json_num(f)] for v, f in self.components[m]],
                    **bounds_json(self.thresholds[m], self.reference_realized[m]),
                }
                for m in MULTICLASS_METRICS
            },
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MulticlassModel:
        check_version(doc)
        ms = doc["metrics"]
        return cls.read(
            doc,
            classes=list(doc["classes"]),
            calibrators={c: Isotonic.from_json(v) for c, v in doc["calibration"].items()},
            components={m: [(float(v), float(f)) for v, f in ms[m]["sampling_error_components"]] for m in ms},
        )


def fit_multiclass(
    y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray, classes: list[str], chunk_size: int | None = None
) -> MulticlassModel:
    """Fit CBPE on a labelled multiclass reference. ``scores``: (n, K) in ``classes`` order."""
    classes = sorted(classes)
    y_true = np.asarray(y_true).astype(str)
    y_pred = np.asarray(y_pred).astype(str)
    scores = np.asarray(scores, dtype=np.float64)
    n = len(y_true)
    check_reference(n, scores)
    seen = set(np.unique(y_true))
    if seen != set(classes):
        raise ValueError(f"the reference labels hold classes {sorted(seen)}, the scores {classes}: they must match")
    components: dict[str, list[tuple[float, float]]] = {}
    truth = {c: (y_true == c).astype(np.int64) for c in classes}
    preds = {c: (y_pred == c).astype(np.int64) for c in classes}
    for metric in MULTICLASS_METRICS:
        if metric == "accuracy":
            components[metric] = [(float(np.std((y_true == y_pred).astype(np.int64))), 1.0)]
        elif metric == "macro_auc":
            components[metric] = [_class_variance("auc", truth[c], preds[c], scores[:, k]) for k, c in enumerate(classes)]
        else:
            components[metric] = [_class_variance(_BINARY_OF[metric], truth[c], preds[c], scores[:, 0]) for c in classes]
    chunks = reference_chunks(n, chunk_size)
    thresholds = {
        m: _thresholds(np.array([realized_macro(m, classes, y_true[a:b], y_pred[a:b], scores[a:b]) for a, b in chunks]))
        for m in MULTICLASS_METRICS
    }
    calibrators = {}
    for k, c in enumerate(classes):
        calibrators[c] = fit_isotonic(scores[:, k], truth[c]) if needs_calibration(truth[c], scores[:, k]) else Isotonic()
    realized_all = {m: realized_macro(m, classes, y_true, y_pred, scores) for m in MULTICLASS_METRICS}
    warnings = []
    for c in classes:
        if int(truth[c].sum()) < 1000:
            warnings.append(f"the reference has {int(truth[c].sum())} rows of class {c}: under ~1000 rows per class, estimates are rough")
    if realized_all["macro_auc"] >= 0.999:
        warnings.append("ROC AUC on the reference is >= 0.999: is it the training set? CBPE needs a reference the model did not learn from")
    return MulticlassModel.fitted(
        chunks, thresholds, realized_all, warnings,
        problem_type="MulticlassClassification", classes=classes, calibrators=calibrators, components=components,
    )  # fmt: skip
