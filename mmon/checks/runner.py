"""Run every data-quality check of a monitoring window: baseline (statistics + constraints) vs current.

Which features are checked: the features of constraints.json in their order, then features that
only the baseline statistics.json lists (missing column and drift only: they carry no constraint),
then columns of the current dataset that the baseline does not know (``extra_column_check``). Per feature, the checks of
:data:`mmon.checks.registry.CHECKS` run in its order (each module's ``evaluate``), each only when

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

from collections.abc import Callable
from typing import Any

from mmon.errors import InputError
from mmon.stats import dtypes
from mmon.stats.profile import ColumnState, ProfileState
from mmon.stats.statistics import DatasetStatistics

from . import columns, completeness
from .config import feature_config, global_config
from .model import CheckOptions, CheckReport, DriftTest, FeatureResult, FeatureView, Outcome, violation
from .registry import CHECKS, Check

# The registry's checks by scope, with their evaluate functions (looked up once).
_SCOPES: dict[str, list[tuple[Check, Callable[[FeatureView], Outcome | None]]]] = {}


def _checks(scope: str) -> list[tuple[Check, Callable[[FeatureView], Outcome | None]]]:
    if not _SCOPES:
        for c in CHECKS:
            _SCOPES.setdefault(c.scope, []).append((c, c.function()))
    return _SCOPES.get(scope, [])


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

    def _run_checks(self, scope: str, view: FeatureView) -> None:
        """The registry's checks of ``scope`` for one feature, in registry order."""
        for check, evaluate in _checks(scope):
            if not self._on(view.name, check.name):
                continue
            outcome = evaluate(view)
            if outcome is None:
                continue
            evaluated, desc = outcome
            if evaluated:
                view.result.checks_run.append(check.name)
            if desc is not None:
                self.violations.append(violation(view.name, check.name, desc))
            for more in view.more:
                self.violations.append(violation(view.name, check.name, more))
            view.more = []

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
            if evaluate:
                view = FeatureView(name, col, None, None, None, None, None, n_base, n_cur, res)
                self._run_checks("extra", view)
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
        view = FeatureView(
            name, col, spec, stats, cfg, base_type, self.baseline.item_count or None, n_base, n_cur, res, self.tests
        )
        self._run_checks("missing" if col is None else "feature", view)


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
