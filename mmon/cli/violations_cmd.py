"""``mmon violations``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mmon.cli.console import line, out, print_json
from mmon.cli.options import EXIT_CODES_HELP, JsonOutput, StorageOption
from mmon.errors import EXIT_OK, EXIT_VIOLATIONS
from mmon.store import Store, parse_storage_options
from mmon.violations import read_violations, select

HELP = """Show a constraint_violations.json report (SageMaker's or mmon's), grouped by feature and check.

REPORT is the file or the folder of a monitoring run. Exits 1 when the (filtered) report holds
violations and 0 when it is clean, so a CI step or cron job can act on it.

[bold]Examples[/]

  mmon violations out/run/

  mmon violations s3://bucket/monitor/2026/11/21/13/constraint_violations.json --json

  mmon violations out/run --check-type baseline_drift_check --feature age
"""


def register(app: typer.Typer) -> None:
    @app.command("violations", help=HELP, epilog=EXIT_CODES_HELP)
    def violations(
        report: Annotated[str, typer.Argument(help="constraint_violations.json, or the run's output folder.")],
        check_type: Annotated[
            list[str] | None, typer.Option("--check-type", "-c", help="Only this check type (repeatable).")
        ] = None,
        feature: Annotated[list[str] | None, typer.Option("--feature", help="Only this feature (repeatable).")] = None,
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
    ) -> None:
        store = Store(parse_storage_options(storage_option or []))
        url, found = read_violations(store, report)
        shown = select(found, check_type, feature)
        code = EXIT_VIOLATIONS if shown else EXIT_OK
        if json_output:
            print_json(
                {
                    "report": url,
                    "violations": [v.raw for v in shown],
                    "count": len(shown),
                    "total": len(found),
                }
            )
            raise typer.Exit(code)
        if not shown:
            what = "" if len(shown) == len(found) else f" (of {len(found)} in the report, none match the filter)"
            out.print(line(("No violations", "green"), f" in {url}{what}"), highlight=False)
            raise typer.Exit(code)
        table = Table(title=f"{len(shown)} violation(s) in {url}", show_lines=False)
        table.add_column("feature", style="bold")
        table.add_column("check")
        table.add_column("description", overflow="fold")
        ordered = sorted(shown, key=lambda v: (v.feature, v.check))
        previous = None
        for v in ordered:
            table.add_row(v.feature if v.feature != previous else "", v.check, v.description)
            previous = v.feature
        out.print(table)
        raise typer.Exit(code)
