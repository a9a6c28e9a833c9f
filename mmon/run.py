"""``mmon run`` (data quality): profile the current window, check it against the baseline, report.

current data -> profile state (the baseline's code path) -> checks -> constraint_violations.json,
statistics.json, CloudWatch metric records and a Prometheus textfile, written as one report.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from mmon.capture import META_PREFIX
from mmon.checks import CheckOptions, CheckReport, check_data_quality, violations_document
from mmon.checks.model import check_disabled_features
from mmon.documents import Body, document_body, load_document, write_report
from mmon.engine import Engine, ProfilePolicy, Progress, profile_files
from mmon.errors import InputError
from mmon.filenames import CLOUDWATCH_FILE, PROMETHEUS_FILE, STATISTICS_FILE, VIOLATIONS_FILE
from mmon.metrics import cloudwatch_jsonl, cloudwatch_records, metric_time_or_now, prometheus_text
from mmon.monitors.place import Where
from mmon.own_files import refuse_overwrite, reserved_columns_warning
from mmon.readers import DatasetFile, dataset_files
from mmon.scripts import load_script
from mmon.stats.profile import ColumnState, ProfileState
from mmon.stats.statistics import DatasetStatistics, read_statistics, to_statistics
from mmon.store import Store, join


@dataclass
class RunResult:
    statistics: dict[str, Any]
    report: CheckReport
    violations: list[dict[str, Any]]
    files: list[str]
    outputs: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    postprocessor_error: str | None = None

    @property
    def item_count(self) -> int:
        return int(self.statistics["dataset"]["item_count"])


def _rename_positional(state: ProfileState, baseline_names: list[str]) -> ProfileState:
    """Give headerless current data the baseline's column names, by position (as SageMaker does)."""
    renamed: dict[str, Any] = {}
    for i, (name, col) in enumerate(state.columns.items()):
        if name.startswith("_c") and i < len(baseline_names):
            col.name = baseline_names[i]
        renamed[col.name] = col
    state.columns = renamed
    return state


def _drop_meta(state: ProfileState) -> ProfileState:
    state.columns = {k: v for k, v in state.columns.items() if not k.startswith(META_PREFIX)}
    return state


def _kind_of(doc: dict[str, Any]) -> str:
    if any(k.endswith("_metrics") and k.split("_")[0] in ("binary", "multiclass", "regression") for k in doc):
        return "a model-quality statistics file"
    if any(k.endswith("_constraints") for k in doc):
        return "a model-quality constraints file"
    if "pre_training_bias_metrics" in doc or "post_training_bias_metrics" in doc:
        return "a bias analysis.json"
    if "explanations" in doc:
        return "a feature-attribution analysis.json"
    return "a file of another kind"


def _type_hint(doc: dict[str, Any]) -> str:
    kind = _kind_of(doc)
    for word, flag in (("model-quality", "model-quality"), ("bias", "bias"), ("feature-attribution", "feature-attribution")):
        if word in kind:
            return f"for that monitor use --type {flag}; else "
    return ""


def _baseline_warnings(stats: dict[str, Any], constraints: dict[str, Any], stats_url: str, cons_url: str) -> list[str]:
    """statistics.json and constraints.json must describe one baseline: same features, same types.

    No common feature at all is an error (two baselines mixed up); a partial mismatch (a feature
    dropped from a hand-edited constraints.json) is a warning naming the features.
    """
    s_types = {str(f.get("name")): f.get("inferred_type") for f in stats["features"] if isinstance(f, dict)}
    c_types = {str(f.get("name")): f.get("inferred_type") for f in constraints["features"] if isinstance(f, dict)}
    common = [n for n in c_types if n in s_types]
    if s_types and c_types and not common:
        raise InputError(
            f"{stats_url} and {cons_url} share no feature: they are not the statistics and constraints of one baseline "
            f"(statistics: {', '.join(list(s_types)[:5])}…; constraints: {', '.join(list(c_types)[:5])}…)"
        )
    out = []
    only_s = [n for n in s_types if n not in c_types]
    only_c = [n for n in c_types if n not in s_types]
    if only_s or only_c:
        parts = []
        if only_c:
            parts.append(f"{len(only_c)} only in the constraints ({', '.join(only_c[:5])}{'…' if len(only_c) > 5 else ''})")
        if only_s:
            parts.append(f"{len(only_s)} only in the statistics ({', '.join(only_s[:5])}{'…' if len(only_s) > 5 else ''})")
        out.append(f"{stats_url} and {cons_url} list different features, {'; '.join(parts)}: are they from the same baseline?")
    reserved = reserved_columns_warning(list(dict.fromkeys([*c_types, *s_types])), "baseline feature(s)")
    if reserved:
        out.append(reserved)
    return out


def _empty_window(state: ProfileState, constrained: list[str], baseline: DatasetStatistics) -> str:
    """An empty window is not an error: say exactly which checks it leaves unjudged.

    A schemaless empty file (an empty JSON Lines window) has no columns either; it says nothing
    about them, so it is given the baseline's columns, empty, and no column is reported missing.
    """
    if not state.columns:
        names = list(dict.fromkeys([*constrained, *baseline.features]))
        state.columns = {n: ColumnState(name=n) for n in names}
        return ("the current data has no rows and no columns (an empty window, no traffic): nothing was checked, "
                "not even missing_column_check")  # fmt: skip
    return ("the current data has no rows (an empty window, no traffic): only missing_column_check and "
            "extra_column_check were evaluated")  # fmt: skip


def load_postprocessor(path: str, store: Store) -> Callable[[], Any]:
    """Import a SageMaker post-analytics script and return its ``postprocess_handler``."""
    source = store.read_text(path)
    try:
        module = load_script(source, path, "mmon_postprocessor")
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: the postprocessor script does not load: {type(exc).__name__}: {exc}") from exc
    handler = getattr(module, "postprocess_handler", None)
    if not callable(handler):
        raise InputError(f"{path}: no postprocess_handler() defined (SageMaker's post_analytics_processor contract)")
    return handler


class Checking(TypedDict, total=False):
    """How a data-quality run checks, for ``run_data_quality`` and a scheduled execution alike."""

    options: CheckOptions | None  # disabled checks, drift tests (default: every check, no drift test)
    postprocessor: str | None  # a SageMaker post-analytics script run after the report is written
    engine: Engine | None  # the profiler (default: polars)


class DataQualityRun(Checking, Where, total=False):
    """``run_data_quality``'s keywords: how it checks (``Checking``), where the data is and the
    metrics go (``Where``), and the two below."""

    progress: Progress | None  # told of each file profiled
    files: list[DatasetFile] | None  # the data files already listed (default: listed from the inputs)


def run_data_quality(
    store: Store,
    inputs: list[str],
    baseline_statistics: str,
    baseline_constraints: str,
    output: str,
    **kw: Unpack[DataQualityRun],
) -> RunResult:
    """Check current data against a baseline and write the report under ``output``."""
    options, postprocessor, files = kw.get("options"), kw.get("postprocessor"), kw.get("files")
    store.check_writable(output)
    stats_doc = load_document(store, baseline_statistics, "statistics")
    constraints = load_document(store, baseline_constraints, "constraints")
    for url, doc, what in ((baseline_statistics, stats_doc, "statistics"), (baseline_constraints, constraints, "constraints")):
        if "features" not in doc:
            # Name the file that is of the wrong kind, and what it is.
            raise InputError(f"{url}: {_kind_of(doc)}, not data-quality {what} (no 'features'); "
                             f"{_type_hint(doc)}give the data-quality baseline's {what}.json")  # fmt: skip
    baseline = read_statistics(stats_doc)
    warnings = _baseline_warnings(stats_doc, constraints, baseline_statistics, baseline_constraints)
    handler = load_postprocessor(postprocessor, store) if postprocessor else None

    if files is None:
        files = dataset_files(store, inputs, kw.get("fmt"), kw.get("header", True))
    # -o at the baseline's (or the data's) folder must not replace them.
    refuse_overwrite(
        [join(output, n) for n in (VIOLATIONS_FILE, STATISTICS_FILE, CLOUDWATCH_FILE, PROMETHEUS_FILE)],
        [("--baseline-statistics", baseline_statistics), ("--baseline-constraints", baseline_constraints),
         ("--postprocessor", postprocessor), *(("data", f.url) for f in files)],
    )  # fmt: skip
    profiled = profile_files(store, files, ProfilePolicy(), kw.get("engine"), kw.get("progress"))
    state = _drop_meta(profiled.state)
    if any(f.format == "csv" and not f.header for f in files):
        state = _rename_positional(state, [c["name"] for c in constraints["features"]])
    if state.rows == 0:
        profiled.warnings.append(_empty_window(state, [c["name"] for c in constraints["features"]], baseline))
    options = options or CheckOptions()
    check_disabled_features(options.disabled, [c["name"] for c in constraints["features"]] + list(baseline.features) + list(state.columns))
    current_stats = to_statistics(state)
    report = check_data_quality(baseline, constraints, state, options)
    violations = violations_document(report)

    mt = metric_time_or_now(kw.get("metric_time"))
    endpoint, schedule = kw.get("endpoint"), kw.get("schedule")
    report_files: dict[str, tuple[str, Body]] = {
        "constraint_violations": (VIOLATIONS_FILE, document_body(violations, "constraint_violations")),
        "statistics": (STATISTICS_FILE, document_body(current_stats, "statistics")),
    }
    if report.emit_metrics:
        records = cloudwatch_records(current_stats, report, endpoint, schedule, mt)
        report_files["cloudwatch_metrics"] = (CLOUDWATCH_FILE, cloudwatch_jsonl(records))
        report_files["prometheus"] = (PROMETHEUS_FILE, prometheus_text(current_stats, report, endpoint, schedule).encode())
    # A scheduled execution checks it still owns its hour before publishing anything.
    urls = write_report(store, output, report_files, kw.get("before_publish"))

    result = RunResult(current_stats, report, violations["violations"], profiled.files, urls, warnings + profiled.warnings)
    if handler is not None:
        try:
            params = inspect.signature(handler).parameters
            handler(**({"logger": logging.getLogger("mmon.postprocessor")} if "logger" in params else {}))
        except Exception as exc:  # noqa: BLE001 - the report stays; the failure is reported
            result.postprocessor_error = f"{postprocessor}: postprocess_handler failed: {type(exc).__name__}: {exc}"
    return result
