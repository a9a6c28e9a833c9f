"""mmon's one time and duration grammar (``run``, ``capture-merge``, ``schedule-print``, the library).

ISO-8601 durations as SageMaker writes window offsets: ``-PT1H``, ``-P1D``, ``-PT0H``, ``-PT30M``.

Semantics (UTC only, every unit a fixed length):

- an optional sign, ``P``, then weeks / days, then after ``T`` hours / minutes / seconds:
  ``-P1DT6H``, ``-PT90M``, ``-P2W``, ``PT0H``, ``-PT1.5S``;
- lenient, like SageMaker's own example: a day count after ``T`` is read as days (``-PT2D`` =
  ``-P2D``);
- refused: years and months (``P1Y``, ``P1M`` — no fixed length; SageMaker's guide reads ``M`` as
  minutes, ISO 8601 as months: write ``-PT30M`` for minutes, ``-P30D`` for days), an empty
  duration (``P``, ``PT``) and anything else.
- decimals with a point or a comma (ISO 8601 allows both): ``-PT1.5H``, ``-P1,5D``.

Times (:func:`parse_time`): ISO 8601 as Python's ``datetime.fromisoformat`` reads it
(``2026-11-21T13:00Z``, ``2026-11-21 13:00``, ``2026-11-21T13``, ``2026-11-21``, basic forms such as
``20261121T1300Z``, fractions of a second), plus a lower-case ``z``; no zone means UTC (SageMaker's
times are UTC), other zones are converted. Returned as an aware UTC datetime.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mmon.errors import InputError

_NUM = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"^(?P<sign>[+-])?P(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?:{_NUM}D)?(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """Parse a signed ISO-8601 duration into a timedelta (negative for ``-P…``)."""
    s = (text or "").strip()
    m = _DURATION.match(s)
    if not m or s.upper().endswith(("P", "T")):
        hint = ""
        if re.match(r"^[+-]?P\d+(?:[.,]\d+)?[YM]", s, re.IGNORECASE):
            hint = " (years and months have no fixed length: write minutes as -PT30M, days as -P30D)"
        raise InputError(
            f"{what} {text!r}: expected an ISO-8601 duration such as -PT1H, -P1D or -PT0H{hint}"
        )
    weeks, days, tdays, hours, minutes, seconds = (float(g.replace(",", ".")) if g else 0.0 for g in m.groups()[1:])
    try:
        value = timedelta(weeks=weeks, days=days + tdays, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise InputError(f"{what} {text!r}: longer than any window can be ({MAX_DAYS} days at most)") from None
    if abs(value) > timedelta(days=MAX_DAYS):
        raise InputError(f"{what} {text!r}: longer than any window can be ({MAX_DAYS} days at most)")
    return -value if m.group("sign") == "-" else value


# Durations and times stay where date arithmetic cannot overflow: offsets up to 1000 years, times
# in the years 1970-8999 (a window or a schedule never needs more; datetime ends at year 9999).
MAX_DAYS = 365_000
MIN_YEAR, MAX_YEAR = 1970, 8999

_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H",
    "%Y-%m-%d",
)


def parse_time(text: str | None, what: str = "time") -> datetime:
    """An ISO-8601 time as an aware UTC datetime (fractions of a second kept); see the module docstring."""
    s = (text or "").strip()
    example = "expected an ISO-8601 time such as 2026-11-21T13:00Z"
    if not s:
        raise InputError(f"{what} is empty: {example}")
    if s.endswith("z"):
        s = s[:-1] + "Z"
    t: datetime | None = None
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        alt = (s[:-1] + "+00:00") if s.endswith("Z") else s
        alt = alt.replace(" ", "T", 1) if "T" not in alt else alt
        for fmt in _TIME_FORMATS:
            try:
                t = datetime.strptime(alt, fmt)
                break
            except ValueError:
                continue
    if t is None:
        raise InputError(f"{what} {text!r}: {example}")
    try:
        t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except OverflowError:
        t = None
    if t is None or not MIN_YEAR <= t.year <= MAX_YEAR:
        raise InputError(f"{what} {text!r}: outside the years {MIN_YEAR}-{MAX_YEAR} mmon works with")
    return t


def format_time(t: datetime) -> str:
    """``2026-11-21T13:00:00Z``: SageMaker's form of a time (CloudWatch's ``Timestamp``, ``start_time``)."""
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_run_times(metric_time: str | None, scheduled_time: str | None) -> str | None:
    """``mmon run``'s ``--metric-time`` in SageMaker's form (refused when it is not a time), and an
    empty ``--scheduled-time`` refused (it would otherwise mean an unscheduled run)."""
    if scheduled_time is not None and not scheduled_time.strip():
        raise InputError("--scheduled-time is empty: give an ISO-8601 time such as 2026-11-21T13:00Z, or now")
    if metric_time is None:
        return None
    return format_time(parse_time(metric_time, "--metric-time"))


def format_duration(value: timedelta) -> str:
    """The shortest ISO-8601 text for a whole-second timedelta: ``-PT1H``, ``-P1D``, ``PT0H``."""
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total == 0:
        return "PT0H"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{sign}P"
    if days:
        out += f"{days}D"
    if hours or minutes or seconds:
        out += "T"
        if hours:
            out += f"{hours}H"
        if minutes:
            out += f"{minutes}M"
        if seconds:
            out += f"{seconds}S"
    return out
