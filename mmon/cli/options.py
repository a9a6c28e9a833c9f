"""Options shared by every command, defined once so their names and help never drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

StorageOption = Annotated[
    list[str] | None,
    typer.Option(
        "--storage-option",
        "-s",
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

EXIT_CODES_HELP = (
    "Exit codes: 0 clean, 1 violations found, 2 usage or input error, 3 storage error."
)
