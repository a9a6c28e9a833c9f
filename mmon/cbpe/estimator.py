"""Confidence-based performance estimation (CBPE) for binary classifiers: fit on a labelled
reference, estimate on unlabelled windows.

The method is NannyML's (``nannyml.performance_estimation.confidence_based``, 0.13), written anew
from its documentation and code; where the two disagree the code is followed and a comment says so.

``fit`` (the reference, labels known — never the training set, whose scores are over-confident):
  1. sampling-error components of each metric from the reference labels (:mod:`mmon.cbpe.metrics`);
  2. thresholds: the reference split into chunks (NannyML's default chunker: ``n // 10`` rows
     each, the remainder kept as a last, smaller chunk), the realized metric of each chunk, then
     ``mean ± 3 · std`` (population std, NaN chunks ignored), a bound that reaches the metric's
     range [0, 1] replaced by the range's end;
  3. calibration: decided and fitted by :mod:`mmon.cbpe.calibration`.
``estimate`` (a window, no labels): calibrated probabilities → expected confusion matrix → metrics;
ROC AUC from the cumulative calibrated probabilities in score order; sampling error
``std / sqrt(n · fraction)``; confidence band ``estimate ± 3 · SE`` clipped to [0, 1]; an alert when
the estimate leaves the thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from mmon.cbpe import metrics as M
from mmon.cbpe.calibration import Isotonic, fit_isotonic, needs_calibration

__all__ = ["FORMAT_VERSION", "CBPEModel", "Estimate", "ReferenceFit", "fit", "json_num", "reference_chunks"]

FORMAT_VERSION = 1
SAMPLING_ERROR_RANGE = 3  # the confidence band is estimate ± 3 SE (NannyML's SAMPLING_ERROR_RANGE)
STD_MULTIPLIER = 3  # thresholds: mean ± 3 std of the reference chunks' realized values
DEFAULT_CHUNKS = 10


@dataclass(frozen=True)
class Estimate:
    metric: str
    value: float
    sampling_error: float
    lower_confidence: float
    upper_confidence: float
    lower_threshold: float | None
    upper_threshold: float | None

    @property
    def alert(self) -> bool:
        if not math.isfinite(self.value):
            return False
        return (self.lower_threshold is not None and self.value < self.lower_threshold) or (
            self.upper_threshold is not None and self.value > self.upper_threshold
        )


@dataclass(kw_only=True)
class ReferenceFit:
    """What the binary and the multiclass model both keep of their labelled reference; each adds its
    calibration and sampling-error components."""

    problem_type: str
    thresholds: dict[str, tuple[float | None, float | None]]
    reference_rows: int
    chunk_size: int
    reference_realized: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def fitted(
        cls, chunks: list[tuple[int, int]], thresholds: dict[str, tuple[float | None, float | None]],
        realized: dict[str, float], warnings: list[str], **own: Any,
    ) -> Self:  # fmt: skip
        """The model fitted on a reference split into ``chunks`` (the first one full size)."""
        return cls(
            thresholds=thresholds,
            reference_rows=chunks[-1][1],  # the last chunk ends at the reference's last row
            chunk_size=chunks[0][1] - chunks[0][0],
            reference_realized=realized,
            warnings=warnings,
            **own,
        )

    @classmethod
    def read(cls, doc: dict[str, Any], **own: Any) -> Self:
        """The model of a ``cbpe.json`` whose version was checked and whose ``own`` fields were read."""
        num = parse_num
        ms = doc["metrics"]
        return cls(
            problem_type=doc["problem_type"],
            thresholds={m: (num(ms[m]["lower_threshold"]), num(ms[m]["upper_threshold"])) for m in ms},
            reference_rows=int(doc["reference_rows"]),
            chunk_size=int(doc["chunk_size"]),
            reference_realized={m: num(ms[m]["reference_realized"]) or math.nan for m in ms},
            **own,
        )


@dataclass(kw_only=True)
class CBPEModel(ReferenceFit):
    """Everything an estimate needs, stored in the baseline's ``cbpe.json``."""

    calibrator: Isotonic
    components: dict[str, tuple[float, float]]

    # -- estimating ------------------------------------------------------------------------------

    def estimate(self, score: np.ndarray, y_pred: np.ndarray) -> dict[str, Estimate]:
        """Estimated metrics of one window from the model's scores and predictions (no labels)."""
        score = np.asarray(score, dtype=np.float64)
        if np.isnan(score).any():
            raise ValueError("scores contain NaN")
        return self.estimate_calibrated(self.calibrator.apply(score), score, y_pred)[0]

    def estimate_calibrated(
        self, proba: np.ndarray, score: np.ndarray, y_pred: np.ndarray
    ) -> tuple[dict[str, Estimate], M.ExpectedCounts]:
        """:meth:`estimate` from probabilities already calibrated; also the expected counts."""
        y_pred = np.asarray(y_pred)
        n = len(score)
        counts = M.expected_counts(y_pred, proba)
        out: dict[str, Estimate] = {}
        for metric in M.BINARY_METRICS:
            if metric == "auc":
                value = M.estimate_roc_auc(proba, score)
            else:
                value = M.estimate(metric, counts) if n else math.nan
            se = M.sampling_error(metric, self.components[metric], n)
            lo, hi = self.thresholds[metric]
            out[metric] = Estimate(
                metric,
                value,
                se,
                max(0.0, value - SAMPLING_ERROR_RANGE * se),
                min(1.0, value + SAMPLING_ERROR_RANGE * se),
                lo,
                hi,
            )
        return out, counts

    # -- the baseline file -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            **header_json(self.problem_type, self.reference_rows, self.chunk_size),
            "calibration": self.calibrator.to_json(),
            "metrics": {
                m: {
                    "sampling_error_std": json_num(self.components[m][0]),
                    "sampling_error_fraction": json_num(self.components[m][1]),
                    **bounds_json(self.thresholds[m], self.reference_realized[m]),
                }
                for m in M.BINARY_METRICS
            },
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CBPEModel:
        num = parse_num
        check_version(doc)
        ms = doc["metrics"]
        return cls.read(
            doc,
            calibrator=Isotonic.from_json(doc.get("calibration")),
            components={m: (num(ms[m]["sampling_error_std"]) or 0.0, num(ms[m]["sampling_error_fraction"]) or 0.0) for m in ms},
        )


def json_num(x: float | None) -> float | str | None:
    """A number for cbpe.json / statistics.json: non-finite values as Jackson's strings."""
    if x is None:
        return None
    return x if math.isfinite(x) else ("NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity"))


def parse_num(x: Any) -> float | None:
    """A number read back from cbpe.json (``float("NaN")`` / ``float("Infinity")`` parse its strings)."""
    return None if x is None else float(x)


def check_version(doc: dict[str, Any]) -> None:
    if doc.get("version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"cbpe.json version {doc['version']} is newer than this mmon understands ({FORMAT_VERSION}): upgrade mmon"
        )


def header_json(problem_type: str, reference_rows: int, chunk_size: int) -> dict[str, Any]:
    """The first keys of cbpe.json, for both the binary and the multiclass model."""
    return {
        "version": FORMAT_VERSION,
        "estimator": "cbpe",
        "problem_type": problem_type,
        "reference_rows": reference_rows,
        "chunk_size": chunk_size,
    }


def bounds_json(thresholds: tuple[float | None, float | None], realized: float) -> dict[str, Any]:
    """A metric's thresholds and realized reference value, as cbpe.json holds them."""
    return {
        "lower_threshold": json_num(thresholds[0]),
        "upper_threshold": json_num(thresholds[1]),
        "reference_realized": json_num(realized),
    }


def reference_chunks(n: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    """Row ranges of the reference chunks: ``chunk_size`` rows each (default ``n // 10``), and the
    remainder kept as a last, smaller chunk (NannyML's DefaultChunker / SizeBasedChunker 'keep')."""
    size = chunk_size if chunk_size else n // DEFAULT_CHUNKS
    if size <= 0:
        raise ValueError(f"the reference has {n} rows: too few to split into chunks")
    full = [(i, i + size) for i in range(0, n, size) if i + size <= n]
    if n % size:
        full.append((size * (n // size), n))
    return full


def check_reference(n: int, score: np.ndarray) -> None:
    """A reference to fit on has rows, and a score on every one."""
    if n == 0:
        raise ValueError("the reference has no rows")
    if np.isnan(score).any():
        raise ValueError("reference scores contain NaN")


def _thresholds(values: np.ndarray) -> tuple[float | None, float | None]:
    if np.isnan(values).all():
        return None, None
    mean = float(np.nanmean(values))
    std = float(np.nanstd(values))
    lo, hi = mean - STD_MULTIPLIER * std, mean + STD_MULTIPLIER * std
    # A bound at or beyond the metric's range is replaced by the range's end (NannyML's limits).
    return (0.0 if lo <= 0 else lo), (1.0 if hi >= 1 else hi)


def fit(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    score: np.ndarray,
    chunk_size: int | None = None,
    problem_type: str = "BinaryClassification",
) -> CBPEModel:
    """Fit CBPE on a labelled reference (labels and predictions coded 0/1, ``score`` = P(y=1))."""
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    score = np.asarray(score, dtype=np.float64)
    n = len(y_true)
    check_reference(n, score)
    warnings: list[str] = []
    components = {m: M.sampling_error_components(m, y_true, y_pred, score) for m in M.BINARY_METRICS}
    chunks = reference_chunks(n, chunk_size)
    thresholds: dict[str, tuple[float | None, float | None]] = {}
    for m in M.BINARY_METRICS:
        per_chunk = np.array([M.realized(m, y_true[a:b], y_pred[a:b], score[a:b]) for a, b in chunks])
        thresholds[m] = _thresholds(per_chunk)
    calibrate = needs_calibration(y_true, score)
    calibrator = fit_isotonic(score, y_true) if calibrate else Isotonic()
    realized_all = {m: M.realized(m, y_true, y_pred, score) for m in M.BINARY_METRICS}
    for cls in (0, 1):
        k = int(np.sum(y_true == cls))
        if k < 1000:
            warnings.append(
                f"the reference has {k} rows of class {cls}: under ~1000 rows per class, "
                "calibration and sampling errors are rough"
            )
    if realized_all["auc"] >= 0.999:
        warnings.append(
            f"ROC AUC on the reference is {realized_all['auc']:.4f}: is it the training set? "
            "CBPE needs a reference the model did not learn from"
        )
    return CBPEModel.fitted(
        chunks, thresholds, realized_all, warnings, problem_type=problem_type, calibrator=calibrator, components=components
    )
