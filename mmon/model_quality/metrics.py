"""Metrics of a model-quality run: CloudWatch records as SageMaker emits them, and Prometheus text.

CloudWatch (format study §4.5, §6; DG ``model-monitor-model-quality-cw``): one JSON object per
line shaped like a ``PutMetricData`` datum, the namespace left to the platform
(``aws/sagemaker/Endpoints/model-metrics`` for endpoints,
``aws/sagemaker/ModelMonitoring/model-metrics`` for batch transform). ``MetricName`` is the
statistics key (snake_case: ``auc``, ``f2``, ``recall_best_constant_classifier`` …), ``Value`` the
metric's value; every scalar metric of the section is published -- the real 2021 binary run
published exactly its 17 scalars -- never the confusion matrix or the curves, and never a
non-finite value (CloudWatch rejects them). ``Dimensions``: ``Endpoint`` (when given) and
``MonitoringSchedule`` (when given); ``Timestamp``: the run's metric time (SageMaker: the window
start).

Prometheus (mmon addition, node-exporter textfile format 0.0.4, no timestamps):
``mmon_model_quality_metric{metric="auc",problem_type=…}`` (value),
``mmon_model_quality_standard_deviation{metric=…}``, ``mmon_model_quality_rows`` /
``mmon_model_quality_labelled_rows`` and ``mmon_model_quality_violations`` (count), with
``endpoint`` / ``schedule`` labels when given.
"""

from __future__ import annotations

import math
from typing import Any

from mmon.model_quality.constraints import SECTIONS
from mmon.prometheus import Gauges


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def scalar_metrics(statistics: dict[str, Any], problem_type: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``{value, standard_deviation}`` metrics of the problem type's section, in file order."""
    section = statistics.get(SECTIONS[problem_type][0], {})
    return [(k, m) for k, m in section.items() if isinstance(m, dict) and "value" in m]


_FAMILIES = {
    "model_quality_metric": "Model-quality metric of the window (CloudWatch model-metrics value).",
    "model_quality_standard_deviation": "Standard deviation of the metric over five 80 % samples.",
    "model_quality_rows": "Predictions read in the window.",
    "model_quality_labelled_rows": "Predictions of the window that had a ground-truth label.",
    "model_quality_violations": "Number of model-quality constraint violations of the run.",
}


def prometheus_text(
    statistics: dict[str, Any],
    problem_type: str,
    violations: list[dict[str, Any]],
    rows: int,
    labelled: int,
    endpoint: str | None,
    schedule: str | None,
    prefix: str = "mmon",
) -> str:
    """The run's metrics in Prometheus text exposition format (encoded by mmon.prometheus)."""
    gauges = Gauges(prefix, [("endpoint", endpoint), ("schedule", schedule), ("problem_type", problem_type)])
    for family, help_text in _FAMILIES.items():
        gauges.family(family, help_text)
    for name, m in scalar_metrics(statistics, problem_type):
        if _finite(m["value"]):
            gauges.sample("model_quality_metric", m["value"], [("metric", name)])
        sd = m.get("standard_deviation")
        if _finite(sd):
            gauges.sample("model_quality_standard_deviation", float(sd), [("metric", name)])  # type: ignore[arg-type]
    gauges.sample("model_quality_rows", rows)
    gauges.sample("model_quality_labelled_rows", labelled)
    gauges.sample("model_quality_violations", len(violations))
    return gauges.text()
