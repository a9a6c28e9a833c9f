"""Clarify's feature-attribution drift score (nDCG) and its violation entries (format study §8).

DG ``clarify-model-monitor-feature-attribution-drift``: F = features sorted by the *baseline*
global attribution a(f), descending; F' = features sorted by the *current* attribution;
``DCG = sum_i a(F'_i) / log2(i + 1)``, ``iDCG = sum_i a(F_i) / log2(i + 1)`` (i from 1), nDCG =
DCG / iDCG. Both sums use the baseline's values: only the order comes from the current run. A
label whose score is below the threshold (0.9) is a violation.

Choices where the DG is silent (mmon's, documented): ties in either ranking keep the baseline's
feature order (so equal values never look like drift); a baseline feature missing from the current
run ranks last; current features absent from the baseline are ignored (they have no baseline
value); when iDCG is not positive (every baseline value 0) the score is undefined (None) and no
violation is logged.
"""

from __future__ import annotations

import math
from typing import Any

from mmon.jsonfmt import java_double_str

CHECK_TYPE = "feature_attribution_drift_check"
METRIC_NAME = "shap"
DEFAULT_THRESHOLD = 0.9


def rankings(baseline: dict[str, float], current: dict[str, float]) -> tuple[list[str], list[str]]:
    """(ideal order by baseline value, current order by current value), ties in baseline order."""
    feats = list(baseline)
    ideal = sorted(feats, key=lambda f: -baseline[f])
    pos = {f: i for i, f in enumerate(ideal)}
    cur = sorted(ideal, key=lambda f: (-current[f] if f in current else math.inf, pos[f]))
    return ideal, cur


def ndcg(baseline: dict[str, float], current: dict[str, float]) -> float | None:
    ideal, cur = rankings(baseline, current)
    idcg = sum(baseline[f] / math.log2(i + 2) for i, f in enumerate(ideal))
    if not idcg > 0:
        return None
    dcg = sum(baseline[f] / math.log2(i + 2) for i, f in enumerate(cur))
    return dcg / idcg


def violation(label: str, score: float, threshold: float) -> dict[str, Any]:
    """One entry as the DG example writes it (its wording says "exceeds" for a score below)."""
    return {
        "label": label,
        "metric_name": METRIC_NAME,
        "constraint_check_type": CHECK_TYPE,
        "description": f"Feature attribution drift {java_double_str(float(score))} exceeds threshold {java_double_str(float(threshold))}",
    }
