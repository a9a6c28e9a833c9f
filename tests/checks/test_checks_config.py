"""monitoring_config: defaults, old formats, per-feature overrides, and the CLI option parsers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.checks import (
    CheckOptions,
    DriftTest,
    MonitoringConfig,
    check_data_quality,
    feature_config,
    global_config,
    parse_disable,
    parse_drift_test,
)
from mmon.errors import InputError
from mmon.stats.profile import profile_batch
from mmon.stats.statistics import read_statistics, to_statistics
from mmon.suggest import suggest_constraints
from tests.checks.test_checks_core import kinds

# -- global config ------------------------------------------------------------------------------


def test_defaults_are_the_containers() -> None:
    cfg = global_config({"features": []})
    assert cfg == MonitoringConfig()
    assert (cfg.datatype_check_threshold, cfg.domain_content_threshold) == (1.0, 1.0)
    assert (cfg.comparison_method, cfg.comparison_threshold, cfg.categorical_drift_method) == ("Robust", 0.1, "LInfinity")


def test_real_2024_and_2020_files(shared_dir: Path) -> None:
    cfg = global_config(json.loads((shared_dir / "dq-constraints.2024-10.json").read_text()))
    assert cfg == MonitoringConfig()
    doc2020 = json.loads((shared_dir / "dq-constraints.2020-05.from-log.json").read_text())
    doc2020["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 0.25
    cfg = global_config(doc2020)
    # 2020 files have no categorical key: it follows comparison_threshold.
    assert cfg.comparison_threshold == cfg.categorical_comparison_threshold == 0.25


def test_old_sdk_format_keys(shared_dir: Path) -> None:
    doc = json.loads((shared_dir / "dq-constraints.old-format.sdk-test.json").read_text())
    cfg = global_config(doc)
    assert cfg.perform_comparison is True
    assert cfg.comparison_threshold == 1.0 and cfg.categorical_comparison_threshold == 1.0
    assert cfg.domain_content_threshold == 1.0  # min_domain_mass
    doc["monitoring_config"]["distribution_constraints"]["enable_comparisons"] = False
    doc["monitoring_config"]["distribution_constraints"]["min_domain_mass"] = 0.5
    cfg = global_config(doc)
    assert cfg.perform_comparison is False and cfg.domain_content_threshold == 0.5


def test_overrides_flat_nested_and_sdk_location() -> None:
    base = MonitoringConfig()
    flat = feature_config(base, {"name": "a", "monitoringConfigOverrides": {"comparison_threshold": 0.3}})
    assert flat.comparison_threshold == 0.3 and flat.categorical_comparison_threshold == 0.3
    nested = feature_config(
        base,
        {"name": "a", "monitoringConfigOverrides": {"distribution_constraints": {"comparison_method": "simple"}}},
    )
    assert nested.comparison_method == "Simple"
    sdk = feature_config(
        base, {"name": "a", "string_constraints": {"monitoring_config_overrides": {"evaluate_constraints": "Disabled"}}}
    )
    assert sdk.evaluate_constraints is False
    snake = feature_config(base, {"name": "a", "monitoring_config_overrides": {"datatype_check_threshold": 0.5}})
    assert snake.datatype_check_threshold == 0.5
    # The documented camelCase key wins over the SDK's location.
    both = feature_config(
        base,
        {
            "name": "a",
            "string_constraints": {"monitoring_config_overrides": {"emit_metrics": "Disabled"}},
            "monitoringConfigOverrides": {"emit_metrics": "Enabled"},
        },
    )
    assert both.emit_metrics is True


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"evaluate_constraints": "Maybe"}, "evaluate_constraints"),
        ({"datatype_check_threshold": 1.5}, "datatype_check_threshold"),
        ({"domain_content_threshold": "high"}, "domain_content_threshold"),
        ({"distribution_constraints": {"comparison_threshold": -1}}, "comparison_threshold"),
        ({"distribution_constraints": {"categorical_drift_method": "KL"}}, "categorical_drift_method"),
    ],
)
def test_bad_values_are_refused(raw: dict, key: str) -> None:
    with pytest.raises(InputError, match=key):
        global_config({"monitoring_config": raw})


# -- overrides change what a real run reports ---------------------------------------------------


def _shifted_pair() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(7)
    base = pl.DataFrame({"x": rng.normal(0, 1, 3000), "y": rng.normal(0, 1, 3000)})
    cur = pl.DataFrame({"x": rng.normal(0.6, 1, 3000), "y": rng.normal(0.6, 1, 3000)})
    return base, cur


def test_per_feature_threshold_override_in_a_run() -> None:
    base, cur = _shifted_pair()
    stats = to_statistics(profile_batch(base))
    constraints = suggest_constraints(stats)
    current = profile_batch(cur)
    plain = check_data_quality(read_statistics(stats), constraints, current)
    assert kinds(plain) == [("x", "baseline_drift_check"), ("y", "baseline_drift_check")]
    edited = copy.deepcopy(constraints)
    edited["features"][0]["monitoringConfigOverrides"] = {"distribution_constraints": {"comparison_threshold": 0.5}}
    edited["features"][1]["monitoringConfigOverrides"] = {"perform_comparison": "Disabled"}
    report = check_data_quality(read_statistics(stats), edited, current)
    assert kinds(report) == []
    assert report.features[0].drift_distance == plain.features[0].drift_distance
    assert "baseline_drift_check" not in report.features[1].checks_run


def test_sdk_old_format_constraints_are_honoured(shared_dir: Path) -> None:
    stats = read_statistics(json.loads((shared_dir / "dq-statistics.sdk-test.json").read_text()))
    constraints = json.loads((shared_dir / "dq-constraints.old-format.sdk-test.json").read_text())
    good = "preproc-not-YET-supported-for-csv-json"
    ok = profile_batch(pl.DataFrame({"message": [good] * 50, "second_message": [good] * 50}))
    report = check_data_quality(stats, constraints, ok)
    assert report.violations == []
    assert "baseline_drift_check" in report.features[0].checks_run  # enable_comparisons: true
    bad = profile_batch(pl.DataFrame({"message": [good] * 45 + ["other"] * 5, "second_message": [good] * 45 + ["x"] * 5}))
    assert kinds(check_data_quality(stats, constraints, bad)) == [
        ("message", "categorical_values_check"),
        ("second_message", "categorical_values_check"),
    ]
    # SDK Constraints.set_monitoring(False, "message") writes this override:
    off = copy.deepcopy(constraints)
    off["features"][0]["string_constraints"]["monitoring_config_overrides"]["evaluate_constraints"] = "Disabled"
    off["monitoring_config"]["distribution_constraints"]["enable_comparisons"] = False
    report = check_data_quality(stats, off, bad)
    assert kinds(report) == [("second_message", "categorical_values_check")]
    assert report.features[0].checks_run == []
    assert "baseline_drift_check" not in report.features[1].checks_run


# -- CLI parsers --------------------------------------------------------------------------------


def test_parse_disable() -> None:
    assert parse_disable("age:data_type_check") == ("age", "data_type_check")
    assert parse_disable("*:extra_column_check") == ("*", "extra_column_check")
    assert parse_disable("a:b:completeness") == ("a:b", "completeness_check")
    assert parse_disable("age:*") == ("age", "*")
    for bad in ("age", ":data_type_check", "age:", "age:no_such_check"):
        with pytest.raises(InputError):
            parse_disable(bad)
    opts = CheckOptions(disabled={("age", "*")})
    assert opts.is_disabled("age", "completeness_check") and not opts.is_disabled("other", "completeness_check")


def test_parse_drift_test() -> None:
    assert parse_drift_test("psi") == DriftTest("psi", None)
    assert parse_drift_test("psi=0.2") == DriftTest("psi", 0.2)
    assert parse_drift_test("KS=0.01") == DriftTest("ks", 0.01)
    assert parse_drift_test("wasserstein=0.1") == DriftTest("wasserstein", 0.1)
    assert parse_drift_test("jensen-shannon=0.1") == DriftTest("js", 0.1)
    assert parse_drift_test("chi2=0.05") == DriftTest("chi2", 0.05)
    for bad in ("kl=0.1", "psi=abc", "psi=-1", "ks=2", "psi=nan"):
        with pytest.raises(InputError):
            parse_drift_test(bad)
