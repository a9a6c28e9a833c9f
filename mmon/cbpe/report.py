"""The report of a CBPE estimate: SageMaker's model-quality ``statistics.json`` with the estimates and
a side field ``mmon_estimation``, violations for estimates outside their thresholds, and metrics
named ``estimated_<metric>`` (see ``mmon.cbpe.api``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from mmon.cbpe.estimator import Estimate, json_num
from mmon.jsonfmt import java_double_str
from mmon.model_quality.constraints import SECTIONS, violation_name
from mmon.prometheus import Gauges

LT, GT = "LessThanThreshold", "GreaterThanThreshold"


def binary_matrix(c: Any, positive: str, doc: dict[str, Any]) -> dict[str, Any]:
    negative = str(doc.get("negative_label", "not " + positive))
    # SageMaker's layout: {actual: {predicted: count}}; expected counts are not whole numbers.
    return {positive: {positive: c.tp, negative: c.fn}, negative: {positive: c.fp, negative: c.tn}}


_num = json_num


def estimate_statistics(estimates: dict[str, Estimate], problem_type: str, n: int, cm: dict[str, Any] | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    section: dict[str, Any] = {}
    if cm is not None:
        section["confusion_matrix"] = cm
    for m, e in estimates.items():
        section[m] = {"value": _num(e.value), "standard_deviation": _num(e.sampling_error)}
    return {
        "version": 0.0,
        "dataset": {"item_count": n, "evaluation_time": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"},
        SECTIONS[problem_type][0]: section,
        "mmon_estimation": {
            "estimator": "cbpe",
            "estimated": True,
            "note": "values are estimated from calibrated scores without labels; standard_deviation is the sampling error",
            "metrics": {
                m: {
                    "lower_confidence_bound": _num(e.lower_confidence),
                    "upper_confidence_bound": _num(e.upper_confidence),
                    "lower_threshold": _num(e.lower_threshold),
                    "upper_threshold": _num(e.upper_threshold),
                    "alert": e.alert,
                }
                for m, e in estimates.items()
            },
        },
    }


def estimate_violations(estimates: dict[str, Estimate]) -> list[dict[str, Any]]:
    out = []
    for m, e in estimates.items():
        if not e.alert:
            continue
        low = e.lower_threshold is not None and e.value < e.lower_threshold
        op, t = (LT, e.lower_threshold) if low else (GT, e.upper_threshold)
        assert t is not None
        out.append(
            {
                "constraint_check_type": op,
                "description": f"Estimated metric {m} with {java_double_str(e.value)} +/- {java_double_str(e.sampling_error) if math.isfinite(e.sampling_error) else 'NaN'} "
                f"was {op} '{java_double_str(t)}' (CBPE, no labels)",
                # SageMaker's metric name, so the run's table and `mmon violations` pair it with its
                # constraint; the description says it is an estimate.
                "metric_name": violation_name(m),
            }
        )
    return out


_PROMETHEUS_FAMILIES = {
    "model_quality_estimated_metric": "Model-quality metric estimated by CBPE without labels (compare mmon_model_quality_metric).",
    "model_quality_estimated_sampling_error": "Sampling error (standard error) of the CBPE estimate.",
    "model_quality_estimated_lower_threshold": "Lower alert threshold of the estimate (reference mean - 3 std).",
    "model_quality_estimated_upper_threshold": "Upper alert threshold of the estimate (reference mean + 3 std).",
    "model_quality_rows": "Predictions read in the window.",
    "model_quality_violations": "Number of model-quality constraint violations of the run.",
}


def prometheus_text(
    estimates: dict[str, Estimate], problem_type: str, violations: list[dict[str, Any]], rows: int, endpoint: str | None, schedule: str | None
) -> str:
    gauges = Gauges("mmon", [("endpoint", endpoint), ("schedule", schedule), ("problem_type", problem_type)])
    for family, help_text in _PROMETHEUS_FAMILIES.items():
        gauges.family(family, help_text)
    for m, e in estimates.items():
        for family, v in (
            ("model_quality_estimated_metric", e.value),
            ("model_quality_estimated_sampling_error", e.sampling_error),
            ("model_quality_estimated_lower_threshold", e.lower_threshold),
            ("model_quality_estimated_upper_threshold", e.upper_threshold),
        ):
            if v is not None and math.isfinite(v):
                gauges.sample(family, v, [("metric", m)])
    gauges.sample("model_quality_rows", rows)
    gauges.sample("model_quality_violations", len(violations))
    return gauges.text()
