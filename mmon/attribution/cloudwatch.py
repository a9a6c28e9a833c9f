"""Feature attribution's CloudWatch records (format study §6), from its analysis.json."""

from __future__ import annotations

from typing import Any

from mmon.metrics import cloudwatch_dimensions

METHOD = "kernel_shap"


def cloudwatch_records(
    analysis: dict[str, Any], endpoint: str | None, schedule: str | None, metric_time: str
) -> list[dict[str, Any]]:
    """§6: ``feature_{name}`` per label (ValueType GlobalShapValues) and ``expected_value`` (ExpectedValue)."""
    base = cloudwatch_dimensions(endpoint, schedule)
    records = []
    for label, entry in analysis["explanations"][METHOD].items():

        def dims(value_type: str, label: str = label) -> list[dict[str, str]]:
            return [
                *(dict(d) for d in base),
                {"Name": "ExplainabilityMethod", "Value": "KernelShap"},
                {"Name": "Label", "Value": label},
                {"Name": "ValueType", "Value": value_type},
            ]

        for f, v in entry["global_shap_values"].items():
            records.append(
                {
                    "MetricName": f"feature_{f}",
                    "Timestamp": metric_time,
                    "Dimensions": dims("GlobalShapValues"),
                    "Value": float(v),
                }
            )
        if entry.get("expected_value") is not None:
            records.append(
                {
                    "MetricName": "expected_value",
                    "Timestamp": metric_time,
                    "Dimensions": dims("ExpectedValue"),
                    "Value": float(entry["expected_value"]),
                }
            )
    return records
