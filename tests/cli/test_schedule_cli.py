"""``mmon schedule-print`` and ``mmon executions`` through the CLI (registered on a private app)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from croniter import croniter

from mmon.cli import run_cmd, schedule_cmd
from mmon.errors import MmonError
from mmon.schedule.emit import crontab_schedule
from mmon.schedule.executions import begin_execution, finish_execution
from mmon.schedule.expressions import next_times, parse_schedule
from mmon.schedule.window import execution_window, format_time, report_prefix


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, rich_markup_mode="rich", pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        pass

    run_cmd.register(app)  # schedule-print checks an entry's arguments with the app's own run parser
    schedule_cmd.register(app)
    return app


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Like mmon.cli.app.main: MmonError → one line on stderr and its exit code."""
    capsys.readouterr()
    code = 0
    try:
        _app()(args=[str(a) for a in args], prog_name="mmon")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except MmonError as exc:
        print(f"mmon: error: {exc.message}", file=sys.stderr)
        code = exc.exit_code
    out, err = capsys.readouterr()
    return code, out, err


RUN = ["--", "run", "s3://b/capture/churn", "--output", "s3://b/reports/churn", "--baseline-statistics", "s3://b/s.json",
       "--baseline-constraints", "s3://b/c.json"]  # fmt: skip


def test_hourly_to_a_crontab_entry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["schedule-print", "hourly", "--from", "2026-12-31T21:30Z", "--count", "3", "--mmon", "/usr/local/bin/mmon", "--workdir", "/srv", *RUN], capsys)
    assert code == 0, err
    # The table is for the eye (stderr); stdout is the installable entry alone.
    assert "2026-12-31T22:00:00Z" in err and "2027-01-01T00:00:00Z" in err
    assert "s3://b/reports/churn/2027/01/01/00" in err  # the report folder of each run
    assert "On SageMaker: cron(0 * ? * * *)" in err
    assert out.startswith("# mmon-") and "scheduled time" not in out
    line = [ln for ln in out.splitlines() if ln.startswith("0 * * * * ")][0]
    assert croniter.is_valid(crontab_schedule(line))
    words = shlex.split(line.split(None, 5)[5])
    i = words.index("/usr/local/bin/mmon")
    assert words[i:i + 10] == ["/usr/local/bin/mmon", "run", "s3://b/capture/churn", "--output", "s3://b/reports/churn", "--baseline-statistics", "s3://b/s.json", "--baseline-constraints", "s3://b/c.json", "--scheduled-time"]  # fmt: skip
    assert words[:2] == ["cd", "/srv"] and "--schedule-expression" in words


def test_quiet_prints_only_the_entry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["schedule-print", "*/15 * * * *", "-q", "--mmon", "mmon", *RUN], capsys)
    assert code == 0
    assert out.startswith("# mmon-reports-churn-") and ": Every 15 minutes" in out.splitlines()[0]
    assert "scheduled time" not in out and err == ""


def test_note_for_an_expression_sagemaker_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["schedule-print", "*/15 * * * *", "--from", "2026-11-21T13:20Z", "-n", "2", *RUN], capsys)
    assert code == 0
    assert "SageMaker would refuse this schedule" in err and "mmon runs it as written" in err
    assert "s3://b/reports/churn/2026/11/21/13/30" in err  # minute folders


@pytest.mark.parametrize(
    ("expression", "reason"),
    [("cron(0 25 ? * * *)", "25 is out of range 0-23"), ("every:0h", "1-24"), ("nope", "not a schedule expression")],
)
def test_invalid_expression_exit_2_one_line(expression: str, reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["schedule-print", expression], capsys)
    assert code == 2 and out == ""
    assert reason in err and len(err.strip().splitlines()) == 1


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schedule-print", "hourly", "--as", "cronjob"], capsys)[0] == 2
    code, _, err = run(["schedule-print", "hourly", "--start-offset", "PT1H"], capsys)
    assert code == 2 and "zero or negative" in err
    code, _, err = run(["schedule-print", "hourly", "--from", "soon"], capsys)
    assert code == 2 and "--from" in err
    code, _, err = run(["schedule-print", "hourly", "--", "run", "x", "--scheduled-time", "now"], capsys)
    assert code == 2 and "leave --scheduled-time out" in err


def test_json_times_windows_and_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["schedule-print", "daily:5", "--from", "2028-02-27T12:00Z", "-n", "3", "--start-offset", "-P1D",
         "--end-offset", "-PT1H", "--json", "--mmon", "mmon", *RUN],
    capsys)  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert [e["scheduled_time"] for e in doc["executions"]] == ["2028-02-28T05:00:00Z", "2028-02-29T05:00:00Z", "2028-03-01T05:00:00Z"]
    assert doc["executions"][2]["start_time"] == "2028-02-29T05:00:00Z"
    assert doc["executions"][2]["end_time"] == "2028-03-01T04:00:00Z"
    assert doc["executions"][2]["report"] == "s3://b/reports/churn/2028/03/01/05"
    assert doc["command"][-4:] == ["--schedule-expression", "daily:5", "--start-offset=-P1D", "--end-offset=-PT1H"]
    (name,) = doc["entry"]
    assert doc["sagemaker_valid"] is True and name.startswith("mmon-reports-churn-") and doc["entry"][name].startswith("# mmon")
    code, out, _ = run(["schedule-print", "daily:5", "--as", "json", "-n", "1", *RUN], capsys)
    assert code == 0 and json.loads(out)["cron"] == "0 5 * * *"


def test_systemd_and_kubernetes_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["schedule-print", "cron(0 0/6 ? * * *)", "--as", "systemd", "--name", "Churn Monitor", "-q", *RUN], capsys)
    assert code == 0
    assert "# ---- churn-monitor.service ----" in out and "# ---- churn-monitor.timer ----" in out
    assert "OnCalendar=*-*-* 00/6:00:00 UTC" in out
    code, out, err = run(
        ["schedule-print", "hourly", "--as", "kubernetes", "--image", "ghcr.io/acme/mmon:1", "--write", str(tmp_path), *RUN],
    capsys)  # fmt: skip
    assert code == 0
    (written,) = tmp_path.glob("mmon-reports-churn-*-cronjob.yaml")
    manifest = written.read_text()
    assert manifest == out and 'image: "ghcr.io/acme/mmon:1"' in manifest
    assert 'command: ["mmon", "run"' in manifest  # the image's mmon, not this machine's path
    assert f"Wrote {os.path.join(str(tmp_path), written.name)}" in err


def test_now(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["schedule-print", "now", "--from", "2026-11-21T13:42Z", "--mmon", "mmon", *RUN], capsys)
    assert code == 0
    assert "2026-11-21T13:00:00Z" in err and "# NOW runs once" in out


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["schedule-print", "--help"], capsys)
    assert code == 0 and "schedule-print hourly -- run" in out and "--start-offset" in out
    code, out, _ = run(["executions", "--help"], capsys)
    assert code == 0 and "list_monitoring_executions" in out


# -- executions ----------------------------------------------------------------------------------


def _day(out: str) -> list[datetime]:
    from mmon.store import Store

    store = Store()
    schedule = parse_schedule("hourly")
    times = next_times(schedule, datetime(2026, 11, 21, tzinfo=UTC), 24)
    for t in times:
        lock = begin_execution(store, report_prefix(out, t), t, execution_window(t, schedule=schedule), settle=0, now=t)
        n = 2 if t.hour == 7 else 0
        finish_execution(lock, "CompletedWithViolations" if n else "Completed", n, now=t + timedelta(minutes=4))
    return times


def test_executions_listing_matches_the_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = str(tmp_path / "reports")
    times = _day(out_dir)
    code, out, err = run(["executions", out_dir, "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["count"] == 24
    assert [e["scheduled_time"] for e in doc["executions"]] == [format_time(t) for t in times]
    folders = sorted(str(p.parent) for p in Path(out_dir).rglob("execution.json"))
    assert [e["report"] for e in doc["executions"]] == folders
    assert [e["violations"] for e in doc["executions"] if e["status"] == "CompletedWithViolations"] == [2]

    code, out, _ = run(["executions", out_dir, "--last", "3"], capsys)
    assert code == 0
    assert "3 execution(s)" in out and "2026-11-22T00:00:00Z" in out and "2026-11-21T21:00:00Z" not in out
    code, out, _ = run(["executions", out_dir, "--since", "2026-11-21T07:00Z", "--until", "2026-11-21T07:00Z"], capsys)
    assert code == 0 and "CompletedWithViolations" in out and "1 execution(s)" in out


def test_executions_of_an_empty_or_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["executions", str(tmp_path)], capsys)
    assert code == 0 and "No executions" in out
    code, _, err = run(["executions", str(tmp_path / "missing")], capsys)
    assert code == 2 and "no such folder" in err
