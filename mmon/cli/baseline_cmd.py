"""``mmon baseline``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from mmon.baseline import run_baseline
from mmon.cli import typed
from mmon.cli.console import cell, file_progress, out, print_json, warn
from mmon.cli.engine_opts import EngineOpt, SparkMasterOpt, make_engine
from mmon.cli.options import EXIT_CODES_HELP, Format, Header, JsonOutput, Quiet, StorageOption
from mmon.store import Store, parse_storage_options

HELP = """Profile a reference dataset: write statistics.json and constraints.json (SageMaker's format).

DATASET is one or more files, folders or globs, on local disk or any fsspec URL (s3://…).
OUTPUT receives statistics.json and the suggested constraints.json, both written atomically.

[bold]Examples[/]

  mmon baseline train.csv --output ./baseline

  mmon baseline 's3://bucket/train/*.parquet' --output s3://bucket/monitor/baseline

  mmon baseline data/ --no-header --format csv --output out/ --json

  mmon baseline validation.csv --type model-quality --problem-type BinaryClassification --inference-attribute prediction --probability-attribute probability --ground-truth-attribute label --output mq/

  mmon baseline train.csv --type bias --config analysis_config.json --output bias/

  mmon baseline train.csv --type feature-attribution --model mymodel:predict --config analysis_config.json --output fa/
"""


def _summary_rows(statistics: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for f in statistics["features"]:
        ns, ss = f.get("numerical_statistics"), f.get("string_statistics")
        body = ns or ss or {}
        row: dict[str, Any] = {
            "name": f["name"],
            "inferred_type": f["inferred_type"],
            "completeness": body.get("completeness"),
            "missing": body.get("common", {}).get("num_missing"),
        }
        if ns:
            row.update(min=ns["min"], mean=ns["mean"], max=ns["max"], std_dev=ns["std_dev"])
        elif ss:
            row["distinct"] = ss.get("distinct_count")
            buckets = ss.get("distribution", {}).get("categorical", {}).get("buckets")
            if buckets:
                top = max(buckets, key=lambda b: b["count"])
                row["top"] = top["value"]
        rows.append(row)
    return rows


def register(app: typer.Typer) -> None:
    @app.command("baseline", help=HELP, epilog=EXIT_CODES_HELP)
    @typed.with_monitor_options(typed.REFERENCE_CHUNK_SIZE)
    def baseline(
        dataset: Annotated[list[str], typer.Argument(help="Files, folders or globs to profile.", metavar="DATASET...")],
        output: Annotated[str, typer.Option("--output", "-o", help="Folder or URL for statistics.json and constraints.json.")],
        fmt: Format = None,
        header: Header = True,
        categorical_drift_method: Annotated[
            str | None,
            typer.Option(help="LInfinity (default) or ChiSquared, written into the suggested constraints."),
        ] = None,
        allow_non_finite: Annotated[
            bool, typer.Option("--allow-non-finite", help="Count NaN and infinite numbers as missing instead of refusing them.")
        ] = False,
        engine: EngineOpt = "local",
        spark_master: SparkMasterOpt = None,
        opts: typed.TypedOptions = typed.DECLARED,  # --type … --reference-chunk-size
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
        quiet: Quiet = False,
    ) -> None:
        run_type = opts.run_type
        profiler = make_engine(engine, spark_master, run_type)
        if run_type != "data-quality":
            store = Store(parse_storage_options(storage_option or []))
            with typed.work_progress(run_type, quiet or json_output) as progress:
                result = typed.baseline_typed(store, dataset, output, opts, fmt, header, progress)
            for w in result.warnings:
                warn(w, quiet)
            typed.show(run_type, result, json_output)
            return
        if categorical_drift_method not in (None, "LInfinity", "ChiSquared"):
            raise typer.BadParameter("expected LInfinity or ChiSquared", param_hint="--categorical-drift-method")
        store = Store(parse_storage_options(storage_option or []))
        with file_progress("Profiling", quiet or json_output) as progress:
            result = run_baseline(
                store, dataset, output, fmt=fmt, header=header, progress=progress,
                categorical_drift_method=categorical_drift_method, allow_non_finite=allow_non_finite,
                engine=profiler,
            )
        for w in result.warnings:
            warn(w, quiet)
        rows = _summary_rows(result.statistics)
        if json_output:
            print_json(
                {
                    "status": "ok",
                    "files": result.files,
                    "item_count": result.item_count,
                    "outputs": result.outputs,
                    "warnings": result.warnings,
                    "features": rows,
                }
            )
            return
        table = Table(title=f"Baseline of {result.item_count} rows from {len(result.files)} file(s)")
        for col in ("feature", "type", "complete", "min", "mean", "max", "std dev", "distinct", "top value"):
            table.add_column(col, justify="right" if col not in ("feature", "type", "top value") else "left")
        for r in rows:
            values = (r["completeness"], r.get("min"), r.get("mean"), r.get("max"), r.get("std_dev"), r.get("distinct"), r.get("top"))
            table.add_row(r["name"], r["inferred_type"], *(cell(v, 6) for v in values))
        out.print(table)
        out.print(f"Wrote {result.outputs['statistics']}\nWrote {result.outputs['constraints']}", highlight=False)

