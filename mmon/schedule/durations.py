"""ISO-8601 durations as SageMaker writes window offsets: ``-PT1H``, ``-P1D``, ``-PT0H``, ``-PT30M``.

Semantics (UTC only, every unit a fixed length):

- an optional sign, ``P``, then weeks / days, then after ``T`` hours / minutes / seconds:
  ``-P1DT6H``, ``-PT90M``, ``-P2W``, ``PT0H``, ``-PT1.5S``;
- lenient, like SageMaker's own example: a day count after ``T`` is read as days (``-PT2D`` =
  ``-P2D``);
- refused: years and months (``P1Y``, ``P1M`` — no fixed length; SageMaker's guide reads ``M`` as
  minutes, ISO 8601 as months: write ``-PT30M`` for minutes, ``-P30D`` for days), an empty
  duration (``P``, ``PT``) and anything else.
"""

from __future__ import annotations

import re
from datetime import timedelta

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
    value = timedelta(weeks=weeks, days=days + tdays, hours=hours, minutes=minutes, seconds=seconds)
    return -value if m.group("sign") == "-" else value


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
