"""``mmon baseline --type bias`` and ``mmon run --type bias``: Clarify's bias monitor without a cloud.

Baseline: OUT/analysis.json -- Clarify's analysis result, which *is* the constraints file of
SageMaker's bias-drift monitor (format study §7.2). Run: OUT/analysis.json of the window,
OUT/constraint_violations.json (§7.4) and OUT/cloudwatch_metrics.jsonl (``bias_metric_{NAME}``
with the dimensions of §6), written as one report (constraint_violations.json last).

analysis.json is written as Clarify (Python) writes it: ``json.dumps`` with a 4-space indent,
infinite values as the strings ``"Infinity"`` / ``"-Infinity"`` (smclarify ``inf_as_str``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Unpack

from mmon import schemas
from mmon.bias.compute import Analysis, analyse
from mmon.bias.config import selected_methods, validate_analysis_config
from mmon.bias.data import DEFAULT_PROBABILITY_THRESHOLD, Locator, read_rows
from mmon.bias.drift import STAGE_NAMES, STAGES, check_analysis, compare, metric_value, pinned_facets
from mmon.documents import document_body, write_report
from mmon.filenames import ANALYSIS_FILE, CLOUDWATCH_FILE, VIOLATIONS_FILE
from mmon.metrics import cloudwatch_dimensions, cloudwatch_jsonl, metric_time_or_now
from mmon.monitors.place import Where
from mmon.monitors.result import AnalysisResult
from mmon.store import Store, join

# CloudWatch cannot take infinities: Clarify publishes +/- this number instead (format study §6).
CLOUDWATCH_INFINITY = 2.348543e108


@dataclass
class BiasOptions:
    inference_attribute: str | None = None
    probability_attribute: str | None = None
    probability_threshold: float | None = None
    min_rows: int = 10


@dataclass
class BiasResult(AnalysisResult):
    not_judged: list[dict[str, Any]] = field(default_factory=list)
    baseline: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    rows_post_training: int = 0
    compared: int = 0

    def summary(self) -> dict[str, Any]:
        """JSON-able summary for ``--json`` (infinite values as the strings ``Infinity`` / ``-Infinity``)."""
        return _jsonable(
            {
                "type": "bias",
                "rows": self.rows,
                "rows_post_training": self.rows_post_training,
                "files": self.files,
                "outputs": self.outputs,
                "metrics": metric_rows(self.analysis),
                "violations": self.violations,
                "compared": self.compared,
                "not_judged": self.not_judged,
                "warnings": self.warnings,
            }
        )

    def table(self) -> tuple[str, list[str], list[list[str]]]:
        """Title, column headers and rows for the human view."""
        base = {
            (r["stage"], r["facet"], r["facet_value"], r["metric"]): r["value"]
            for r in metric_rows(self.baseline or {})
        }
        flagged = {(v["facet"], v["facet_value"], v["metric_name"]) for v in self.violations}
        # Keyed by stage too: a stage the run did not compute must not mark the other stage's rows.
        skipped: dict[tuple[str, str, str, str | None], str] = {
            (n["stage"], n["facet"], n["facet_value"], n["metric_name"]): n["reason"] for n in self.not_judged
        }
        headers = ["stage", "facet", "value", "metric", "current" if self.baseline else "value"]
        if self.baseline is not None:
            headers += ["baseline", "status"]
        rows = []
        for r in metric_rows(self.analysis):
            row = [r["stage"], r["facet"], r["facet_value"], r["metric"], _show(r["value"], r.get("error"))]
            if self.baseline is not None:
                k = (r["facet"], r["facet_value"], r["metric"])
                st = r["stage"]
                status = (
                    "VIOLATION"
                    if k in flagged
                    else skipped.get((st, *k)) or skipped.get((st, k[0], k[1], None)) or "ok"
                )
                row += [_show(base.get((r["stage"], r["facet"], r["facet_value"], r["metric"]))), status]
            rows.append(row)
        title = f"Bias metrics ({self.rows} rows" + (
            f", {len(self.violations)} violations)" if self.baseline else ")"
        )
        return title, headers, rows


def _show(v: Any, error: str | None = None) -> str:
    x = metric_value(v)
    if x is None:
        return f"n/a ({error})" if error else "n/a"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return f"{x:.4g}"


def metric_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for stage in STAGES:
        for facet, entries in doc.get(stage, {}).get("facets", {}).items():
            for e in entries:
                for m in e["metrics"]:
                    r = {"stage": STAGE_NAMES[stage], "facet": facet, "facet_value": str(e["value_or_threshold"]),
                         "metric": m["name"], "value": m.get("value")}  # fmt: skip
                    if m.get("error"):
                        r["error"] = m["error"]
                    out.append(r)
    return out


def _jsonable(o: Any) -> Any:
    """Infinite floats → ``"Infinity"`` / ``"-Infinity"`` (smclarify's ``inf_as_str``)."""
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_jsonable(v) for v in o]
    if isinstance(o, float) and math.isinf(o):
        return "Infinity" if o > 0 else "-Infinity"
    return o


def analysis_bytes(doc: dict[str, Any]) -> bytes:
    """analysis.json as Clarify writes it (indent 4, infinities as strings)."""
    return json.dumps(_jsonable(doc), indent=4, allow_nan=False).encode("utf-8")


def _locator(config: dict[str, Any], options: BiasOptions, want_predictions: bool) -> Locator:
    return Locator(
        label=config["label"],
        headers=config.get("headers"),
        inference_attribute=options.inference_attribute,
        probability_attribute=options.probability_attribute,
        probability_threshold=options.probability_threshold
        if options.probability_threshold is not None
        else config.get("probability_threshold"),
        want_predictions=want_predictions,
        features=config.get("features"),
    )


def _analyse(
    store: Store, inputs: list[str], config: dict[str, Any], options: BiasOptions, fmt: str | None, header: bool,
    pinned: dict[str, bool] | None = None,
) -> tuple[Analysis, list[str]]:  # fmt: skip
    config = validate_analysis_config(config, "analysis_config")
    pre, post = selected_methods(config)
    rows = read_rows(store, inputs, _locator(config, options, bool(post)), fmt, header)
    threshold = options.probability_threshold
    if threshold is None:
        threshold = float(config.get("probability_threshold", DEFAULT_PROBABILITY_THRESHOLD))
    return analyse(rows, config, pre, post, threshold, pinned), rows.files


def baseline_bias(
    store: Store,
    inputs: list[str],
    output: str,
    config: dict[str, Any],
    options: BiasOptions,
    fmt: str | None = None,
    header: bool = True,
) -> BiasResult:
    """Compute the bias metrics of a dataset and write OUT/analysis.json (the bias constraints)."""
    store.check_writable(output)
    analysis, files = _analyse(store, inputs, config, options, fmt, header)
    url = join(output, ANALYSIS_FILE)
    store.write_many({url: analysis_bytes(analysis.doc)})
    return BiasResult(
        analysis.doc, [], {"analysis": url}, analysis.warnings, analysis.rows, files=files,
        rows_post_training=analysis.rows_post,
    )  # fmt: skip


def load_bias_constraints(store: Store, url: str) -> dict[str, Any]:
    """Read a baseline analysis.json (Clarify's or mmon's) used as the bias constraints."""
    return check_analysis(schemas.load_json(store.read_text(url), url), url)


def cloudwatch_records(
    doc: dict[str, Any], endpoint: str | None, schedule: str | None, metric_time: str
) -> list[dict[str, Any]]:
    """One ``bias_metric_{NAME}`` record per metric with a value (errors are not published)."""
    records = []
    for stage in STAGES:
        sec = doc.get(stage)
        if not sec:
            continue
        for facet, entries in sec["facets"].items():
            for e in entries:
                for m in e["metrics"]:
                    v = metric_value(m.get("value"))
                    if v is None or math.isnan(v):
                        continue
                    if math.isinf(v):
                        v = math.copysign(CLOUDWATCH_INFINITY, v)
                    dims = cloudwatch_dimensions(endpoint, schedule) + [
                        {"Name": "BiasStage", "Value": STAGE_NAMES[stage]},
                        {"Name": "Label", "Value": str(sec.get("label", ""))},
                        {"Name": "LabelValue", "Value": str(sec.get("label_value_or_threshold", ""))},
                        {"Name": "Facet", "Value": facet},
                        {"Name": "FacetValue", "Value": str(e["value_or_threshold"])},
                    ]
                    records.append(
                        {
                            "MetricName": f"bias_metric_{m['name']}",
                            "Timestamp": metric_time,
                            "Dimensions": dims,
                            "Value": v,
                        }
                    )
    return records


def run_bias(
    store: Store,
    inputs: list[str],
    output: str,
    config: dict[str, Any],
    constraints_url: str,
    options: BiasOptions,
    **where: Unpack[Where],
) -> BiasResult:
    """Compute the window's bias metrics, compare them with the baseline analysis.json, write the report."""
    store.check_writable(output)
    baseline = load_bias_constraints(store, constraints_url)
    fmt, header = where.get("fmt"), where.get("header", True)
    analysis, files = _analyse(store, inputs, config, options, fmt, header, pinned_facets(baseline))
    judgement = compare(baseline, analysis, options.min_rows)
    warnings = list(analysis.warnings)
    if judgement.not_judged:
        reasons: dict[str, int] = {}
        for n in judgement.not_judged:
            r = n["reason"].split(":")[0].split(" (")[0]
            reasons[r] = reasons.get(r, 0) + 1
        warnings.append("not judged: " + "; ".join(f"{r} ({k})" for r, k in reasons.items()))
    mt = metric_time_or_now(where.get("metric_time"))
    records = cloudwatch_records(analysis.doc, where.get("endpoint"), where.get("schedule"), mt)
    urls = write_report(store, output, {
        "constraint_violations": (VIOLATIONS_FILE, document_body({"version": "1.0", "violations": judgement.violations},
                                                                 "constraint_violations")),
        "analysis": (ANALYSIS_FILE, analysis_bytes(analysis.doc)),
        "cloudwatch_metrics": (CLOUDWATCH_FILE, cloudwatch_jsonl(records)),
    }, where.get("before_publish"))  # fmt: skip
    return BiasResult(
        analysis.doc, judgement.violations, urls, warnings, analysis.rows, judgement.not_judged, baseline, files,
        analysis.rows_post, judgement.compared,
    )  # fmt: skip
