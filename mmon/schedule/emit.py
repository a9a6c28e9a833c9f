"""Ready-to-install schedule entries: a crontab line, a systemd service + timer, a Kubernetes CronJob, JSON.

Each entry runs ``mmon run ARGS --scheduled-time now --schedule-expression EXPR`` (plus the
offsets when given): ``now`` resolves to the latest scheduled time at or before the start, so a
run that starts late still reports under its own hour, and the window follows the schedule.

- **crontab**: ``CRON_TZ=UTC`` (cronie; elsewhere the host clock must be UTC), ``cd DIR &&``,
  ``flock -n`` so a run still going on this host is not started twice (a skipped run is logged),
  ``timeout`` so a hung run cannot hold that lock for ever, the output appended to a log, and
  every ``%`` escaped (cron turns a bare ``%`` into a newline).
- **systemd**: a ``Type=oneshot`` service (a timer never starts it twice at once) and a timer with
  ``OnCalendar=… UTC`` (two lines when cron's day-of-month OR day-of-week rule applies),
  ``Persistent=true`` (a run missed while the machine was off happens at boot), ``AccuracySec=1s``.
- **Kubernetes**: a ``batch/v1`` CronJob with ``timeZone: Etc/UTC``, ``concurrencyPolicy: Forbid``,
  ``startingDeadlineSeconds: 1200`` (SageMaker starts up to 20 minutes late too), no retry on exit
  1 (violations) or 2 (bad input) but up to two on others (exit 3, storage), and the image as a
  placeholder to replace with one that has mmon installed.
- the maximum run time of every entry is the schedule's shortest gap between runs (one hour for
  hourly), so a hung run never blocks the next ones.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from croniter import croniter

from mmon.errors import InputError
from mmon.schedule.expressions import Schedule, shortest_period
from mmon.schedule.window import execution_window, format_time, report_prefix

FORMATS = ("crontab", "systemd", "kubernetes", "json")
DEFAULT_IMAGE = "REPLACE-WITH-YOUR-IMAGE/mmon:latest"
RUN_ARGS_PLACEHOLDER = "RUN_ARGS"
SKIPPED_EXIT = 75  # EX_TEMPFAIL: the crontab entry's exit status when a run is skipped
_DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


@dataclass(frozen=True)
class EntryOptions:
    """Where and how the entry runs mmon."""

    name: str = "mmon"
    mmon: str = "mmon"  # the executable: an absolute path for cron and systemd (their PATH is short)
    workdir: str = "."
    log: str | None = None  # crontab: default {name}.log in workdir
    lock: str | None = None  # crontab flock file: default /tmp/{name}.lock
    image: str = DEFAULT_IMAGE
    start_offset: str | None = None
    end_offset: str | None = None


def safe_name(text: str, limit: int = 52) -> str:
    """A name valid for a systemd unit and a Kubernetes CronJob (DNS label, at most 52 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return name or "mmon"


def _option(args: list[str], *flags: str) -> str | None:
    """The value of the last ``--flag VALUE`` / ``--flag=VALUE`` in ``args``."""
    found = None
    for i, a in enumerate(args):
        for flag in flags:
            if a == flag and i + 1 < len(args):
                found = args[i + 1]
            elif flag.startswith("--") and a.startswith(flag + "="):
                found = a.split("=", 1)[1]
    return found


def default_name(run_args: Sequence[str]) -> str:
    """A name for the unit, CronJob, log and lock that two monitors do not share.

    ``mmon-<schedule>`` when the run carries ``--schedule NAME`` (the user's own name). Otherwise
    the monitor is known by where it writes: the endpoint, the type and the last folders of
    ``--output``, made readable, plus 6 hex digits of a hash of the full output URL, endpoint
    and type, so that two monitors (say ``s3://a/reports/churn`` and ``s3://b/reports/churn``)
    never share a lock, a log, a CronJob or a unit, and the same monitor keeps its name.
    ``mmon`` only without run arguments.
    """
    args = list(run_args)
    schedule = _option(args, "--schedule")
    if schedule:
        return safe_name(f"mmon-{schedule}")
    output = _option(args, "--output", "-o")
    endpoint = _option(args, "--endpoint")
    run_type = _option(args, "--type")
    if not (output or endpoint):
        return "mmon"
    tail = [p for p in re.split(r"[/\\]+", (output or "").split("://", 1)[-1]) if p and p != "."][-2:]
    kind = run_type if run_type and run_type != "data-quality" else None
    readable = "-".join(w for w in (endpoint, kind, *tail) if w)
    digest = hashlib.sha256(f"{output}\n{endpoint}\n{run_type}".encode()).hexdigest()[:6]
    return f"{safe_name(f'mmon-{readable}', limit=52 - 7)}-{digest}"


def run_command(schedule: Schedule, run_args: Sequence[str], options: EntryOptions) -> list[str]:
    """The argv of the scheduled ``mmon run`` (``run`` in the arguments is optional)."""
    args = list(run_args)
    if args and args[0] == "run":
        args = args[1:]
    for a in args:
        for flag in ("--scheduled-time", "--schedule-expression", "--start-offset", "--end-offset"):
            if a == flag or a.startswith(flag + "="):
                raise InputError(
                    f"leave {flag} out of the run arguments: the entry sets it "
                    "(give --start-offset and --end-offset to schedule-print, before --)"
                )
        if "\n" in a or "\r" in a:
            raise InputError(f"run argument {a!r}: a line break cannot go into a crontab line or a unit file")
    if not args:
        args = [RUN_ARGS_PLACEHOLDER]
    cmd = [options.mmon, "run", *args, "--scheduled-time", "now"]
    if not schedule.is_now:
        cmd += ["--schedule-expression", " ".join(schedule.text.split())]
    if options.start_offset is not None:
        cmd.append(f"--start-offset={options.start_offset}")
    if options.end_offset is not None:
        cmd.append(f"--end-offset={options.end_offset}")
    return cmd


def _max_runtime(schedule: Schedule) -> int:
    return int(shortest_period(schedule).total_seconds())


# -- crontab -------------------------------------------------------------------------------------


def crontab_entry(schedule: Schedule, run_args: Sequence[str], options: EntryOptions) -> str:
    """A crontab block: comment, ``CRON_TZ=UTC`` and one line (``crontab -e`` or /etc/cron.d without a user)."""
    cmd = run_command(schedule, run_args, options)
    if schedule.is_now:
        return f"# NOW runs once: there is nothing to install. Run:\n{shlex.join(cmd)}\n"
    log = options.log or f"{options.name}.log"
    lock = options.lock or f"/tmp/{options.name}.lock"
    q_log, q_lock = shlex.quote(log), shlex.quote(lock)
    # flock -n exits SKIPPED_EXIT (not mmon's 0-3) when the run before still holds the lock: the
    # skipped run is then written to the log, not lost in silence.
    shell = (
        f"cd {shlex.quote(options.workdir)} && flock -n -E {SKIPPED_EXIT} {q_lock} "
        f"timeout {_max_runtime(schedule)}s {shlex.join(cmd)} >> {q_log} 2>&1; rc=$?; "
        f'[ $rc -ne {SKIPPED_EXIT} ] || echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) mmon: run skipped: '
        f'the run before still holds the lock {lock}" >> {q_log}; exit $rc'
    )
    line = f"{schedule.cron5} {shell.replace('%', chr(92) + '%')}"
    return (
        f"# {options.name}: {schedule.describe()} ({schedule.text}), times in UTC.\n"
        "# CRON_TZ=UTC needs cronie (RHEL, Fedora, Arch); with Debian's cron the host clock must be UTC.\n"
        "# It also applies to the lines below it.\n"
        "CRON_TZ=UTC\n"
        f"{line}\n"
    )


def crontab_schedule(entry: str) -> str:
    """The five time fields of the entry's cron line (for checks)."""
    for line in entry.splitlines():
        if line and not line.startswith("#") and "=" not in line.split()[0]:
            return " ".join(line.split()[:5])
    raise ValueError("no cron line in the entry")


# -- systemd -------------------------------------------------------------------------------------


def _calendar_values(values: list[Any], hi: int) -> str:
    if values == ["*"]:
        return "*"
    nums = sorted(int(v) for v in values)
    if len(nums) >= 2:
        step = nums[1] - nums[0]
        # "a/step" only when the repetition wraps exactly (every 4, 6, 12 hours; 15 minutes): systemd 252
        # carries an uneven overflow (00/5 after 20:00) into the next day and skips a midnight at month ends.
        if nums == list(range(nums[0], hi + 1, step)) and (hi + 1) % step == 0 and nums[0] < step:
            return f"{nums[0]:02d}/{step}"
    parts: list[str] = []
    run = [nums[0]]
    for n in nums[1:] + [None]:  # type: ignore[list-item]
        if n is not None and n == run[-1] + 1:
            run.append(n)
            continue
        parts.append(f"{run[0]:02d}..{run[-1]:02d}" if len(run) >= 3 else ",".join(f"{r:02d}" for r in run))
        if n is not None:
            run = [n]
    return ",".join(parts)


def systemd_calendar(schedule: Schedule) -> list[str]:
    """``OnCalendar=`` values (UTC) running exactly the schedule's times (two when dom OR dow applies)."""
    minutes, hours, dom, month, dow = croniter(schedule.cron5).expanded
    time_part = f"{_calendar_values(hours, 23)}:{_calendar_values(minutes, 59)}:00 UTC"
    mon = _calendar_values(month, 12)
    days = "*" if dom == ["*"] else _calendar_values(dom, 31)
    weekdays = None
    if dow != ["*"]:
        weekdays = ",".join(_DAY_NAMES[d] for d in sorted({int(x) % 7 for x in dow}))
    if weekdays and days != "*":
        # cron runs when either the day of month or the day of week matches: one line for each.
        return [f"*-{mon}-{days} {time_part}", f"{weekdays} *-{mon}-* {time_part}"]
    prefix = f"{weekdays} " if weekdays else ""
    return [f"{prefix}*-{mon}-{days} {time_part}"]


def _systemd_word(arg: str) -> str:
    text = arg.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./$-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(schedule: Schedule, run_args: Sequence[str], options: EntryOptions) -> dict[str, str]:
    """``{NAME.service: text, NAME.timer: text}`` (only the service for ``now``)."""
    cmd = run_command(schedule, run_args, options)
    service = (
        f"# {options.name}.service: one mmon monitoring execution, started by {options.name}.timer\n"
        "[Unit]\n"
        f"Description=mmon monitoring execution ({schedule.text}, UTC)\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={options.workdir}\n"
        "# S3 settings (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, …), one VAR=value per line, if any:\n"
        f"EnvironmentFile=-/etc/mmon/{options.name}.env\n"
        f"ExecStart={' '.join(_systemd_word(a) for a in cmd)}\n"
        f"TimeoutStartSec={_max_runtime(schedule)}s\n"
        "# Exit 1 = violations found: the unit shows as failed (OnFailure= can alert).\n"
        "# To count violations as success instead, uncomment:\n"
        "#SuccessExitStatus=1\n"
    )
    if schedule.is_now:
        return {f"{options.name}.service": service}
    calendars = "".join(f"OnCalendar={c}\n" for c in systemd_calendar(schedule))
    timer = (
        f"# {options.name}.timer: {schedule.describe()} ({schedule.text}), times in UTC\n"
        "[Unit]\n"
        f"Description=Run {options.name}.service on {schedule.text} (UTC)\n"
        "\n"
        "[Timer]\n"
        f"{calendars}"
        "Persistent=true\n"
        "AccuracySec=1s\n"
        f"Unit={options.name}.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{options.name}.service": service, f"{options.name}.timer": timer}


# -- Kubernetes ----------------------------------------------------------------------------------


def _q(value: str) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(value)


def kubernetes_manifest(schedule: Schedule, run_args: Sequence[str], options: EntryOptions) -> str:
    """A ``batch/v1`` CronJob (a one-off Job for ``now``)."""
    cmd = run_command(schedule, run_args, options)
    name = safe_name(options.name)
    container = (
        "          restartPolicy: Never\n"
        "          containers:\n"
        "            - name: mmon\n"
        f"              image: {_q(options.image)}\n"
        f"              command: [{', '.join(_q(a) for a in cmd)}]\n"
        "              envFrom:\n"
        "                - secretRef:\n"
        f"                    name: {_q(name + '-aws')}\n"
        "                    optional: true\n"
    )
    failure_policy = (
        "      backoffLimit: 2\n"
        f"      activeDeadlineSeconds: {_max_runtime(schedule)}\n"
        "      podFailurePolicy:\n"
        "        rules:\n"
        "          - action: FailJob\n"
        "            onExitCodes:\n"
        "              containerName: mmon\n"
        "              operator: In\n"
        "              values: [1, 2]\n"
    )
    header = (
        f"# {name}: {schedule.describe()} ({schedule.text}), times in UTC.\n"
        f"# image: replace {options.image} with an image that has mmon installed (pip install mmon).\n"
        f"# S3 settings: kubectl create secret generic {name}-aws --from-literal=AWS_ACCESS_KEY_ID=… (optional).\n"
        "# Exit 1 (violations) and 2 (bad input) fail the Job at once; other failures are retried twice.\n"
    )
    labels = f"  labels:\n    app.kubernetes.io/name: mmon\n    app.kubernetes.io/instance: {_q(name)}\n"
    if schedule.is_now:
        return (
            header + "apiVersion: batch/v1\nkind: Job\nmetadata:\n"
            f"  name: {_q(name)}\n{labels}spec:\n"
            + _indent(failure_policy, -4)
            + "  template:\n    spec:\n"
            + _indent(container, -4)
        )
    return (
        header + "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n"
        f"  name: {_q(name)}\n{labels}spec:\n"
        f"  schedule: {_q(schedule.cron5)}\n"
        '  timeZone: "Etc/UTC"\n'
        "  concurrencyPolicy: Forbid\n"
        "  startingDeadlineSeconds: 1200\n"
        "  successfulJobsHistoryLimit: 3\n"
        "  failedJobsHistoryLimit: 3\n"
        "  jobTemplate:\n"
        "    spec:\n"
        + failure_policy
        + "      template:\n        spec:\n"
        + container
    )


def _indent(text: str, by: int) -> str:
    lines = text.splitlines(keepends=True)
    if by >= 0:
        return "".join(" " * by + ln for ln in lines)
    return "".join(ln[-by:] if ln.startswith(" " * -by) else ln for ln in lines)


# -- JSON ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One schedule entry as ``plan`` and ``render`` see it: the schedule, the execution times shown,
    the ``mmon run`` arguments, the entry's options and where the run writes its reports."""

    schedule: Schedule
    times: Sequence[datetime]
    run_args: Sequence[str]
    options: EntryOptions
    output: str | None = None


def plan(entry: Entry) -> dict[str, Any]:
    """Times, windows, report folders and the command, as one JSON-ready dict."""
    schedule, run_args, options, output = entry.schedule, entry.run_args, entry.options, entry.output
    executions = []
    for t in entry.times:
        start, end = execution_window(t, options.start_offset, options.end_offset, schedule)
        item = {"scheduled_time": format_time(t), "start_time": format_time(start), "end_time": format_time(end)}
        if output:
            item["report"] = report_prefix(output, t, schedule.sub_hourly)
        executions.append(item)
    cmd = run_command(schedule, run_args, options)
    return {
        "expression": schedule.text,
        "description": schedule.describe(),
        "cron": schedule.cron5 or None,
        "timezone": "UTC",
        "sagemaker_expression": schedule.sagemaker,
        "sagemaker_valid": schedule.sagemaker_valid,
        "note": schedule.note,
        "executions": executions,
        "command": cmd,
        "command_line": shlex.join(cmd),
        "crontab": None if schedule.is_now else crontab_entry(schedule, run_args, options).splitlines()[-1],
    }


def render(fmt: str, entry: Entry) -> dict[str, str]:
    """The entry as ``{file name: text}`` (one file, two for systemd)."""
    schedule, run_args, options = entry.schedule, entry.run_args, entry.options
    if fmt == "crontab":
        return {f"{options.name}.cron": crontab_entry(schedule, run_args, options)}
    if fmt == "systemd":
        return systemd_units(schedule, run_args, options)
    if fmt == "kubernetes":
        return {f"{safe_name(options.name)}-cronjob.yaml": kubernetes_manifest(schedule, run_args, options)}
    if fmt == "json":
        return {f"{options.name}.json": json.dumps(plan(entry), indent=2) + "\n"}
    raise InputError(f"--as {fmt!r}: expected one of {', '.join(FORMATS)}")
