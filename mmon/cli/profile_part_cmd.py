"""``mmon profile-part``: the per-file profiles of one shard of a dataset, for ``mmon merge-parts``."""

from __future__ import annotations

from typing import Annotated

import typer

from mmon.cli.console import file_progress, out, print_json, warn
from mmon.cli.options import EXIT_CODES_HELP, Format, Header, JsonOutput, Quiet, StorageOption
from mmon.engine.parts import profile_part
from mmon.store import Store, parse_storage_options

HELP = """Profile one shard of a dataset into a part file; mmon merge-parts folds the parts into a baseline.

DATASET is one or more files, folders or globs (local or any fsspec URL). With --shard I/N the
command lists DATASET itself and profiles only the I-th of N consecutive slices of its files
(0-based), as an array job's task does; without it, it profiles every file it is given (as a
SageMaker Processing instance with ShardedByS3Key does). PART receives the files' per-file
profiles (a versioned binary file, written atomically). Any split of the files into parts,
merged with mmon merge-parts, gives byte for byte the statistics.json and constraints.json of
mmon baseline on the whole folder.

[bold]Examples[/]

  mmon profile-part train/ --shard 0/2 -o parts/part-0.mmonstate

  mmon profile-part train/ --shard 1/2 -o parts/part-1.mmonstate

  mmon merge-parts parts/ -o baseline/

  mmon profile-part train/part-0.csv train/part-1.csv -o shards/first.mmonstate --json
"""


def register(app: typer.Typer) -> None:
    @app.command("profile-part", help=HELP, epilog=EXIT_CODES_HELP)
    def profile_part_command(
        dataset: Annotated[list[str], typer.Argument(help="Files, folders or globs to profile.", metavar="DATASET...")],
        output: Annotated[str, typer.Option("--output", "-o", help="The part file to write (name it *.mmonstate).")],
        shard: Annotated[
            str | None,
            typer.Option("--shard", help="INDEX/COUNT: profile only this consecutive slice of DATASET's files (0-based)."),
        ] = None,
        fmt: Format = None,
        header: Header = True,
        allow_non_finite: Annotated[
            bool, typer.Option("--allow-non-finite", help="Count NaN and infinite numbers as missing instead of refusing them.")
        ] = False,
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
        quiet: Quiet = False,
    ) -> None:
        store = Store(parse_storage_options(storage_option or []))
        with file_progress("Profiling", quiet or json_output) as progress:
            result = profile_part(
                store, dataset, output, fmt=fmt, header=header, shard=shard,
                allow_non_finite=allow_non_finite, progress=progress,
            )  # fmt: skip
        for w in result.warnings:
            warn(w, quiet)
        part = result.part
        if json_output:
            print_json(
                {
                    "status": "ok",
                    "part": result.output,
                    "files": part.files,
                    "names": part.names,
                    "rows": part.rows,
                    "shard": part.shard,
                    "warnings": result.warnings,
                }
            )
            return
        where = f" (shard {part.shard['index']}/{part.shard['count']})" if part.shard else ""
        out.print(f"Profiled {part.rows} rows from {len(part.files)} file(s){where}", highlight=False)
        for name in part.names:
            out.print(f"  {name}", highlight=False)
        out.print(f"Wrote {result.output}", highlight=False)
