"""``completeness_check``: the current non-null fraction against the constraint's ``completeness``.

The documentation says the violation is flagged when the observed completeness "exceeds" the
threshold; the real behaviour is the reverse (format study §2.4: REAL-DQ-2021 flags 310/320 =
96.875 % against 100 %): violation when ``present / rows < completeness``. Non-finite numbers
(NaN, inf) count as missing, as in the statistics. An empty current dataset (0 rows) is not checked.

Description (SageMaker's wording): ``Data completeness requirement is not met. Expected: 100.0%.
Observed: Only 96.875%.``

``comparison_method`` applies here as it does to drift. ``Simple`` is SageMaker's rule to the letter.
``Robust`` (the default) allows for sampling noise when the baseline itself had missing values: a
column with 2 % random nulls has a current share below the baseline's exact 0.980205 half the time,
which made 9-12 of 20 columns "violate" on two independent 1M-row samples of one distribution
(bench/run.py). Robust flags only when ``observed < expected - 3 * sqrt(p (1 - p) (1/n + 1/m))``,
the two-sample binomial margin at about the same alpha (0.003) as Robust drift's 1.8 constant,
with ``p`` the expected completeness, ``n`` the baseline's and ``m`` the current row count. A
baseline with no missing values (``completeness`` 1.0) has no margin: any null fires, as in
SageMaker's real report.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mmon.jsonfmt import java_double_str
from mmon.stats.profile import ColumnState

if TYPE_CHECKING:
    from .model import FeatureView, Outcome


def observed_completeness(col: ColumnState) -> float | None:
    return col.present / col.rows if col.rows else None


def description(expected: float, observed: float) -> str:
    return (
        f"Data completeness requirement is not met. Expected: {java_double_str(expected * 100)}%. "
        f"Observed: Only {java_double_str(observed * 100)}%."
    )


# z for a one-sided alpha of about 0.0013, matching Robust drift's conservatism.
ROBUST_Z = 3.0


def margin(expected: float, baseline_rows: int | None, current_rows: int) -> float:
    """Sampling margin of the Robust comparison (0 when the baseline had no missing values)."""
    if expected >= 1.0 or expected <= 0.0 or current_rows <= 0:
        return 0.0
    inv = 1.0 / current_rows + (1.0 / baseline_rows if baseline_rows else 0.0)
    return ROBUST_Z * math.sqrt(expected * (1.0 - expected) * inv)


def check(
    expected: float, col: ColumnState, robust: bool = False, baseline_rows: int | None = None
) -> tuple[bool, str | None]:
    """(evaluated, description of the violation or None)."""
    observed = observed_completeness(col)
    if observed is None:
        return False, None
    allowance = margin(expected, baseline_rows, col.rows) if robust else 0.0
    if observed < expected - allowance:
        return True, description(expected, observed)
    return True, None


def evaluate(view: FeatureView) -> Outcome | None:
    """Needs a ``completeness`` constraint (else not run)."""
    from .config import ROBUST

    expected = view.spec.get("completeness") if view.spec is not None else None
    if expected is None or view.col is None or view.cfg is None:
        return None
    robust = view.cfg.comparison_method == ROBUST
    return check(_fraction(expected, view.name), view.col, robust, view.baseline_rows)


def _fraction(value: object, feature: str) -> float:
    from mmon.errors import InputError

    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"constraints.json feature {feature!r}: completeness must be a number, got {value!r}") from None
    if math.isnan(x):
        raise InputError(f"constraints.json feature {feature!r}: completeness is NaN")
    return x
