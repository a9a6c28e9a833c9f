"""Suggested constraints (``constraints.json``) from baseline statistics: Deequ-style rules.

The rules reproduce SageMaker's generated files (format study §2.3):

* every feature: ``name``, ``inferred_type``, ``completeness`` = the baseline's non-null fraction;
* numeric features whose baseline minimum is >= 0: ``num_constraints.is_non_negative: true``
  (Deequ ``NonNegativeNumbersRule``; nothing is written for a column with negatives);
* String features with categorical buckets: ``string_constraints.domains`` = the bucket values in
  the same order, when at most 10 % of the categories were seen only once (Deequ
  ``CategoricalRangeRule``), so identifier-like columns do not get a domain every new value breaks;
* ``monitoring_config`` = the analyzer container's defaults (1.0 thresholds for data type and
  domain content, Robust drift comparison at 0.1, LInfinity for categorical drift).
"""

from __future__ import annotations

from typing import Any

from mmon.stats import dtypes

DEFAULT_MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}

# Deequ CategoricalRangeRule: suggest a domain only if <= 10 % of categories are singletons.
MAX_SINGLETON_RATIO = 0.1


def _completeness(feature: dict[str, Any], item_count: int) -> float:
    body = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
    if "completeness" in body:
        return float(body["completeness"])
    present = body.get("common", {}).get("num_present", 0)
    return float(present) / item_count if item_count else 0.0


def suggest_feature(feature: dict[str, Any], item_count: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": feature["name"],
        "inferred_type": feature["inferred_type"],
        "completeness": _completeness(feature, item_count),
    }
    ns = feature.get("numerical_statistics")
    if feature["inferred_type"] in (dtypes.INTEGRAL, dtypes.FRACTIONAL) and ns is not None:
        minimum = ns.get("min")
        if isinstance(minimum, (int, float)) and minimum >= 0:
            out["num_constraints"] = {"is_non_negative": True}
        return out
    ss = feature.get("string_statistics") or {}
    buckets = ss.get("distribution", {}).get("categorical", {}).get("buckets")
    if feature["inferred_type"] == dtypes.STRING and buckets:
        singletons = sum(1 for b in buckets if b.get("count") == 1)
        if singletons / len(buckets) <= MAX_SINGLETON_RATIO:
            out["string_constraints"] = {"domains": [b["value"] for b in buckets]}
    return out


def suggest_constraints(statistics: dict[str, Any], categorical_drift_method: str | None = None) -> dict[str, Any]:
    """The constraints.json document SageMaker's analyzer would suggest for these statistics."""
    item_count = int(statistics.get("dataset", {}).get("item_count", 0))
    config = {**DEFAULT_MONITORING_CONFIG, "distribution_constraints": dict(DEFAULT_MONITORING_CONFIG["distribution_constraints"])}
    if categorical_drift_method:
        config["distribution_constraints"]["categorical_drift_method"] = categorical_drift_method
    return {
        "version": 0.0,
        "features": [suggest_feature(f, item_count) for f in statistics.get("features", [])],
        "monitoring_config": config,
    }
