"""Schedule expressions → next execution times, checked against hand-computed tables (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter

from mmon.errors import EXIT_INPUT, InputError
from mmon.schedule.durations import format_duration, parse_duration
from mmon.schedule.expressions import (
    next_times,
    on_schedule,
    parse_schedule,
    period_at,
    previous_time,
    shortest_period,
)
from tests.schedule.utc import T

# Each row: expression, start (exclusive), the next times worked out by hand with a calendar.
TABLES = [
    # hourly across a month end
    ("cron(0 * ? * * *)", "2026-01-31T22:30Z", ["2026-01-31T23:00Z", "2026-02-01T00:00Z", "2026-02-01T01:00Z"]),
    ("hourly", "2026-01-31T22:30Z", ["2026-01-31T23:00Z", "2026-02-01T00:00Z", "2026-02-01T01:00Z"]),
    # every 6 hours through a leap day into March
    (
        "cron(0 0/6 ? * * *)",
        "2028-02-28T19:00Z",
        ["2028-02-29T00:00Z", "2028-02-29T06:00Z", "2028-02-29T12:00Z", "2028-02-29T18:00Z", "2028-03-01T00:00Z"],
    ),
    # 17/12: the step restarts every day, so once a day at 17:00 (over a year end)
    ("cron(0 17/12 ? * * *)", "2026-12-30T18:00Z", ["2026-12-31T17:00Z", "2027-01-01T17:00Z", "2027-01-02T17:00Z"]),
    ("cron(0 5/12 ? * * *)", "2026-12-31T06:00Z", ["2026-12-31T17:00Z", "2027-01-01T05:00Z", "2027-01-01T17:00Z"]),
    # daily:5 from a start exactly on a run (strictly after), over a non-leap February end
    ("daily:5", "2027-02-27T05:00Z", ["2027-02-28T05:00Z", "2027-03-01T05:00Z", "2027-03-02T05:00Z"]),
    # ... and over a leap February end
    ("daily:5", "2028-02-28T05:00Z", ["2028-02-29T05:00Z", "2028-03-01T05:00Z"]),
    # daily over the year end
    ("daily", "2026-12-31T00:00Z", ["2027-01-01T00:00Z", "2027-01-02T00:00Z"]),
    ("cron(0 0 ? * * *)", "2026-12-31T23:59:59Z", ["2027-01-01T00:00Z"]),
    # every:4h = cron(0 0/4 ? * * *) into the new year
    ("every:4h", "2026-12-31T21:59:59Z", ["2027-01-01T00:00Z", "2027-01-01T04:00Z", "2027-01-01T08:00Z"]),
    ("every:4", "2026-12-31T16:00Z", ["2026-12-31T20:00Z", "2027-01-01T00:00Z"]),
    # every:5h: 0,5,10,15,20 then midnight again (a 4-hour gap), over a month end
    ("every:5h", "2026-06-30T19:00Z", ["2026-06-30T20:00Z", "2026-07-01T00:00Z", "2026-07-01T05:00Z"]),
    # every:12h@17 = daily_every_x_hours(12, starting_hour=17)
    ("every:12h@17", "2026-04-30T17:00Z", ["2026-05-01T17:00Z"]),
    # every 15 minutes, 5-field, past midnight of a leap day
    ("*/15 * * * *", "2028-02-29T23:40Z", ["2028-02-29T23:45Z", "2028-03-01T00:00Z", "2028-03-01T00:15Z"]),
    ("every:15m", "2028-02-29T23:40Z", ["2028-02-29T23:45Z", "2028-03-01T00:00Z", "2028-03-01T00:15Z"]),
    # Feb 29 only: leap years
    ("cron(0 0 29 2 ? *)", "2026-01-01T00:00Z", ["2028-02-29T00:00Z", "2032-02-29T00:00Z", "2036-02-29T00:00Z"]),
    ("0 0 29 2 *", "2028-02-29T00:00Z", ["2032-02-29T00:00Z"]),
    # month ends: the 31st skips short months
    ("cron(0 0 31 * ? *)", "2026-01-31T00:00Z", ["2026-03-31T00:00Z", "2026-05-31T00:00Z", "2026-07-31T00:00Z"]),
    # weekdays: AWS numbering (MON-FRI = 2-6) over a weekend; 2026-11-20 is a Friday
    ("cron(0 12 ? * MON-FRI *)", "2026-11-20T13:00Z", ["2026-11-23T12:00Z", "2026-11-24T12:00Z"]),
    ("cron(0 12 ? * 2-6 *)", "2026-11-20T13:00Z", ["2026-11-23T12:00Z", "2026-11-24T12:00Z"]),
    ("cron(0 9 ? * 1 *)", "2026-11-20T00:00Z", ["2026-11-22T09:00Z", "2026-11-29T09:00Z"]),  # 1 = Sunday
    ("0 9 * * 7", "2026-11-20T00:00Z", ["2026-11-22T09:00Z"]),  # cron's 7 = Sunday
    # crontab's day-of-month OR day-of-week: the 1st or a Monday (2026-11-28 is a Saturday)
    ("0 0 1 * 1", "2026-11-28T00:00Z", ["2026-11-30T00:00Z", "2026-12-01T00:00Z", "2026-12-07T00:00Z"]),
    # macros
    ("@daily", "2026-12-31T12:00Z", ["2027-01-01T00:00Z"]),
    ("@monthly", "2028-02-15T00:00Z", ["2028-03-01T00:00Z"]),
    # the next year's first hour from the last second of a year
    ("hourly", "2027-12-31T23:59:59Z", ["2028-01-01T00:00Z"]),
]


@pytest.mark.parametrize(("expression", "start", "expected"), TABLES)
def test_next_times_hand_computed(expression: str, start: str, expected: list[str]) -> None:
    s = parse_schedule(expression)
    got = next_times(s, T(start), len(expected))
    assert got == [T(e) for e in expected]
    assert all(t.tzinfo is UTC for t in got)


def test_next_times_are_strictly_after_start_and_naive_means_utc() -> None:
    s = parse_schedule("hourly")
    assert next_times(s, T("2026-11-21T13:00Z"), 1) == [T("2026-11-21T14:00Z")]
    assert next_times(s, datetime(2026, 11, 21, 13, 0), 1) == [T("2026-11-21T14:00Z")]
    # another zone is converted: 15:30+02:00 is 13:30Z
    assert next_times(s, datetime.fromisoformat("2026-11-21T15:30+02:00"), 1) == [T("2026-11-21T14:00Z")]
    assert next_times(s, T("2026-11-21T13:00Z"), 0) == []


@pytest.mark.parametrize(
    ("expression", "cron5", "sagemaker", "valid"),
    [
        ("hourly", "0 * * * *", "cron(0 * ? * * *)", True),
        ("daily", "0 0 * * *", "cron(0 0 ? * * *)", True),
        ("daily:5", "0 5 * * *", "cron(0 5 ? * * *)", True),  # CronExpressionGenerator.daily(5): no padding
        ("every:4h", "0 */4 * * *", "cron(0 0/4 ? * * *)", True),
        ("every:12h@17", "0 17 * * *", "cron(0 17/12 ? * * *)", True),
        ("now", "", "NOW", True),
        ("NOW", "", "NOW", True),
        ("cron(0 * ? * * *)", "0 * * * *", "cron(0 * ? * * *)", True),
        ("cron(0  0/6  ? * * *)", "0 */6 * * *", "cron(0 0/6 ? * * *)", True),
        ("cron(0 17/12 ? * * *)", "0 17 * * *", "cron(0 17/12 ? * * *)", True),
        ("cron(0 05 ? * * *)", "0 5 * * *", "cron(0 05 ? * * *)", True),
        ("cron(0 */6 ? * * *)", "0 */6 * * *", "cron(0 0/6 ? * * *)", False),
        ("cron(0 * * * ? *)", "0 * * * *", "cron(0 * ? * * *)", False),
        ("0 */6 * * *", "0 */6 * * *", "cron(0 0/6 ? * * *)", False),
        ("0 1-23/2 * * *", "0 1-23/2 * * *", "cron(0 1/2 ? * * *)", False),
        ("*/15 * * * *", "*/15 * * * *", None, False),
        ("every:15m", "*/15 * * * *", None, False),
        ("30 * * * *", "30 * * * *", None, False),
        ("cron(0 12 ? * MON-FRI *)", "0 12 * * 1-5", None, False),
        ("cron(0 0 ? JAN,jul 1 *)", "0 0 * 1,7 0", None, False),
    ],
)
def test_translation_and_sagemaker_validity(expression: str, cron5: str, sagemaker: str | None, valid: bool) -> None:
    s = parse_schedule(expression)
    assert s.cron5 == cron5
    assert s.sagemaker == sagemaker
    assert s.sagemaker_valid is valid
    if cron5:
        assert croniter.is_valid(cron5)


def test_notes() -> None:
    assert parse_schedule("hourly").note is None
    assert parse_schedule("cron(0 0/6 ? * * *)").note is None
    quarter = parse_schedule("*/15 * * * *")
    assert "SageMaker would refuse" in quarter.note and "mmon runs it as written" in quarter.note
    assert quarter.sub_hourly and not parse_schedule("hourly").sub_hourly
    assert "equivalent is cron(0 0/6 ? * * *)" in parse_schedule("cron(0 */6 ? * * *)").note
    once = parse_schedule("cron(0 17/12 ? * * *)").note
    assert "once a day at 17:00" in once and "cron(0 5/12 ? * * *)" in once
    uneven = parse_schedule("every:5h").note
    assert "not evenly spaced" in uneven and "4h" in uneven and "5h" in uneven


def test_describe_words_the_expression() -> None:
    assert parse_schedule("hourly").describe() == "Every hour"
    assert parse_schedule("daily:5").describe() == "At 05:00"
    assert parse_schedule("cron(0 5/12 ? * * *)").describe() == "At 05:00 and 17:00"
    assert parse_schedule("now").describe() == "Once, now"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("", "empty"),
        ("hello", "not a schedule expression"),
        ("rate(1 hour)", "rate()"),
        ("cron(0 * ? * * *", "closing )"),
        ("cron(0 * ? *)", "needs 6 fields"),
        ("cron(0 24 ? * * *)", "24 is out of range 0-23"),
        ("cron(60 * ? * * *)", "60 is out of range 0-59"),
        ("cron(0 * ? * 8 *)", "8 is out of range 1-7"),
        ("cron(0 * ? * ? *)", "only one of day-of-month and day-of-week"),
        ("cron(0 * 1 * MON *)", "both set"),
        ("cron(0 * ? * * 2027)", "year"),
        ("cron(0 ? ? * * *)", "? is only allowed"),
        ("cron(0 0 L * ? *)", "L, W and #"),
        ("cron(0 0 ? * 6#3 *)", "L, W and #"),
        ("cron(0 0 15W * ? *)", "L, W and #"),
        ("cron(0 5-2 ? * * *)", "goes backwards"),
        ("cron(0 */0 ? * * *)", "never runs"),
        ("cron(0 0 ? FOO * *)", "unknown name"),
        ("* * * *", "needs 5 fields"),
        ("0 * * * * *", "wrap SageMaker's six-field"),
        ("0 0 L * *", "L, W and #"),
        ("daily:24", "0-23"),
        ("every:0h", "1-24"),
        ("every:25h", "1-24"),
        ("every:60m", "1-59"),
        ("every:7m@3", "no @start"),
        ("every:2d", "presets are"),
        ("@reboot", "unknown macro"),
    ],
)
def test_invalid_expressions_are_refused_with_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_schedule(expression)
    assert reason in str(exc.value)
    assert exc.value.exit_code == EXIT_INPUT
    assert "\n" not in str(exc.value)


def test_previous_time_and_on_schedule() -> None:
    hourly = parse_schedule("hourly")
    assert previous_time(hourly, T("2026-11-21T13:00:00Z")) == T("2026-11-21T13:00Z")
    assert previous_time(hourly, T("2026-11-21T13:59:59Z")) == T("2026-11-21T13:00Z")
    assert previous_time(hourly, T("2026-11-21T12:59:59.999Z")) == T("2026-11-21T12:00Z")
    assert previous_time(parse_schedule("daily:5"), T("2028-03-01T04:59Z")) == T("2028-02-29T05:00Z")
    assert previous_time(parse_schedule("daily"), T("2027-01-01T00:00:30Z")) == T("2027-01-01T00:00Z")
    assert on_schedule(hourly, T("2026-11-21T13:00Z"))
    assert not on_schedule(hourly, T("2026-11-21T13:25Z"))
    assert not on_schedule(hourly, T("2026-11-21T13:00:01Z"))


@pytest.mark.parametrize(
    ("expression", "at", "period"),
    [
        ("hourly", "2026-11-21T13:00Z", timedelta(hours=1)),
        ("daily:5", "2028-03-01T05:00Z", timedelta(days=1)),
        ("every:6h", "2026-11-21T00:00Z", timedelta(hours=6)),
        ("every:5h", "2026-11-21T00:00Z", timedelta(hours=4)),  # 20:00 → 00:00
        ("every:5h", "2026-11-21T05:00Z", timedelta(hours=5)),
        ("cron(0 12 ? * MON-FRI *)", "2026-11-23T12:00Z", timedelta(days=3)),  # Monday: since Friday
        ("*/15 * * * *", "2026-11-21T13:15Z", timedelta(minutes=15)),
        ("hourly", "2026-11-21T13:25Z", timedelta(hours=1)),  # a time off the schedule
        ("now", "2026-11-21T13:25Z", timedelta(hours=1)),
    ],
)
def test_period_at(expression: str, at: str, period: timedelta) -> None:
    assert period_at(parse_schedule(expression), T(at)) == period


def test_shortest_period() -> None:
    assert shortest_period(parse_schedule("hourly")) == timedelta(hours=1)
    assert shortest_period(parse_schedule("every:5h")) == timedelta(hours=4)
    assert shortest_period(parse_schedule("*/15 * * * *")) == timedelta(minutes=15)
    assert shortest_period(parse_schedule("now")) == timedelta(hours=1)


def test_now_is_one_execution_at_the_hour() -> None:
    s = parse_schedule("now")
    assert s.is_now and s.sagemaker == "NOW"
    assert next_times(s, T("2026-11-21T13:42:10Z"), 5) == [T("2026-11-21T13:00Z")]


# -- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-PT1H", -timedelta(hours=1)),
        ("-PT0H", timedelta(0)),
        ("PT0H", timedelta(0)),
        ("-P1D", -timedelta(days=1)),
        ("-PT2D", -timedelta(days=2)),  # lenient, as SageMaker's own example writes it
        ("-P8D", -timedelta(days=8)),
        ("-PT30M", -timedelta(minutes=30)),
        ("-P1DT6H", -timedelta(days=1, hours=6)),
        ("-PT1H30M", -timedelta(hours=1, minutes=30)),
        ("-P2W", -timedelta(weeks=2)),
        ("-PT1.5H", -timedelta(hours=1.5)),
        ("-pt1h", -timedelta(hours=1)),
        ("+PT1H", timedelta(hours=1)),
    ],
)
def test_parse_duration(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize("text", ["", "P", "PT", "-PT", "1H", "-PT1X", "PT-1H", "-P1Y", "-P1M", "-P1DT"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_duration(text, "--start-offset")
    assert "--start-offset" in str(exc.value)


def test_months_get_a_hint() -> None:
    with pytest.raises(InputError, match="-PT30M"):
        parse_duration("-P30M")


@pytest.mark.parametrize("text", ["-PT1H", "PT0H", "-P1D", "-P1DT6H", "-PT15M", "-PT1H0M30S"])
def test_format_duration_round_trips(text: str) -> None:
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)
    assert format_duration(parse_duration("-PT24H")) == "-P1D"
