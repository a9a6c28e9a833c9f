"""``non_negative_check`` (mmon extension): negative numbers where the baseline had none.

SageMaker writes ``num_constraints.is_non_negative: true`` for numeric columns whose baseline
minimum is >= 0, but documents no violation type for it and no public output shows one (format
study §2.4, open question (h)). mmon checks it under its own violation type
``non_negative_check``: violation when the current window's minimum numeric value is < 0 for a
feature with ``is_non_negative: true``. ``-0.0`` is not negative. Switch it off with
``--disable '*:non_negative_check'`` for strict SageMaker parity.

Description: ``Non-negative requirement is not met. Observed minimum: -3.0.``
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmon.jsonfmt import java_double_str
from mmon.stats.profile import ColumnState

if TYPE_CHECKING:
    from .model import FeatureView, Outcome


def description(minimum: float) -> str:
    return f"Non-negative requirement is not met. Observed minimum: {java_double_str(minimum)}."


def check(col: ColumnState) -> tuple[bool, str | None]:
    """(evaluated, description of the violation or None)."""
    if col.num_n == 0:
        return False, None
    if col.num_min < 0:
        return True, description(col.num_min)
    return True, None


def evaluate(view: FeatureView) -> Outcome | None:
    """Needs ``num_constraints.is_non_negative: true`` (else not run)."""
    if view.spec is None or view.col is None:
        return None
    if (view.spec.get("num_constraints") or {}).get("is_non_negative") is not True:
        return None
    return check(view.col)
