from datetime import UTC, datetime, timedelta

import pytest

from mmon.capture.window import (
    Window,
    format_duration,
    hour_folder,
    iter_hours,
    parse_duration,
    parse_time,
    resolve_window,
)
from mmon.errors import InputError


def t(s: str) -> datetime:
    return parse_time(s)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-PT1H", timedelta(hours=-1)),
        ("-PT0H", timedelta(0)),
        ("PT0H", timedelta(0)),
        ("-P1D", timedelta(days=-1)),
        ("-P8D", timedelta(days=-8)),
        ("-PT2D", timedelta(days=-2)),  # lenient: the DG's invalid example
        ("-PT7H", timedelta(hours=-7)),
        ("-PT30M", timedelta(minutes=-30)),
        ("-P1DT2H", timedelta(days=-1, hours=-2)),
        ("P1W", timedelta(weeks=1)),
        ("-PT1.5H", timedelta(hours=-1.5)),
        ("pt1h", timedelta(hours=1)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "-PT", "1H", "-P1M", "-P1Y", "P1DT", "-PT1X", "--PT1H"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InputError):
        parse_duration(text)


def test_months_are_refused_with_a_hint() -> None:
    with pytest.raises(InputError, match="months"):
        parse_duration("-P1M")


def test_format_duration() -> None:
    assert format_duration(timedelta(hours=-1)) == "-PT1H"
    assert format_duration(timedelta(days=1, hours=2)) == "P1DT2H"
    assert format_duration(timedelta(0)) == "PT0S"


def test_parse_time_forms_are_utc() -> None:
    expected = datetime(2021, 5, 18, 0, 29, 2, tzinfo=UTC)
    assert t("2021-05-18T00:29:02Z") == expected
    assert t("2021-05-18T02:29:02+02:00") == expected
    assert t("2021-05-18T00:29:02") == expected
    assert t("2021-05-18 00:29:02") == expected
    assert t("2021-05-18") == datetime(2021, 5, 18, tzinfo=UTC)
    with pytest.raises(InputError):
        t("yesterday")


def test_schedule_window_examples_from_the_developer_guide() -> None:
    # Hourly: execution at 23:00 reads 22:00-23:00.
    w = Window.from_schedule(t("2021-05-06T23:00:00Z"), parse_duration("-PT1H"), parse_duration("-PT0H"))
    assert (w.start, w.end) == (t("2021-05-06T22:00:00Z"), t("2021-05-06T23:00:00Z"))
    # -P8D / -P1D at 2020-01-09T13:00 analyse 2020-01-01T13:00 to 2020-01-08T13:00.
    w = Window.from_schedule(t("2020-01-09T13:00:00Z"), parse_duration("-P8D"), parse_duration("-P1D"))
    assert (w.start, w.end) == (t("2020-01-01T13:00:00Z"), t("2020-01-08T13:00:00Z"))


def test_window_is_half_open() -> None:
    w = Window(t("2024-01-01T22:00Z"), t("2024-01-01T23:00Z"))
    assert w.contains(t("2024-01-01T22:00:00Z"))
    assert w.contains(t("2024-01-01T22:59:59Z"))
    assert not w.contains(t("2024-01-01T23:00:00Z"))
    with pytest.raises(InputError, match="empty window"):
        Window(t("2024-01-01T23:00Z"), t("2024-01-01T23:00Z"))


def test_hours_of_a_window() -> None:
    one = Window(t("2024-01-01T22:00Z"), t("2024-01-01T23:00Z"))
    assert one.hours() == [t("2024-01-01T22:00Z")]
    straddle = Window(t("2024-01-01T22:30Z"), t("2024-01-01T23:30Z"))
    assert straddle.hours() == [t("2024-01-01T22:00Z"), t("2024-01-01T23:00Z")]
    assert len(Window(t("2024-01-01T00:00Z"), t("2024-01-02T00:00Z")).hours()) == 24
    assert one.hours(after=timedelta(hours=2)) == [t("2024-01-01T22:00Z"), t("2024-01-01T23:00Z"), t("2024-01-02T00:00Z")]
    assert one.hours(before=timedelta(hours=1))[0] == t("2024-01-01T21:00Z")
    assert list(iter_hours(t("2024-02-28T23:10Z"), t("2024-02-29T00:05Z"))) == [t("2024-02-28T23:00Z"), t("2024-02-29T00:00Z")]


def test_hour_folder() -> None:
    assert hour_folder(t("2021-05-06T22:15Z")) == "2021/05/06/22"
    assert hour_folder(parse_time("2021-05-07T00:15:00+02:00")) == "2021/05/06/22"


def test_resolve_window() -> None:
    now = t("2024-03-01T10:42:17Z")
    w = resolve_window(now=now)
    assert (w.start, w.end) == (t("2024-03-01T09:00Z"), t("2024-03-01T10:00Z"))
    w = resolve_window(scheduled_time="2024-03-01T10:00Z", start_offset="-P1D", end_offset="-PT0H")
    assert (w.start, w.end) == (t("2024-02-29T10:00Z"), t("2024-03-01T10:00Z"))
    w = resolve_window(start_time="2024-03-01T00:00Z", end_time="2024-03-01T06:00Z")
    assert len(w.hours()) == 6
    with pytest.raises(InputError, match="not both"):
        resolve_window(start_time="2024-03-01T00:00Z", end_time="2024-03-01T06:00Z", scheduled_time="2024-03-01T10:00Z")
    with pytest.raises(InputError, match="go together"):
        resolve_window(start_time="2024-03-01T00:00Z")
    with pytest.raises(InputError, match="empty window"):
        resolve_window(scheduled_time="2024-03-01T10:00Z", start_offset="-PT0H", end_offset="-PT1H")
