"""Feature-attribution drift: Clarify's explainability baseline and monitoring run (format study §8).

``baseline_attribution`` computes global SHAP values of the baseline dataset and writes Clarify's
``analysis.json`` — which *is* the constraints file of this monitor (Clarify writes no separate
``constraints.json``: ``ClarifyBaseliningJob.suggested_constraints()`` returns analysis.json).
``run_attribution`` computes the same for a monitoring window, scores each label's ranking against
the baseline's with nDCG and writes ``analysis.json``, ``constraint_violations.json`` and
``cloudwatch_metrics.jsonl`` in one atomic ``write_many``.

What is explained and how: :mod:`mmon.attribution.data` and :mod:`mmon.attribution.explain`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Unpack

from mmon.attribution.cloudwatch import METHOD, cloudwatch_records
from mmon.attribution.config import load_analysis
from mmon.attribution.explain import AttributionOptions, Progress, compute, encode_analysis, local_csv
from mmon.attribution.ndcg import DEFAULT_THRESHOLD, ndcg, rankings, violation
from mmon.documents import Body, document_body, write_report
from mmon.filenames import ANALYSIS_FILE, CLOUDWATCH_FILE, LOCAL_SHAP_FILE, VIOLATIONS_FILE
from mmon.jsonfmt import java_double_str
from mmon.metrics import cloudwatch_jsonl, metric_time_or_now
from mmon.monitors.place import Where
from mmon.monitors.result import AnalysisResult
from mmon.store import Store, join


@dataclass
class AttributionResult(AnalysisResult):
    model_calls: int
    ndcg: float | None
    baseline: dict[str, Any] | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    total_rows: int = 0
    threshold: float = DEFAULT_THRESHOLD
    model: str = ""

    def _labels(self) -> dict[str, Any]:
        return self.analysis["explanations"][METHOD]

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary for ``--json``."""
        labels: dict[str, Any] = {}
        base = self.baseline["explanations"][METHOD] if self.baseline else {}
        for label, entry in self._labels().items():
            item: dict[str, Any] = {
                "expected_value": entry.get("expected_value"),
                "global_shap_values": dict(entry["global_shap_values"]),
            }
            if self.baseline is not None:
                item["ndcg"] = self.scores.get(label)
                item["violated"] = any(v["label"] == label for v in self.violations)
                if label in base:
                    item["baseline_global_shap_values"] = dict(base[label]["global_shap_values"])
            labels[label] = item
        return {
            "model": self.model,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "model_calls": self.model_calls,
            "ndcg": self.ndcg,
            "threshold": self.threshold if self.baseline is not None else None,
            "violations": len(self.violations),
            "labels": labels,
            "outputs": dict(self.outputs),
            "warnings": list(self.warnings),
        }

    def table(self) -> tuple[str, list[str], list[list[str]]]:
        """(title, columns, rows) for the human view: one row per label and feature."""
        base = self.baseline["explanations"][METHOD] if self.baseline else None
        rows: list[list[str]] = []
        if base is None:
            columns = ["label", "feature", "global_shap", "rank"]
            for label, entry in self._labels().items():
                vals = entry["global_shap_values"]
                order, _ = rankings(vals, vals)
                for f in order:
                    rows.append([label, f, java_double_str(float(vals[f])), str(order.index(f) + 1)])
            title = f"Feature attributions (Kernel SHAP): {self.rows} records, {self.model_calls} model calls"
            return title, columns, rows
        columns = ["label", "feature", "baseline", "current", "baseline_rank", "current_rank", "status"]
        for label, entry in self._labels().items():
            if label not in base:
                continue
            bvals = base[label]["global_shap_values"]
            cvals = entry["global_shap_values"]
            ideal, cur = rankings(bvals, cvals)
            bad = any(v["label"] == label for v in self.violations)
            for f in ideal:
                rows.append(
                    [
                        label,
                        f,
                        java_double_str(float(bvals[f])),
                        java_double_str(float(cvals[f])) if f in cvals else "",
                        str(ideal.index(f) + 1),
                        str(cur.index(f) + 1),
                        "VIOLATION" if bad else "ok",
                    ]
                )
        scores = ", ".join(
            f"{k} nDCG {java_double_str(v) if v is not None else 'n/a'}" for k, v in self.scores.items()
        )
        title = (
            f"Feature attribution drift: {scores} (threshold {java_double_str(self.threshold)}); "
            f"{self.rows} records, {self.model_calls} model calls"
        )
        return title, columns, rows


def baseline_attribution(
    store: Store,
    inputs: list[str],
    output: str,
    model_spec: str,
    config: dict[str, Any],
    options: AttributionOptions | None = None,
    fmt: str | None = None,
    header: bool = True,
    progress: Progress | None = None,
) -> AttributionResult:
    """Explain the baseline dataset and write ``OUT/analysis.json`` (the monitor's constraints)."""
    options = options or AttributionOptions()
    store.check_writable(output)
    computed, _model = compute(store, inputs, model_spec, config, options, fmt, header, progress)
    urls = {"analysis": join(output, ANALYSIS_FILE)}
    files = {urls["analysis"]: encode_analysis(computed.analysis, urls["analysis"])}
    if computed.local is not None:
        urls["local_shap_values"] = join(output, *LOCAL_SHAP_FILE.split("/"))
        files[urls["local_shap_values"]] = local_csv(computed.local)
    store.write_many(files)
    return AttributionResult(
        computed.analysis,
        [],
        urls,
        computed.warnings,
        computed.rows,
        computed.model_calls,
        None,
        total_rows=computed.total_rows,
        threshold=options.threshold,
        model=model_spec,
    )


def compare(
    baseline: dict[str, Any], current: dict[str, Any], threshold: float
) -> tuple[list[dict[str, Any]], dict[str, float | None], list[str]]:
    """(violations, nDCG per baseline label, warnings) for two explainability analysis documents."""
    violations: list[dict[str, Any]] = []
    scores: dict[str, float | None] = {}
    warnings: list[str] = []
    base = baseline["explanations"][METHOD]
    cur = current["explanations"][METHOD]
    for label, entry in base.items():
        if label not in cur:
            warnings.append(f"label {label!r} of the baseline is not in the current analysis; not compared")
            continue
        bvals = {k: float(v) for k, v in entry["global_shap_values"].items()}
        cvals = {k: float(v) for k, v in cur[label]["global_shap_values"].items()}
        missing = [f for f in bvals if f not in cvals]
        extra = [f for f in cvals if f not in bvals]
        if missing:
            warnings.append(
                f"{label}: baseline features missing from the current run rank last: {', '.join(missing[:5])}"
            )
        if extra:
            warnings.append(f"{label}: features not in the baseline are ignored: {', '.join(extra[:5])}")
        score = ndcg(bvals, cvals)
        scores[label] = score
        if score is None:
            warnings.append(f"{label}: every baseline attribution is 0; nDCG is undefined and not checked")
        elif score < threshold:
            violations.append(violation(label, score, threshold))
    for label in cur:
        if label not in base:
            warnings.append(f"label {label!r} is not in the baseline; not compared")
    return violations, scores, warnings


def run_attribution(
    store: Store,
    inputs: list[str],
    output: str,
    model_spec: str,
    config: dict[str, Any],
    constraints_url: str,
    options: AttributionOptions | None = None,
    progress: Progress | None = None,
    **where: Unpack[Where],
) -> AttributionResult:
    """Explain a monitoring window, compare with the baseline analysis.json and write the report."""
    options = options or AttributionOptions()
    store.check_writable(output)
    baseline = load_analysis(store, constraints_url)  # fail on a bad baseline before any model call
    fmt, header = where.get("fmt"), where.get("header", True)
    computed, _model = compute(store, inputs, model_spec, config, options, fmt, header, progress)
    violations, scores, cmp_warnings = compare(baseline, computed.analysis, options.threshold)
    mt = metric_time_or_now(where.get("metric_time"))
    records = cloudwatch_records(computed.analysis, where.get("endpoint"), where.get("schedule"), mt)
    files: dict[str, tuple[str, Body]] = {
        "constraint_violations": (VIOLATIONS_FILE, document_body({"version": "1.0", "violations": violations},
                                                                 "constraint_violations")),
        "analysis": (ANALYSIS_FILE, lambda url: encode_analysis(computed.analysis, url)),
        "cloudwatch_metrics": (CLOUDWATCH_FILE, cloudwatch_jsonl(records)),
    }  # fmt: skip
    if computed.local is not None:
        files["local_shap_values"] = (LOCAL_SHAP_FILE, local_csv(computed.local))
    urls = write_report(store, output, files, where.get("before_publish"))
    defined = [s for s in scores.values() if s is not None]
    return AttributionResult(
        computed.analysis,
        violations,
        urls,
        computed.warnings + cmp_warnings,
        computed.rows,
        computed.model_calls,
        min(defined) if defined else None,
        baseline=baseline,
        scores=scores,
        total_rows=computed.total_rows,
        threshold=options.threshold,
        model=model_spec,
    )
