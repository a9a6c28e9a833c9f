"""CloudWatch metric records and the Prometheus textfile of a data-quality run."""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import polars as pl
import pytest

from mmon.checks import CheckOptions, check_data_quality, parse_drift_test
from mmon.metrics import cloudwatch_records, prometheus_text
from mmon.prometheus import sanitize_metric_name
from mmon.stats.profile import profile_batch
from mmon.stats.statistics import read_statistics, to_statistics
from mmon.suggest import suggest_constraints

TIME = "2024-10-27T17:00:00Z"


def _run(edit=None, options: CheckOptions | None = None):
    rng = np.random.default_rng(0)
    base = pl.DataFrame(
        {
            "age": [str(x) for x in rng.integers(18, 90, 500)],
            "price": rng.normal(100, 10, 500),
            "state": rng.choice(["CA", "NY", "TX"], 500).tolist(),
            "note": [f"free text {i}" for i in range(500)],
        }
    )
    cur_age: list[str | None] = [str(x) for x in rng.integers(30, 99, 380)] + [None] * 20
    cur = pl.DataFrame(
        {
            "age": cur_age,
            "price": rng.normal(130, 10, 400),
            "state": rng.choice(["CA", "NY", "TX"], 400).tolist(),
            "note": [f"free text {i}" for i in range(400)],
        }
    )
    stats = to_statistics(profile_batch(base))
    constraints = suggest_constraints(stats)
    if edit:
        constraints = copy.deepcopy(constraints)
        edit(constraints)
    state = profile_batch(cur)
    report = check_data_quality(read_statistics(stats), constraints, state, options)
    return to_statistics(state), report


def test_cloudwatch_records_shape() -> None:
    current, report = _run()
    records = cloudwatch_records(current, report, "my-endpoint", "my-schedule", TIME)
    names = [r["MetricName"] for r in records]
    assert names == [
        "feature_data_age",
        "feature_non_null_age",
        "feature_baseline_drift_age",
        "feature_data_price",
        "feature_non_null_price",
        "feature_baseline_drift_price",
        "feature_non_null_state",
        "feature_baseline_drift_state",
        "feature_non_null_note",
    ]
    dims = [{"Name": "Endpoint", "Value": "my-endpoint"}, {"Name": "MonitoringSchedule", "Value": "my-schedule"}]
    for r in records:
        assert r["Timestamp"] == TIME and r["Dimensions"] == dims
        assert ("Value" in r) != ("StatisticValues" in r)
        json.dumps(r, allow_nan=False)  # every value is finite and serialisable
    age = records[0]["StatisticValues"]
    feat = {f["name"]: f for f in current["features"]}["age"]["numerical_statistics"]
    assert age == {"SampleCount": 380.0, "Sum": feat["sum"], "Minimum": feat["min"], "Maximum": feat["max"]}
    assert records[1]["Value"] == pytest.approx(0.95)
    by_feature = {f.name: f for f in report.features}
    assert records[5]["Value"] == by_feature["price"].drift_distance > 0.5


def test_cloudwatch_batch_dimensions_and_emit_metrics_switches() -> None:
    current, report = _run()
    recs = cloudwatch_records(current, report, None, "sched", TIME)
    assert all(r["Dimensions"] == [{"Name": "MonitoringSchedule", "Value": "sched"}] for r in recs)

    def off(c):
        c["monitoring_config"]["emit_metrics"] = "Disabled"

    current, report = _run(off)
    assert cloudwatch_records(current, report, "e", "s", TIME) == []
    assert prometheus_text(current, report, "e", "s") == ""

    def off_for_age(c):
        c["features"][0]["monitoringConfigOverrides"] = {"emit_metrics": "Disabled"}

    current, report = _run(off_for_age)
    names = [r["MetricName"] for r in cloudwatch_records(current, report, "e", "s", TIME)]
    assert names and not any(n.endswith("_age") for n in names)
    assert 'feature="age"' not in prometheus_text(current, report, "e", "s")


_HELP = re.compile(r"^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$")
_TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) gauge$")
_SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\} '
    r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|NaN|[+-]Inf)$"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_prometheus(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    assert text.endswith("\n")
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if m := _HELP.match(line):
            assert m.group(1) not in families
            families[m.group(1)] = []
        elif m := _TYPE.match(line):
            typed.add(m.group(1))
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a valid sample line: {line!r}"
            assert m.group(1) in typed, f"sample before its TYPE line: {line!r}"
            labels = dict(_LABEL.findall(m.group(2)))
            families[m.group(1)].append((labels, float(m.group(3).replace("Inf", "inf"))))
    return families


def test_prometheus_text_parses_line_by_line() -> None:
    current, report = _run(options=CheckOptions(drift_tests=[parse_drift_test("psi=0.2")]))
    text = prometheus_text(current, report, "my-endpoint", "my-schedule")
    fam = parse_prometheus(text)
    for samples in fam.values():
        for labels, _ in samples:
            assert labels["endpoint"] == "my-endpoint" and labels["schedule"] == "my-schedule"
    non_null = {lab["feature"]: v for lab, v in fam["mmon_data_quality_feature_non_null"]}
    assert non_null == {"age": pytest.approx(0.95), "price": 1.0, "state": 1.0, "note": 1.0}
    counts = {lab["feature"]: v for lab, v in fam["mmon_data_quality_feature_sample_count"]}
    assert counts == {"age": 380.0, "price": 400.0}
    drift = {lab["feature"]: v for lab, v in fam["mmon_data_quality_feature_baseline_drift"]}
    assert set(drift) == {"age", "price", "state"}
    tests = {(lab["feature"], lab["test"]): v for lab, v in fam["mmon_data_quality_feature_drift_test"]}
    assert ("price", "psi") in tests and tests[("price", "psi")] > 0.2
    violations = {lab["check"]: v for lab, v in fam["mmon_data_quality_violations"]}
    assert violations["completeness_check"] == 1.0 and violations["extra_column_check"] == 0.0
    assert sum(violations.values()) == len(report.violations)


def test_prometheus_escapes_labels_and_sanitises_names() -> None:
    current, report = _run()
    report.features[0].name = 'we"ird\\name\n'
    text = prometheus_text(current, report, 'end"point', None, prefix="my-app.monitor")
    fam = parse_prometheus(text)
    assert all(name.startswith("my_app_monitor_") for name in fam)
    feats = [lab["feature"] for lab, _ in fam["my_app_monitor_data_quality_feature_non_null"]]
    assert 'we\\"ird\\\\name\\n' in feats
    assert all("schedule" not in lab for samples in fam.values() for lab, _ in samples)
    assert sanitize_metric_name("9lives-x") == "_9lives_x"


def test_non_finite_values_are_not_published_to_cloudwatch() -> None:
    current, report = _run()
    report.features[1].drift_distance = math.inf
    names = [r["MetricName"] for r in cloudwatch_records(current, report, "e", "s", TIME)]
    assert "feature_baseline_drift_price" not in names
    assert "+Inf" in prometheus_text(current, report, "e", "s")


def test_prometheus_help_lists_the_registered_checks() -> None:
    from mmon.checks.registry import CHECKS

    current, report = _run()
    help_line = next(x for x in prometheus_text(current, report, "e", "s").splitlines() if x.startswith("# HELP mmon_data_quality_violations"))
    assert all(c.name in help_line for c in CHECKS)
