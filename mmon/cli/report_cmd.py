"""``mmon report``: one self-contained HTML file from a report folder or a schedule's folder."""

from __future__ import annotations

from typing import Annotated

import typer

from mmon.cli.console import out, print_json
from mmon.cli.options import (
    EXIT_CODES_HELP,
    BaselineConstraints,
    BaselineStatistics,
    FailOnViolations,
    JsonOutput,
    Quiet,
    StorageOption,
)
from mmon.errors import EXIT_OK, EXIT_VIOLATIONS
from mmon.store import Store, parse_storage_options

HELP = """Write report.html: what a monitoring run found and why, viewable in any browser, offline.

FOLDER is one execution's report folder (mmon's or SageMaker's: constraint_violations.json,
statistics.json or analysis.json) or a schedule's output folder (OUT/yyyy/mm/dd/hh/… executions:
the report then shows every metric over time). The page is a single file with inline CSS and SVG
charts; it loads nothing from any host. The baseline is not in a report folder: give it with
--baseline-statistics / --baseline-constraints to see baseline vs current.

[bold]Examples[/]

  mmon report out/run --baseline-statistics base/statistics.json --baseline-constraints base/constraints.json

  mmon report s3://bucket/reports/churn/hourly --baseline-constraints s3://bucket/base/constraints.json

  mmon report sagemaker-results/ --baseline-statistics s3://bucket/baseline/statistics.json --output drift.html
"""


def register(app: typer.Typer) -> None:
    @app.command("report", help=HELP, epilog=EXIT_CODES_HELP)
    def report(
        folder: Annotated[str, typer.Argument(help="An execution's report folder, or a schedule's output folder.")],
        baseline_statistics: BaselineStatistics = None,
        baseline_constraints: BaselineConstraints = None,
        drift_test: Annotated[
            list[str] | None,
            typer.Option("--drift-test", help="Also show this drift test per feature (ks, wasserstein, psi, js, chi2). Repeatable."),
        ] = None,
        output: Annotated[
            str | None, typer.Option("--output", "-o", help="Where to write the HTML. Default: FOLDER/report.html.")
        ] = None,
        fail_on_violations: FailOnViolations = False,
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
        quiet: Quiet = False,
    ) -> None:
        from mmon.checks import parse_drift_test
        from mmon.report import write_report

        tests = [parse_drift_test(t).name for t in drift_test or []]
        store = Store(parse_storage_options(storage_option or []))
        result = write_report(
            store,
            folder,
            baseline_statistics=baseline_statistics,
            baseline_constraints=baseline_constraints,
            drift_tests=tests,
            output=output,
        )
        size = len(result.html.encode("utf-8"))
        code = EXIT_VIOLATIONS if fail_on_violations and result.violations else EXIT_OK
        if json_output:
            print_json(
                {
                    "report": result.url,
                    "kind": result.kind,
                    "type": result.monitor_type,
                    "violations": result.violations,
                    "panels": result.panels,
                    "bytes": size,
                }
            )
            raise typer.Exit(code)
        what = "executions over time" if result.kind == "history" else "execution"
        count = "" if result.violations is None else f", {result.violations} " + (
            "execution(s) with violations" if result.kind == "history" else "violation(s)"
        )
        out.print(f"Wrote {result.url} ({result.monitor_type} {what}{count}, {size / 1024:.0f} KB)", highlight=False)
        if not quiet and result.kind == "execution" and not baseline_statistics and result.monitor_type == "data-quality":
            out.print("Without --baseline-statistics the panels show the current window only.", style="yellow", highlight=False)
        raise typer.Exit(code)
