"""Options and times: one clear line and exit 2 for every bad value (issue 15 items 8-9), and one
time/duration grammar for ``run`` and ``capture-merge`` (issue 12 §2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mmon.capture import window as capture_window
from mmon.errors import InputError
from mmon.schedule import durations
from mmon.schedule import window as schedule_window
from tests.clihelp import run_cli

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "fixtures" / "capture" / "endpoint-csv"


def one_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mmon: error:") and "internal error" not in lines[0], err
    return lines[0]


# -- item 8: expressions that never fire, times and durations at the calendar's ends --------------


@pytest.mark.parametrize("expression", ["cron(0 0 30 2 ? *)", "0 0 31 4 *", "0 0 31 2,4,6 *", "cron(0 12 31 SEP ? *)"])
def test_never_firing_expression_is_a_usage_error(capsys, expression: str) -> None:
    code, _, err = run_cli(["schedule-print", expression], capsys)
    assert code == 2  # before: internal error CroniterBadDateError
    assert "never runs" in one_error(err)


def test_leap_day_still_runs(capsys) -> None:
    code, out, _ = run_cli(["schedule-print", "0 0 29 2 *", "-n", "2", "--from", "2027-01-01T00:00Z", "--json"], capsys)
    assert code == 0 and "2028-02-29T00:00:00Z" in out and "2032-02-29T00:00:00Z" in out


@pytest.mark.parametrize(
    "args",
    [
        ["schedule-print", "hourly", "--from", "9999-12-31T23:00Z"],
        ["schedule-print", "hourly", "--from", "0001-01-01T00:00Z"],
        ["capture-merge", "--capture", str(CAPTURE), "-o", "OUT", "--scheduled-time", "0001-01-01T00:00Z"],
        ["capture-merge", "--capture", str(CAPTURE), "-o", "OUT", "--scheduled-time", "9999-12-31T23:59:59Z"],
        ["capture-merge", "--capture", str(CAPTURE), "-o", "OUT", "--scheduled-time", "2022-04-18T01:00Z",
         "--start-offset", "-P99999999999D"],
        ["capture-merge", "--capture", str(CAPTURE), "-o", "OUT", "--scheduled-time", "2022-04-18T01:00Z",
         "--capture-lookbehind", "P9999999999W"],
    ],
)  # fmt: skip
def test_extreme_times_and_durations_are_usage_errors(tmp_path: Path, capsys, args: list[str]) -> None:
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    code, _, err = run_cli(args, capsys)
    assert code == 2  # before: OverflowError (internal error)
    one_error(err)


def test_extreme_run_times(tmp_path: Path, capsys) -> None:
    data, bl = baseline(tmp_path, capsys)
    for extra in (["--scheduled-time", "0001-01-01T00:00Z"], ["--scheduled-time", "9999-12-31T23:59:59Z"],
                  ["--scheduled-time", "2024-01-31T13:00Z", "--end-offset", "-P99999999D"]):  # fmt: skip
        code, _, err = run_cli([*run_args(data, bl, tmp_path / "r"), *extra], capsys)
        assert code == 2, extra
        one_error(err)


def test_window_arithmetic_never_overflows() -> None:
    far = datetime(8999, 12, 31, 23, tzinfo=UTC)
    start, end = schedule_window.execution_window(far, "-P365000D", "-PT0H")
    assert end == far and start == far - timedelta(days=365_000)
    with pytest.raises(InputError, match="longer than any window"):
        durations.parse_duration("-P365001D")


# -- item 9: --metric-time, --scheduled-time '', typer usage errors, secrets, Ctrl-C ----------------


def baseline(tmp_path: Path, capsys) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n3,4\n5,6\n")
    code, _, _ = run_cli(["baseline", data, "-o", tmp_path / "bl", "-q"], capsys)
    assert code == 0
    return data, tmp_path / "bl"


def run_args(data: Path, bl: Path, out: Path) -> list[str]:
    return ["run", str(data), "--baseline-statistics", str(bl / "statistics.json"),
            "--baseline-constraints", str(bl / "constraints.json"), "-o", str(out)]  # fmt: skip


def test_metric_time_garbage_is_refused(tmp_path: Path, capsys) -> None:
    data, bl = baseline(tmp_path, capsys)
    code, _, err = run_cli([*run_args(data, bl, tmp_path / "r"), "--metric-time", "garbage"], capsys)
    assert code == 2  # before: exit 0 and "Timestamp":"garbage" in cloudwatch_metrics.jsonl
    assert "--metric-time 'garbage'" in one_error(err)
    assert not (tmp_path / "r").exists()


def test_metric_time_is_written_in_sagemakers_form(tmp_path: Path, capsys) -> None:
    data, bl = baseline(tmp_path, capsys)
    code, _, _ = run_cli([*run_args(data, bl, tmp_path / "r"), "--metric-time", "2024-01-31 15:00+02:00"], capsys)
    assert code == 0
    text = (tmp_path / "r" / "cloudwatch_metrics.jsonl").read_text()
    assert '"Timestamp":"2024-01-31T13:00:00Z"' in text.replace(" ", "")


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_scheduled_time_is_refused(tmp_path: Path, capsys, value: str) -> None:
    data, bl = baseline(tmp_path, capsys)
    code, _, err = run_cli([*run_args(data, bl, tmp_path / "r"), "--scheduled-time", value], capsys)
    assert code == 2  # before: an unscheduled run, exit 0
    assert "--scheduled-time is empty" in one_error(err)
    code, _, err = run_cli(["capture-merge", "--capture", CAPTURE, "-o", tmp_path / "m", "--scheduled-time", value], capsys)
    assert code == 2  # before: the current hour
    assert "--scheduled-time is empty" in one_error(err)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["schedule-print", "daily", "--count", "0"], "--count"),
        (["executions", "OUT", "--last", "abc"], "--last"),
        (["baseline", "d.csv", "-o", "OUT", "--categorical-drift-method", "Chi"], "--categorical-drift-method"),
        (["run", "--no-such-option"], "No such option: --no-such-option"),
        (["baseline"], "Missing argument"),
    ],
)
def test_typer_usage_errors_are_one_line(tmp_path: Path, capsys, args: list[str], expected: str) -> None:
    args = [str(tmp_path / "o") if a == "OUT" else a for a in args]
    code, out, err = run_cli(args, capsys)
    assert code == 2
    line = one_error(err)  # before: a five-line box ("Usage: ...", "Try ...", a framed error)
    assert expected in line and "--help" in line
    assert "╭" not in err and out == ""


def test_help_and_version_still_work(capsys) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.startswith("mmon ")
    code, out, _ = run_cli(["baseline", "--help"], capsys)
    assert code == 0 and "Usage" in out
    code, out, err = run_cli([], capsys)
    assert code == 2 and "Usage" in out + err  # a bare `mmon` shows the help, as before


def test_storage_option_typo_never_prints_the_secret(tmp_path: Path, capsys) -> None:
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
    code, out, err = run_cli(["violations", tmp_path / "x.json", "-s", f"secret:{secret}"], capsys)
    assert code == 2
    assert "--storage-option" in one_error(err)
    assert secret not in out + err  # before: the whole argument was echoed


def test_ctrl_c_during_start_up_is_one_line_exit_130(tmp_path: Path) -> None:
    """SIGINT while the libraries load (the slow part of start-up): no KeyboardInterrupt traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # A marker module imported first makes the interrupt land inside mmon's own start-up imports.
    (tmp_path / "sitecustomize.py").write_text(
        "import os, signal\n"
        "if os.environ.get('MMON_TEST_SIGINT'):\n"
        "    import builtins\n"
        "    real = builtins.__import__\n"
        "    def hook(name, *a, **k):\n"
        "        if name == 'polars':\n"
        "            builtins.__import__ = real\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return real(name, *a, **k)\n"
        "    builtins.__import__ = hook\n"
    )
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{ROOT}"
    env["MMON_TEST_SIGINT"] = "1"
    started = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "mmon", "--version"], env=env, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 120
    assert p.returncode == 130, (p.returncode, p.stderr)
    assert p.stderr.strip() == "mmon: interrupted"
    assert "Traceback" not in p.stderr and signal.SIGINT  # one line, no traceback


# -- one time/duration grammar (issue 12 §2) --------------------------------------------------------

TIMES = [
    "2026-11-21T13:00Z", "2026-11-21T13:00z", "2026-11-21 13:00", "2026-11-21T13", "2026-11-21",
    "20261121T1300Z", "2026-11-21T13:00:00.5Z", "2026-11-21T13:00:00+0200", "2026-11-21T13:00:00+02",
    "2026-W47-6", "2026-11-21T13:00:00.123456789Z", "2026-11-21T15:00:00 +02:00",
]  # fmt: skip
DURATIONS = ["-PT1H", "-P1,5D", "-PT1.5H", "-P1DT2H", "-P2W", "-PT2D", "PT0H", "-pt1h", "-P1.5W", "-PT90M", "-PT1,5S"]
BAD_TIMES = ["", "yesterday", "13:00", "2026-13-01T00:00Z", "0001-01-01T00:00Z", "9999-12-31T23:59:59Z"]
BAD_DURATIONS = ["", "P", "-PT", "1H", "-P1M", "-P1Y", "P1DT", "-PT1X", "--PT1H", "-P99999999999D"]


@pytest.mark.parametrize("text", TIMES)
def test_run_and_capture_merge_read_the_same_times(text: str) -> None:
    # Before: '-P1,5D', '20261121T1300Z', '+02', week dates, 9 fraction digits refused by
    # capture-merge; '...z' refused by run.
    a = capture_window.parse_time(text)
    b = schedule_window.parse_time(text)
    assert a.tzinfo is UTC and b.tzinfo is UTC
    assert b == a.replace(microsecond=0)  # run's scheduled times are to the second
    assert a == durations.parse_time(text)


@pytest.mark.parametrize("text", DURATIONS)
def test_run_and_capture_merge_read_the_same_durations(text: str) -> None:
    assert capture_window.parse_duration(text) == durations.parse_duration(text)


@pytest.mark.parametrize("text", BAD_TIMES)
def test_both_refuse_the_same_times(text: str) -> None:
    for parse in (capture_window.parse_time, schedule_window.parse_time):
        with pytest.raises(InputError):
            parse(text)


@pytest.mark.parametrize("text", BAD_DURATIONS)
def test_both_refuse_the_same_durations(text: str) -> None:
    for parse in (capture_window.parse_duration, durations.parse_duration):
        with pytest.raises(InputError):
            parse(text)


def test_comma_decimal_offset_on_both_commands(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(["capture-merge", "--capture", CAPTURE, "-o", tmp_path / "m", "--scheduled-time",
                              "2022-04-18T01:00Z", "--start-offset", "-P1,5D", "--json"], capsys)  # fmt: skip
    assert code == 0, err  # before: "--start-offset '-P1,5D': expected an ISO 8601 duration"
    assert '"start": "2022-04-16T13:00:00Z"' in out
    data, bl = baseline(tmp_path, capsys)
    code, out, err = run_cli([*run_args(data, bl, tmp_path / "r"), "--scheduled-time", "2022-04-18T01:00Z",
                              "--start-offset", "-P1,5D", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    assert "2022-04-16T13:00:00Z" in out
