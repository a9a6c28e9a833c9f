"""Execution windows, offsets, scheduled time ``now`` and report folders (UTC)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from mmon.errors import InputError
from mmon.schedule.expressions import parse_schedule
from mmon.schedule.window import (
    execution_window,
    format_time,
    parse_scheduled_time,
    parse_time,
    report_prefix,
    resolve_execution,
    window_hours,
)
from tests.schedule.utc import T


@pytest.mark.parametrize(
    ("scheduled", "start_offset", "end_offset", "expression", "start", "end"),
    [
        # SageMaker's real hourly execution: scheduled 23:00 → 22:00-23:00 (§5.5)
        ("2021-05-06T23:00Z", None, None, "hourly", "2021-05-06T22:00Z", "2021-05-06T23:00Z"),
        ("2021-05-06T23:00Z", "-PT1H", "-PT0H", None, "2021-05-06T22:00Z", "2021-05-06T23:00Z"),
        ("2021-05-06T23:00Z", "-PT1H", "PT0H", None, "2021-05-06T22:00Z", "2021-05-06T23:00Z"),
        # DG model-quality example: -P8D / -P1D at 2020-01-09T13:00 → 01-01T13:00 .. 01-08T13:00
        ("2020-01-09T13:00Z", "-P8D", "-P1D", None, "2020-01-01T13:00Z", "2020-01-08T13:00Z"),
        # lenient -PT2D = -P2D, across a year end
        ("2027-01-01T01:00Z", "-PT2D", "-PT0H", None, "2026-12-30T01:00Z", "2027-01-01T01:00Z"),
        # -P1D back over a leap day
        ("2028-03-01T00:00Z", "-P1D", "-PT0H", None, "2028-02-29T00:00Z", "2028-03-01T00:00Z"),
        ("2027-03-01T00:00Z", "-P1D", "-PT0H", None, "2027-02-28T00:00Z", "2027-03-01T00:00Z"),
        # DG batch example -PT6H / -PT0H
        ("2026-11-21T12:00Z", "-PT6H", "-PT0H", None, "2026-11-21T06:00Z", "2026-11-21T12:00Z"),
        # default start offset = minus the schedule's period
        ("2020-02-20T05:00Z", None, None, "daily:5", "2020-02-19T05:00Z", "2020-02-20T05:00Z"),
        ("2026-11-21T12:00Z", None, None, "every:6h", "2026-11-21T06:00Z", "2026-11-21T12:00Z"),
        ("2026-11-21T00:00Z", None, None, "every:5h", "2026-11-20T20:00Z", "2026-11-21T00:00Z"),
        ("2026-11-23T12:00Z", None, None, "cron(0 12 ? * MON-FRI *)", "2026-11-20T12:00Z", "2026-11-23T12:00Z"),
        ("2026-11-21T13:15Z", None, None, "*/15 * * * *", "2026-11-21T13:00Z", "2026-11-21T13:15Z"),
        # an end offset shifts the default window with it
        ("2026-11-21T13:00Z", None, "-PT1H", "hourly", "2026-11-21T11:00Z", "2026-11-21T12:00Z"),
        # no schedule, or now: one hour
        ("2026-11-21T13:00Z", None, None, None, "2026-11-21T12:00Z", "2026-11-21T13:00Z"),
        ("2026-11-21T13:00Z", None, None, "now", "2026-11-21T12:00Z", "2026-11-21T13:00Z"),
    ],
)
def test_execution_window(
    scheduled: str, start_offset: str | None, end_offset: str | None, expression: str | None, start: str, end: str
) -> None:
    schedule = parse_schedule(expression) if expression else None
    assert execution_window(T(scheduled), start_offset, end_offset, schedule) == (T(start), T(end))


def test_consecutive_default_windows_tile_time() -> None:
    for expression in ("hourly", "every:5h", "cron(0 12 ? * MON-FRI *)", "*/15 * * * *"):
        s = parse_schedule(expression)
        from mmon.schedule.expressions import next_times

        times = next_times(s, T("2028-02-27T00:00Z"), 30)
        windows = [execution_window(t, schedule=s) for t in times]
        for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
            assert end == start
        assert all(end == t for (_, end), t in zip(windows, times, strict=True))


@pytest.mark.parametrize(
    ("start_offset", "end_offset", "message"),
    [
        ("PT1H", None, "after the scheduled time"),
        ("-PT1H", "PT30M", "after the scheduled time"),
        ("-PT1H", "-PT1H", "the window is empty"),
        ("-PT1H", "-PT2H", "the window is empty"),
        ("-P1M", None, "years and months"),
        ("1 hour", None, "ISO-8601 duration"),
    ],
)
def test_bad_offsets(start_offset: str, end_offset: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        execution_window(T("2026-11-21T13:00Z"), start_offset, end_offset)


@pytest.mark.parametrize(
    ("text", "expression", "now", "expected"),
    [
        # no schedule: the start of the current hour
        ("now", None, "2026-11-21T13:42:10Z", "2026-11-21T13:00Z"),
        ("NOW", None, "2026-11-21T13:00:00Z", "2026-11-21T13:00Z"),
        ("now", "now", "2026-11-21T13:42:10Z", "2026-11-21T13:00Z"),
        # a schedule: the latest run at or before the clock (cron starts a few seconds late)
        ("now", "hourly", "2026-11-21T13:00:03Z", "2026-11-21T13:00Z"),
        ("now", "hourly", "2026-11-21T13:00:00Z", "2026-11-21T13:00Z"),
        ("now", "daily:5", "2026-11-21T05:20Z", "2026-11-21T05:00Z"),
        ("now", "daily:5", "2026-11-21T04:59Z", "2026-11-20T05:00Z"),  # a catch-up run after a reboot
        ("now", "every:6h", "2027-01-01T03:10Z", "2027-01-01T00:00Z"),
        ("now", "*/15 * * * *", "2026-11-21T13:44:59Z", "2026-11-21T13:30Z"),
        ("now", "daily", "2028-03-01T00:00:01Z", "2028-03-01T00:00Z"),
        # explicit times: kept (seconds too), naive is UTC, zones converted
        ("2026-11-21T13:00Z", "hourly", None, "2026-11-21T13:00Z"),
        ("2026-11-21T13:00:00Z", None, None, "2026-11-21T13:00Z"),
        ("2026-11-21T15:00+02:00", None, None, "2026-11-21T13:00Z"),
        ("2026-11-21 13:00", None, None, "2026-11-21T13:00Z"),
        ("2026-11-21T13", None, None, "2026-11-21T13:00Z"),
        ("2026-11-21", None, None, "2026-11-21T00:00Z"),
        ("2026-11-21T13:25:30Z", None, None, "2026-11-21T13:25:30Z"),
    ],
)
def test_parse_scheduled_time(text: str, expression: str | None, now: str | None, expected: str) -> None:
    schedule = parse_schedule(expression) if expression else None
    assert parse_scheduled_time(text, schedule, T(now) if now else None) == T(expected)


def test_parse_scheduled_time_uses_the_clock() -> None:
    got = parse_scheduled_time("now")
    assert got.minute == 0 and got.second == 0 and got.tzinfo is UTC
    assert (datetime.now(UTC) - got).total_seconds() < 3601


@pytest.mark.parametrize("text", ["yesterday", "", "2026-13-01T00:00Z", "13:00"])
def test_bad_scheduled_time(text: str) -> None:
    with pytest.raises(InputError, match="--scheduled-time"):
        parse_scheduled_time(text)


def test_report_prefix() -> None:
    t = T("2021-05-18T01:00Z")
    assert report_prefix("s3://b/out/ep/sched", t) == "s3://b/out/ep/sched/2021/05/18/01"
    assert report_prefix("s3://b/out/", t) == "s3://b/out/2021/05/18/01"
    assert report_prefix("out", t) == os.path.join("out", "2021", "05", "18", "01")
    assert report_prefix("s3://b/o", T("2028-02-29T23:45Z"), minute_folder=True) == "s3://b/o/2028/02/29/23/45"
    # the folder is the scheduled hour, never the window's
    assert report_prefix("s3://b/o", T("2027-01-01T00:00Z")) == "s3://b/o/2027/01/01/00"


def test_window_hours() -> None:
    assert window_hours(T("2026-11-21T12:30Z"), T("2026-11-21T14:00Z")) == [T("2026-11-21T12:00Z"), T("2026-11-21T13:00Z")]
    assert len(window_hours(T("2028-02-28T13:00Z"), T("2028-03-01T13:00Z"))) == 48
    assert window_hours(T("2026-11-21T13:00Z"), T("2026-11-21T13:00Z")) == []


def test_resolve_execution() -> None:
    e = resolve_execution("now", "hourly", output="s3://b/r", now=T("2026-11-21T13:07Z"))
    assert e.as_dict() == {
        "scheduled_time": "2026-11-21T13:00:00Z",
        "start_time": "2026-11-21T12:00:00Z",
        "end_time": "2026-11-21T13:00:00Z",
        "schedule": "hourly",
        "report": "s3://b/r/2026/11/21/13",
    }
    q = resolve_execution("now", "every:15m", output="s3://b/r", now=T("2026-11-21T13:07Z"))
    assert q.report_prefix == "s3://b/r/2026/11/21/13/00"
    d = resolve_execution("2020-01-09T13:00Z", None, "-P8D", "-P1D")
    assert (d.start, d.end, d.report_prefix) == (T("2020-01-01T13:00Z"), T("2020-01-08T13:00Z"), None)


def test_format_and_parse_time() -> None:
    assert format_time(T("2026-11-21T13:00Z")) == "2026-11-21T13:00:00Z"
    assert format_time(datetime(2026, 11, 21, 13)) == "2026-11-21T13:00:00Z"
    assert parse_time("2026-11-21T13:00:00.123456Z") == T("2026-11-21T13:00Z")
