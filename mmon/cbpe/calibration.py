"""Calibration of model scores into probabilities, decided and fitted on the reference.

CBPE needs probabilities that are calibrated: among rows scored 0.8, 80 % must be positive. The
reference (labelled, not the training set) decides whether recalibration helps and fits it:

* :func:`needs_calibration` — NannyML 0.13 ``nannyml.calibration.needs_calibration``: no when the
  reference has one class or ROC AUC > 0.999; otherwise 10 stratified shuffle splits (test size
  0.1, ``random_state=42``) each fit an isotonic regression on the 90 % and calibrate the 10 %; the
  held-out parts are concatenated and the expected calibration error (ECE, 10 equal-count bins
  over the sorted scores) before and after is compared. NannyML's docstring says "if in any of the
  folds the difference is lower than zero ... returns False"; its code compares the ECE of all
  folds pooled, and we follow the code.
* :class:`Isotonic` — scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` reduced to its
  breakpoints (``X_thresholds_``, ``y_thresholds_``): prediction is linear interpolation between
  them, clipped at the ends, which is exactly ``np.interp``. Only the breakpoints are stored in the
  baseline, so a monitoring run needs neither scikit-learn nor the reference.

scikit-learn is used at baseline time only (imported lazily): its isotonic fit and its stratified
splitter are what NannyML uses, and agreeing with NannyML to 1e-6 means taking the same splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmon.cbpe.metrics import realized_roc_auc

__all__ = ["Isotonic", "bin_index_edges", "expected_calibration_error", "fit_isotonic", "needs_calibration"]


@dataclass(frozen=True)
class Isotonic:
    """A fitted isotonic calibrator: increasing breakpoints ``x`` -> ``y``; ``None`` means identity."""

    x: tuple[float, ...] | None = None
    y: tuple[float, ...] | None = None

    @property
    def identity(self) -> bool:
        return self.x is None

    def apply(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        if self.x is None or self.y is None:
            return scores
        # np.interp holds the end values outside [x0, xn]: scikit-learn's out_of_bounds="clip".
        return np.interp(scores, np.asarray(self.x), np.asarray(self.y))

    def to_json(self) -> dict[str, list[float]] | None:
        if self.x is None or self.y is None:
            return None
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, doc: dict[str, list[float]] | None) -> Isotonic:
        if doc is None:
            return cls()
        return cls(tuple(float(v) for v in doc["x"]), tuple(float(v) for v in doc["y"]))


def fit_isotonic(scores: np.ndarray, y_true: np.ndarray) -> Isotonic:
    """Fit P(y=1 | score) as an increasing step-linear function (pool adjacent violators)."""
    from sklearn.isotonic import IsotonicRegression

    reg = IsotonicRegression(out_of_bounds="clip", increasing=True)
    reg.fit(np.asarray(scores, dtype=np.float64), np.asarray(y_true, dtype=np.float64))
    return Isotonic(tuple(map(float, reg.X_thresholds_)), tuple(map(float, reg.y_thresholds_)))


def bin_index_edges(n: int, bins: int) -> list[tuple[int, int]]:
    """Equal-count bins over ``n`` sorted values; the last bin takes the remainder.

    Fewer than ``2 * bins`` values: ``n // 2`` bins. Fewer than 2 bins possible: ``ValueError``.
    """
    if n <= 2 * bins:
        bins = n // 2
        if bins < 2:
            raise ValueError(f"cannot split {n} values into at least 2 calibration bins")
    width = n // bins
    edges = list(range(0, n + 1, width))
    edges[-1] = n
    return list(zip(edges[:-1], edges[1:], strict=False))


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, edges: list[tuple[int, int]]) -> float:
    """ECE = sum over bins of |bin| / n * |mean(proba) - mean(y)|, bins over the sorted ``proba``."""
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.float64)
    order = proba.argsort()
    proba, y_true = proba[order], y_true[order]
    terms = [
        (hi - lo) / len(proba) * abs(np.mean(proba[lo:hi]) - np.mean(y_true[lo:hi])) for lo, hi in edges
    ]
    return float(np.sum(terms))


def needs_calibration(y_true: np.ndarray, scores: np.ndarray, bins: int = 10, splits: int = 10) -> bool:
    """Whether isotonic recalibration lowers the held-out expected calibration error (see module doc)."""
    from sklearn.model_selection import StratifiedShuffleSplit

    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    if len(np.unique(y_true)) == 1:
        return False
    if realized_roc_auc(y_true, scores) > 0.999:
        return False
    sss = StratifiedShuffleSplit(n_splits=splits, test_size=0.1, random_state=42)
    truths, before, after = [], [], []
    for train, test in sss.split(scores, y_true):
        calibrator = fit_isotonic(scores[train], y_true[train])
        truths.append(y_true[test])
        before.append(scores[test])
        after.append(calibrator.apply(scores[test]))
    y_all = np.concatenate(truths)
    edges = bin_index_edges(len(y_all), bins)
    return expected_calibration_error(y_all, np.concatenate(before), edges) > expected_calibration_error(
        y_all, np.concatenate(after), edges
    )
