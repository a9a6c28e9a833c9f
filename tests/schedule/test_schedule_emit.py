"""The emitted crontab line, systemd units and Kubernetes manifest are checked by the tools that read them."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from croniter import croniter

from mmon.errors import InputError
from mmon.schedule.emit import (
    Entry,
    EntryOptions,
    crontab_entry,
    crontab_schedule,
    default_name,
    kubernetes_manifest,
    plan,
    render,
    run_command,
    safe_name,
    systemd_calendar,
    systemd_units,
)
from mmon.schedule.expressions import next_times, parse_schedule

EXPRESSIONS = [
    "hourly",
    "daily",
    "daily:5",
    "every:4h",
    "every:5h",
    "every:12h@17",
    "cron(0 0/6 ? * * *)",
    "cron(0 17/12 ? * * *)",
    "cron(0 5/12 ? * * *)",
    "cron(0 12 ? * MON-FRI *)",
    "cron(0 0 29 2 ? *)",
    "cron(30 1 31 * ? *)",
    "*/15 * * * *",
    "0 0 1 * 1",
    "30 1,13 1-7 * *",
    "0 9 * * 7",
    "*/7 * * * *",
    "0 9-17 * * 1-5",
]
# A base time off any schedule, before a leap day and a month end.
BASE = datetime(2028, 2, 27, 22, 7, 30, tzinfo=UTC)
ARGS = [
    "run",
    "s3://bucket/capture/churn/AllTraffic",
    "--output",
    "s3://bucket/reports/churn/hourly",
    "--baseline-statistics",
    "s3://bucket/base/statistics.json",
    "--baseline-constraints",
    "s3://bucket/base/constraints.json",
    "--endpoint",
    "churn endpoint",  # a space
    "--schedule",
    "it's 100%",  # a quote and a percent sign: shell, cron and systemd quoting
]
OPTIONS = EntryOptions(name="mmon-churn", mmon="/opt/mmon venv/bin/mmon", workdir="/srv/mon itor")


def _cron_command(line: str) -> str:
    """What cron hands to /bin/sh: the text after the five fields, ``\\%`` → ``%``, cut at a bare ``%``."""
    rest = line.split(None, 5)[5]
    out, i = [], 0
    while i < len(rest):
        c = rest[i]
        if c == "\\" and rest[i + 1 : i + 2] == "%":
            out.append("%")
            i += 2
            continue
        if c == "%":
            break
        out.append(c)
        i += 1
    return "".join(out)


def _entry_line(entry: str) -> str:
    return [ln for ln in entry.splitlines() if ln and not ln.startswith("#") and not ln.startswith("CRON_TZ=")][0]


# -- the command ---------------------------------------------------------------------------------


def test_run_command() -> None:
    s = parse_schedule("hourly")
    cmd = run_command(s, ARGS, OPTIONS)
    assert cmd[:2] == ["/opt/mmon venv/bin/mmon", "run"]
    assert cmd[2:-4] == ARGS[1:]
    assert cmd[-4:] == ["--scheduled-time", "now", "--schedule-expression", "hourly"]
    # "run" is optional; offsets are passed on
    with_offsets = EntryOptions(start_offset="-P1D", end_offset="-PT1H")
    assert run_command(s, ARGS[1:], with_offsets)[-2:] == ["--start-offset=-P1D", "--end-offset=-PT1H"]
    assert run_command(parse_schedule("now"), ["x"], EntryOptions())[-2:] == ["--scheduled-time", "now"]
    assert run_command(s, [], EntryOptions())[2] == "RUN_ARGS"
    with pytest.raises(InputError, match="line break"):
        run_command(s, ["x", "a\nb"], EntryOptions())
    for bad in (["--scheduled-time", "now"], ["--scheduled-time=now"], ["--start-offset", "-PT1H"]):
        with pytest.raises(InputError, match="leave --"):
            run_command(s, ["run", "x", *bad], EntryOptions())


def test_names() -> None:
    assert default_name(ARGS) == "mmon-it-s-100"
    assert default_name(["x", "--schedule=Hourly_Churn"]) == "mmon-hourly-churn"
    assert default_name(["x"]) == "mmon"
    # Without --schedule: named after the monitor (endpoint, type, output), never shared by two.
    a = default_name(["--capture", "s3://b/cap/churn/AllTraffic", "--output", "s3://b/reports/churn"])
    b = default_name(["--capture", "s3://b/cap/churn/AllTraffic", "--output", "s3://other/reports/churn"])
    c = default_name(["--capture", "s3://b/cap/churn/AllTraffic", "--output=s3://b/reports/churn", "--type", "model-quality"])
    assert a.startswith("mmon-reports-churn-") and b.startswith("mmon-reports-churn-") and len({a, b, c}) == 3
    assert c.startswith("mmon-model-quality-reports-churn-")
    assert default_name(["x", "-o", "s3://b/reports/churn"]) == a  # stable: the same monitor keeps its name
    d = default_name(["x", "--endpoint", "churn", "-o", "/srv/" + "very-long-folder-name/" * 6 + "mq"])
    assert d.startswith("mmon-churn-very-long-folder-name-mq") and len(d) <= 52 and safe_name(d) == d
    assert safe_name("A" * 80) == "a" * 52
    assert safe_name("!!!") == "mmon"


# -- crontab -------------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_crontab_line_parses_back_to_the_same_times(expression: str) -> None:
    s = parse_schedule(expression)
    entry = crontab_entry(s, ARGS, OPTIONS)
    fields = crontab_schedule(entry)
    assert croniter.is_valid(fields)
    it = croniter(fields, BASE)
    assert [it.get_next(datetime) for _ in range(12)] == next_times(s, BASE, 12)
    assert "CRON_TZ=UTC" in entry.splitlines()


def test_crontab_command_escapes_percent_and_quotes_arguments() -> None:
    entry = crontab_entry(parse_schedule("hourly"), ARGS, OPTIONS)
    line = _entry_line(entry)
    assert "100\\%" in line and re.search(r"(?<!\\)%", line) is None
    first, skipped = _cron_command(line).split("; rc=$?; ", 1)
    words = shlex.split(first)
    assert words[:3] == ["cd", "/srv/mon itor", "&&"]
    assert words[3:8] == ["flock", "-n", "-E", "75", "/tmp/mmon-churn.lock"]
    assert words[8:10] == ["timeout", "3600s"]
    assert words[10:-3] == run_command(parse_schedule("hourly"), ARGS, OPTIONS)
    assert words[-3:] == [">>", "mmon-churn.log", "2>&1"]
    # A run skipped because the lock is held says so in the log; the entry keeps mmon's exit status.
    assert "run skipped" in skipped and ">> mmon-churn.log" in skipped and skipped.endswith("exit $rc")


@pytest.mark.skipif(not (shutil.which("sh") and shutil.which("flock") and shutil.which("timeout")), reason="needs sh, flock, timeout")
def test_crontab_entry_runs_in_a_shell(tmp_path: Path) -> None:
    """``schedule-print hourly -- run …`` to a working crontab entry: run its command as cron would."""
    fake = tmp_path / "bin" / "mmon"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$PWD/argv.txt"\necho ran\n')
    fake.chmod(0o755)
    work = tmp_path / "work dir"
    work.mkdir()
    options = EntryOptions(name="t", mmon=str(fake), workdir=str(work), lock=str(tmp_path / "t.lock"))
    s = parse_schedule("hourly")
    line = _entry_line(crontab_entry(s, ARGS, options))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh"}  # cron's bare environment
    proc = subprocess.run(["/bin/sh", "-c", _cron_command(line)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert (work / "argv.txt").read_text().splitlines() == run_command(s, ARGS, options)[1:]
    assert (work / "t.log").read_text() == "ran\n"
    # a second run while the first holds the lock is skipped by flock -n
    with open(tmp_path / "t.lock", "w") as held:
        import fcntl

        fcntl.flock(held, fcntl.LOCK_EX)
        (work / "argv.txt").unlink()
        again = subprocess.run(["/bin/sh", "-c", _cron_command(line)], env=env, capture_output=True, timeout=30)
        assert again.returncode == 75 and not (work / "argv.txt").exists()
    log = (work / "t.log").read_text().splitlines()
    assert log[0] == "ran" and len(log) == 2
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ mmon: run skipped: the run before still holds the lock {tmp_path}/t.lock", log[1])
    # mmon's own exit status (1: violations) passes through unchanged.
    fake.write_text("#!/bin/sh\necho violations\nexit 1\n")
    third = subprocess.run(["/bin/sh", "-c", _cron_command(line)], env=env, capture_output=True, timeout=30)
    assert third.returncode == 1 and (work / "t.log").read_text().splitlines()[2:] == ["violations"]


def test_now_has_nothing_to_install() -> None:
    entry = crontab_entry(parse_schedule("now"), ARGS, OPTIONS)
    assert entry.startswith("# NOW runs once")
    assert "--scheduled-time now" in entry


# -- systemd -------------------------------------------------------------------------------------


def test_systemd_calendar_forms() -> None:
    assert systemd_calendar(parse_schedule("hourly")) == ["*-*-* *:00:00 UTC"]
    assert systemd_calendar(parse_schedule("daily:5")) == ["*-*-* 05:00:00 UTC"]
    assert systemd_calendar(parse_schedule("cron(0 0/6 ? * * *)")) == ["*-*-* 00/6:00:00 UTC"]
    assert systemd_calendar(parse_schedule("*/15 * * * *")) == ["*-*-* *:00/15:00 UTC"]
    assert systemd_calendar(parse_schedule("cron(0 12 ? * MON-FRI *)")) == ["Mon,Tue,Wed,Thu,Fri *-*-* 12:00:00 UTC"]
    assert systemd_calendar(parse_schedule("0 0 1 * 1")) == ["*-*-01 00:00:00 UTC", "Mon *-*-* 00:00:00 UTC"]
    assert systemd_calendar(parse_schedule("0 0 29 2 *")) == ["*-02-29 00:00:00 UTC"]
    assert systemd_calendar(parse_schedule("30 1,13 1-7 * *")) == ["*-*-01..07 01/12:30:00 UTC"]
    # an uneven step is written out: systemd's own 00/5 skips a midnight at month ends
    assert systemd_calendar(parse_schedule("every:5h")) == ["*-*-* 00,05,10,15,20:00:00 UTC"]
    assert systemd_calendar(parse_schedule("*/7 * * * *"))[0].startswith("*-*-* *:00,07,14,")


def _systemd_analyze_ok() -> bool:
    if not shutil.which("systemd-analyze"):
        return False
    probe = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=2", "--base-time=@0", "*-*-* 00:00:00 UTC"],
        capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, timeout=30,
    )  # fmt: skip
    return probe.returncode == 0


needs_systemd = pytest.mark.skipif(not _systemd_analyze_ok(), reason="systemd-analyze calendar --base-time not available")


@needs_systemd
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_systemd_oncalendar_matches_croniter(expression: str) -> None:
    s = parse_schedule(expression)
    n = 12
    proc = subprocess.run(
        ["systemd-analyze", "calendar", f"--iterations={n}", f"--base-time=@{int(BASE.timestamp())}", *systemd_calendar(s)],
        capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    found = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", proc.stdout)
    times = sorted({datetime.fromisoformat(f).replace(tzinfo=UTC) for f in found})[:n]
    assert times == next_times(s, BASE, n)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not available")
@pytest.mark.parametrize("expression", ["hourly", "0 0 1 * 1", "now"])
def test_systemd_units_verify(expression: str, tmp_path: Path) -> None:
    options = EntryOptions(name="mmon-churn", mmon="/bin/echo", workdir=str(tmp_path))
    units = systemd_units(parse_schedule(expression), ARGS, options)
    for name, text in units.items():
        (tmp_path / name).write_text(text)
    proc = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in units)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Unbalanced quoting" not in proc.stderr


def test_systemd_units_content() -> None:
    units = systemd_units(parse_schedule("hourly"), ARGS, OPTIONS)
    assert set(units) == {"mmon-churn.service", "mmon-churn.timer"}
    service, timer = units["mmon-churn.service"], units["mmon-churn.timer"]
    assert "Type=oneshot" in service and "WorkingDirectory=/srv/mon itor" in service
    exec_start = [ln for ln in service.splitlines() if ln.startswith("ExecStart=")][0][len("ExecStart=") :]
    assert '"it\'s 100%%"' in exec_start  # systemd's % specifiers escaped
    assert shlex.split(exec_start.replace("%%", "%")) == run_command(parse_schedule("hourly"), ARGS, OPTIONS)
    assert "OnCalendar=*-*-* *:00:00 UTC" in timer and "Persistent=true" in timer
    assert "Unit=mmon-churn.service" in timer and "WantedBy=timers.target" in timer
    assert set(systemd_units(parse_schedule("now"), ARGS, OPTIONS)) == {"mmon-churn.service"}


# -- Kubernetes ----------------------------------------------------------------------------------

yaml = pytest.importorskip("yaml")

CRONJOB_SPEC_FIELDS = {
    "schedule", "timeZone", "concurrencyPolicy", "startingDeadlineSeconds", "suspend",
    "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "jobTemplate",
}  # fmt: skip
JOB_SPEC_FIELDS = {
    "activeDeadlineSeconds", "backoffLimit", "backoffLimitPerIndex", "completionMode", "completions",
    "managedBy", "manualSelector", "maxFailedIndexes", "parallelism", "podFailurePolicy",
    "podReplacementPolicy", "selector", "successPolicy", "suspend", "template", "ttlSecondsAfterFinished",
}  # fmt: skip
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_kubernetes_cronjob_manifest(expression: str) -> None:
    s = parse_schedule(expression)
    options = EntryOptions(name="mmon-churn", image="ghcr.io/acme/mmon:1.0")
    doc = yaml.safe_load(kubernetes_manifest(s, ARGS, options))
    assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "CronJob"
    assert DNS_LABEL.match(doc["metadata"]["name"]) and len(doc["metadata"]["name"]) <= 52
    spec = doc["spec"]
    assert set(spec) <= CRONJOB_SPEC_FIELDS
    assert spec["schedule"] == s.cron5 and croniter.is_valid(spec["schedule"])
    it = croniter(spec["schedule"], BASE)
    assert [it.get_next(datetime) for _ in range(6)] == next_times(s, BASE, 6)
    assert spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert isinstance(spec["startingDeadlineSeconds"], int) and spec["startingDeadlineSeconds"] >= 10
    job = spec["jobTemplate"]["spec"]
    assert set(job) <= JOB_SPEC_FIELDS
    assert job["activeDeadlineSeconds"] > 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # required by podFailurePolicy
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/acme/mmon:1.0"
    assert container["command"] == run_command(s, ARGS, options)
    rule = job["podFailurePolicy"]["rules"][0]
    assert rule["action"] == "FailJob" and rule["onExitCodes"] == {
        "containerName": container["name"], "operator": "In", "values": [1, 2],
    }  # fmt: skip
    assert container["envFrom"][0]["secretRef"]["optional"] is True


def test_kubernetes_job_for_now() -> None:
    doc = yaml.safe_load(kubernetes_manifest(parse_schedule("now"), ARGS, EntryOptions(name="once")))
    assert doc["kind"] == "Job" and set(doc["spec"]) <= JOB_SPEC_FIELDS
    assert doc["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["--scheduled-time", "now"]
    assert "REPLACE-WITH-YOUR-IMAGE" in doc["spec"]["template"]["spec"]["containers"][0]["image"]


# -- JSON ----------------------------------------------------------------------------------------


def test_plan_json() -> None:
    s = parse_schedule("daily:5")
    times = next_times(s, datetime(2028, 2, 27, 12, tzinfo=UTC), 3)
    doc = json.loads(render("json", Entry(s, times, ARGS, EntryOptions(), "s3://b/r"))["mmon.json"])
    assert doc["cron"] == "0 5 * * *" and doc["sagemaker_expression"] == "cron(0 5 ? * * *)"
    assert doc["executions"] == [
        {"scheduled_time": "2028-02-28T05:00:00Z", "start_time": "2028-02-27T05:00:00Z", "end_time": "2028-02-28T05:00:00Z", "report": "s3://b/r/2028/02/28/05"},
        {"scheduled_time": "2028-02-29T05:00:00Z", "start_time": "2028-02-28T05:00:00Z", "end_time": "2028-02-29T05:00:00Z", "report": "s3://b/r/2028/02/29/05"},
        {"scheduled_time": "2028-03-01T05:00:00Z", "start_time": "2028-02-29T05:00:00Z", "end_time": "2028-03-01T05:00:00Z", "report": "s3://b/r/2028/03/01/05"},
    ]  # fmt: skip
    assert doc["command"] == run_command(s, ARGS, EntryOptions())
    assert shlex.split(doc["command_line"]) == doc["command"]
    assert doc["crontab"].startswith("0 5 * * * ")
    offsets = plan(Entry(s, times[:1], ARGS, EntryOptions(start_offset="-PT2D", end_offset="-PT1H")))
    assert offsets["executions"][0]["start_time"] == "2028-02-26T05:00:00Z"
    assert offsets["executions"][0]["end_time"] == "2028-02-28T04:00:00Z"


def test_render_refuses_unknown_format() -> None:
    with pytest.raises(InputError, match="--as"):
        render("cronjob", Entry(parse_schedule("hourly"), [], ARGS, EntryOptions()))


def test_module_runs_without_pyyaml_at_runtime() -> None:
    code = "import sys; sys.modules['yaml'] = None; import mmon.schedule.emit, mmon.cli.schedule_cmd"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
