"""A scheduled execution of ``mmon run``: window from the schedule, merge, check, report per hour.

scheduled time + offsets -> window -> (capture-merge of the window's hour folders) -> the run of
the monitoring type, written under ``OUTPUT/yyyy/mm/dd/hh/`` -> execution record. Two hosts
running the same hour cannot both publish: the execution lock (``mmon.schedule.executions``) is
checked again just before the report is written, and the loser writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypedDict, Unpack

from mmon.baseline import Progress
from mmon.capture import capture_merge
from mmon.capture.window import Window
from mmon.errors import InputError
from mmon.monitors.place import Where
from mmon.own_files import is_inside
from mmon.run import Checking, RunResult, run_data_quality
from mmon.schedule.executions import begin_execution, finish_execution
from mmon.schedule.window import format_time, resolve_execution
from mmon.store import Store, join

MERGE_FOLDER = "merge"

# (inputs, report folder, metric time, before_publish) -> a result with .violations and .outputs
RunFn = Callable[[list[str], str, str, Callable[[], None]], Any]


class Execution(TypedDict, total=False):
    """The keywords both scheduled runs take: which window, where its data is, how metrics are named."""

    schedule_expression: str | None
    start_offset: str | None
    end_offset: str | None
    data: list[str] | None  # the window's data as files, or
    capture: str | None  # the capture root whose window's hour folders are merged first
    fmt: str | None
    header: bool
    endpoint: str | None
    schedule: str | None
    progress: Progress | None


def _execute(
    store: Store, output: str, scheduled_time: str, ex_kw: Execution, merge_options: dict[str, Any], run: RunFn
) -> tuple[dict[str, Any], Any]:
    capture, expression, schedule = ex_kw.get("capture"), ex_kw.get("schedule_expression"), ex_kw.get("schedule")
    for flag, root in (("--capture", capture), ("--ground-truth", merge_options.get("ground_truth"))):
        if root and is_inside(output, root):
            # Its hour folders would hold reports beside capture: keep the two trees apart.
            raise InputError(f"--output {output} is inside {flag} {root}: write the reports to another folder")
    ex = resolve_execution(scheduled_time, expression, ex_kw.get("start_offset"), ex_kw.get("end_offset"), output=output)
    assert ex.report_prefix is not None
    store.check_writable(output)
    with begin_execution(
        store, ex.report_prefix, ex.scheduled, (ex.start, ex.end), schedule=expression or schedule
    ) as lock:
        inputs = list(ex_kw.get("data") or [])
        merge_warnings: list[str] = []
        if capture:
            merged = join(output, MERGE_FOLDER, *ex.report_prefix[len(output) :].strip("/").split("/"))
            summary = capture_merge(store, capture, merged, Window(ex.start, ex.end), **merge_options)
            merge_warnings = list(summary.warnings)
            inputs = [merged]
        result = run(inputs, ex.report_prefix, format_time(ex.start), lock.verify)
        # The merge's own warnings (no capture files in the window, ...) reach the user too.
        result.warnings[:0] = merge_warnings
        n = len(result.violations)
        status = "CompletedWithViolations" if n else "Completed"
        message = f"{status}: {result.reason}" if getattr(result, "reason", None) else None
        finish_execution(lock, status, n, message, outputs=list(result.outputs.values()))
    return ex.as_dict(), result


def _where(ex: Execution, metric_time: str, before_publish: Callable[[], None]) -> Where:
    """The run's reading and publishing keywords: merged capture is read as the merge wrote it."""
    fmt = None if ex.get("capture") else ex.get("fmt")
    return Where(
        fmt=fmt, header=ex.get("header", True), endpoint=ex.get("endpoint"), schedule=ex.get("schedule"),
        metric_time=metric_time, before_publish=before_publish,
    )  # fmt: skip


class DataQualityExecution(Execution, Checking, total=False):
    """``scheduled_run``'s keywords: the execution's, and how its data-quality run checks."""


def scheduled_run(
    store: Store,
    output: str,
    baseline_statistics: str,
    baseline_constraints: str,
    scheduled_time: str,
    **ex: Unpack[DataQualityExecution],
) -> tuple[dict[str, Any], RunResult]:
    """A scheduled data-quality execution."""

    def run(inputs: list[str], report: str, metric_time: str, before_publish: Callable[[], None]) -> RunResult:
        return run_data_quality(
            store, inputs, baseline_statistics, baseline_constraints, report, options=ex.get("options"),
            postprocessor=ex.get("postprocessor"), progress=ex.get("progress"), engine=ex.get("engine"),
            **_where(ex, metric_time, before_publish),
        )  # fmt: skip

    merge = {"header_from": baseline_statistics, "fmt": "parquet"}
    return _execute(store, output, scheduled_time, ex, merge, run)


def scheduled_typed_run(
    store: Store,
    output: str,
    options: Any,
    baseline_constraints: str | None,
    baseline_statistics: str | None,
    scheduled_time: str,
    ground_truth: str | None = None,
    ground_truth_lookahead: timedelta = timedelta(0),
    **ex: Unpack[Execution],
) -> tuple[dict[str, Any], Any]:
    """A scheduled execution of a monitor type of ``mmon.monitors`` (same layout and lock)."""
    from mmon import monitors

    def run(inputs: list[str], report: str, metric_time: str, before_publish: Callable[[], None]) -> Any:
        from mmon.model_quality.api import NotEnoughLabels

        cons = monitors.need(baseline_constraints, "--baseline-constraints", options.run_type)
        # Every run type re-checks the lock after its work and before its first write.
        w = _where(ex, metric_time, before_publish)
        req = monitors.RunRequest(cons, baseline_statistics, progress=ex.get("progress"), **w)
        try:
            return monitors.run(store, inputs, report, options, req)
        except NotEnoughLabels as exc:
            # Labels arrive late: an hour with too few of them is not judged, and is no failure.
            return monitors.not_judged(options.run_type, exc.labelled, exc.rows, exc.minimum)

    # Merged records (capture + groundTruthData) are what SageMaker's analyzers read.
    merge = {"ground_truth": ground_truth, "fmt": "jsonl", "ground_truth_lookahead": ground_truth_lookahead}
    return _execute(store, output, scheduled_time, ex, merge, run)
