"""The effective ``monitoring_config`` of each feature: global settings plus per-feature overrides.

Sources (format study §2.1, §2.3, §2.4):

* Defaults when a key is absent are the analyzer container's own (``DataQualityMonitoringConfig``
  / ``DataQualityDistributionConstraints``): ``evaluate_constraints`` and ``emit_metrics``
  Enabled, ``datatype_check_threshold`` 1.0, ``domain_content_threshold`` 1.0,
  ``perform_comparison`` Enabled, ``comparison_threshold`` 0.1, ``comparison_method`` Robust,
  ``categorical_comparison_threshold`` 0.1, ``categorical_drift_method`` LInfinity.
* ``categorical_comparison_threshold`` defaults to ``comparison_threshold`` when a level (the
  global config or an override) sets ``comparison_threshold`` without it (2020 files have no
  categorical key; §2.4 "default = comparison_threshold").
* Older files (SDK test data): ``distribution_constraints.enable_comparisons`` (boolean) is read
  as ``perform_comparison``; ``min_domain_mass`` as ``domain_content_threshold`` when that key is
  absent (mmon's reading; both are the required in-domain fraction).
* Per-feature overrides, merged in this order (later wins):
  ``string_constraints.monitoring_config_overrides`` (what the SDK's ``Constraints.set_monitoring``
  writes), ``num_constraints.monitoring_config_overrides``, ``monitoring_config_overrides`` and
  ``monitoringConfigOverrides`` (the documented feature-level key). An override accepts every key
  of the global ``monitoring_config``; the ``distribution_constraints`` keys may be given nested
  (as globally) or flat (``{"comparison_threshold": 0.3}``).
* ``Enabled``/``Disabled`` are matched case-insensitively; JSON booleans are accepted too.
  ``evaluate_constraints: Disabled`` skips every check of the feature (globally: every check,
  including missing/extra columns); ``perform_comparison`` Disabled skips ``baseline_drift_check``;
  ``emit_metrics: Disabled`` suppresses the feature's (or all) metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from mmon.errors import InputError

SIMPLE, ROBUST = "Simple", "Robust"
LINFINITY, CHISQUARED = "LInfinity", "ChiSquared"

_DISTRIBUTION_KEYS = (
    "perform_comparison",
    "enable_comparisons",
    "comparison_threshold",
    "comparison_method",
    "categorical_comparison_threshold",
    "categorical_drift_method",
    "min_domain_mass",
)


@dataclass(frozen=True)
class MonitoringConfig:
    evaluate_constraints: bool = True
    emit_metrics: bool = True
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    perform_comparison: bool = True
    comparison_threshold: float = 0.1
    comparison_method: str = ROBUST
    categorical_comparison_threshold: float = 0.1
    categorical_drift_method: str = LINFINITY


def _switch(value: Any, key: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("enabled", "disabled"):
        return value.strip().lower() == "enabled"
    raise InputError(f"{where}: {key} must be Enabled or Disabled, got {value!r}")


def _number(value: Any, key: str, where: str, fraction: bool) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {key} must be a number, got {value!r}") from None
    if math.isnan(x) or x < 0 or (fraction and x > 1):
        bound = "between 0 and 1" if fraction else ">= 0"
        raise InputError(f"{where}: {key} must be {bound}, got {value!r}")
    return x


def _choice(value: Any, key: str, where: str, allowed: tuple[str, ...]) -> str:
    if isinstance(value, str):
        for a in allowed:
            if value.strip().lower() == a.lower():
                return a
    raise InputError(f"{where}: {key} must be one of {', '.join(allowed)}, got {value!r}")


_fraction = partial(_number, fraction=True)
_non_negative = partial(_number, fraction=False)

# How each MonitoringConfig field is read: the keys that may set it, the first one present wins
# ("raw": the monitoring_config or override itself, "dist": its distribution_constraints; the older
# files' alias comes second), and the reader that checks the value. Errors come in this order.
_READERS: tuple[tuple[str, tuple[tuple[str, str], ...], Callable[[Any, str, str], Any]], ...] = (
    ("evaluate_constraints", (("raw", "evaluate_constraints"),), _switch),
    ("emit_metrics", (("raw", "emit_metrics"),), _switch),
    ("datatype_check_threshold", (("raw", "datatype_check_threshold"),), _fraction),
    ("domain_content_threshold", (("raw", "domain_content_threshold"), ("dist", "min_domain_mass")), _fraction),
    ("perform_comparison", (("dist", "perform_comparison"), ("dist", "enable_comparisons")), _switch),
    ("comparison_threshold", (("dist", "comparison_threshold"),), _non_negative),
    ("categorical_comparison_threshold", (("dist", "categorical_comparison_threshold"),), _non_negative),
    ("comparison_method", (("dist", "comparison_method"),), partial(_choice, allowed=(SIMPLE, ROBUST))),
    ("categorical_drift_method", (("dist", "categorical_drift_method"),), partial(_choice, allowed=(LINFINITY, CHISQUARED))),
)


def apply_config(base: MonitoringConfig, raw: dict[str, Any] | None, where: str) -> MonitoringConfig:
    """``base`` with the keys present in ``raw`` (a monitoring_config or an override) applied."""
    if not raw:
        return base
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected an object, got {type(raw).__name__}")
    dist_raw = raw.get("distribution_constraints") or {}
    if not isinstance(dist_raw, dict):
        raise InputError(f"{where}: distribution_constraints must be an object")
    # Flat distribution keys (override convenience) first, nested ones win.
    dist = {k: raw[k] for k in _DISTRIBUTION_KEYS if k in raw}
    dist.update(dist_raw)
    sources = {"raw": raw, "dist": dist}
    changes: dict[str, Any] = {}
    for field, keys, read in _READERS:
        found = next(((key, sources[src][key]) for src, key in keys if key in sources[src]), None)
        if found is not None:
            changes[field] = read(found[1], found[0], where)
    if "categorical_comparison_threshold" not in changes and "comparison_threshold" in changes:
        changes["categorical_comparison_threshold"] = changes["comparison_threshold"]
    return replace(base, **changes)


def global_config(constraints: dict[str, Any]) -> MonitoringConfig:
    """The global monitoring_config of a constraints.json, container defaults filled in."""
    return apply_config(MonitoringConfig(), constraints.get("monitoring_config"), "constraints.json monitoring_config")


def feature_overrides(feature: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The override objects of one constraints feature, in application order, with their key."""
    out: list[tuple[str, dict[str, Any]]] = []
    for parent in ("string_constraints", "num_constraints"):
        body = feature.get(parent)
        if isinstance(body, dict) and body.get("monitoring_config_overrides") is not None:
            out.append((f"{parent}.monitoring_config_overrides", body["monitoring_config_overrides"]))
    for key in ("monitoring_config_overrides", "monitoringConfigOverrides"):
        if feature.get(key) is not None:
            out.append((key, feature[key]))
    return out


def feature_config(base: MonitoringConfig, feature: dict[str, Any] | None) -> MonitoringConfig:
    """The effective config of one feature: ``base`` with the feature's overrides applied."""
    cfg = base
    if not feature:
        return cfg
    for key, raw in feature_overrides(feature):
        cfg = apply_config(cfg, raw, f"constraints.json feature {feature.get('name')!r} {key}")
    return cfg
