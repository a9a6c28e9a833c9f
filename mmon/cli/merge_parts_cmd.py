"""``mmon merge-parts``: fold the parts of ``mmon profile-part`` into statistics.json and constraints.json."""

from __future__ import annotations

from typing import Annotated

import typer

from mmon.baseline import write_baseline
from mmon.cli.baseline_cmd import _summary_rows
from mmon.cli.console import out, print_json, warn
from mmon.cli.options import EXIT_CODES_HELP, JsonOutput, Quiet, StorageOption
from mmon.engine.parts import merge_parts
from mmon.store import Store, parse_storage_options

HELP = """Merge the parts written by mmon profile-part into a baseline: statistics.json and constraints.json.

PARTS is a folder (local or any fsspec URL) holding the *.mmonstate part files. The files'
profiles are folded in the order of the files' names (each file's path below the folder it was
found in), whichever part holds them, so the output is byte for byte what mmon baseline writes
for the whole folder. A file in two parts and missing shards (parts made with --shard I/N) are
refused. OUTPUT receives statistics.json and constraints.json, both written atomically.

[bold]Examples[/]

  mmon merge-parts parts/ -o baseline/

  mmon merge-parts s3://bucket/parts/ -o s3://bucket/baseline --json
"""


def register(app: typer.Typer) -> None:
    @app.command("merge-parts", help=HELP, epilog=EXIT_CODES_HELP)
    def merge_parts_command(
        parts: Annotated[str, typer.Argument(help="Folder with the *.mmonstate parts.", metavar="PARTS")],
        output: Annotated[str, typer.Option("--output", "-o", help="Folder or URL for statistics.json and constraints.json.")],
        categorical_drift_method: Annotated[
            str | None,
            typer.Option(help="LInfinity (default) or ChiSquared, written into the suggested constraints."),
        ] = None,
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
        quiet: Quiet = False,
    ) -> None:
        if categorical_drift_method not in (None, "LInfinity", "ChiSquared"):
            raise typer.BadParameter("expected LInfinity or ChiSquared", param_hint="--categorical-drift-method")
        store = Store(parse_storage_options(storage_option or []))
        store.check_writable(output)
        found, profiled = merge_parts(store, parts)
        result = write_baseline(store, profiled, output, categorical_drift_method)
        for w in result.warnings:
            warn(w, quiet)
        if json_output:
            print_json(
                {
                    "status": "ok",
                    "parts": [p.url for p in found],
                    "files": result.files,
                    "item_count": result.item_count,
                    "outputs": result.outputs,
                    "warnings": result.warnings,
                    "features": _summary_rows(result.statistics),
                }
            )
            return
        out.print(
            f"Merged {len(found)} part(s): {result.item_count} rows from {len(result.files)} file(s)", highlight=False
        )
        out.print(f"Wrote {result.outputs['statistics']}\nWrote {result.outputs['constraints']}", highlight=False)
