"""``missing_column_check`` and ``extra_column_check``: columns matched by name.

SageMaker defines both by column *counts* ("the number of columns in the current dataset is
less / more than in the baseline"); no real description string is public (format study §3). mmon
reports one violation per column, naming it in ``feature_name``, so a renamed column shows up as
one missing and one extra column:

* ``Column is missing in the current dataset (baseline: 29 columns, current: 28).``
* ``Column is not in the baseline (baseline: 29 columns, current: 30).``

Columns are matched by name. A headerless current dataset has the names ``_c0``, ``_c1``, ...;
giving them the baseline's names positionally is the caller's job. A missing column gets no other
check; an extra column gets no other check (there is nothing to compare it with).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import FeatureView, Outcome


def missing_description(baseline_columns: int, current_columns: int) -> str:
    return (
        f"Column is missing in the current dataset (baseline: {baseline_columns} columns, "
        f"current: {current_columns})."
    )


def extra_description(baseline_columns: int, current_columns: int) -> str:
    return f"Column is not in the baseline (baseline: {baseline_columns} columns, current: {current_columns})."


def missing_columns(baseline: list[str], current: list[str]) -> list[str]:
    present = set(current)
    return [c for c in baseline if c not in present]


def extra_columns(baseline: list[str], current: list[str]) -> list[str]:
    known = set(baseline)
    return [c for c in current if c not in known]


def evaluate_missing(view: FeatureView) -> Outcome:
    return True, missing_description(view.n_base, view.n_cur)


def evaluate_extra(view: FeatureView) -> Outcome:
    return True, extra_description(view.n_base, view.n_cur)
