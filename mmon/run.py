"""``mmon run`` (data quality): profile the current window, check it against the baseline, report.

current data -> profile state (the baseline's code path) -> checks -> constraint_violations.json,
statistics.json, CloudWatch metric records and a Prometheus textfile, written as one report.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mmon.capture import META_PREFIX
from mmon.checks import CheckOptions, CheckReport, check_data_quality, violations_document
from mmon.documents import encode_document, load_document
from mmon.engine import Engine, ProfilePolicy, Progress, profile_files
from mmon.errors import InputError
from mmon.metrics import cloudwatch_records, prometheus_text
from mmon.readers import DatasetFile, dataset_files
from mmon.stats.profile import ProfileState
from mmon.stats.statistics import read_statistics, to_statistics
from mmon.store import Store, join

STATISTICS_FILE = "statistics.json"
VIOLATIONS_FILE = "constraint_violations.json"
CLOUDWATCH_FILE = "cloudwatch_metrics.jsonl"
PROMETHEUS_FILE = "metrics.prom"



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


def load_postprocessor(path: str, store: Store) -> Callable[[], Any]:
    """Import a SageMaker post-analytics script and return its ``postprocess_handler``."""
    source = store.read_text(path)
    spec = importlib.util.spec_from_loader("mmon_postprocessor", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    try:
        exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - the user's own script
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: the postprocessor script does not load: {type(exc).__name__}: {exc}") from exc
    handler = getattr(module, "postprocess_handler", None)
    if not callable(handler):
        raise InputError(f"{path}: no postprocess_handler() defined (SageMaker's post_analytics_processor contract)")
    return handler


def run_data_quality(
    store: Store,
    inputs: list[str],
    baseline_statistics: str,
    baseline_constraints: str,
    output: str,
    fmt: str | None = None,
    header: bool = True,
    options: CheckOptions | None = None,
    endpoint: str | None = None,
    schedule: str | None = None,
    metric_time: str | None = None,
    postprocessor: str | None = None,
    progress: Progress | None = None,
    files: list[DatasetFile] | None = None,
    before_publish: Callable[[], None] | None = None,
    engine: Engine | None = None,
) -> RunResult:
    """Check current data against a baseline and write the report under ``output``."""
    store.check_writable(output)
    stats_doc = load_document(store, baseline_statistics, "statistics")
    constraints = load_document(store, baseline_constraints, "constraints")
    if "features" not in stats_doc or "features" not in constraints:
        raise InputError(f"{baseline_constraints}: not a data-quality baseline (no 'features'); use --type model-quality")
    baseline = read_statistics(stats_doc)
    handler = load_postprocessor(postprocessor, store) if postprocessor else None

    if files is None:
        files = dataset_files(store, inputs, fmt, header)
    profiled = profile_files(store, files, ProfilePolicy(), engine, progress)
    state = _drop_meta(profiled.state)
    if any(f.format == "csv" and not f.header for f in files):
        state = _rename_positional(state, [c["name"] for c in constraints["features"]])
    if state.rows == 0:
        profiled.warnings.append("the current data has no rows: every column is reported missing")
    current_stats = to_statistics(state)
    report = check_data_quality(baseline, constraints, state, options or CheckOptions())
    violations = violations_document(report)

    mt = metric_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    urls = {
        "constraint_violations": join(output, VIOLATIONS_FILE),
        "statistics": join(output, STATISTICS_FILE),
    }
    bodies: dict[str, bytes] = {
        urls["constraint_violations"]: encode_document(violations, "constraint_violations", urls["constraint_violations"]),
        urls["statistics"]: encode_document(current_stats, "statistics", urls["statistics"]),
    }
    if report.emit_metrics:
        records = cloudwatch_records(current_stats, report, endpoint, schedule, mt)
        urls["cloudwatch_metrics"] = join(output, CLOUDWATCH_FILE)
        urls["prometheus"] = join(output, PROMETHEUS_FILE)
        bodies[urls["cloudwatch_metrics"]] = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        bodies[urls["prometheus"]] = prometheus_text(current_stats, report, endpoint, schedule).encode()
    # A scheduled execution checks it still owns its hour before publishing anything.
    if before_publish is not None:
        before_publish()
    # constraint_violations.json is the first key: written last, it marks a complete report.
    store.write_many(bodies)

    result = RunResult(current_stats, report, violations["violations"], profiled.files, urls, profiled.warnings)
    if handler is not None:
        try:
            params = inspect.signature(handler).parameters
            handler(**({"logger": logging.getLogger("mmon.postprocessor")} if "logger" in params else {}))
        except Exception as exc:  # noqa: BLE001 - the report stays; the failure is reported
            result.postprocessor_error = f"{postprocessor}: postprocess_handler failed: {type(exc).__name__}: {exc}"
    return result
