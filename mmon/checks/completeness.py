"""``completeness_check``: the current non-null fraction against the constraint's ``completeness``.

The documentation says the violation is flagged when the observed completeness "exceeds" the
threshold; the real behaviour is the reverse (format study §2.4: REAL-DQ-2021 flags 310/320 =
96.875 % against 100 %): violation when ``present / rows < completeness``. Non-finite numbers
(NaN, inf) count as missing, as in the statistics. An empty current dataset (0 rows) is not checked.

Description (SageMaker's wording): ``Data completeness requirement is not met. Expected: 100.0%.
Observed: Only 96.875%.``
"""

from __future__ import annotations

from mmon.jsonfmt import java_double_str
from mmon.stats.profile import ColumnState


def observed_completeness(col: ColumnState) -> float | None:
    return col.present / col.rows if col.rows else None


def description(expected: float, observed: float) -> str:
    return (
        f"Data completeness requirement is not met. Expected: {java_double_str(expected * 100)}%. "
        f"Observed: Only {java_double_str(observed * 100)}%."
    )


def check(expected: float, col: ColumnState) -> tuple[bool, str | None]:
    """(evaluated, description of the violation or None)."""
    observed = observed_completeness(col)
    if observed is None:
        return False, None
    if observed < expected:
        return True, description(expected, observed)
    return True, None
