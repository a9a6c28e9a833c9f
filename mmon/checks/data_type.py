"""``data_type_check``: the share of current values whose type matches the baseline's type.

SageMaker (format study §2.4): every non-null value of the current window is classified by its
text with Deequ's regexes (Integral, Fractional, Boolean, String -- ``mmon.stats.dtypes``); the
fraction of values matching the baseline ``inferred_type`` is compared with
``datatype_check_threshold`` (default 1.0 = every value must match); violation when
``observed < threshold``. The fraction is per value on the raw text (both real runs' inputs
reproduce SageMaker's printed percentages this way).

Which value classes match which baseline type (mmon's reading where SageMaker is not public):

* ``Integral``: Integral values only (``37.0`` does not match: REAL-DQ-2021 prints "Only 0.0% of
  data is Integral" for values serialised as ``0.0``/``1.0``).
* ``Fractional``: Fractional **and Integral** values (the safe reading: a clean Fractional column
  often holds ``12`` next to ``12.5``; Deequ's ``Numeric`` class; format study open question (b)).
* ``String``: depends on what the baseline's own statistics say about the column.

  - statistics.json says String too (or there is none): **every** value matches. A String column
    may hold number-like text -- SageMaker itself inferred String for REAL-2024's ``zipcode``
    where 89 % of the values read ``85086.0`` -- so requiring String-class values would flag the
    baseline's own data.
  - statistics.json says Integral or Fractional: the constraint was edited to String against the
    data, and only String-class values (and Boolean-class ones, which mmon reports as String)
    match. This is SageMaker's outcome on the SDK's ``pipeline-quality-check`` case
    (``constraints.bad.json`` declares the Fractional ``_c5`` String; the SDK's integration test
    expects the check on the baseline data itself to fail): every value is a number, so
    "Only 0.0% of data is String".
* ``Boolean`` (not written by SageMaker; accepted in hand-edited constraints): Boolean values.
* ``Unknown`` (an all-null baseline column): nothing is expected; the check is not run.

A current column without any non-null value is not checked (``completeness_check`` covers it).

Description (SageMaker's wording, numbers as Java ``Double.toString`` of ``fraction * 100``):
``Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%.
Observed: Only 0.0% of data is Integral.``
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmon.jsonfmt import java_double_str
from mmon.stats import dtypes
from mmon.stats.profile import ColumnState

if TYPE_CHECKING:
    from .model import FeatureView, Outcome

NUMERIC_TYPES = (dtypes.INTEGRAL, dtypes.FRACTIONAL)


def match_fraction(
    expected_type: str, n_integral: int, n_fractional: int, n_boolean: int, n_string: int,
    statistics_type: str | None = None,
) -> float | None:
    """Share of non-null values that match ``expected_type``; None when nothing can be judged.

    ``statistics_type``: the column's ``inferred_type`` in the baseline statistics.json (a String
    expectation is strict when the statistics call the column numeric)."""  # fmt: skip
    total = n_integral + n_fractional + n_boolean + n_string
    if total == 0:
        return None
    if expected_type == dtypes.INTEGRAL:
        matching = n_integral
    elif expected_type == dtypes.FRACTIONAL:
        matching = n_integral + n_fractional
    elif expected_type == dtypes.STRING:
        matching = n_string + n_boolean if statistics_type in NUMERIC_TYPES else total
    elif expected_type == dtypes.BOOLEAN:
        matching = n_boolean
    else:  # Unknown or an unrecognised type: no expectation
        return None
    return matching / total


def column_match_fraction(expected_type: str, col: ColumnState, statistics_type: str | None = None) -> float | None:
    return match_fraction(
        expected_type, col.n_integral, col.n_fractional, col.n_boolean, col.n_string, statistics_type
    )


def description(expected_type: str, threshold: float, observed: float) -> str:
    return (
        f"Data type match requirement is not met. Expected data type: {expected_type}, "
        f"Expected match: {java_double_str(threshold * 100)}%. "
        f"Observed: Only {java_double_str(observed * 100)}% of data is {expected_type}."
    )


def check(
    expected_type: str, col: ColumnState, threshold: float, statistics_type: str | None = None
) -> tuple[bool, str | None]:
    """(evaluated, description of the violation or None)."""
    observed = column_match_fraction(expected_type, col, statistics_type)
    if observed is None:
        return False, None
    if observed < threshold:
        return True, description(expected_type, threshold, observed)
    return True, None


def evaluate(view: FeatureView) -> Outcome | None:
    """Needs the feature's constraint and a baseline type (else not run)."""
    if view.spec is None or not view.base_type or view.col is None or view.cfg is None:
        return None
    stats_type = view.stats.inferred_type if view.stats else None
    return check(view.base_type, view.col, view.cfg.datatype_check_threshold, stats_type)
