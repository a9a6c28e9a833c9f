"""``mmon schedule-print`` and ``mmon executions``."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mmon.cli.console import err, out, print_json, styled, warn
from mmon.cli.options import EXIT_CODES_HELP, EndOffset, JsonOutput, StartOffset, StorageOption
from mmon.errors import InputError
from mmon.schedule.emit import FORMATS, Entry, EntryOptions, default_name, plan, render, safe_name
from mmon.schedule.executions import DEFAULT_STALE_AFTER, default_message, list_executions
from mmon.schedule.expressions import next_times, parse_schedule
from mmon.schedule.window import execution_window, format_time, parse_time, report_prefix
from mmon.store import Store, join, parse_storage_options

PRINT_HELP = """Show when a schedule runs and which data each run looks at, and print an entry that runs it.

EXPR is a SageMaker schedule expression (cron(0 * ? * * *), cron(0 0/6 ? * * *)), a preset named
after CronExpressionGenerator (hourly, daily, daily:H, every:Nh, every:Nh@H; mmon-only every:Nm),
now, or a five-field crontab line ('*/15 * * * *'). Times are UTC. Each run monitors the window
[scheduled + start offset, scheduled + end offset); without offsets, the time since the run before.

After -- come the arguments of the scheduled mmon run; the entry adds --scheduled-time now and
--schedule-expression, so every run reports under OUT/yyyy/mm/dd/hh of its own scheduled hour.
They are checked as mmon run checks them: an entry whose every run would fail is refused (exit 2).
The entry alone goes to stdout (redirect it to a file to install it); the table of runs to stderr.

[bold]Examples[/]

  mmon schedule-print hourly -- run --capture s3://bucket/capture/churn/AllTraffic --baseline-statistics s3://bucket/base/statistics.json --baseline-constraints s3://bucket/base/constraints.json --output s3://bucket/reports/churn > churn.cron

  mmon schedule-print 'cron(0 0/6 ? * * *)' --as systemd --name churn -- run --capture cap/ep/AllTraffic --baseline-statistics base/statistics.json --baseline-constraints base/constraints.json -o out/

  mmon schedule-print daily:5 --start-offset -P1D --end-offset -PT1H --count 3 --json

  mmon schedule-print '*/15 * * * *' --as kubernetes --image ghcr.io/acme/mmon:1 -q -- run --capture s3://bucket/capture/churn/AllTraffic --ground-truth s3://bucket/groundtruth --ground-truth-lookahead PT24H --type model-quality --problem-type BinaryClassification --inference-attribute 0 --baseline-constraints s3://bucket/mq/constraints.json -o s3://bucket/r
"""

EXECUTIONS_HELP = """List the monitoring executions under OUT, like SageMaker's list_monitoring_executions.

Reads OUT/yyyy/mm/dd/hh/execution.json of every mmon run --scheduled-time; a running execution
shows InProgress, one that died Failed, and a report folder without a record (SageMaker's own, or
mmon run without --scheduled-time) gets its status from constraint_violations.json. Oldest first.

[bold]Examples[/]

  mmon executions s3://bucket/reports/churn

  mmon executions out/ --last 24 --json
"""

_STATUS_STYLE = {
    "Completed": "green",
    "CompletedWithViolations": "yellow",
    "Failed": "red",
    "InProgress": "cyan",
}


def _output_of(run_args: list[str]) -> str | None:
    for i, a in enumerate(run_args):
        if a in ("--output", "-o") and i + 1 < len(run_args):
            return run_args[i + 1]
        if a.startswith("--output="):
            return a.split("=", 1)[1]
    return None


def _check_run_args(app: typer.Typer, args: list[str]) -> None:
    """Refuse an entry whose every run would fail: mmon run's own parser, then its required inputs.

    ``app`` is the application this command was registered on (passed in, not imported, so the
    command module does not import the app that imports it)."""
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    argv = args[1:] if args[0] == "run" else list(args)
    try:
        ctx = command.make_context("run", [*argv, "--scheduled-time", "now"])
    except Exception as exc:  # click's usage errors (typer vendors click: matched by their method)
        message = getattr(exc, "format_message", None)
        if message is None:
            raise
        raise InputError(f"the scheduled run's arguments: {message()}") from None
    p = ctx.params
    run_type = p.get("run_type") or "data-quality"
    needs: list[str] = []
    if not p.get("data") and not p.get("capture"):
        needs.append("--capture (or DATA)")
    if run_type == "data-quality":
        needs += [f for f, k in (("--baseline-statistics", "baseline_statistics"), ("--baseline-constraints", "baseline_constraints")) if not p.get(k)]
    else:
        needs += [] if p.get("baseline_constraints") else ["--baseline-constraints"]
        if run_type == "model-quality" and not p.get("problem_type"):
            needs.append("--problem-type")
        if run_type in ("bias", "feature-attribution") and not p.get("config"):
            needs.append("--config")
        if run_type == "feature-attribution" and not p.get("model"):
            needs.append("--model")
    if needs:
        raise InputError(f"every scheduled run would fail: the {run_type} run needs {', '.join(needs)}")


def _mmon_executable() -> str:
    found = shutil.which("mmon")
    if found:
        return os.path.abspath(found)
    beside = Path(sys.executable).parent / "mmon"
    return str(beside) if beside.exists() else "mmon"


def register(app: typer.Typer) -> None:
    @app.command("schedule-print", help=PRINT_HELP, epilog=EXIT_CODES_HELP)
    def schedule_print(
        expression: Annotated[str, typer.Argument(metavar="EXPR", help="Schedule expression (see above).")],
        run_args: Annotated[
            list[str] | None,
            typer.Argument(metavar="[-- MMON RUN ARGS...]", help="Arguments of the scheduled mmon run, after --."),
        ] = None,
        count: Annotated[int, typer.Option("--count", "-n", min=1, max=1000, help="How many runs to show.")] = 5,
        from_time: Annotated[
            str | None, typer.Option("--from", help="Show runs after this time (ISO 8601, UTC). Default: now.")
        ] = None,
        start_offset: StartOffset = None,
        end_offset: EndOffset = None,
        fmt: Annotated[str, typer.Option("--as", help="Entry to print: crontab, systemd, kubernetes or json.")] = "crontab",
        name: Annotated[
            str | None,
            typer.Option(
                help="Name of the unit, CronJob, log and lock. Default: mmon-<--schedule of the run>, else made from "
                "the run's --endpoint, --type and --output with a short hash of them, so two monitors never share one."
            ),
        ] = None,
        workdir: Annotated[
            str | None, typer.Option(help="Folder the run starts in (crontab, systemd). Default: this one.")
        ] = None,
        mmon_path: Annotated[
            str | None,
            typer.Option("--mmon", help="mmon executable in the entry. Default: this mmon's full path (mmon in Kubernetes)."),
        ] = None,
        image: Annotated[str | None, typer.Option(help="Container image with mmon installed (Kubernetes).")] = None,
        log: Annotated[str | None, typer.Option(help="Log file of the crontab entry. Default: NAME.log in the workdir.")] = None,
        write: Annotated[
            str | None, typer.Option("--write", help="Also write the entry's file(s) into this folder.")
        ] = None,
        json_output: JsonOutput = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the entry (and no notes on stderr).")] = False,
    ) -> None:
        if fmt not in FORMATS:
            raise InputError(f"--as {fmt!r}: expected one of {', '.join(FORMATS)}")
        schedule = parse_schedule(expression)
        json_output = json_output or fmt == "json"
        args = list(run_args or [])
        start = parse_time(from_time, "--from") if from_time else datetime.now(UTC)
        times = next_times(schedule, start, count)
        for t in times[:1]:
            execution_window(t, start_offset, end_offset, schedule)  # refuse bad offsets before printing
        entry_name = safe_name(name) if name else default_name(args)
        kube = fmt == "kubernetes"
        options = EntryOptions(
            name=entry_name,
            mmon=mmon_path or ("mmon" if kube else _mmon_executable()),
            workdir=workdir or os.getcwd(),
            log=log,
            image=image or EntryOptions.image,
            start_offset=start_offset,
            end_offset=end_offset,
        )
        output = _output_of(args)
        entry = Entry(schedule, times, args, options, output)
        files = render(fmt, entry)
        if args:
            _check_run_args(app, args)
        if schedule.note:
            warn(f"{schedule.text}: {schedule.note}", quiet or json_output)
        if not args:
            warn("no run arguments after --: the entry holds the placeholder RUN_ARGS", quiet or json_output)
        if write:
            store = Store()
            for file_name, text in files.items():
                store.write_text(join(write, file_name), text)
        if json_output:
            doc: dict[str, Any] = plan(entry)
            if fmt != "json":
                doc["entry"] = files
            print_json(doc)
            return
        # stdout carries the entry alone (`> mmon.cron` installs as is); the table is for the eye, on stderr.
        if not quiet:
            _print_times(schedule, times, start_offset, end_offset, output)
        text = _join_files(files) if fmt == "systemd" else next(iter(files.values()))
        sys.stdout.write(text)
        sys.stdout.flush()
        if write and not quiet:
            for file_name in files:
                err.print(f"Wrote {join(write, file_name)}", highlight=False)

    @app.command("executions", help=EXECUTIONS_HELP, epilog=EXIT_CODES_HELP)
    def executions(
        output: Annotated[str, typer.Argument(metavar="OUT", help="The --output of the scheduled runs.")],
        last: Annotated[int | None, typer.Option("--last", min=0, help="Only the N most recent executions.")] = None,
        since: Annotated[str | None, typer.Option(help="Only executions scheduled at or after this time (ISO 8601).")] = None,
        until: Annotated[str | None, typer.Option(help="Only executions scheduled at or before this time.")] = None,
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
    ) -> None:
        store = Store(parse_storage_options(storage_option or []))
        if not store.exists(output):
            raise InputError(f"{output}: no such folder")
        found = list_executions(
            store,
            output,
            since=parse_time(since, "--since") if since else None,
            until=parse_time(until, "--until") if until else None,
            last=last,
            stale_after=DEFAULT_STALE_AFTER,
        )
        if json_output:
            print_json({"output": output, "executions": found, "count": len(found)})
            return
        if not found:
            out.print(f"No executions under {output}", highlight=False)
            return
        table = Table(title=f"{len(found)} execution(s) under {output} (UTC)")
        table.add_column("scheduled time", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("violations", justify="right")
        table.add_column("window", no_wrap=True)
        table.add_column("took", justify="right", no_wrap=True)
        table.add_column("host")
        table.add_column("message", overflow="fold")
        for e in found:
            style = _STATUS_STYLE.get(str(e["status"]), "")
            window = f"{_short(e.get('start_time'))} – {_short(e.get('end_time'))}" if e.get("start_time") else ""
            message = str(e.get("message") or "")
            if e["status"] in ("Completed", "CompletedWithViolations") and message == default_message(
                str(e["status"]), int(e.get("violations") or 0)
            ):
                message = ""  # the status and count say it already
            table.add_row(
                str(e["scheduled_time"]),
                styled(e["status"], style) if style else str(e["status"]),
                "" if e.get("violations") is None else str(e["violations"]),
                window,
                _took(e.get("started"), e.get("finished")),
                str(e.get("host") or ""),
                message,
            )
        out.print(table)


def _took(started: Any, finished: Any) -> str:
    try:
        seconds = int((parse_time(str(finished)) - parse_time(str(started))).total_seconds())
    except (InputError, TypeError, ValueError):
        return ""
    if seconds < 0:
        return ""
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _short(value: Any) -> str:
    """``2026-11-21T13:00:00Z`` → ``11-21 13:00``."""
    if not value:
        return ""
    s = str(value)
    return f"{s[5:10]} {s[11:16]}" if len(s) >= 16 and s[10] == "T" else s


def _print_times(
    schedule: Any, times: list[datetime], start_offset: str | None, end_offset: str | None, output: str | None
) -> None:
    title = f"{schedule.text}: {schedule.describe()}, UTC"
    if schedule.cron5 and schedule.cron5 != schedule.text:
        title += f" (cron {schedule.cron5})"
    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column("scheduled time", no_wrap=True)
    table.add_column("window start", no_wrap=True)
    table.add_column("window end", no_wrap=True)
    if output:
        table.add_column("report folder")
    for i, t in enumerate(times, 1):
        start, end = execution_window(t, start_offset, end_offset, schedule)
        row = [str(i), format_time(t), format_time(start), format_time(end)]
        if output:
            row.append(report_prefix(output, t, schedule.sub_hourly))
        table.add_row(*row)
    # On stderr, as wide as a wide terminal when piped (rich would assume 80 columns).
    console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
    console.print(table)
    if schedule.sagemaker and schedule.sagemaker != schedule.text:
        console.print(f"On SageMaker: {schedule.sagemaker}", highlight=False)


def _join_files(files: dict[str, str]) -> str:
    return "\n".join(f"# ---- {file_name} ----\n{text}" for file_name, text in files.items())
