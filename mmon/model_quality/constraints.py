"""Suggested model-quality constraints and the check of a run against them (format study §4.3-§4.4).

Suggestion (REAL-MQ-2021, the only real file): one constraint per headline metric with
``threshold`` = the baseline value at full precision; ``LessThanThreshold`` for metrics where
higher is better, ``GreaterThanThreshold`` for error rates. No constraint for the
``*_best_constant_*`` figures, the curves, ``au_prc`` or the confusion matrix. Multiclass and
regression constraints follow the same rule by analogy (not seen in real output): every
non-constant scalar; ``mae`` / ``mse`` / ``rmse`` with ``GreaterThanThreshold``, ``r2`` with
``LessThanThreshold``.

Check: ``LessThanThreshold`` is violated iff ``value < threshold``, ``GreaterThanThreshold`` iff
``value > threshold`` -- the standard deviation does not widen the test (every real violation is
consistent with the bare comparison). The violation (key order of the real file):
``{"constraint_check_type": <operator>, "description": "Metric <name> with <value> +/- <sd> was
<operator> '<threshold>'", "metric_name": <name>}`` with Java ``Double.toString`` numbers
(``NaN`` for a missing standard deviation, as Java prints it) and SageMaker's camelCase names for
the four rates (``truePositiveRate`` …). Violations come in the iteration order of a Scala 2.12
immutable ``HashMap`` of those names, which reproduces the real file's order exactly.
"""

from __future__ import annotations

import math
from typing import Any

from mmon.jsonfmt import java_double_str
from mmon.stats.scala_order import scala_hashmap_order

LT = "LessThanThreshold"
GT = "GreaterThanThreshold"
OPERATORS = (LT, GT)

SECTIONS = {
    "BinaryClassification": ("binary_classification_metrics", "binary_classification_constraints"),
    "MulticlassClassification": ("multiclass_classification_metrics", "multiclass_classification_constraints"),
    "Regression": ("regression_metrics", "regression_constraints"),
}

SUGGESTED: dict[str, list[tuple[str, str]]] = {
    "BinaryClassification": [
        ("recall", LT),
        ("precision", LT),
        ("accuracy", LT),
        ("true_positive_rate", LT),
        ("true_negative_rate", LT),
        ("false_positive_rate", GT),
        ("false_negative_rate", GT),
        ("auc", LT),
        ("f0_5", LT),
        ("f1", LT),
        ("f2", LT),
    ],
    "MulticlassClassification": [
        ("accuracy", LT),
        ("weighted_recall", LT),
        ("weighted_precision", LT),
        ("weighted_f0_5", LT),
        ("weighted_f1", LT),
        ("weighted_f2", LT),
    ],
    "Regression": [("mae", GT), ("mse", GT), ("rmse", GT), ("r2", LT)],
}

# SageMaker's names in violations (REAL-MQ-2021); other metrics keep their statistics key.
CAMEL = {
    "true_positive_rate": "truePositiveRate",
    "true_negative_rate": "trueNegativeRate",
    "false_positive_rate": "falsePositiveRate",
    "false_negative_rate": "falseNegativeRate",
}
SNAKE = {v: k for k, v in CAMEL.items()}


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def suggest_constraints(statistics: dict[str, Any], problem_type: str) -> dict[str, Any]:
    """``constraints.json`` for a baseline ``statistics.json`` (metrics that are not finite, e.g.
    ``auc`` without a probability attribute, get no constraint)."""
    metrics_key, constraints_key = SECTIONS[problem_type]
    section = statistics.get(metrics_key, {})
    out: dict[str, dict[str, Any]] = {}
    for name, op in SUGGESTED[problem_type]:
        m = section.get(name)
        if isinstance(m, dict) and _finite(m.get("value")):
            out[name] = {"threshold": float(m["value"]), "comparison_operator": op}
    return {"version": 0.0, constraints_key: out}


def violation_name(metric: str) -> str:
    """The name SageMaker prints for a metric in a violation."""
    return CAMEL.get(metric, metric)


def describe(name: str, value: float, sd: Any, op: str, threshold: float) -> str:
    sd_text = java_double_str(float(sd)) if _finite(sd) else "NaN"
    return f"Metric {name} with {java_double_str(value)} +/- {sd_text} was {op} '{java_double_str(threshold)}'"


def check(statistics: dict[str, Any], constraints: dict[str, Any], problem_type: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Violations of ``constraints`` by a run's ``statistics``, and warnings for unchecked ones."""
    metrics_key, constraints_key = SECTIONS[problem_type]
    section = statistics.get(metrics_key, {})
    wanted = constraints.get(constraints_key, {})
    found: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for key, c in wanted.items():
        metric_key = SNAKE.get(key, key)  # accept a camelCase key written by hand
        m = section.get(metric_key)
        if not isinstance(m, dict):
            warnings.append(f"constraint on {key!r}: the run has no such metric; not checked")
            continue
        value, threshold, op = m.get("value"), c.get("threshold"), c.get("comparison_operator")
        if not _finite(value):
            warnings.append(f"constraint on {key!r}: the metric is undefined in this window ({value}); not checked")
            continue
        if not _finite(threshold):
            warnings.append(f"constraint on {key!r}: threshold {threshold!r} is not a finite number; not checked")
            continue
        v, t = float(value), float(threshold)  # type: ignore[arg-type]
        broken = v < t if op == LT else v > t if op == GT else False
        if broken:
            name = violation_name(metric_key)
            found[name] = {
                "constraint_check_type": op,
                "description": describe(name, v, m.get("standard_deviation"), str(op), t),
                "metric_name": name,
            }
    order = scala_hashmap_order([violation_name(SNAKE.get(k, k)) for k in wanted])
    return [found[n] for n in order if n in found], warnings
