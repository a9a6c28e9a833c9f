"""Run every data-quality check of a monitoring window: baseline (statistics + constraints) vs current.

Which features are checked: the features of constraints.json in their order, then features that
only the baseline statistics.json lists (missing column and drift only: they carry no constraint),
then columns of the current dataset that the baseline does not know (``extra_column_check``). Per feature, checks run in
:data:`mmon.checks.model.CHECK_TYPES` order, each only when

* the global and the feature's ``evaluate_constraints`` are Enabled (global Disabled = no checks
  at all, not even missing/extra columns),
* the user has not switched it off (``CheckOptions.disabled``, e.g. ``age:data_type_check`` or
  ``*:non_negative_check``),
* and it has something to judge: ``data_type_check`` needs a baseline type other than Unknown and
  a non-null current value; ``completeness_check`` a ``completeness`` constraint and a non-empty
  window; ``non_negative_check`` ``is_non_negative: true`` and a current number;
  ``categorical_values_check`` ``string_constraints.domains`` and a current value;
  ``baseline_drift_check`` ``perform_comparison`` Enabled and distributions on both sides (a KLL
  sketch for numeric baselines, categorical buckets for String baselines).

A missing column gets only ``missing_column_check``. The drift distance and the extra drift tests
are computed only where ``baseline_drift_check`` runs.
"""

from __future__ import annotations

import math
from typing import Any

from mmon.errors import InputError
from mmon.stats import dtypes
from mmon.stats.profile import ColumnState, ProfileState
from mmon.stats.statistics import DatasetStatistics, FeatureStatistics

from . import categorical_values, columns, completeness, data_type, drift, drift_tests, non_negative
from .config import CHISQUARED, ROBUST, MonitoringConfig, feature_config, global_config
from .model import (
    BASELINE_DRIFT,
    CATEGORICAL_TESTS,
    CATEGORICAL_VALUES,
    COMPLETENESS,
    DATA_TYPE,
    EXTRA_COLUMN,
    MISSING_COLUMN,
    NON_NEGATIVE,
    NUMERIC_TESTS,
    CheckOptions,
    CheckReport,
    DriftTest,
    FeatureResult,
    violation,
)


def _current_type(col: ColumnState) -> str:
    t = col.inferred_type
    # statistics.json reports a pure true/false column as String (mmon.stats.statistics).
    return dtypes.STRING if t == dtypes.BOOLEAN else t


def _requested_tests(options: CheckOptions) -> list[DriftTest]:
    """One DriftTest per name, the last given winning, in first-mention order."""
    by_name: dict[str, DriftTest] = {}
    for t in options.drift_tests:
        by_name[t.name] = t
    return list(by_name.values())


class _Run:
    def __init__(
        self, baseline: DatasetStatistics, constraints: dict[str, Any], current: ProfileState, options: CheckOptions
    ) -> None:
        self.baseline = baseline
        self.current = current
        self.options = options
        self.config = global_config(constraints)
        feats = constraints.get("features") or []
        if not isinstance(feats, list):
            raise InputError("constraints.json: features must be a list")
        self.constraints: dict[str, dict[str, Any]] = {}
        for f in feats:
            if not isinstance(f, dict) or not isinstance(f.get("name"), str):
                raise InputError("constraints.json: every feature needs a name")
            self.constraints.setdefault(f["name"], f)
        names = list(self.constraints)
        names += [n for n in baseline.features if n not in self.constraints]
        self.baseline_names = names
        self.tests = _requested_tests(options)
        self.violations: list[dict[str, str]] = []
        self.features: list[FeatureResult] = []

    # -- helpers --------------------------------------------------------------------------------
    def _on(self, feature: str, check: str) -> bool:
        return not self.options.is_disabled(feature, check)

    def _add(self, res: FeatureResult, check: str, evaluated: bool, desc: str | None) -> None:
        if evaluated:
            res.checks_run.append(check)
        if desc is not None:
            self.violations.append(violation(res.name, check, desc))

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> CheckReport:
        evaluate = self.config.evaluate_constraints
        current_names = list(self.current.columns)
        n_base, n_cur = len(self.baseline_names), len(current_names)
        for name in self.baseline_names:
            self._feature(name, evaluate, n_base, n_cur)
        for name in columns.extra_columns(self.baseline_names, current_names):
            col = self.current.columns[name]
            res = FeatureResult(
                name=name,
                inferred_type=_current_type(col),
                completeness=completeness.observed_completeness(col),
                emit_metrics=self.config.emit_metrics,
            )
            if evaluate and self._on(name, EXTRA_COLUMN):
                self._add(res, EXTRA_COLUMN, True, columns.extra_description(n_base, n_cur))
            self.features.append(res)
        return CheckReport(violations=self.violations, features=self.features, emit_metrics=self.config.emit_metrics)

    def _feature(self, name: str, evaluate: bool, n_base: int, n_cur: int) -> None:
        spec = self.constraints.get(name)
        stats = self.baseline.features.get(name)
        cfg = feature_config(self.config, spec)
        base_type = (spec or {}).get("inferred_type") or (stats.inferred_type if stats else None)
        col = self.current.columns.get(name)
        res = FeatureResult(
            name=name,
            inferred_type=_current_type(col) if col is not None else None,
            completeness=completeness.observed_completeness(col) if col is not None else None,
            baseline_inferred_type=base_type,
            emit_metrics=cfg.emit_metrics,
        )
        self.features.append(res)
        if not (evaluate and cfg.evaluate_constraints):
            return
        if col is None:
            if self._on(name, MISSING_COLUMN):
                self._add(res, MISSING_COLUMN, True, columns.missing_description(n_base, n_cur))
            return
        if spec is not None:
            if base_type and self._on(name, DATA_TYPE):
                self._add(res, DATA_TYPE, *data_type.check(base_type, col, cfg.datatype_check_threshold,
                                                           stats.inferred_type if stats else None))  # fmt: skip
            expected = spec.get("completeness")
            if expected is not None and self._on(name, COMPLETENESS):
                robust = cfg.comparison_method == ROBUST
                self._add(
                    res, COMPLETENESS,
                    *completeness.check(_fraction(expected, name), col, robust, self.baseline.item_count or None),
                )  # fmt: skip
            num = spec.get("num_constraints") or {}
            if num.get("is_non_negative") is True and self._on(name, NON_NEGATIVE):
                self._add(res, NON_NEGATIVE, *non_negative.check(col))
            strs = spec.get("string_constraints") or {}
            domains = strs.get("domains")
            if isinstance(domains, list) and self._on(name, CATEGORICAL_VALUES):
                self._add(
                    res, CATEGORICAL_VALUES, *categorical_values.check(domains, col, cfg.domain_content_threshold)
                )
        if stats is not None and cfg.perform_comparison and self._on(name, BASELINE_DRIFT):
            self._drift(res, stats, col, cfg)

    def _drift(self, res: FeatureResult, stats: FeatureStatistics, col: ColumnState, cfg: MonitoringConfig) -> None:
        if stats.sketch is not None and stats.sketch.count > 0:
            if col.kll.count == 0:
                return
            simple, n, m = drift.numeric_linf(stats.sketch, col.kll)
            distance = drift.select(simple, n, m, cfg.comparison_method)
            res.drift_distance = distance
            res.drift_method = "linf_robust" if cfg.comparison_method == ROBUST else "linf_simple"
            desc = drift.description(distance, cfg.comparison_threshold) if distance > cfg.comparison_threshold else None
            self._add(res, BASELINE_DRIFT, True, desc)
            names = [t.name for t in self.tests if t.name in NUMERIC_TESTS]
            if names:
                res.extra.update(drift_tests.numeric_tests(names, stats.sketch, col.kll, stats.std_dev))
            self._test_violations(res, NUMERIC_TESTS)
            return
        if stats.categories:
            cur = col.categories
            if not cur or sum(cur.values()) == 0:
                return
            threshold = cfg.categorical_comparison_threshold
            if cfg.categorical_drift_method == CHISQUARED:
                result = drift.chi_squared(cur, stats.categories)
                res.drift_method = "chi_squared"
                if math.isnan(result.p_value):
                    self._add(res, BASELINE_DRIFT, True, None)
                else:
                    res.drift_distance = result.p_value
                    desc = drift.chi_squared_description(result.p_value, threshold) if result.p_value < threshold else None
                    self._add(res, BASELINE_DRIFT, True, desc)
            else:
                simple, n, m = drift.categorical_linf(stats.categories, cur)
                distance = drift.select(simple, n, m, cfg.comparison_method)
                res.drift_distance = distance
                res.drift_method = "linf_robust" if cfg.comparison_method == ROBUST else "linf_simple"
                desc = drift.description(distance, threshold) if distance > threshold else None
                self._add(res, BASELINE_DRIFT, True, desc)
            names = [t.name for t in self.tests if t.name in CATEGORICAL_TESTS]
            if names:
                res.extra.update(drift_tests.categorical_tests(names, stats.categories, cur))
            self._test_violations(res, CATEGORICAL_TESTS)

    def _test_violations(self, res: FeatureResult, applicable: tuple[str, ...]) -> None:
        for t in self.tests:
            if t.threshold is None or t.name not in applicable or t.name not in res.extra:
                continue
            value = res.extra[t.name]
            if drift_tests.exceeds(t.name, value, t.threshold):
                self.violations.append(
                    violation(res.name, BASELINE_DRIFT, drift_tests.description(t.name, value, t.threshold))
                )


def _fraction(value: Any, feature: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"constraints.json feature {feature!r}: completeness must be a number, got {value!r}") from None
    if math.isnan(x):
        raise InputError(f"constraints.json feature {feature!r}: completeness is NaN")
    return x


def check_data_quality(
    baseline: DatasetStatistics,
    constraints: dict[str, Any],
    current: ProfileState,
    options: CheckOptions | None = None,
) -> CheckReport:
    """Every data-quality check of ``current`` against the baseline statistics and constraints.

    Raises ``InputError`` for a malformed monitoring_config or override (bad switch, threshold or
    method). See the module docstring for which checks run when.
    """
    return _Run(baseline, constraints, current, options or CheckOptions()).run()
