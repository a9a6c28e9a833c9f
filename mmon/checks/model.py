"""The data-quality checks' vocabulary: check types, user options and the report.

Violations follow SageMaker's ``constraint_violations.json`` (format study §3): one object per
violation with ``feature_name``, ``constraint_check_type`` and ``description``, in feature order
(the baseline's features in constraints.json order, then columns the baseline does not know, in
the current dataset's order) and, within a feature, in the order of :data:`CHECK_TYPES`.

``non_negative_check`` is an mmon extension: SageMaker writes ``num_constraints.is_non_negative``
into constraints.json but documents no violation type for it (§2.4, open question (h)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mmon.errors import InputError

from . import registry

if TYPE_CHECKING:
    from mmon.stats.state import ColumnState
    from mmon.stats.statistics import FeatureStatistics

    from .config import MonitoringConfig

MISSING_COLUMN = "missing_column_check"
EXTRA_COLUMN = "extra_column_check"
DATA_TYPE = "data_type_check"
COMPLETENESS = "completeness_check"
NON_NEGATIVE = "non_negative_check"
CATEGORICAL_VALUES = "categorical_values_check"
BASELINE_DRIFT = "baseline_drift_check"

#: Every check, in the order its violations are listed within one feature (the registry's order).
CHECK_TYPES = registry.CHECK_TYPES

#: The extra drift tests (``--drift-test``), canonical names.
KS, WASSERSTEIN, PSI, JS, CHI2 = "ks", "wasserstein", "psi", "js", "chi2"
DRIFT_TEST_NAMES: tuple[str, ...] = (KS, WASSERSTEIN, PSI, JS, CHI2)
#: Tests whose value is a p-value: drift when the value is *below* the threshold.
P_VALUE_TESTS = frozenset({KS, CHI2})
#: Which tests apply to which kind of feature.
NUMERIC_TESTS: tuple[str, ...] = (KS, WASSERSTEIN, PSI, JS)
CATEGORICAL_TESTS: tuple[str, ...] = (PSI, JS, CHI2)

_TEST_ALIASES = {
    "ks": KS,
    "kolmogorov-smirnov": KS,
    "kolmogorov_smirnov": KS,
    "wasserstein": WASSERSTEIN,
    "emd": WASSERSTEIN,
    "psi": PSI,
    "js": JS,
    "jensen-shannon": JS,
    "jensen_shannon": JS,
    "jensenshannon": JS,
    "chi2": CHI2,
    "chisquared": CHI2,
    "chi-squared": CHI2,
    "chi_squared": CHI2,
}


@dataclass(frozen=True)
class DriftTest:
    """An extra drift test (mmon extension), computed from the two statistics, no raw data.

    ``threshold`` None: the value is only reported (``FeatureResult.extra``). Otherwise a
    ``baseline_drift_check`` violation is raised when the value is above the threshold
    (``wasserstein``, ``psi``, ``js``: distances) or below it (``ks``, ``chi2``: p-values).
    """

    name: str
    threshold: float | None = None


@dataclass
class CheckOptions:
    """What the user switched off or added on the command line."""

    # (feature or "*", check type or "*"): the check is not run for that feature.
    disabled: set[tuple[str, str]] = field(default_factory=set)
    # Extra drift tests; threshold None = report the value only.
    drift_tests: list[DriftTest] = field(default_factory=list)

    def is_disabled(self, feature: str, check: str) -> bool:
        d = self.disabled
        return bool(d) and (
            (feature, check) in d or ("*", check) in d or (feature, "*") in d or ("*", "*") in d
        )


@dataclass
class FeatureResult:
    """One feature of a monitoring run, for the report, the metrics and the human view.

    ``inferred_type``: the type of the *current* data as statistics.json would write it (None when
    the column is missing); ``baseline_inferred_type``: the constraint's (or baseline statistics')
    type, None for a column the baseline does not know. ``checks_run``: the checks that were
    evaluated (in :data:`CHECK_TYPES` order). ``drift_distance``: the value compared by
    ``baseline_drift_check`` -- the L-infinity distance (Robust or Simple) or, for the ChiSquared
    method, the chi-squared p-value; ``drift_method`` says which: ``linf_robust``, ``linf_simple``
    or ``chi_squared``. ``completeness``: non-null fraction of the current column. ``extra``: the
    extra drift tests' values by test name (``ks`` and ``chi2`` hold p-values; their statistics
    are under ``ks_statistic`` / ``chi2_statistic``). ``emit_metrics``: the feature's effective
    ``emit_metrics`` setting.
    """

    name: str
    inferred_type: str | None
    checks_run: list[str] = field(default_factory=list)
    drift_distance: float | None = None
    drift_method: str | None = None
    completeness: float | None = None
    extra: dict[str, float] = field(default_factory=dict)
    baseline_inferred_type: str | None = None
    emit_metrics: bool = True


@dataclass
class CheckReport:
    """The outcome of :func:`mmon.checks.check_data_quality`."""

    violations: list[dict[str, str]]
    features: list[FeatureResult]
    # The global emit_metrics setting (per-feature settings are on each FeatureResult).
    emit_metrics: bool = True


#: A check's outcome for one feature: (evaluated, description of its violation or None).
Outcome = tuple[bool, "str | None"]


@dataclass
class FeatureView:
    """What a check sees of one feature: the current column and the baseline's side of it.

    ``col`` is None for a missing column; ``spec`` (the feature's constraints) and ``stats`` (its
    baseline statistics) are None when the baseline has no such entry. ``more``: further
    violation descriptions of the same check (the drift tests), listed after its own.
    """

    name: str
    col: ColumnState | None
    spec: dict[str, Any] | None
    stats: FeatureStatistics | None
    cfg: MonitoringConfig | None
    base_type: str | None
    baseline_rows: int | None
    n_base: int
    n_cur: int
    result: FeatureResult
    tests: list[DriftTest] = field(default_factory=list)
    more: list[str] = field(default_factory=list)


def violation(feature: str, check: str, description: str) -> dict[str, str]:
    """One entry of constraint_violations.json, keys in SageMaker's order."""
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def violations_document(report: CheckReport) -> dict[str, list[dict[str, str]]]:
    """The ``constraint_violations.json`` document (``{"violations": [...]}``)."""
    return {"violations": [dict(v) for v in report.violations]}


def parse_disable(spec: str) -> tuple[str, str]:
    """``FEATURE:CHECK`` -> ``(feature, check)``; ``*`` matches any feature (or any check).

    The split is at the *last* colon, so feature names may contain colons. The check may be
    given with or without its ``_check`` suffix (``age:data_type``).
    """
    text = spec.strip()
    feature, sep, check = text.rpartition(":")
    if not sep or not feature or not check:
        raise InputError(f"--disable expects FEATURE:CHECK (e.g. age:data_type_check), got {spec!r}")
    check = check.strip()
    if check != "*" and not check.endswith("_check"):
        check += "_check"
    if check != "*" and check not in CHECK_TYPES:
        raise InputError(f"--disable {spec!r}: unknown check {check!r}; known: {', '.join(CHECK_TYPES)}, *")
    return feature, check


def names_hint(name: str, valid: list[str], what: str, limit: int = 20) -> str:
    """``valid: a, b, c`` (the closest names first, at most ``limit``) for an unknown-name error."""
    import difflib

    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    rest = [v for v in valid if v not in close]
    shown = close + rest[: max(0, limit - len(close))]
    more = f", … ({len(valid) - len(shown)} more)" if len(valid) > len(shown) else ""
    did = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{did}valid {what}: {', '.join(shown)}{more}"


def check_disabled_features(disabled: set[tuple[str, str]], features: list[str]) -> None:
    """A ``--disable FEATURE:CHECK`` whose feature is in neither the baseline nor the data is a typo (exit 2)."""
    known = set(features)
    for feature, check in sorted(disabled):
        if feature != "*" and feature not in known:
            raise InputError(
                f"--disable {feature}:{check}: no feature {feature!r} in the baseline or the current data; "
                + names_hint(feature, list(dict.fromkeys(features)), "features")
            )


def parse_drift_test(spec: str) -> DriftTest:
    """``psi`` / ``psi=0.2`` / ``ks=0.01`` / ``wasserstein=0.1`` / ``js=0.1`` / ``chi2=0.05``."""
    name, sep, value = spec.strip().partition("=")
    key = _TEST_ALIASES.get(name.strip().lower())
    if key is None:
        raise InputError(f"--drift-test {spec!r}: unknown test; known: {', '.join(DRIFT_TEST_NAMES)}")
    if not sep:
        return DriftTest(key, None)
    try:
        threshold = float(value)
    except ValueError:
        raise InputError(f"--drift-test {spec!r}: threshold {value!r} is not a number") from None
    if not math.isfinite(threshold) or threshold < 0:
        raise InputError(f"--drift-test {spec!r}: threshold must be a finite number >= 0")
    if key in P_VALUE_TESTS and threshold > 1:
        raise InputError(f"--drift-test {spec!r}: {key} compares a p-value, the threshold must be in [0, 1]")
    return DriftTest(key, threshold)
