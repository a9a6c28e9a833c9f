"""``T``: the schedule tests' UTC instants, written as ISO text (``2026-11-21T13:00Z``).

Parsed with the standard library, not mmon's own parse_time, so the hand-computed tables stay
independent of the code they check."""

from __future__ import annotations

from datetime import UTC, datetime


def T(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
