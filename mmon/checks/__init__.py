"""Data-quality checks with SageMaker Model Monitor's semantics (format study §2.4, §3).

A monitoring run compares the current window's profile (``mmon.stats.profile.ProfileState``) with
the baseline's ``statistics.json`` (``mmon.stats.statistics.read_statistics``) and
``constraints.json``, and returns the violations (``constraint_violations.json``) and per-feature
values for the report and the metrics. One module per check; each module's docstring states the
rule, the description wording and the choices mmon made where SageMaker's rule is not public:

* :mod:`.config` -- effective ``monitoring_config`` per feature (defaults, old format, overrides);
* :mod:`.columns` -- ``missing_column_check``, ``extra_column_check``;
* :mod:`.data_type` -- ``data_type_check``;
* :mod:`.completeness` -- ``completeness_check``;
* :mod:`.non_negative` -- ``non_negative_check`` (mmon extension);
* :mod:`.categorical_values` -- ``categorical_values_check``;
* :mod:`.drift` -- ``baseline_drift_check`` (L-infinity Simple/Robust, ChiSquared);
* :mod:`.drift_tests` -- extra drift tests (KS, Wasserstein, PSI, Jensen-Shannon, chi-squared);
* :mod:`.runner` -- which checks run for which feature, and in which order.
"""

from __future__ import annotations

from .config import MonitoringConfig, feature_config, global_config
from .model import (
    CHECK_TYPES,
    DRIFT_TEST_NAMES,
    CheckOptions,
    CheckReport,
    DriftTest,
    FeatureResult,
    parse_disable,
    parse_drift_test,
    violations_document,
)
from .runner import check_data_quality

__all__ = [
    "CHECK_TYPES",
    "DRIFT_TEST_NAMES",
    "CheckOptions",
    "CheckReport",
    "DriftTest",
    "FeatureResult",
    "MonitoringConfig",
    "check_data_quality",
    "feature_config",
    "global_config",
    "parse_disable",
    "parse_drift_test",
    "violations_document",
]
