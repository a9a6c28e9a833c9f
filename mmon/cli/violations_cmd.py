"""``mmon violations``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from mmon.checks.model import CHECK_TYPES, names_hint
from mmon.cli.console import line, out, print_json
from mmon.cli.options import EXIT_CODES_HELP, JsonOutput, StorageOption
from mmon.errors import EXIT_OK, EXIT_VIOLATIONS, InputError, MmonError
from mmon.store import Store, parse_storage_options
from mmon.violations import Violation, read_violations, select

HELP = """Show a constraint_violations.json report (SageMaker's or mmon's), grouped by feature and check.

REPORT is the file or the folder of a monitoring run. Exits 1 when the (filtered) report holds
violations and 0 when it is clean, so a CI step or cron job can act on it.

[bold]Examples[/]

  mmon violations out/run/

  mmon violations s3://bucket/monitor/2026/11/21/13/constraint_violations.json --json

  mmon violations out/run --check-type baseline_drift_check --feature age
"""


# Every constraint_check_type a report can hold: data quality, model quality (SageMaker's
# comparison operators), bias drift and feature attribution drift.
KNOWN_CHECK_TYPES = (
    *CHECK_TYPES,
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "bias_drift_check",
    "feature_attribution_drift_check",
)


def _known_check_types(requested: list[str] | None, found: list[Violation]) -> list[str] | None:
    """A --check-type typo would show "no violations" and exit 0, passing a CI gate: refuse it."""
    if not requested:
        return requested
    valid = list(dict.fromkeys([*KNOWN_CHECK_TYPES, *(v.check for v in found)]))
    out = []
    for c in requested:
        name = c if c in valid or f"{c}_check" not in valid else f"{c}_check"
        if name not in valid:
            raise InputError(f"--check-type {c!r}: unknown check type; " + names_hint(c, valid, "check types", limit=len(valid)))
        out.append(name)
    return out


def _check_features(store: Store, url: str, features: list[str] | None, found: list[Violation]) -> None:
    """A --feature named in no violation must at least be a feature of the run (its statistics.json)."""
    missing = [f for f in features or [] if f not in {v.feature for v in found}]
    if not missing:
        return
    stats_url = url.rsplit("/", 1)[0] + "/statistics.json" if "/" in url else "statistics.json"
    try:
        names = [str(f["name"]) for f in json.loads(store.read_text(stats_url)).get("features", [])]
    except (MmonError, ValueError, TypeError, KeyError, AttributeError):
        names = []
    for f in missing:
        if names and f not in names:
            raise InputError(f"--feature {f!r}: no such feature in {stats_url}; " + names_hint(f, names, "features"))


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
        check_type = _known_check_types(check_type, found)
        _check_features(store, url, feature, found)
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
