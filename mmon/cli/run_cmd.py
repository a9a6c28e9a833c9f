"""``mmon run``."""

from __future__ import annotations

import sys
from contextlib import redirect_stdout
from typing import Annotated, Any

import typer
from rich.table import Table

from mmon.capture.window import parse_duration
from mmon.checks.registry import disable_help
from mmon.cli import typed
from mmon.cli.console import cell, error, file_progress, line, out, print_json, warn
from mmon.cli.engine_opts import EngineOpt, SparkMasterOpt, make_engine
from mmon.cli.options import (
    EXIT_CODES_HELP,
    BaselineConstraints,
    BaselineStatistics,
    EndOffset,
    FailOnViolations,
    Format,
    Header,
    JsonOutput,
    Quiet,
    StartOffset,
    StorageOption,
)
from mmon.errors import EXIT_INPUT, EXIT_OK, EXIT_VIOLATIONS, InputError
from mmon.store import Store, parse_storage_options

HELP = """Run a monitoring job: check current data against a baseline and write SageMaker's report.

DATA is the current window: tabular files, folders or globs, or the output of mmon capture-merge.
OUTPUT receives statistics.json of the current data, constraint_violations.json, CloudWatch metric
records (cloudwatch_metrics.jsonl) and a Prometheus textfile (metrics.prom). Exits 1 when
violations are found (unless --no-fail-on-violations).

[bold]Examples[/]

  mmon run current.csv --baseline-statistics base/statistics.json --baseline-constraints base/constraints.json --output out/run

  mmon run s3://bucket/merged/2026/11/21/13/ --baseline-statistics s3://bucket/base/statistics.json --baseline-constraints s3://bucket/base/constraints.json --output s3://bucket/reports/13 --endpoint churn --schedule hourly

  mmon run current.parquet --baseline-statistics base/statistics.json --baseline-constraints base/constraints.json -o out --drift-test psi=0.2 --drift-test ks --disable age:data_type_check

  mmon run merged/ --type model-quality --problem-type BinaryClassification --inference-attribute prediction --ground-truth-attribute label --baseline-constraints mq/constraints.json -o out

  mmon run merged/ --type bias --config analysis_config.json --baseline-constraints bias/analysis.json -o out

  mmon run --capture cap/ep/AllTraffic --ground-truth gt/ --ground-truth-lookahead PT24H --scheduled-time 2024-01-01T02:00:00Z --type model-quality --problem-type BinaryClassification --inference-attribute 0 --probability-attribute 0 --baseline-constraints mq/constraints.json -o reports/mq

  mmon run current.csv --type feature-attribution --model mymodel:predict --config analysis_config.json --baseline-constraints fa/analysis.json -o out
"""

RUN_TYPES = typed.TYPES



def _feature_rows(result: Any) -> list[dict[str, Any]]:
    by_feature: dict[str, list[str]] = {}
    for v in result.violations:
        by_feature.setdefault(v["feature_name"], []).append(v["constraint_check_type"])
    rows = []
    for f in result.report.features:
        rows.append(
            {
                "name": f.name,
                "inferred_type": f.inferred_type,
                "completeness": f.completeness,
                "drift_distance": f.drift_distance,
                "drift_method": f.drift_method,
                "extra": f.extra,
                "violations": by_feature.get(f.name, []),
            }
        )
    return rows


def register(app: typer.Typer) -> None:
    @app.command("run", help=HELP, epilog=EXIT_CODES_HELP)
    @typed.with_monitor_options(typed.MIN_LABELLED)
    def run(
        output: Annotated[str, typer.Option("--output", "-o", help="Folder or URL for the report.")],
        data: Annotated[
            list[str] | None,
            typer.Argument(help="Current data: files, folders or globs (or use --capture).", metavar="[DATA]..."),
        ] = None,
        baseline_statistics: BaselineStatistics = None,
        baseline_constraints: BaselineConstraints = None,
        opts: typed.TypedOptions = typed.DECLARED,  # --type … --min-labelled
        ground_truth: Annotated[
            str | None, typer.Option(help="Ground-truth folder (with --capture): merge labels into the window (model-quality, bias).")
        ] = None,
        ground_truth_lookahead: Annotated[
            str,
            typer.Option(
                "--ground-truth-lookahead",
                help="With --ground-truth: also read labels filed up to this long after the window end (labels "
                "that arrive later than their predictions), e.g. PT24H. Default PT0H.",
            ),
        ] = "PT0H",
        fmt: Format = None,
        header: Header = True,
        endpoint: Annotated[str | None, typer.Option(help="Endpoint name: the metrics' Endpoint dimension.")] = None,
        schedule: Annotated[
            str | None, typer.Option(help="Monitoring schedule name: the metrics' MonitoringSchedule dimension.")
        ] = None,
        metric_time: Annotated[
            str | None, typer.Option(help="Timestamp of the metric records (ISO 8601, UTC). Default: now.")
        ] = None,
        drift_test: Annotated[
            list[str] | None,
            typer.Option(
                "--drift-test",
                help="Extra drift test reported per feature: ks, wasserstein, psi, js, chi2; with =THRESHOLD it "
                "also raises violations (e.g. psi=0.2). Repeatable.",
            ),
        ] = None,
        disable: Annotated[
            list[str] | None,
            typer.Option("--disable", help=disable_help()),
        ] = None,
        postprocessor: Annotated[
            str | None, typer.Option(help="Python file with postprocess_handler() (SageMaker's contract), run after the report.")
        ] = None,
        capture: Annotated[
            str | None,
            typer.Option(help="Data-capture folder ({prefix}/{endpoint}/{variant}): merge the window's capture first."),
        ] = None,
        scheduled_time: Annotated[
            str | None,
            typer.Option(
                help="Scheduled execution time (ISO 8601 UTC, or 'now'): the window comes from the offsets and the "
                "report goes to OUTPUT/yyyy/mm/dd/hh/."
            ),
        ] = None,
        schedule_expression: Annotated[
            str | None, typer.Option(help="The schedule (cron(...), hourly, daily:H, every:Nh, crontab line): sets 'now' and the default window.")
        ] = None,
        start_offset: StartOffset = None,
        end_offset: EndOffset = None,
        fail_on_violations: FailOnViolations = True,
        html_report: Annotated[
            bool, typer.Option("--report", help="Also write report.html (as mmon report does) beside constraint_violations.json.")
        ] = False,
        engine: EngineOpt = "local",
        spark_master: SparkMasterOpt = None,
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
        quiet: Quiet = False,
    ) -> None:
        from mmon.checks import CheckOptions, parse_disable, parse_drift_test
        from mmon.run import run_data_quality
        from mmon.schedule.durations import check_run_times

        # User code (postprocessor, model script) may print: stdout is for mmon's result only, so the
        # work below runs with stdout sent to stderr.
        run_type = opts.run_type
        profiler = make_engine(engine, spark_master, run_type)
        metric_time = check_run_times(metric_time, scheduled_time)  # refuse a bad or empty time up front
        unused = [f for f, v in (("--schedule-expression", schedule_expression), ("--start-offset", start_offset),
                                 ("--end-offset", end_offset)) if v and not scheduled_time]  # fmt: skip
        if unused:
            raise InputError(f"{', '.join(unused)} need --scheduled-time (the execution they describe)")
        if metric_time and scheduled_time:
            raise InputError("--metric-time does not go with --scheduled-time (the metrics carry the window's start)")
        if (ground_truth or ground_truth_lookahead != "PT0H") and not (capture and run_type != "data-quality"):
            raise InputError("--ground-truth and --ground-truth-lookahead go with --capture and --type model-quality or bias")
        if run_type != "data-quality":
            ignored = [f for f, v in (("--disable", disable), ("--drift-test", drift_test), ("--postprocessor", postprocessor)) if v]
            if ignored:
                raise InputError(f"{', '.join(ignored)}: data-quality options, not for --type {run_type}")
            store = Store(parse_storage_options(storage_option or []))
            if bool(data) == bool(capture):
                raise InputError("give the current data as DATA... or as --capture (one of the two)")
            execution = None
            with typed.work_progress(run_type, quiet or json_output) as progress:
                if scheduled_time:
                    from mmon.scheduled import scheduled_typed_run

                    execution, result = scheduled_typed_run(
                        store, output, opts, baseline_constraints, baseline_statistics, scheduled_time,
                        schedule_expression=schedule_expression, start_offset=start_offset, end_offset=end_offset,
                        data=data, capture=capture, ground_truth=ground_truth, fmt=fmt, header=header,
                        ground_truth_lookahead=parse_duration(ground_truth_lookahead, "--ground-truth-lookahead"),
                        endpoint=endpoint, schedule=schedule, progress=progress,
                    )  # fmt: skip
                elif capture:
                    raise InputError("--capture needs --scheduled-time (the window to monitor)")
                else:
                    result = typed.run_typed(
                        store, data or [], output, opts, baseline_constraints, baseline_statistics, fmt, header,
                        endpoint, schedule, metric_time, progress,
                    )  # fmt: skip
            if html_report:
                from mmon.report import report_after_run

                report_after_run(store, result.outputs, baseline_statistics, baseline_constraints)
            for w in result.warnings:
                warn(w, quiet)
            typed.show(run_type, result, json_output, {"execution": execution} if execution else None)
            n = len(result.violations)
            raise typer.Exit(EXIT_VIOLATIONS if n and fail_on_violations else EXIT_OK)
        if not baseline_statistics or not baseline_constraints:
            raise InputError("a data-quality run needs --baseline-statistics and --baseline-constraints")
        options = CheckOptions(
            disabled={parse_disable(d) for d in disable or []},
            drift_tests=[parse_drift_test(t) for t in drift_test or []],
        )
        store = Store(parse_storage_options(storage_option or []))
        if bool(data) == bool(capture):
            raise InputError("give the current data as DATA... or as --capture (one of the two)")
        if capture and not scheduled_time:
            raise InputError("--capture needs --scheduled-time (the window to monitor)")
        execution = None
        if scheduled_time:
            from mmon.scheduled import scheduled_run

            with file_progress("Checking", quiet or json_output) as progress, redirect_stdout(sys.stderr):
                execution, result = scheduled_run(
                    store, output, baseline_statistics, baseline_constraints, scheduled_time,
                    schedule_expression=schedule_expression, start_offset=start_offset, end_offset=end_offset,
                    data=data, capture=capture, fmt=fmt, header=header, options=options, endpoint=endpoint,
                    schedule=schedule, postprocessor=postprocessor, progress=progress, engine=profiler,
                )  # fmt: skip
        else:
            with file_progress("Checking", quiet or json_output) as progress, redirect_stdout(sys.stderr):
                result = run_data_quality(
                    store, data or [], baseline_statistics, baseline_constraints, output, fmt=fmt, header=header,
                    options=options, endpoint=endpoint, schedule=schedule, metric_time=metric_time,
                    postprocessor=postprocessor, progress=progress, engine=profiler,
                )  # fmt: skip
        if html_report:
            from mmon.report import report_after_run

            report_after_run(store, result.outputs, baseline_statistics, baseline_constraints, drift_test)
        for w in result.warnings:
            warn(w, quiet)
        n = len(result.violations)
        code = EXIT_VIOLATIONS if n and fail_on_violations else EXIT_OK
        if result.postprocessor_error:
            error(f"{result.postprocessor_error} (the report was written)")
            code = code or EXIT_INPUT
        if json_output:
            print_json(
                {
                    "status": "CompletedWithViolations" if n else "Completed",
                    "violations": result.violations,
                    "violation_count": n,
                    "item_count": result.item_count,
                    "files": result.files,
                    "outputs": result.outputs,
                    "warnings": result.warnings,
                    "features": _feature_rows(result),
                    "postprocessor_error": result.postprocessor_error,
                    "execution": execution,
                }
            )
            raise typer.Exit(code)
        window = f", window {execution['start_time']} to {execution['end_time']}" if execution else ""
        table = Table(title=f"Data quality of {result.item_count} rows from {len(result.files)} file(s){window}")
        rows = _feature_rows(result)
        extra = any(r["extra"] for r in rows)
        for col in ("feature", "type", "complete", "drift", "method", *(["drift tests"] if extra else []), "violations"):
            table.add_column(col, justify="right" if col in ("complete", "drift") else "left")
        for r in rows:
            tests = [" ".join(f"{k}={cell(v, 4)}" for k, v in r["extra"].items() if not k.endswith("_statistic"))] if extra else []
            table.add_row(
                r["name"], cell(r["inferred_type"], 4), cell(r["completeness"], 4), cell(r["drift_distance"], 4),
                cell(r["drift_method"], 4), *tests, ", ".join(r["violations"]), style="red" if r["violations"] else None,
            )  # fmt: skip
        out.print(table)
        if n:
            out.print(line((f"{n} violation(s)", "red bold"), f" — {result.outputs['constraint_violations']}"), highlight=False)
            report = result.outputs["constraint_violations"].rsplit("/", 1)[0]
            out.print(f"See them with: mmon violations {report}", highlight=False)
        else:
            out.print(line(("No violations", "green"), f" — {result.outputs['constraint_violations']}"), highlight=False)
        if html_report:
            out.print(f"Report: {result.outputs['report']}", highlight=False)
        raise typer.Exit(code)
