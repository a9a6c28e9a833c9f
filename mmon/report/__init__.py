"""``mmon report``: one self-contained HTML file from the files a monitoring run wrote.

``write_report(store, folder, ...)`` reads an execution folder (or a schedule's folder of
executions), renders ``report.html`` with Jinja2 (autoescaped; inline CSS and SVG, a few lines
of plain JavaScript, no request to any host) and writes it atomically beside the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from mmon.errors import InputError, StorageError
from mmon.publish import read_marker
from mmon.report.build import Baseline, execution_context, has_report
from mmon.report.render import render
from mmon.store import Store, join

REPORT_FILE = "report.html"

__all__ = ["REPORT_FILE", "Baseline", "ReportResult", "Sources", "build_report", "write_report"]


@dataclass
class ReportResult:
    url: str
    kind: str  # execution | history
    monitor_type: str
    html: str
    violations: int | None
    panels: int


class Sources(TypedDict, total=False):
    """What a report is built from besides its folder, declared once for ``build_report`` and
    ``write_report`` (callers name them: ``baseline_statistics=…``)."""

    baseline_statistics: str | None  # SageMaker's or mmon's statistics.json (data / model quality)
    baseline_constraints: str | None  # constraints.json, or analysis.json (bias, feature attribution)
    drift_tests: list[str] | None  # names of the drift tests to show
    output: str | None  # where report.html goes (a history report marks it as its own output)


def build_report(store: Store, folder: str, **sources: Unpack[Sources]) -> tuple[dict[str, Any], str]:
    """(template context, HTML) of the report of ``folder``: one execution, or a schedule's history."""
    if not store.exists(folder):
        raise InputError(f"{folder}: no such folder")
    baseline = Baseline.load(store, sources.get("baseline_statistics"), sources.get("baseline_constraints"))
    if has_report(store, folder):
        ctx = execution_context(store, folder, baseline, sources.get("drift_tests"))
    else:
        from mmon.report.history import history_context

        ctx = history_context(store, folder, baseline, sources.get("output"))
    return ctx, render(ctx)


def write_report(store: Store, folder: str, **sources: Unpack[Sources]) -> ReportResult:
    url = sources.get("output") or join(folder, REPORT_FILE)
    for _ in range(3):
        ctx, html = build_report(store, folder, **sources)
        store.write_bytes(url, html.encode("utf-8"))
        if _describes_the_folder(store, folder, ctx):
            break
        # An execution was published into the folder while this report was built (its publish
        # removed the previous report.html first): build again from the new one.
    else:
        store.delete(url)
        raise StorageError(f"{folder}: a new execution was published while the report was built, three times; try again")
    if ctx["kind"] == "execution":
        h = ctx["header"]
        return ReportResult(url, "execution", h["type"], html, h["violations"], len(ctx["panels"]))
    hist = ctx["history"]
    return ReportResult(url, "history", hist["type"], html, hist["with_violations"], len(hist["figures"]))


def _describes_the_folder(store: Store, folder: str, ctx: dict[str, Any]) -> bool:
    """Whether the folder's publish marker still names the execution the report was built from."""
    built_from = ctx["header"].get("report_id") if ctx["kind"] == "execution" else None
    if built_from is None:
        return True  # no marker (SageMaker's folder, a schedule's history): nothing to compare
    marker = read_marker(store, folder)
    return marker is not None and marker.id == built_from


def report_after_run(
    store: Store,
    outputs: dict[str, str],
    baseline_statistics: str | None,
    baseline_constraints: str | None,
    drift_tests: list[str] | None = None,
) -> str:
    """``mmon run --report``: write report.html beside the run's constraint_violations.json.

    Adds ``outputs["report"]`` (so ``--json`` and the outputs listing show it) and returns its URL.
    """
    from mmon.checks import parse_drift_test

    folder = outputs["constraint_violations"].rsplit("/", 1)[0]
    tests = [parse_drift_test(t).name for t in drift_tests or []]
    result = write_report(
        store, folder, baseline_statistics=baseline_statistics, baseline_constraints=baseline_constraints, drift_tests=tests
    )
    outputs["report"] = result.url
    return result.url
