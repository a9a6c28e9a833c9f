"""Schedule expressions: SageMaker's ``cron()``, ``CronExpressionGenerator`` presets, ``now``, crontab lines.

Every expression is translated to one portable five-field crontab line (``cron5``: digits, ``*``,
``,``, ``-`` and ``/`` only, UTC), and the next execution times come from croniter. mmon has no
cron engine of its own; it only translates SageMaker's six-field syntax:

- ``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` (Amazon EventBridge syntax): ``?``
  becomes ``*``; day-of-week 1-7 = SUN-SAT becomes cron's 0-6; names become numbers; a step from
  a start value ``a/n`` becomes ``a-max/n`` (classic cron refuses ``a/n``); the year must be ``*``.
  ``L``, ``W`` and ``#`` are refused: crontab, systemd and Kubernetes cannot express them.
- a step restarts every day (hours) or every hour (minutes), as in every cron:
  ``cron(0 17/12 ? * * *)`` runs once a day at 17:00 although SageMaker's guide calls it "every 12
  hours, starting at 5 PM"; mmon says so in a note (05:00 and 17:00 is ``cron(0 5/12 ? * * *)``).
- presets named after ``CronExpressionGenerator``: ``hourly``, ``daily``, ``daily:H``,
  ``every:N``/``every:Nh`` (``daily_every_x_hours(N)``), ``every:Nh@S`` (``…(N, starting_hour=S)``),
  and mmon-only ``every:Nm`` (every N minutes); ``now`` (SageMaker's one-time ``NOW``);
  crontab macros ``@hourly``, ``@daily``, ``@midnight``, ``@weekly``, ``@monthly``, ``@yearly``.
- a five-field crontab line (``*/15 * * * *``), with cron's own day-of-month OR day-of-week rule.

SageMaker itself runs only ``cron(0 * ? * * *)``, ``cron(0 H ? * * *)``, ``cron(0 H/N ? * * *)``
(H 0-23, N 1-24) and ``NOW``. mmon runs anything cron can, and its note says when SageMaker would
refuse the expression and what the SageMaker equivalent is, if there is one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter

from mmon.errors import InputError

_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}  # cron numbering, SUN = 0

# (name, min, max) of the five crontab fields.
_FIELDS = (("minutes", 0, 59), ("hours", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))

_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

_SAGEMAKER_FORM = re.compile(r"^cron\(0 (\*|(?P<h>\d{1,2})(?:/(?P<n>\d{1,2}))?) \? \* \* \*\)$")

SAGEMAKER_RULE = "it runs only cron(0 * ? * * *), cron(0 H ? * * *), cron(0 H/N ? * * *) and NOW"

SAGEMAKER_SYNTAX = (
    "cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at H), cron(0 H/N ? * * *) (every N hours from H), "
    "a preset (hourly, daily, daily:H, every:Nh, every:Nh@H, every:Nm), now, or a crontab line such as '*/15 * * * *'"
)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule expression.

    ``cron5`` is the portable five-field crontab line in UTC ("" for ``now``); ``sagemaker`` the
    SageMaker ``ScheduleExpression`` that runs the same times, or None when SageMaker has none;
    ``sagemaker_valid`` whether the expression as given is one SageMaker accepts; ``note`` what a
    user should know (SageMaker would refuse it, a step restarts daily, runs are unevenly spaced).
    """

    text: str
    cron5: str
    sagemaker: str | None
    sagemaker_valid: bool
    note: str | None
    is_now: bool = False

    @property
    def sub_hourly(self) -> bool:
        """Whether the schedule can run more than once in one hour (then reports get a minute folder)."""
        if self.is_now:
            return False
        minutes = croniter(self.cron5).expanded[0]
        return minutes == ["*"] or len(minutes) > 1

    def describe(self) -> str:
        """The expression in words (cron-descriptor), e.g. "Every 6 hours", "At 05:00"."""
        if self.is_now:
            return "Once, now"
        try:
            from cron_descriptor import ExpressionDescriptor, Options
        except ImportError:  # pragma: no cover - optional dependency
            return self.cron5
        options = Options()
        options.use_24hour_time_format = True
        fields = self.cron5.split()
        hours = croniter(self.cron5).expanded[1]
        if "-" in fields[1] and "/" in fields[1] and hours != ["*"] and len(hours) <= 6:
            # "Every 12 hours, between 05:00 and 23:59" reads worse than "At 05:00 and 17:00".
            fields[1] = ",".join(str(h) for h in hours)
        try:
            return str(ExpressionDescriptor(" ".join(fields), options).get_description())
        except Exception:  # noqa: BLE001 - wording is a nicety, never an error
            return self.cron5


def _bad(text: str, reason: str) -> InputError:
    return InputError(f"schedule {text!r}: {reason}")


def _names_to_numbers(value: str, names: dict[str, int]) -> str:
    def sub(m: re.Match[str]) -> str:
        word = m.group(0).upper()
        if word not in names:
            raise ValueError(f"unknown name {m.group(0)!r}")
        return str(names[word])

    return re.sub(r"[A-Za-z]+", sub, value)


def _normalise_field(text: str, value: str, index: int, aws_weekday: bool = False) -> str:
    """Check one field and rewrite it in classic cron syntax (``a/n`` → ``a-max/n``; AWS 1-7 → 0-6)."""
    name, lo, hi = _FIELDS[index]
    if aws_weekday:
        lo, hi = 1, 7
    no_lw = f"{name} {value!r}: L, W and # cannot be run by cron, systemd or Kubernetes"
    if index in (3, 4):
        try:
            days = {d: n + 1 for d, n in _DAYS.items()} if aws_weekday else _DAYS  # AWS: SUN = 1
            value = _names_to_numbers(value, _MONTHS if index == 3 else days)
        except ValueError as exc:
            if re.search(r"(?<![A-Za-z])(L|W|LW)(?![A-Za-z])", value, re.IGNORECASE):
                raise _bad(text, no_lw) from None
            raise _bad(text, f"{name} {value!r}: {exc}") from None
    if re.search(r"[LW#]", value, re.IGNORECASE):
        raise _bad(text, no_lw)
    # cron's own bounds after translation (AWS weekdays 1-7 become 0-6).
    lo_c, hi_c = (0, 6) if aws_weekday else (lo, hi)
    items = []
    for item in value.split(","):
        m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", item)
        if not m:
            raise _bad(text, f"{name} {value!r}: expected numbers, ranges a-b, steps */n or a/n, lists a,b")
        star, a, b, step = m.group(1) == "*", m.group(2), m.group(3), m.group(4)
        nums = [int(x) for x in (a, b) if x is not None]
        for n in nums:
            if not lo <= n <= hi:
                raise _bad(text, f"{name}: {n} is out of range {lo}-{hi}")
        if b is not None and int(b) < int(a):
            raise _bad(text, f"{name}: the range {a}-{b} goes backwards")
        if step is not None and int(step) < 1:
            raise _bad(text, f"{name}: a step of {step} never runs")
        if aws_weekday:
            # EventBridge counts 1 = SUN … 7 = SAT; cron counts 0 = SUN … 6 = SAT.
            nums = [n - 1 for n in nums]
        if star:
            items.append("*" if step is None else f"*/{step}")
            continue
        first = nums[0]
        if step is None:
            items.append(str(first) if len(nums) == 1 else f"{first}-{nums[1]}")
            continue
        last = nums[1] if len(nums) == 2 else hi_c
        values = list(range(first, last + 1, int(step)))
        if len(values) == 1:
            items.append(str(values[0]))
        elif first == lo_c and len(nums) == 1:
            items.append(f"*/{step}")
        else:
            items.append(f"{first}-{last}/{step}")
    return ",".join(items)


def _from_aws(text: str, body: str) -> str:
    fields = body.split()
    if len(fields) != 6:
        raise _bad(
            text,
            f"cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}",
        )
    minute, hour, dom, month, dow, year = fields
    if year not in ("*", "?"):
        raise _bad(text, f"year {year!r}: only * can be run by cron, systemd or Kubernetes")
    if dom == "?" and dow == "?":
        raise _bad(text, "only one of day-of-month and day-of-week may be ?")
    if "?" not in (dom, dow) and dom != "*" and dow != "*":
        raise _bad(
            text,
            "day-of-month and day-of-week are both set: use ? in one of them "
            "(cron would run on either day, SageMaker refuses it)",
        )
    for value in (minute, hour, month):
        if "?" in value:
            raise _bad(text, "? is only allowed in day-of-month or day-of-week")
    out = [
        _normalise_field(text, minute, 0),
        _normalise_field(text, hour, 1),
        "*" if dom == "?" else _normalise_field(text, dom, 2),
        _normalise_field(text, month, 3),
        "*" if dow == "?" else _normalise_field(text, dow, 4, aws_weekday=True),
    ]
    return " ".join(out)


def _from_crontab(text: str, line: str) -> str:
    fields = line.split()
    if len(fields) != 5:
        if len(fields) > 1 and re.fullmatch(r"[\d*?,/\-A-Za-z ]+", line) and re.search(r"[\d*]", line):
            hint = "; wrap SageMaker's six-field expressions in cron(...)" if len(fields) == 6 else ""
            raise _bad(text, f"a crontab line needs 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}{hint}")
        raise _bad(text, f"not a schedule expression; expected {SAGEMAKER_SYNTAX}")
    out = []
    for i, value in enumerate(fields):
        if value == "?" and i in (2, 4):
            value = "*"
        out.append(_normalise_field(text, value, i))
    # Sunday may be written 7; croniter and every cron accept it, systemd conversion uses croniter's 0.
    return " ".join(out)


def _preset(text: str, word: str) -> tuple[str | None, str | None] | None:
    """A preset's SageMaker expression (exactly as CronExpressionGenerator writes it) or its cron5."""
    w = word.lower()
    if w == "hourly":
        return "cron(0 * ? * * *)", None
    if w == "daily":
        return "cron(0 0 ? * * *)", None
    m = re.fullmatch(r"daily:(\d{1,2})", w)
    if m:
        hour = int(m.group(1))
        if hour > 23:
            raise _bad(text, f"daily:H needs an hour 0-23, got {hour}")
        return f"cron(0 {hour} ? * * *)", None
    m = re.fullmatch(r"every:(\d+)(h|m)?(?:@(\d{1,2}))?", w)
    if m:
        n, unit, start = int(m.group(1)), m.group(2) or "h", m.group(3)
        if unit == "m":
            if start is not None:
                raise _bad(text, "every:Nm takes no @start")
            if not 1 <= n <= 59:
                raise _bad(text, f"every:Nm needs 1-59 minutes, got {n} (use every:Nh for hours)")
            return None, f"{'*' if n == 1 else f'*/{n}'} * * * *"
        first = int(start) if start is not None else 0
        if not 1 <= n <= 24:
            raise _bad(text, f"every:Nh needs 1-24 hours, got {n}")
        if first > 23:
            raise _bad(text, f"every:Nh@S needs a starting hour 0-23, got {first}")
        return f"cron(0 {first}/{n} ? * * *)", None
    if w.startswith(("daily", "every", "hourly")):
        raise _bad(text, "presets are hourly, daily, daily:H (H 0-23), every:Nh (N 1-24), every:Nh@H, every:Nm")
    return None


def _equivalent_sagemaker(cron5: str) -> str | None:
    """The SageMaker expression that runs exactly the times of ``cron5``, if SageMaker has one."""
    minute, hours, dom, month, dow = croniter(cron5).expanded
    if minute != [0] or dom != ["*"] or month != ["*"] or dow != ["*"]:
        return None
    if hours == ["*"]:
        return "cron(0 * ? * * *)"
    if len(hours) == 1:
        return f"cron(0 {hours[0]} ? * * *)"
    step = hours[1] - hours[0]
    if hours == list(range(hours[0], 24, step)):
        return f"cron(0 {hours[0]}/{step} ? * * *)"
    return None


def _spacing_note(cron5: str) -> str | None:
    """Say when runs are not evenly spaced (a step that restarts at midnight, weekdays, …)."""
    start = datetime(2028, 2, 20, tzinfo=UTC)  # a leap-year February, so month ends show up
    it = croniter(cron5, start)
    times = [it.get_next(datetime) for _ in range(120)]
    gaps = sorted({b - a for a, b in zip(times, times[1:], strict=False)})
    if len(gaps) <= 1:
        return None
    shown = ", ".join(_span(g) for g in gaps[:4]) + (", …" if len(gaps) > 4 else "")
    return (
        f"runs are not evenly spaced (gaps of {shown}); without --start-offset each run looks at the "
        "time since the run before it"
    )


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}min" if mins else ""]
    return "".join(p for p in parts if p) or "0min"


def parse_schedule(text: str) -> Schedule:
    """Parse a schedule expression; an invalid one raises InputError (exit 2) with the reason."""
    raw = (text or "").strip()
    if not raw:
        raise _bad(text, f"empty; expected {SAGEMAKER_SYNTAX}")
    if raw.lower() == "now":
        return Schedule(text=raw, cron5="", sagemaker="NOW", sagemaker_valid=True, note=None, is_now=True)
    if raw.lower().startswith("rate("):
        raise _bad(text, "rate() expressions are not schedule expressions of SageMaker; use every:Nh or cron(...)")

    given_sagemaker: str | None = None
    preset = _preset(text, raw)
    if preset is not None:
        given_sagemaker, cron5_preset = preset
        if given_sagemaker is None:
            assert cron5_preset is not None
            cron5 = _from_crontab(text, cron5_preset)
        else:
            cron5 = _from_aws(text, given_sagemaker[5:-1])
        valid = given_sagemaker is not None
    elif raw.lower().startswith("cron("):
        if not raw.endswith(")"):
            raise _bad(text, "cron( without its closing )")
        body = raw[5:-1].strip()
        cron5 = _from_aws(text, body)
        canonical = "cron(" + " ".join(body.split()) + ")"
        valid = _sagemaker_form_ok(canonical)
        if valid:
            given_sagemaker = canonical
    elif raw.startswith("@"):
        if raw.lower() not in _MACROS:
            raise _bad(text, f"unknown macro; expected one of {', '.join(sorted(_MACROS))}")
        cron5 = _from_crontab(text, _MACROS[raw.lower()])
        valid = False
    else:
        cron5 = _from_crontab(text, raw)
        valid = False

    if not croniter.is_valid(cron5):  # pragma: no cover - the checks above are stricter
        raise _bad(text, f"not a valid cron expression ({cron5})")
    _check_fires(text, cron5)
    equivalent = given_sagemaker or _equivalent_sagemaker(cron5)

    notes = []
    if not valid:
        if equivalent:
            notes.append(f"not valid on SageMaker as written; SageMaker's equivalent is {equivalent}")
        else:
            notes.append(f"SageMaker would refuse this schedule ({SAGEMAKER_RULE}); mmon runs it as written")
    m = _SAGEMAKER_FORM.match(equivalent or "")
    once_a_day_step = False
    if m and m.group("n"):
        h, n = int(m.group("h")), int(m.group("n"))
        once_a_day_step = len(range(h, 24, n)) == 1 and n < 24
        if once_a_day_step:
            notes.append(
                f"{equivalent} runs once a day at {h:02d}:00: a cron step restarts every day at its starting "
                f"hour; for every {n} hours around the clock use cron(0 {h % n}/{n} ? * * *)"
            )
    spacing = None if once_a_day_step else _spacing_note(cron5)
    if spacing:
        notes.append(spacing)
    return Schedule(
        text=raw,
        cron5=cron5,
        sagemaker=equivalent,
        sagemaker_valid=valid,
        note="; ".join(notes) if notes else None,
    )


def _check_fires(text: str, cron5: str) -> None:
    """Refuse an expression that never runs (``cron(0 0 30 2 ? *)``: there is no 30 February).

    A day-of-month that exists in none of the chosen months is the only way a valid cron line can
    never fire; 29 February fires in leap years. croniter would search for years, then fail.
    """
    minute, hour, dom, month, dow = croniter(cron5).expanded
    if dom == ["*"] or dow != ["*"]:
        return  # any day, or cron's day-of-month OR day-of-week rule: some day always matches
    days_in = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
    months = range(1, 13) if month == ["*"] else [int(m) for m in month if str(m).isdigit()]
    days = [int(d) for d in dom if str(d).isdigit()]
    if days and not any(d <= days_in[m] for m in months for d in days):
        raise _bad(text, "never runs: no chosen month has that day (e.g. 30 February, 31 April)")


def _cron(schedule: Schedule, start: datetime) -> croniter:
    return croniter(schedule.cron5, start)


def _calendar_end(schedule: Schedule, t: datetime) -> InputError:
    return InputError(
        f"schedule {schedule.text!r}: no run near {t.strftime('%Y-%m-%dT%H:%MZ')} inside the calendar (years 1-9999)"
    )


def _sagemaker_form_ok(expression: str) -> bool:
    m = _SAGEMAKER_FORM.match(expression)
    if not m:
        return False
    if m.group("h") is None:
        return True
    if not 0 <= int(m.group("h")) <= 23:
        return False
    return m.group("n") is None or 1 <= int(m.group("n")) <= 24


# -- times ---------------------------------------------------------------------------------------


def as_utc(t: datetime) -> datetime:
    """A timezone-aware UTC datetime (naive times are taken as UTC)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def next_times(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` execution times strictly after ``start``, in UTC.

    ``now`` has one execution: the start of ``start``'s hour (mmon's reports are hour folders).
    """
    start = as_utc(start)
    if count <= 0:
        return []
    if schedule.is_now:
        return [start.replace(minute=0, second=0, microsecond=0)]
    it = _cron(schedule, start)
    try:
        return [as_utc(it.get_next(datetime)) for _ in range(count)]
    except (OverflowError, CroniterBadDateError, ValueError):
        raise _calendar_end(schedule, start) from None


def previous_time(schedule: Schedule, at: datetime) -> datetime:
    """The latest execution time at or before ``at`` (UTC)."""
    at = as_utc(at)
    if schedule.is_now:
        return at.replace(minute=0, second=0, microsecond=0)
    # croniter's get_prev is strictly before its start: start one second later to include ``at``.
    try:
        probe = at.replace(microsecond=0) + timedelta(seconds=1)
        return as_utc(croniter(schedule.cron5, probe).get_prev(datetime))
    except (OverflowError, CroniterBadDateError, ValueError):
        raise _calendar_end(schedule, at) from None


def on_schedule(schedule: Schedule, t: datetime) -> bool:
    """Whether ``t`` is one of the schedule's execution times (to the second)."""
    t = as_utc(t)
    if schedule.is_now:
        return True
    return t.second == 0 and t.microsecond == 0 and previous_time(schedule, t) == t


def period_at(schedule: Schedule, scheduled: datetime) -> timedelta:
    """The schedule's period at ``scheduled``: the gap between the run before it and the run after that.

    For a time on the schedule this is ``scheduled - previous run`` (1 h for hourly, 24 h for daily,
    72 h for a Monday of a weekday schedule); ``now`` has a period of one hour.
    """
    if schedule.is_now:
        return timedelta(hours=1)
    scheduled = as_utc(scheduled)
    try:
        before = as_utc(croniter(schedule.cron5, scheduled).get_prev(datetime))
        after = as_utc(croniter(schedule.cron5, before).get_next(datetime))
    except (OverflowError, CroniterBadDateError, ValueError):
        raise _calendar_end(schedule, scheduled) from None
    return after - before


def shortest_period(schedule: Schedule) -> timedelta:
    """The shortest gap between two runs (one hour for ``now``): a run should end within it."""
    if schedule.is_now:
        return timedelta(hours=1)
    it = croniter(schedule.cron5, datetime(2028, 2, 20, tzinfo=UTC))
    times = [it.get_next(datetime) for _ in range(120)]
    return min(b - a for a, b in zip(times, times[1:], strict=False))
