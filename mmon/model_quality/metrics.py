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

from mmon.metrics import cloudwatch_dimensions
from mmon.model_quality.constraints import SECTIONS


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def scalar_metrics(statistics: dict[str, Any], problem_type: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``{value, standard_deviation}`` metrics of the problem type's section, in file order."""
    section = statistics.get(SECTIONS[problem_type][0], {})
    return [(k, m) for k, m in section.items() if isinstance(m, dict) and "value" in m]


def cloudwatch_records(
    statistics: dict[str, Any],
    problem_type: str,
    endpoint: str | None,
    schedule: str | None,
    metric_time: str,
) -> list[dict[str, Any]]:
    """One CloudWatch datum per finite scalar metric of the run's statistics."""
    dims = cloudwatch_dimensions(endpoint, schedule)
    return [
        {"MetricName": name, "Timestamp": metric_time, "Dimensions": [dict(d) for d in dims], "Value": float(m["value"])}
        for name, m in scalar_metrics(statistics, problem_type)
        if _finite(m["value"])
    ]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: list[tuple[str, str | None]]) -> str:
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs if v is not None)
    return "{" + body + "}" if body else ""


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
    """The run's metrics in Prometheus text exposition format."""
    pre = f"{prefix}_" if prefix else ""
    common: list[tuple[str, str | None]] = [("endpoint", endpoint), ("schedule", schedule), ("problem_type", problem_type)]
    fams: dict[str, tuple[str, list[str]]] = {
        "model_quality_metric": ("Model-quality metric of the window (CloudWatch model-metrics value).", []),
        "model_quality_standard_deviation": ("Standard deviation of the metric over five 80 % samples.", []),
        "model_quality_rows": ("Predictions read in the window.", []),
        "model_quality_labelled_rows": ("Predictions of the window that had a ground-truth label.", []),
        "model_quality_violations": ("Number of model-quality constraint violations of the run.", []),
    }

    def fmt(x: float) -> str:
        return "NaN" if math.isnan(x) else ("+Inf" if x > 0 else "-Inf") if math.isinf(x) else repr(float(x))

    for name, m in scalar_metrics(statistics, problem_type):
        if _finite(m["value"]):
            fams["model_quality_metric"][1].append(f"{pre}model_quality_metric{_labels(common + [('metric', name)])} {fmt(m['value'])}")
        sd = m.get("standard_deviation")
        if _finite(sd):
            fams["model_quality_standard_deviation"][1].append(
                f"{pre}model_quality_standard_deviation{_labels(common + [('metric', name)])} {fmt(float(sd))}"  # type: ignore[arg-type]
            )
    fams["model_quality_rows"][1].append(f"{pre}model_quality_rows{_labels(common)} {fmt(rows)}")
    fams["model_quality_labelled_rows"][1].append(f"{pre}model_quality_labelled_rows{_labels(common)} {fmt(labelled)}")
    fams["model_quality_violations"][1].append(f"{pre}model_quality_violations{_labels(common)} {fmt(len(violations))}")
    lines: list[str] = []
    for fam, (help_text, samples) in fams.items():
        if samples:
            lines += [f"# HELP {pre}{fam} {help_text}", f"# TYPE {pre}{fam} gauge", *samples]
    return "\n".join(lines) + "\n"
