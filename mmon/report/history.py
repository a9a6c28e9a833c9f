"""The over-time view of a schedule's folder: one line per metric across its executions.

Executions are the ones ``mmon executions`` lists (``mmon.schedule.executions.list_executions``:
mmon's ``execution.json`` records, running/stale locks, and SageMaker's folders that hold only
``constraint_violations.json``). The schedule's period is the smallest step between two
executions; a slot without a folder is a *missing* execution and a ``Failed`` one has no values:
both are gaps in every line, and failed slots are shaded red.

Values per execution come from the files each run wrote: data quality from
``cloudwatch_metrics.jsonl`` (``feature_baseline_drift_*``, ``feature_non_null_*``, the run's own
numbers), or, for folders without it (SageMaker's), from ``statistics.json`` against the
baseline given; model quality from ``statistics.json``; bias and attribution from ``analysis.json``.
"""

from __future__ import annotations

import posixpath
import re
from datetime import datetime, timedelta
from typing import Any

from mmon.attribution.ndcg import DEFAULT_THRESHOLD, ndcg
from mmon.bias.drift import metric_value
from mmon.checks.config import feature_config, global_config
from mmon.errors import InputError
from mmon.report import charts, dq, typed
from mmon.report.build import Baseline, Execution, _check_baseline, read_execution
from mmon.report.charts import Series
from mmon.report.stats import read_statistics_fast as read_statistics
from mmon.schedule.executions import list_executions
from mmon.store import Store

MAX_SLOTS = 2000
MAX_FEATURE_CHARTS = 40
_THRESHOLD = re.compile(r"exceeds threshold: (\S+)")


def _time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _slots(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any] | None], list[str]]:
    """Executions on the schedule's grid, ``None`` where a slot has no execution."""
    times = [_time(e["scheduled_time"]) for e in entries]
    steps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    period = min(steps) if steps else timedelta(hours=1)
    out: list[dict[str, Any] | None] = []
    labels: list[str] = []
    t, i = times[0], 0
    while i < len(entries) and len(out) < MAX_SLOTS:
        if times[i] <= t:
            out.append(entries[i])
            labels.append(entries[i]["scheduled_time"])
            t = times[i] + period
            i += 1
        else:
            out.append(None)
            labels.append(t.strftime("%Y-%m-%dT%H:%M:%SZ"))
            t += period
    return out, labels


def _short(label: str) -> str:
    return label[5:16].replace("T", " ")  # MM-DD HH:MM


def history_context(store: Store, folder: str, baseline: Baseline, page: str | None = None) -> dict[str, Any]:
    entries = list_executions(store, folder)
    if not entries:
        raise InputError(
            f"{folder}: no executions (yyyy/mm/dd/hh folders with execution.json or constraint_violations.json) "
            "and no report files: nothing to report"
        )
    slots, labels = _slots(entries)
    execs: list[Execution | None] = []
    rows = []
    for slot, label in zip(slots, labels, strict=True):
        ex = None
        if slot is not None and slot["status"] not in ("Failed", "InProgress"):
            try:
                ex = read_execution(store, slot["report"], light=True)
            except InputError:
                ex = None
        execs.append(ex)
        link = None
        if slot is not None and store.exists(slot["report"].rstrip("/") + "/report.html"):
            # Relative to where this page is written, so the link works on disk, in a copied folder and on S3.
            link = posixpath.relpath(slot["report"].rstrip("/") + "/report.html", posixpath.dirname(page or folder.rstrip("/") + "/x"))
        rows.append(
            {
                "time": label,
                "status": slot["status"] if slot else "Missing",
                "violations": slot.get("violations") if slot else None,
                "message": slot.get("message", "") if slot else "no execution in this slot",
                "link": link,
            }
        )
    failed = [i for i, r in enumerate(rows) if r["status"] in ("Failed", "Missing")]
    kind = next((e.monitor_type for e in execs if e is not None), "data-quality")
    _check_baseline(kind, baseline)
    short = [_short(x) for x in labels]
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    if kind == "data-quality":
        figures, notes = _dq(execs, short, failed, baseline)
    elif kind == "model-quality":
        figures = _mq(execs, short, failed, baseline)
    elif kind == "bias":
        figures = _bias(execs, short, failed, baseline)
    else:
        figures = _fa(execs, short, failed, baseline)
    return {
        "kind": "history",
        "source": folder,
        "title": f"{kind} history",
        "notes": notes,
        "history": {
            "type": kind,
            "count": len(entries),
            "with_violations": sum(1 for r in rows if r["status"] == "CompletedWithViolations"),
            "failed": sum(1 for r in rows if r["status"] == "Failed"),
            "missing": sum(1 for r in rows if r["status"] == "Missing"),
            "first": labels[0],
            "last": labels[-1],
            "rows": rows,
            "figures": figures,
        },
    }


def _dq(execs: list[Execution | None], labels: list[str], failed: list[int], baseline: Baseline) -> tuple[list[dict[str, Any]], list[str]]:
    notes: list[str] = []
    base = read_statistics(baseline.statistics) if baseline.statistics and "features" in baseline.statistics else None
    drift: dict[str, list[float | None]] = {}
    complete: dict[str, list[float | None]] = {}
    flagged: dict[str, int] = {}
    thresholds: dict[str, float] = {}
    n = len(execs)
    recomputed = False
    for i, ex in enumerate(execs):
        if ex is None:
            continue
        values = {k[len("feature_baseline_drift_") :]: v for k, v in ex.metrics.items() if k.startswith("feature_baseline_drift_")}
        nonnull = {k[len("feature_non_null_") :]: v for k, v in ex.metrics.items() if k.startswith("feature_non_null_")}
        if not values and ex.statistics is not None:
            cur = read_statistics(ex.statistics)
            for p in dq.panels(base, cur, baseline.constraints, [], [], {}) if base else []:
                if p.distance is not None:
                    values[p.name] = p.distance
            recomputed = recomputed or base is not None
            for name, f in cur.features.items():
                if f.completeness is not None:
                    nonnull.setdefault(name, f.completeness)
        for name, value in values.items():
            drift.setdefault(name, [None] * n)[i] = value
        for name, value in nonnull.items():
            complete.setdefault(name, [None] * n)[i] = value
        for name in {str(v.get("feature_name", "")) for v in ex.violations or []}:
            flagged[name] = flagged.get(name, 0) + 1  # executions with a violation of the feature
        for vi in ex.violations or []:
            name = str(vi.get("feature_name", ""))
            m = _THRESHOLD.search(str(vi.get("description", "")))
            if m and dq.is_drift(vi) and str(vi.get("description", "")).startswith("Baseline drift distance"):
                thresholds.setdefault(name, float(m.group(1)))
    if baseline.constraints:
        cfg0 = global_config(baseline.constraints)
        for spec in baseline.constraints.get("features", []):
            cfg = feature_config(cfg0, spec)
            string = spec.get("inferred_type") == "String"
            thresholds[spec["name"]] = cfg.categorical_comparison_threshold if string else cfg.comparison_threshold
    if recomputed:
        notes.append("drift distances of folders without cloudwatch_metrics.jsonl recomputed from their statistics.json and the baseline given")
    def peak(f: str) -> float:
        return max((float(v) for v in drift[f] if v is not None and charts.finite(v)), default=0.0)

    ranked = sorted(drift, key=lambda f: (-flagged.get(f, 0), -peak(f), f))
    figures = []
    for name in ranked[:MAX_FEATURE_CHARTS]:
        chart = charts.lines(labels, [Series("drift distance", drift[name], "s1")], f"{name}: drift distance per execution",
                             threshold=thresholds.get(name), failed=failed)  # fmt: skip
        figures.append({"title": name, "what": "drift distance (dashed: threshold)", "chart": chart, "flagged": flagged.get(name, 0)})
    if len(ranked) > MAX_FEATURE_CHARTS:
        notes.append(f"drift drawn for the {MAX_FEATURE_CHARTS} features with the most violations and the largest distances; {len(ranked) - MAX_FEATURE_CHARTS} more not drawn")
    dropping = [f for f in complete if any(charts.finite(v) and v < 1.0 for v in complete[f])]  # type: ignore[operator]
    for name in dropping[:MAX_FEATURE_CHARTS]:
        chart = charts.lines(labels, [Series("completeness", complete[name], "s0")], f"{name}: completeness per execution", failed=failed)
        figures.append({"title": name, "what": "completeness", "chart": chart, "flagged": 0})
    if not drift and not complete:
        notes.append("no per-execution values: the folders have neither cloudwatch_metrics.jsonl nor statistics.json with a baseline given")
    return figures, notes


def _mq(execs: list[Execution | None], labels: list[str], failed: list[int], baseline: Baseline) -> list[dict[str, Any]]:
    n = len(execs)
    values: dict[str, list[float | None]] = {}
    for i, ex in enumerate(execs):
        if ex is None:
            continue
        for row in typed.model_quality(ex.statistics, None, None, ex.violations or [])["rows"]:
            values.setdefault(row["name"], [None] * n)[i] = row["value"]
    table = typed.model_quality(None, baseline.statistics, baseline.constraints, [])
    _, base = typed._metrics_section(baseline.statistics)
    cons = {r["name"]: r for r in table["rows"]}
    figures = []
    constrained = [m for m in values if m in cons or not cons]
    for name in constrained[:24]:
        from mmon.model_quality.constraints import SNAKE

        b = base.get(SNAKE.get(name, name)) or {}
        bv, bsd = metric_value(b.get("value")), metric_value(b.get("standard_deviation"))
        band = (bv - bsd, bv + bsd) if bv is not None and bsd is not None else None
        threshold = _mq_threshold(baseline.constraints, name)
        chart = charts.lines(labels, [Series(name, values[name], "s1")], f"{name} per execution", threshold=threshold, band=band, failed=failed)
        figures.append({"title": name, "what": "value (band: baseline ± std, dashed: constraint)", "chart": chart, "flagged": 0})
    return figures


def _mq_threshold(constraints: dict[str, Any] | None, name: str) -> float | None:
    from mmon.model_quality.constraints import SNAKE

    for k, v in (constraints or {}).items():
        if k.endswith("_constraints") and isinstance(v, dict):
            c = v.get(SNAKE.get(name, name)) or v.get(name)
            if isinstance(c, dict):
                return metric_value(c.get("threshold"))
    return None


def _bias(execs: list[Execution | None], labels: list[str], failed: list[int], baseline: Baseline) -> list[dict[str, Any]]:
    n = len(execs)
    values: dict[tuple[str, str, str, str], list[float | None]] = {}
    for i, ex in enumerate(execs):
        if ex is None:
            continue
        for (stage, facet, value, metric), v in typed._bias_values(ex.analysis).items():
            values.setdefault((stage, facet, value, metric), [None] * n)[i] = v
    base = typed._bias_values(baseline.constraints)
    figures = []
    for key in sorted(values)[:40]:
        stage, facet, value, metric = key
        chart = charts.lines(labels, [Series(metric, values[key], "s1")], f"{metric} for {facet} = {value}", threshold=base.get(key), failed=failed)
        figures.append({"title": f"{metric} · {facet} = {value} ({stage})", "what": "value (dashed: baseline)", "chart": chart, "flagged": 0})
    return figures


def _fa(execs: list[Execution | None], labels: list[str], failed: list[int], baseline: Baseline) -> list[dict[str, Any]]:
    n = len(execs)
    base = typed._attributions(baseline.constraints)
    scores: dict[str, list[float | None]] = {}
    for i, ex in enumerate(execs):
        if ex is None:
            continue
        for label, cur in typed._attributions(ex.analysis).items():
            if label in base:
                scores.setdefault(label, [None] * n)[i] = ndcg(base[label], cur)
    return [
        {"title": label, "what": "nDCG (dashed: threshold)", "flagged": 0,
         "chart": charts.lines(labels, [Series("nDCG", s, "s1")], f"nDCG of {label}", threshold=DEFAULT_THRESHOLD, failed=failed)}
        for label, s in sorted(scores.items())
    ]  # fmt: skip
