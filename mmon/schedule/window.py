"""Scheduled time, data window and report folder of one execution (SageMaker's rules, UTC only).

- **Window** = ``[scheduled + start_offset, scheduled + end_offset)``; offsets are zero or negative
  ISO-8601 durations (``-PT1H``, ``-P1D``, lenient ``-PT2D``), as SageMaker's ``StartTimeOffset`` /
  ``EndTimeOffset``. Without offsets SageMaker looks at the previous schedule period; mmon does the
  same: the end offset defaults to ``-PT0H`` and the start offset to minus the schedule's period at
  that time (the gap since the run before): ``-PT1H`` hourly, ``-P1D`` daily, ``-PT6H`` for
  ``every:6h``, ``-P3D`` for the Monday run of a weekday schedule, ``-PT15M`` every 15 minutes.
  Consecutive executions therefore tile time without gaps or overlaps. Without a schedule (and for
  ``now``) the default start offset is ``-PT1H``.
- **Scheduled time** ``now`` = the latest time on the schedule at or before the clock (cron starts
  jobs a little late; a systemd timer catching up after a reboot can start hours late: the run
  still belongs to the latest slot, and earlier missed slots are run with an explicit time).
  Without a recurring schedule ``now`` is the start of the current hour. An explicit ISO-8601 time
  is used as given (seconds kept, naive times are UTC, other zones converted to UTC).
- **Report folder** = ``OUT/yyyy/mm/dd/hh`` with ``hh`` the scheduled hour, as SageMaker writes
  ``{output}/{endpoint}/{schedule}/yyyy/mm/dd/hh``: put the endpoint and schedule names in OUT to
  get SageMaker's exact layout. Schedules that can run more than once an hour (mmon-only, e.g.
  ``every:15m``) add a minute folder, ``OUT/yyyy/mm/dd/hh/mm``, so no execution overwrites another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mmon.errors import InputError
from mmon.schedule.durations import format_duration, parse_duration
from mmon.schedule.durations import parse_time as parse_any_time
from mmon.schedule.expressions import Schedule, as_utc, parse_schedule, period_at, previous_time
from mmon.store import join

DEFAULT_START_OFFSET = "-PT1H"
DEFAULT_END_OFFSET = "-PT0H"


def format_time(t: datetime) -> str:
    """``2026-11-21T13:00:00Z``: SageMaker's ``start_time`` / ``end_time`` format."""
    return as_utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, what: str = "time") -> datetime:
    """An ISO-8601 time (``2026-11-21T13:00Z``, ``2026-11-21 13:00``, ``2026-11-21``) in UTC, to the
    second (mmon's one time grammar: :func:`mmon.schedule.durations.parse_time`)."""
    return parse_any_time(text, what).replace(microsecond=0)


def parse_scheduled_time(text: str, schedule: Schedule | None = None, now: datetime | None = None) -> datetime:
    """``now`` or an ISO-8601 time → the scheduled time of an execution (UTC).

    ``now`` maps to the latest execution time of ``schedule`` at or before the clock, or to the
    start of the current hour when there is no recurring schedule.
    """
    if (text or "").strip().lower() == "now":
        clock = as_utc(now or datetime.now(UTC))
        if schedule is None or schedule.is_now:
            return clock.replace(minute=0, second=0, microsecond=0)
        return previous_time(schedule, clock)
    return parse_time(text, "--scheduled-time")


def _offset(value: str | timedelta, what: str) -> timedelta:
    delta = value if isinstance(value, timedelta) else parse_duration(value, what)
    if delta > timedelta(0):
        raise InputError(
            f"{what} {format_duration(delta)} lies after the scheduled time: offsets are zero or negative "
            "(-PT1H, -P1D), as in SageMaker"
        )
    return delta


def default_start_offset(schedule: Schedule | None, scheduled: datetime) -> timedelta:
    """Minus the schedule's period at ``scheduled`` (-PT1H hourly, -P1D daily); -PT1H without one."""
    if schedule is None or schedule.is_now:
        return parse_duration(DEFAULT_START_OFFSET)
    return -period_at(schedule, scheduled)


def execution_window(
    scheduled: datetime,
    start_offset: str | timedelta | None = None,
    end_offset: str | timedelta | None = None,
    schedule: Schedule | None = None,
) -> tuple[datetime, datetime]:
    """``[scheduled + start_offset, scheduled + end_offset)`` in UTC; defaults as the module says."""
    scheduled = as_utc(scheduled)
    end_delta = _offset(end_offset if end_offset is not None else DEFAULT_END_OFFSET, "--end-offset")
    try:
        if start_offset is None:
            start = scheduled + end_delta + default_start_offset(schedule, scheduled)
        else:
            start = scheduled + _offset(start_offset, "--start-offset")
        end = scheduled + end_delta
    except OverflowError:
        raise InputError(
            f"the window of {format_time(scheduled)} with these offsets falls outside the calendar (years 1-9999)"
        ) from None
    if start >= end:
        raise InputError(
            f"the window is empty: it would start at {format_time(start)} and end at {format_time(end)} "
            "(the start offset must be more negative than the end offset)"
        )
    return start, end


def report_prefix(output: str, scheduled: datetime, minute_folder: bool = False) -> str:
    """``OUT/yyyy/mm/dd/hh`` (``…/hh/mm`` with ``minute_folder``) for the scheduled time."""
    t = as_utc(scheduled)
    parts = [f"{t.year:04d}", f"{t.month:02d}", f"{t.day:02d}", f"{t.hour:02d}"]
    if minute_folder:
        parts.append(f"{t.minute:02d}")
    return join(output, *parts)


def window_hours(start: datetime, end: datetime) -> list[datetime]:
    """The hours whose ``yyyy/mm/dd/hh`` folders can hold data of ``[start, end)``.

    Capture and ground truth are stored by hour, so these are the folders to read; records must
    still be filtered by their own time (SageMaker: "we sometimes download more").
    """
    t = as_utc(start).replace(minute=0, second=0, microsecond=0)
    end = as_utc(end)
    hours = []
    while t < end:
        hours.append(t)
        t += timedelta(hours=1)
    return hours


@dataclass(frozen=True)
class Execution:
    """Everything ``mmon run --scheduled-time`` needs to know about one execution."""

    scheduled: datetime
    start: datetime
    end: datetime
    schedule: Schedule | None
    report_prefix: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "scheduled_time": format_time(self.scheduled),
            "start_time": format_time(self.start),
            "end_time": format_time(self.end),
            "schedule": self.schedule.text if self.schedule else None,
            "report": self.report_prefix,
        }


def resolve_execution(
    scheduled_time: str,
    schedule: str | Schedule | None = None,
    start_offset: str | None = None,
    end_offset: str | None = None,
    output: str | None = None,
    now: datetime | None = None,
) -> Execution:
    """One call for ``mmon run --scheduled-time T|now [--schedule-expression E] [--start-offset …]``."""
    sched = parse_schedule(schedule) if isinstance(schedule, str) else schedule
    scheduled = parse_scheduled_time(scheduled_time, sched, now)
    start, end = execution_window(scheduled, start_offset, end_offset, sched)
    prefix = report_prefix(output, scheduled, bool(sched and sched.sub_hourly)) if output else None
    return Execution(scheduled=scheduled, start=start, end=end, schedule=sched, report_prefix=prefix)
