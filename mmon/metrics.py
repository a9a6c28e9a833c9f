"""Metrics of a data-quality run: CloudWatch records as SageMaker emits them, and Prometheus text.

CloudWatch (format study §6; DG ``model-monitor-interpreting-cloudwatch``,
``model-monitor-byoc-cloudwatch``): one JSON object per line, shaped like a ``PutMetricData``
datum; the namespace is not in the record (the platform adds it: real-time endpoints
``aws/sagemaker/Endpoints/data-metrics``, batch ``aws/sagemaker/ModelMonitoring/data-metrics``).

* ``feature_data_{name}`` -- numeric features only: a statistic set
  ``{"SampleCount", "Sum", "Minimum", "Maximum"}`` of the current window's values
  (``num_present``, ``sum``, ``min``, ``max`` of the current statistics.json);
* ``feature_non_null_{name}`` -- every feature: ``Value`` = completeness (non-null fraction);
* ``feature_baseline_drift_{name}`` -- features whose ``baseline_drift_check`` ran: ``Value`` = the
  drift distance (the chi-squared p-value for the ChiSquared method).

Metric names use the raw feature name, as SageMaker does. ``Dimensions``: ``Endpoint`` (when an
endpoint is given) and ``MonitoringSchedule`` (when a schedule is given; batch jobs have only
this one); ``Timestamp`` = the run's metric time as given (SageMaker: the window start,
``2019-11-26T03:00:00Z``). Non-finite values are not published (CloudWatch rejects them).
``emit_metrics: Disabled`` globally gives no records; per feature it drops that feature's.

Prometheus (mmon addition, for node-exporter's textfile collector): text exposition format 0.0.4,
every family a ``gauge`` with ``# HELP`` and ``# TYPE`` lines, no timestamps (the textfile
collector rejects them). The feature goes into a ``feature`` label rather than the metric name,
so names stay valid and one alert rule covers every feature; labels ``endpoint`` / ``schedule``
when given. Families (prefix ``mmon_`` by default, sanitised to ``[a-zA-Z_:][a-zA-Z0-9_:]*``):
``data_quality_feature_sample_count`` / ``_sum`` / ``_minimum`` / ``_maximum`` (numeric features),
``data_quality_feature_non_null``, ``data_quality_feature_baseline_drift``,
``data_quality_feature_drift_test{test="psi"}`` (extra drift tests' values) and
``data_quality_violations{check="…"}`` (violation count per check type, zeros included so an
alert on ``> 0`` has a series to watch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeGuard

from mmon.checks.model import CHECK_TYPES, CheckReport
from mmon.prometheus import Gauges


def _finite(x: Any) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def cloudwatch_dimensions(endpoint: str | None, schedule: str | None) -> list[dict[str, str]]:
    """The ``Endpoint`` / ``MonitoringSchedule`` dimensions every monitor's records carry (§6)."""
    dims = []
    if endpoint:
        dims.append({"Name": "Endpoint", "Value": endpoint})
    if schedule:
        dims.append({"Name": "MonitoringSchedule", "Value": schedule})
    return dims


def cloudwatch_datum(name: str, metric_time: str, dims: list[dict[str, str]], **value: Any) -> dict[str, Any]:
    """One CloudWatch record: its name, timestamp and dimensions, then ``Value`` or ``StatisticValues``."""
    return {"MetricName": name, "Timestamp": metric_time, "Dimensions": [dict(d) for d in dims], **value}


def value_records(
    values: Iterable[tuple[str, Any]], endpoint: str | None, schedule: str | None, metric_time: str
) -> list[dict[str, Any]]:
    """One ``Value`` record per finite value, for monitors whose metrics are plain numbers (model
    quality's realized and CBPE's estimated metrics); a non-finite one is left out (CloudWatch
    rejects it)."""
    dims = cloudwatch_dimensions(endpoint, schedule)
    return [cloudwatch_datum(name, metric_time, dims, Value=float(v)) for name, v in values if _finite(v)]


def _numeric_stats(current_statistics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for f in current_statistics.get("features", []):
        ns = f.get("numerical_statistics")
        if isinstance(ns, dict):
            out[f["name"]] = ns
    return out


def _statistic_set(ns: dict[str, Any]) -> dict[str, float] | None:
    count = ns.get("common", {}).get("num_present", 0)
    total, low, high = ns.get("sum"), ns.get("min"), ns.get("max")
    if not (_finite(count) and count > 0 and _finite(total) and _finite(low) and _finite(high)):
        return None
    return {"SampleCount": float(count), "Sum": float(total), "Minimum": float(low), "Maximum": float(high)}


def cloudwatch_records(
    current_statistics: dict[str, Any],
    report: CheckReport,
    endpoint: str | None,
    schedule: str | None,
    metric_time: str,
) -> list[dict[str, Any]]:
    """The CloudWatch metric records of one run, per feature: data, non-null, baseline drift."""
    if not report.emit_metrics:
        return []
    dims = cloudwatch_dimensions(endpoint, schedule)
    numeric = _numeric_stats(current_statistics)
    records: list[dict[str, Any]] = []

    def record(name: str, **value: Any) -> None:
        records.append(cloudwatch_datum(name, metric_time, dims, **value))

    for fr in report.features:
        if not fr.emit_metrics:
            continue
        ns = numeric.get(fr.name)
        if ns is not None:
            sset = _statistic_set(ns)
            if sset is not None:
                record(f"feature_data_{fr.name}", StatisticValues=sset)
        if _finite(fr.completeness):
            record(f"feature_non_null_{fr.name}", Value=float(fr.completeness))
        if _finite(fr.drift_distance):
            record(f"feature_baseline_drift_{fr.name}", Value=float(fr.drift_distance))
    return records


# -- Prometheus (encoded by mmon.prometheus) -------------------------------------------------------

_HELP = {
    "data_quality_feature_sample_count": "Number of numeric values of the feature in the current window (CloudWatch feature_data SampleCount).",
    "data_quality_feature_sum": "Sum of the feature's numeric values in the current window (CloudWatch feature_data Sum).",
    "data_quality_feature_minimum": "Minimum of the feature's numeric values in the current window (CloudWatch feature_data Minimum).",
    "data_quality_feature_maximum": "Maximum of the feature's numeric values in the current window (CloudWatch feature_data Maximum).",
    "data_quality_feature_non_null": "Non-null fraction of the feature in the current window (CloudWatch feature_non_null).",
    "data_quality_feature_baseline_drift": "Drift distance from the baseline compared by baseline_drift_check (CloudWatch feature_baseline_drift).",
    "data_quality_feature_drift_test": "Value of an extra drift test (ks and chi2: p-values; wasserstein, psi, js: distances).",
    # The check types come from the registry (mmon/checks/registry.py), like --disable's help.
    "data_quality_violations": "Number of constraint violations of the run, per check type ("
    + ", ".join(CHECK_TYPES)
    + ").",
}


def prometheus_text(
    current_statistics: dict[str, Any],
    report: CheckReport,
    endpoint: str | None,
    schedule: str | None,
    prefix: str = "mmon",
) -> str:
    """The run's metrics in Prometheus text exposition format (empty when emit_metrics is Disabled)."""
    if not report.emit_metrics:
        return ""
    gauges = Gauges(prefix, [("endpoint", endpoint), ("schedule", schedule)])
    for family, help_text in _HELP.items():
        gauges.family(family, help_text)
    numeric = _numeric_stats(current_statistics)
    for fr in report.features:
        if not fr.emit_metrics:
            continue
        feat: list[tuple[str, str | None]] = [("feature", fr.name)]
        ns = numeric.get(fr.name)
        sset = _statistic_set(ns) if ns is not None else None
        if sset is not None:
            gauges.sample("data_quality_feature_sample_count", sset["SampleCount"], feat)
            gauges.sample("data_quality_feature_sum", sset["Sum"], feat)
            gauges.sample("data_quality_feature_minimum", sset["Minimum"], feat)
            gauges.sample("data_quality_feature_maximum", sset["Maximum"], feat)
        if fr.completeness is not None:
            gauges.sample("data_quality_feature_non_null", fr.completeness, feat)
        if fr.drift_distance is not None:
            gauges.sample("data_quality_feature_baseline_drift", fr.drift_distance, feat)
        for test, value in fr.extra.items():
            gauges.sample("data_quality_feature_drift_test", value, feat + [("test", test)])
    counts = dict.fromkeys(CHECK_TYPES, 0)
    for v in report.violations:
        check = v.get("constraint_check_type", "")
        counts[check] = counts.get(check, 0) + 1
    for check, n in counts.items():
        gauges.sample("data_quality_violations", float(n), [("check", check)])
    return gauges.text()


def metric_time_or_now(metric_time: str | None) -> str:
    """The ``Timestamp`` a run's CloudWatch records carry: the metric time given, else now (UTC)."""
    from datetime import UTC, datetime

    return metric_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cloudwatch_jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    """cloudwatch_metrics.jsonl's bytes, for every monitor type: one compact JSON object per line."""
    import json

    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
