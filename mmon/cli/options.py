"""Options shared by every command, defined once so their names and help never drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

# The keys mmon.store.Store reads (Store.s3_settings); any other key would be silently ignored.
STORAGE_KEYS = ("endpoint_url", "key", "secret", "token", "region", "anon")


def _check_storage_keys(values: list[str] | None) -> list[str] | None:
    from mmon.checks.model import names_hint
    from mmon.errors import InputError

    for pair in values or []:
        key = pair.split("=", 1)[0].strip()
        if "=" in pair and key not in STORAGE_KEYS:
            raise InputError(f"--storage-option {key}=…: unknown key {key!r}; " + names_hint(key, list(STORAGE_KEYS), "keys"))
    return values


StorageOption = Annotated[
    list[str] | None,
    typer.Option(
        "--storage-option",
        "-s",
        callback=_check_storage_keys,
        help="Store setting as key=value (S3: endpoint_url, key, secret, token, region, anon). "
        "Repeatable. Defaults come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ….",
        metavar="KEY=VALUE",
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (for machines).")]
Format = Annotated[
    str | None,
    typer.Option("--format", "-f", help="Input format: csv, json, jsonl or parquet. Default: from the file extension."),
]
Header = Annotated[
    bool,
    typer.Option("--header/--no-header", help="CSV files have a header row. Without one columns are named _c0, _c1, …"),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no warnings on stderr.")]

# The baseline of run and report.
BaselineStatistics = Annotated[
    str | None,
    typer.Option("--baseline-statistics", help="The baseline's statistics.json (SageMaker's or mmon's; data quality, model quality)."),
]
BaselineConstraints = Annotated[
    str | None,
    typer.Option(
        "--baseline-constraints",
        help="The baseline's constraints.json (SageMaker's or mmon's), or its analysis.json (bias, feature attribution).",
    ),
]
FailOnViolations = Annotated[
    bool, typer.Option("--fail-on-violations/--no-fail-on-violations", help="Exit 1 when violations are found.")
]

# SageMaker's window offsets, of run, capture-merge and schedule-print; the start's default depends
# on the command (each one's help says it).
StartOffset = Annotated[
    str | None,
    typer.Option("--start-offset", help="Window start relative to the scheduled time, an ISO 8601 duration (e.g. -PT1H, -P1D)."),
]
EndOffset = Annotated[
    str | None,
    typer.Option("--end-offset", help="Window end relative to the scheduled time, an ISO 8601 duration. Default -PT0H."),
]

EXIT_CODES_HELP = (
    "Exit codes: 0 clean, 1 violations found, 2 usage or input error, 3 storage error."
)
