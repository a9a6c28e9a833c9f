"""What one execution's report shows, read from its folder (mmon's or SageMaker's files).

The folder is read as ``mmon violations`` reads it: every file schema-checked (every SageMaker
generation), through the storage layer's publish marker when there is one; the statistics
through ``mmon.stats.statistics.read_statistics`` (2020 and current layouts). The baseline is not
in a report folder (SageMaker does not record it either), so it comes from
``--baseline-statistics`` / ``--baseline-constraints``; without it the page says what it cannot
show instead of drawing a one-sided comparison silently.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from mmon import schemas
from mmon.bias.drift import metric_value
from mmon.errors import InputError
from mmon.report import charts, dq, typed
from mmon.report.stats import read_statistics_fast as read_statistics
from mmon.schedule.executions import RECORD_NAME
from mmon.stats.statistics import DatasetStatistics
from mmon.store import Store, join
from mmon.violations import VIOLATIONS_FILE

STATISTICS = "statistics.json"
ANALYSIS = "analysis.json"
CLOUDWATCH = "cloudwatch_metrics.jsonl"
PROMETHEUS = "metrics.prom"

TYPES = ("data-quality", "model-quality", "bias", "feature-attribution")
_TEST_DESC = re.compile(r"^Baseline drift (\w+)( p-value)?: (\S+) (?:exceeds|is below) threshold: (\S+)")
_DISTANCE_DESC = re.compile(r"^Baseline drift (?:distance|chi-squared p-value): (\S+) (?:exceeds|is below) threshold: (\S+)")


@dataclass
class Baseline:
    """What the user gave about the baseline (any of the two files may be absent)."""

    statistics_url: str | None = None
    constraints_url: str | None = None
    statistics: dict[str, Any] | None = None
    constraints: dict[str, Any] | None = None

    @staticmethod
    def load(store: Store, statistics_url: str | None, constraints_url: str | None) -> Baseline:
        b = Baseline(statistics_url, constraints_url)
        if statistics_url:
            b.statistics = _json_document(store, statistics_url, "statistics")
        if constraints_url:
            b.constraints = _json_document(store, constraints_url, "constraints")
        return b


def _json_document(store: Store, url: str, kind: Any) -> dict[str, Any]:
    """A statistics/constraints file (schema-checked), or a Clarify analysis.json (any object)."""
    text = store.read_text(url)
    doc = schemas.load_json(text, url)
    if not isinstance(doc, dict):
        raise InputError(f"{url}: expected a JSON object at /")
    if "explanations" in doc or "pre_training_bias_metrics" in doc or "post_training_bias_metrics" in doc:
        return doc  # a Clarify analysis.json: the constraints of bias / attribution monitors
    schemas.validate(doc, kind, url)
    return doc


@dataclass
class Execution:
    """The files of one execution folder, read once."""

    folder: str
    violations: list[dict[str, Any]] | None = None
    statistics: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    dimensions: dict[str, str] = field(default_factory=dict)
    tests: list[str] = field(default_factory=list)
    report_id: str | None = None  # the publish marker's execution id, when the folder has one

    @property
    def monitor_type(self) -> str:
        stats = self.statistics or {}
        if "features" in stats:
            return "data-quality"
        if any(k.endswith("_metrics") for k in stats):
            return "model-quality"
        a = self.analysis or {}
        if "explanations" in a:
            return "feature-attribution"
        if "pre_training_bias_metrics" in a or "post_training_bias_metrics" in a:
            return "bias"
        checks = {v.get("constraint_check_type") for v in self.violations or []}
        if "bias_drift_check" in checks:
            return "bias"
        if "feature_attribution_drift_check" in checks:
            return "feature-attribution"
        if any("metric_name" in v for v in self.violations or []):
            return "model-quality"
        return "data-quality"

    @property
    def status(self) -> str:
        if self.record and isinstance(self.record.get("status"), str):
            return str(self.record["status"])
        if self.violations is None:
            return "Unknown"
        return "CompletedWithViolations" if self.violations else "Completed"


def _read_report(store: Store, folder: str, names: list[str]) -> tuple[str | None, dict[str, bytes]]:
    """Files of one report folder, all of one execution.

    With the storage layer's publish marker (``mmon.publish.read_report``) only a completely
    published report is read (never a mix of two executions); without it (that layer not merged
    yet, or SageMaker's folders) each file is read as it is, as ``mmon violations`` reads them.
    """
    try:
        publish = importlib.import_module("mmon.publish")
    except ImportError:
        publish = None
    if publish is not None and hasattr(publish, "read_report"):
        got: tuple[str | None, dict[str, bytes]] = publish.read_report(store, folder, names)
        return got
    present = {u.rstrip("/").rsplit("/", 1)[-1] for u in store.ls(folder)} if store.isdir(folder) else set()
    return None, {n: store.read_bytes(join(folder, n)) for n in names if n in present}


def _text(data: bytes, url: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{url}:{line}: not valid UTF-8 (byte offset {exc.start})") from exc


def _document(data: bytes, url: str, kind: Any) -> dict[str, Any]:
    """``documents.load_document`` on bytes already read: parsed, schema-checked, one-line errors."""
    doc = schemas.load_json(_text(data, url), url)
    if not isinstance(doc, dict):
        raise InputError(f"{url}: expected a JSON object at /")
    if kind is not None:
        schemas.validate(doc, kind, url)
    return doc


def read_execution(store: Store, folder: str, light: bool = False) -> Execution:
    """Read a report folder; ``light`` skips the (large) statistics when the run's metrics have the drift."""
    ex = Execution(folder)
    small = [VIOLATIONS_FILE, ANALYSIS, CLOUDWATCH, PROMETHEUS]
    first_id, files = _read_report(store, folder, small if light else [*small, STATISTICS])
    url = {n: join(folder, n) for n in (*small, STATISTICS, RECORD_NAME)}
    if VIOLATIONS_FILE in files:
        ex.violations = list(_document(files[VIOLATIONS_FILE], url[VIOLATIONS_FILE], "constraint_violations").get("violations", []))
    if CLOUDWATCH in files:
        _read_cloudwatch(_text(files[CLOUDWATCH], url[CLOUDWATCH]), url[CLOUDWATCH], ex)
    if PROMETHEUS in files:
        ex.tests = _prometheus_tests(_text(files[PROMETHEUS], url[PROMETHEUS]))
    if light and not any(k.startswith("feature_baseline_drift_") for k in ex.metrics):
        again, more = _read_report(store, folder, [*small, STATISTICS])
        if again != first_id:  # a new report was published in between: read it all again
            return read_execution(store, folder, light=False)
        files.update(more)
    ex.report_id = first_id
    if STATISTICS in files:
        ex.statistics = _document(files[STATISTICS], url[STATISTICS], "statistics")
    if ANALYSIS in files:
        ex.analysis = _document(files[ANALYSIS], url[ANALYSIS], None)
    # execution.json is written after the report is published (it records how the run ended).
    if store.exists(url[RECORD_NAME]):
        try:
            rec = json.loads(store.read_text(url[RECORD_NAME]))
            ex.record = rec if isinstance(rec, dict) else None
        except ValueError as exc:
            raise InputError(f"{url[RECORD_NAME]}: not valid JSON ({exc})") from exc
    if ex.violations is None and ex.statistics is None and ex.analysis is None and ex.record is None:
        raise InputError(
            f"{folder}: no {VIOLATIONS_FILE}, {STATISTICS}, {ANALYSIS} or {RECORD_NAME}: not a monitoring report folder"
        )
    return ex


def _read_cloudwatch(text: str, url: str, ex: Execution) -> None:
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{url}: line {i}: not valid JSON ({exc})") from exc
        if not isinstance(rec, dict):
            continue
        for d in rec.get("Dimensions") or []:
            if isinstance(d, dict) and d.get("Name") in ("Endpoint", "MonitoringSchedule"):
                ex.dimensions.setdefault(str(d["Name"]), str(d.get("Value", "")))
        if "Value" in rec and isinstance(rec.get("MetricName"), str):
            value = metric_value(rec["Value"])
            if value is not None:
                ex.metrics[rec["MetricName"]] = value


def _prometheus_tests(text: str) -> list[str]:
    """The ``--drift-test`` names a run reported (its metrics.prom), in first-seen order."""
    out: list[str] = []
    for name in re.findall(r'_drift_test\{[^}]*test="([a-z0-9]+)"', text):
        if name not in out:
            out.append(name)
    return out


def header(ex: Execution, baseline: Baseline, current: DatasetStatistics | None) -> dict[str, Any]:
    rec = ex.record or {}
    base_rows = None
    if baseline.statistics is not None:
        base_rows = metric_value((baseline.statistics.get("dataset") or {}).get("item_count"))
    cur_rows = current.item_count if current else metric_value(((ex.statistics or {}).get("dataset") or {}).get("item_count"))
    return {
        "type": ex.monitor_type,
        "endpoint": ex.dimensions.get("Endpoint"),
        "schedule": rec.get("schedule") or ex.dimensions.get("MonitoringSchedule"),
        "scheduled_time": rec.get("scheduled_time"),
        "window": (rec.get("start_time"), rec.get("end_time")) if rec.get("start_time") else None,
        "baseline_rows": base_rows,
        "current_rows": cur_rows,
        "status": ex.status,
        "message": rec.get("message"),
        "violations": None if ex.violations is None else len(ex.violations),
        "report_id": ex.report_id,
    }


def _violation_rows(violations: list[dict[str, Any]], panels: dict[str, dq.Panel]) -> list[dict[str, Any]]:
    rows = []
    for v in violations:
        feature = str(v.get("feature_name", ""))
        desc = str(v.get("description", ""))
        row: dict[str, Any] = {"feature": feature, "check": v.get("constraint_check_type", ""), "description": desc}
        p = panels.get(feature)
        if dq.is_drift(v):
            m = _TEST_DESC.match(desc)
            if m and m.group(1) not in ("distance", "chi"):
                name = m.group(1)
                row["test"] = name
                row["test_value"] = p.tests.get(name) if p and name in p.tests else metric_value(m.group(3))
                if p and f"{name}_statistic" in p.tests:
                    row["test_statistic"] = p.tests[f"{name}_statistic"]
                row["threshold"] = metric_value(m.group(4))
            else:
                d = _DISTANCE_DESC.match(desc)
                row["distance"] = p.distance if p and p.distance is not None else (metric_value(d.group(1)) if d else None)
                row["threshold"] = metric_value(d.group(2)) if d else (p.threshold if p else None)
                if p:
                    row.update(margin=p.margin, n=p.n, m=p.m, linf=p.linf_simple)
        rows.append(row)
    return rows


def execution_context(store: Store, folder: str, baseline: Baseline, tests: list[str] | None) -> dict[str, Any]:
    """The template context of a single execution's report."""
    ex = read_execution(store, folder)
    kind = ex.monitor_type
    _check_baseline(kind, baseline)
    notes: list[str] = []
    ctx: dict[str, Any] = {"kind": "execution", "source": folder, "notes": notes, "panels": [], "tests": []}
    violations = ex.violations or []
    if ex.violations is None:
        notes.append(f"no {VIOLATIONS_FILE} in the folder: the execution did not complete")
    current = None
    if kind == "data-quality":
        base_stats = read_statistics(baseline.statistics) if baseline.statistics and "features" in baseline.statistics else None
        current = read_statistics(ex.statistics) if ex.statistics else None
        if base_stats is None:
            notes.append("no --baseline-statistics: each panel shows the current window only, and distances come from the run's metrics")
        if current is None:
            notes.append(f"no {STATISTICS} of the current window in the folder: no current distributions")
        names = list(dict.fromkeys((tests or []) + ex.tests))
        distances = {k[len("feature_baseline_drift_"):]: v for k, v in ex.metrics.items() if k.startswith("feature_baseline_drift_")}
        panels = dq.panels(base_stats, current, baseline.constraints, violations, names, distances)
        ctx["panels"] = panels
        ctx["tests"] = [t for t in names if any(t in p.tests for p in panels)]
        ctx["violation_rows"] = _violation_rows(violations, {p.name: p for p in panels})
    else:
        ctx["violation_rows"] = [
            {"feature": _subject(v), "check": v.get("constraint_check_type", ""), "description": str(v.get("description", ""))}
            for v in violations
        ]
    if kind == "model-quality":
        ctx["mq"] = typed.model_quality(ex.statistics, baseline.statistics, baseline.constraints, violations)
    elif kind == "bias":
        if baseline.constraints is None:
            notes.append("no --baseline-constraints (the baseline's analysis.json): baseline values only where a violation quotes them")
        ctx["bias"] = typed.bias(ex.analysis, baseline.constraints, violations)
    elif kind == "feature-attribution":
        if baseline.constraints is None:
            notes.append("no --baseline-constraints (the baseline's analysis.json): no ranking comparison")
        ctx["fa"] = typed.attribution(ex.analysis, baseline.constraints, violations)
    ctx["header"] = header(ex, baseline, current)
    ctx["title"] = f"{kind} report"
    return ctx


def _check_baseline(kind: str, baseline: Baseline) -> None:
    """A baseline file of another monitor type is an input error, never a silently empty column."""
    stats, cons = baseline.statistics, baseline.constraints
    want_stats = {"data-quality": "features", "model-quality": "_metrics"}.get(kind)
    if stats is not None and want_stats and not any(k == want_stats or k.endswith(want_stats) for k in stats):
        raise InputError(f"{baseline.statistics_url}: not the statistics.json of a {kind} baseline (the report folder is {kind})")
    want_cons = {"data-quality": ("features",), "model-quality": ("_constraints",), "bias": ("_bias_metrics",),
                 "feature-attribution": ("explanations",)}[kind]  # fmt: skip
    if cons is not None and not any(k.endswith(w) for k in cons for w in want_cons):
        raise InputError(f"{baseline.constraints_url}: not the constraints of a {kind} baseline (the report folder is {kind})")


def _subject(v: dict[str, Any]) -> str:
    name = str(v.get("feature_name") or v.get("metric_name") or "")
    if "facet" in v:
        return f"{name} ({v['facet']}={v.get('facet_value', '')})"
    if "label" in v:
        return f"{name} (label {v['label']})"
    return name


def fmt_opt(x: Any) -> str:
    return charts.fmt(x) if isinstance(x, (int, float)) or x is None else str(x)


def has_report(store: Store, folder: str) -> bool:
    return any(store.exists(join(folder, n)) for n in (VIOLATIONS_FILE, STATISTICS, ANALYSIS, RECORD_NAME))
