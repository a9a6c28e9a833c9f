"""The data-quality checks, one line each, in the order their violations are listed per feature.

The runner (:mod:`mmon.checks.runner`) loops over :data:`CHECKS`; ``--disable``'s help and check
names, the Prometheus violation counts and ``tests/test_common.py`` read them from here. A new
check is its module (an ``evaluate(view)`` function, see :class:`mmon.checks.model.FeatureView`),
one line below, and its test.

``scope`` says which features a check looks at: ``missing`` -- baseline features absent from the
current data (nothing else runs for them); ``extra`` -- current columns the baseline does not
know; ``feature`` -- baseline features present in the current data. ``evaluate`` is named, not
imported, so reading the list (for ``--help``) loads no check module (drift's loads scipy).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import FeatureView, Outcome


@dataclass(frozen=True)
class Check:
    name: str
    scope: str
    evaluate: str  # "module:function" under mmon.checks
    summary: str  # what a violation means, one line

    def function(self) -> Callable[[FeatureView], Outcome | None]:
        module, _, func = self.evaluate.partition(":")
        return getattr(importlib.import_module(f"mmon.checks.{module}"), func)  # type: ignore[no-any-return]


CHECKS: tuple[Check, ...] = (
    Check("missing_column_check", "missing", "columns:evaluate_missing", "a baseline column is not in the data"),
    Check("extra_column_check", "extra", "columns:evaluate_extra", "a column of the data is not in the baseline"),
    Check("data_type_check", "feature", "data_type:evaluate", "too few values of the baseline's type"),
    Check("completeness_check", "feature", "completeness:evaluate", "the non-null share is below the constraint"),
    Check("non_negative_check", "feature", "non_negative:evaluate", "a negative number where is_non_negative is true"),
    Check("categorical_values_check", "feature", "categorical_values:evaluate", "too many values outside the baseline's domain"),
    Check("baseline_drift_check", "feature", "drift_check:evaluate", "the distribution drifted from the baseline's"),
)

#: Every check's name, in the order its violations are listed within one feature.
CHECK_TYPES: tuple[str, ...] = tuple(c.name for c in CHECKS)


def disable_help() -> str:
    """``--disable``'s help: the switch and the checks it can name."""
    names = ", ".join(c.name.removesuffix("_check") for c in CHECKS)
    return f"Switch a check off for a feature: FEATURE:CHECK ('*' for all). Repeatable. Checks: {names}."
