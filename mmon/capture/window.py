"""Monitoring windows as SageMaker defines them, and the hour folders that hold a window's files.

A window is the half-open UTC interval ``[start, end)``. SageMaker's schedules give it as a
scheduled (execution) time plus two ISO 8601 offsets, ``StartTimeOffset`` / ``EndTimeOffset``
(``-PT1H`` / ``-PT0H`` for the hourly default, ``-P8D`` / ``-P1D`` for a week of data ending a day
ago): ``[scheduled + start_offset, scheduled + end_offset)``. Capture and ground-truth files live
in ``yyyy/mm/dd/hh`` folders named after the UTC hour they were written in, so the folders of a
window are computed, never discovered by listing a whole prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mmon.errors import InputError
from mmon.schedule import durations as schedule_durations

HOUR = timedelta(hours=1)


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """``-PT1H`` → -1 hour, ``-P1D`` → -1 day, ``-PT2D`` → -2 days (lenient), ``PT0H`` → 0.

    mmon's one duration grammar, shared with ``mmon run``: :func:`mmon.schedule.durations.parse_duration`.
    """
    return schedule_durations.parse_duration(text, what)


def format_duration(delta: timedelta) -> str:
    """The ISO 8601 form of a duration, e.g. ``-PT1H``, ``P1DT2H``, ``PT0S``."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{sign}P" + (f"{days}D" if days else "")
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{seconds}S" if seconds else "")
    if time:
        out += "T" + time
    elif not days:
        out += "T0S"
    return out


def parse_time(text: str, what: str = "time") -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; no zone means UTC (SageMaker's times are UTC).

    mmon's one time grammar, shared with ``mmon run``: :func:`mmon.schedule.durations.parse_time`.
    """
    return schedule_durations.parse_time(text, what)


def format_time(t: datetime) -> str:
    """``2024-01-31T13:00:00Z`` (SageMaker's form; fractions of a second only when present)."""
    t = t.astimezone(UTC)
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Window:
    """The half-open UTC interval ``[start, end)`` of one monitoring run."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window times must be timezone-aware")
        if not self.start < self.end:
            raise InputError(
                f"empty window: start {format_time(self.start)} is not before end {format_time(self.end)}"
            )

    @classmethod
    def from_schedule(cls, scheduled: datetime, start_offset: timedelta, end_offset: timedelta) -> Window:
        """SageMaker's window: ``[scheduled + start_offset, scheduled + end_offset)``."""
        try:
            return cls(scheduled + start_offset, scheduled + end_offset)
        except OverflowError:
            raise InputError(
                f"the window of {format_time(scheduled)} with these offsets falls outside the calendar (years 1-9999)"
            ) from None

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def hours(self, before: timedelta = timedelta(0), after: timedelta = timedelta(0)) -> list[datetime]:
        """The UTC hours whose folders can hold records of ``[start - before, end + after)``."""
        return list(iter_hours(self.start - before, self.end + after))

    def to_dict(self) -> dict[str, str]:
        return {"start": format_time(self.start), "end": format_time(self.end)}


def iter_hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every hour ``h`` (floored) with ``[h, h+1h)`` intersecting ``[start, end)``."""
    h = floor_hour(start)
    while h < end:
        yield h
        h += HOUR


def hour_folder(hour: datetime) -> str:
    """``yyyy/mm/dd/hh`` of an hour, SageMaker's capture and ground-truth layout."""
    h = hour.astimezone(UTC)
    return f"{h.year:04d}/{h.month:02d}/{h.day:02d}/{h.hour:02d}"


def resolve_window(
    start_time: str | None = None,
    end_time: str | None = None,
    scheduled_time: str | None = None,
    start_offset: str | None = None,
    end_offset: str | None = None,
    now: datetime | None = None,
) -> Window:
    """The window from command-line style options.

    Either ``start_time`` and ``end_time`` together, or a scheduled time with offsets. Without a
    scheduled time the current hour (floored) is used, and the offsets default to SageMaker's
    hourly ``-PT1H`` / ``-PT0H``: the previous full hour.
    """
    explicit = start_time is not None or end_time is not None
    scheduled = scheduled_time is not None or start_offset is not None or end_offset is not None
    if explicit and scheduled:
        raise InputError("give either --start-time/--end-time or --scheduled-time with offsets, not both")
    if explicit:
        if start_time is None or end_time is None:
            raise InputError("--start-time and --end-time go together")
        return Window(parse_time(start_time, "--start-time"), parse_time(end_time, "--end-time"))
    # An empty --scheduled-time is an error (parse_time says so), not "the current hour".
    base = parse_time(scheduled_time, "--scheduled-time") if scheduled_time is not None else floor_hour(now or datetime.now(UTC))
    so = parse_duration(start_offset or "-PT1H", "--start-offset")
    eo = parse_duration(end_offset or "-PT0H", "--end-offset")
    return Window.from_schedule(base, so, eo)
