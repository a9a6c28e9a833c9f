"""How a model-quality result is shown: the ``--json`` summary and the rows of the human table
(of a baseline, a labelled run or a CBPE estimate alike)."""

from __future__ import annotations

import math
from typing import Any

from mmon.jsonfmt import java_double_str
from mmon.model_quality.api import MQResult
from mmon.model_quality.constraints import GT, SECTIONS, violation_name
from mmon.model_quality.metrics import scalar_metrics

ROW_COLUMNS = ("metric", "value", "standard_deviation", "constraint", "status")


def _json_number(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _constraint_map(result: MQResult) -> dict[str, dict[str, Any]]:
    if not result.constraints or not result.problem_type:
        return {}
    return dict(result.constraints.get(SECTIONS[result.problem_type][1], {}))


def mq_summary(result: MQResult) -> dict[str, Any]:
    """A JSON-safe summary for ``--json`` (non-finite numbers become null)."""
    pt = result.problem_type
    cons = _constraint_map(result)
    violated = {v["metric_name"] for v in result.violations}
    metrics: dict[str, Any] = {}
    for name, m in scalar_metrics(result.statistics, pt) if pt else []:
        entry: dict[str, Any] = {"value": _json_number(m.get("value")), "standard_deviation": _json_number(m.get("standard_deviation"))}
        if name in cons:
            entry["threshold"] = _json_number(cons[name].get("threshold"))
            entry["comparison_operator"] = cons[name].get("comparison_operator")
            entry["violated"] = violation_name(name) in violated
        metrics[name] = entry
    return {
        "problem_type": pt,
        "rows": result.rows,
        "labelled": result.labelled,
        "item_count": result.statistics.get("dataset", {}).get("item_count"),
        "violations": len(result.violations),
        "metrics": metrics,
        "outputs": dict(result.outputs),
        "warnings": list(result.warnings),
    }


def _fmt(x: Any) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return java_double_str(float(x))
    return "" if x is None else str(x)


def mq_rows(result: MQResult) -> list[dict[str, str]]:
    """One row per scalar metric for the human table (keys :data:`ROW_COLUMNS`).

    ``constraint`` reads ``< 0.94`` / ``> 0.0``; ``status`` is ``VIOLATION``, ``ok`` or empty for
    metrics without a constraint (and for every metric of a baseline).
    """
    summary = mq_summary(result)
    is_run = "constraint_violations" in result.outputs
    rows = []
    for name, m in summary["metrics"].items():
        op = m.get("comparison_operator")
        constraint = f"{'>' if op == GT else '<'} {_fmt(m.get('threshold'))}" if op else ""
        status = ("VIOLATION" if m.get("violated") else "ok") if (is_run and op) else ""
        rows.append(
            {
                "metric": name,
                "value": _fmt(m["value"]) if m["value"] is not None else "NaN",
                "standard_deviation": _fmt(m["standard_deviation"]) if m["standard_deviation"] is not None else "NaN",
                "constraint": constraint,
                "status": status,
            }
        )
    return rows
