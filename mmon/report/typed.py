"""Model-quality, bias and feature-attribution sections, from the files those monitors write.

* Model quality: the run's ``statistics.json`` (metric ``value`` ± ``standard_deviation``, the
  confusion matrix), the baseline's ``statistics.json`` and ``constraints.json`` when given; without
  constraints the threshold and operator are read from the violation's description (SageMaker's
  ``Metric auc with 0.54 +/- 0.02 was LessThanThreshold '0.93'``).
* Bias: the run's Clarify ``analysis.json`` against the baseline's (the bias constraints file);
  without the run's analysis (a SageMaker folder), the values in the violations.
* Feature attribution: global SHAP values per label, baseline vs current ranking, nDCG as
  ``mmon.attribution.ndcg`` computes it (the check's own code).
"""

from __future__ import annotations

import math
import re
from typing import Any

from markupsafe import Markup

from mmon.attribution.ndcg import DEFAULT_THRESHOLD, ndcg, rankings
from mmon.bias.drift import metric_value
from mmon.model_quality.constraints import SNAKE, violation_name
from mmon.report import charts
from mmon.report.charts import Series

_MQ_DESC = re.compile(r"^Metric (\S+) with (\S+) \+/- (\S+) was (\w+) '([^']*)'")
_BIAS_DESC = re.compile(r"Metric value (\S+) doesn't meet the baseline constraint requirement (\S+)")
_POST = {"DPPL", "DI", "DCA", "DCR", "RD", "DAR", "DRR", "AD", "CDDPL", "TE", "FT", "GE", "SD"}
_FA_DESC = re.compile(r"Feature attribution drift (\S+) exceeds threshold (\S+)")


def _baseline_vs_current(
    rows: list[dict[str, Any]], name: str, current: str, label: str, marks: list[Any] | None = None
) -> Markup:
    """The chart of a typed section: a pair of bars per row, its "baseline" and its ``current``
    value, as they are (not shares), in the 420-wide box the sections lay out side by side."""
    return charts.hbars(
        [r[name] for r in rows],
        [Series("baseline", [r["baseline"] for r in rows], "s0"), Series("current", [r[current] for r in rows], "s1")],
        label,
        width=420,
        percent=False,
        marks=marks,
    )


def _metrics_section(doc: dict[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    for key, value in (doc or {}).items():
        if key.endswith("_metrics") and isinstance(value, dict):
            return key, value
    return None, {}


def model_quality(
    current: dict[str, Any] | None,
    baseline: dict[str, Any] | None,
    constraints: dict[str, Any] | None,
    violations: list[dict[str, Any]],
) -> dict[str, Any]:
    key, section = _metrics_section(current)
    _, base = _metrics_section(baseline)
    cons: dict[str, Any] = {}
    for k, v in (constraints or {}).items():
        if k.endswith("_constraints") and isinstance(v, dict):
            cons = {SNAKE.get(str(m), str(m)): c for m, c in v.items() if isinstance(c, dict)}
    violated = {}
    for v in violations:
        name = v.get("metric_name")
        if isinstance(name, str):
            violated[SNAKE.get(name, name)] = v
            m = _MQ_DESC.match(str(v.get("description", "")))
            snake = SNAKE.get(name, name)
            if m and snake not in cons:
                cons[snake] = {"threshold": metric_value(m.group(5)), "comparison_operator": m.group(4), "from": "description"}
            if m and snake not in section:
                section = {**section, snake: {"value": metric_value(m.group(2)), "standard_deviation": metric_value(m.group(3))}}
    rows = []
    for name, m in section.items():
        if not isinstance(m, dict) or "value" not in m:
            continue
        c = cons.get(name, {})
        b = base.get(name) if isinstance(base.get(name), dict) else {}
        rows.append(
            {
                "name": violation_name(name),
                "value": metric_value(m.get("value")),
                "sd": metric_value(m.get("standard_deviation")),
                "baseline": metric_value(b.get("value")) if b else None,
                "baseline_sd": metric_value(b.get("standard_deviation")) if b else None,
                "threshold": metric_value(c.get("threshold")),
                "operator": c.get("comparison_operator"),
                "violated": name in violated,
            }
        )
    rows.sort(key=lambda r: (not r["violated"], r["threshold"] is None, r["name"]))
    matrix = _confusion(section.get("confusion_matrix"))
    shown = [r for r in rows if charts.finite(r["value"])][:16]
    chart = None
    if shown:
        chart = _baseline_vs_current(
            shown, "name", "value", "model-quality metrics (mark: constraint threshold)", [r["threshold"] for r in shown]
        )
    return {"problem": (key or "").replace("_metrics", "").replace("_", " "), "rows": rows, "matrix": matrix, "chart": chart}


def _confusion(cm: Any) -> dict[str, Any] | None:
    """Rows = actual class, columns = predicted class, with shares for the cell shading."""
    if not isinstance(cm, dict) or not cm:
        return None
    actual = sorted(cm, key=str)
    predicted = sorted({p for row in cm.values() if isinstance(row, dict) for p in row}, key=str)
    counts = [[metric_value((cm.get(a) or {}).get(p)) or 0.0 for p in predicted] for a in actual]
    top = max((c for row in counts for c in row), default=0.0) or 1.0
    cells = [[{"count": charts.fmt(c), "shade": round(c / top, 2), "diag": a == p} for c, p in zip(row, predicted, strict=True)]
             for row, a in zip(counts, actual, strict=True)]  # fmt: skip
    return {"actual": actual, "predicted": predicted, "cells": cells}


def _bias_values(doc: dict[str, Any] | None) -> dict[tuple[str, str, str, str], float | None]:
    out: dict[tuple[str, str, str, str], float | None] = {}
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        facets = ((doc or {}).get(stage) or {}).get("facets") or {}
        if not isinstance(facets, dict):
            continue
        for facet, entries in facets.items():
            for e in entries if isinstance(entries, list) else []:
                value = str(e.get("value_or_threshold", ""))
                for m in e.get("metrics") or []:
                    if isinstance(m, dict) and "name" in m:
                        out[(stage.split("_")[0], str(facet), value, str(m["name"]))] = metric_value(m.get("value"))
    return out


def bias(current: dict[str, Any] | None, baseline: dict[str, Any] | None, violations: list[dict[str, Any]]) -> dict[str, Any]:
    cur, base = _bias_values(current), _bias_values(baseline)
    flagged = {(str(v.get("facet")), str(v.get("facet_value")), str(v.get("metric_name"))): v for v in violations}
    keys = list(cur) or list(base)
    for (facet, value, metric), v in flagged.items():
        k = next((k for k in keys if k[1:] == (facet, value, metric)), None)
        if k is None:
            stage = "post" if metric in _POST else "pre"
            k = (stage, facet, value, metric)
            keys.append(k)
        # A folder without the run's analysis.json (SageMaker's): the values its violation quotes.
        m = _BIAS_DESC.search(str(v.get("description", "")))
        if m and k not in cur:
            cur[k] = metric_value(m.group(1))
        if m and base.get(k) is None:
            base[k] = metric_value(m.group(2))
    rows = []
    for k in keys:
        stage, facet, value, metric = k
        c, b = cur.get(k), base.get(k)
        rows.append({"stage": stage, "facet": facet, "value": value, "metric": metric, "current": c, "baseline": b,
                     "violated": (facet, value, metric) in flagged})  # fmt: skip
    rows.sort(key=lambda r: (not r["violated"], r["facet"], r["value"], r["stage"], r["metric"]))
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["facet"], r["value"]), []).append(r)
    figures = []
    for (facet, value), rs in groups.items():
        chart = _baseline_vs_current(rs[:20], "metric", "current", f"bias metrics for {facet} = {value}, baseline vs current")
        figures.append({"facet": facet, "value": value, "chart": chart})
    return {"rows": rows, "figures": figures}


def _attributions(doc: dict[str, Any] | None) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    expl = ((doc or {}).get("explanations") or {}).get("kernel_shap") or {}
    for label, body in expl.items() if isinstance(expl, dict) else []:
        values = (body or {}).get("global_shap_values") if isinstance(body, dict) else None
        if isinstance(values, dict):
            out[str(label)] = {str(f): v for f, x in values.items() if (v := metric_value(x)) is not None}
    return out


def attribution(current: dict[str, Any] | None, baseline: dict[str, Any] | None, violations: list[dict[str, Any]]) -> dict[str, Any]:
    cur, base = _attributions(current), _attributions(baseline)
    flagged = {str(v.get("label")): v for v in violations}
    labels = []
    for label in sorted(cur.keys() | base.keys() | flagged.keys()):
        b, c = base.get(label, {}), cur.get(label, {})
        score = ndcg(b, c) if b and c else None
        if score is None and label in flagged:
            m = _FA_DESC.search(str(flagged[label].get("description", "")))
            score = metric_value(m.group(1)) if m else None
        rank_b, rank_c = rankings(b, c) if b else ([], sorted(c, key=lambda f: -c[f]))
        pos_c = {f: i + 1 for i, f in enumerate(rank_c)}
        order = rank_b or rank_c
        rows: list[dict[str, Any]] = [{"feature": f, "baseline": b.get(f), "baseline_rank": i + 1 if b else None, "current": c.get(f),
                 "current_rank": pos_c.get(f)} for i, f in enumerate(order)]  # fmt: skip
        shown = rows[:20]
        chart = None
        if shown:
            chart = _baseline_vs_current(shown, "feature", "current", f"global SHAP values of {label}, baseline order")
        labels.append({"label": label, "ndcg": score, "threshold": DEFAULT_THRESHOLD, "violated": label in flagged,
                       "rows": rows, "chart": chart, "nan": score is not None and math.isnan(score)})  # fmt: skip
    return {"labels": labels}
