"""``categorical_values_check``: current values outside the baseline's ``domains``.

Run for features with ``string_constraints.domains``. SageMaker's rule (format study §2.4): the
fraction of current non-null values contained in the domain is compared with
``domain_content_threshold`` (default 1.0); violation when ``fraction < threshold`` (the old
container printed exactly that fraction: Deequ ``isContainedIn`` compliance). Values are compared
as text, exactly (``"1"`` is not ``"1.0"``).

When the current column has more than ``CATEGORY_CAP`` (1000) distinct values the profile keeps
no exact counts; at least ``1001 - len(domains)`` distinct values are then outside the domain,
which bounds the in-domain fraction from above: mmon reports a violation ("at most …") when that
bound is below the threshold and cannot judge otherwise (the check is then not counted as run).

No real description is public (§3); mmon writes
``Data content requirement is not met. Expected: 100.0% of values in the baseline domain.
Observed: Only 97.5%. Unknown values: 'x', 'y' (and 3 more).`` -- unknown values by decreasing
count (in value order on ties, so reruns write the same text), at most 5, each cut to 40 characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmon.jsonfmt import java_double_str
from mmon.stats.profile import CATEGORY_CAP, ColumnState

if TYPE_CHECKING:
    from .model import FeatureView, Outcome

SHOWN_VALUES = 5
MAX_VALUE_CHARS = 40


def _quote(v: str) -> str:
    if len(v) > MAX_VALUE_CHARS:
        v = v[: MAX_VALUE_CHARS - 1] + "…"
    return "'" + v.replace("'", "\\'") + "'"


def unknown_values(domain: set[str], counts: dict[str, int]) -> list[tuple[str, int]]:
    """Values outside ``domain`` with their counts, most frequent first, ties in value order."""
    out = [(v, c) for v, c in counts.items() if v not in domain]
    out.sort(key=lambda vc: (-vc[1], vc[0]))
    return out


def in_domain_fraction(domain: set[str], counts: dict[str, int]) -> float | None:
    total = sum(counts.values())
    if total == 0:
        return None
    inside = sum(c for v, c in counts.items() if v in domain)
    return inside / total


def description(threshold: float, observed: float, unknown: list[tuple[str, int]], bound: bool = False) -> str:
    text = (
        f"Data content requirement is not met. Expected: {java_double_str(threshold * 100)}% of values "
        f"in the baseline domain. Observed: {'at most' if bound else 'Only'} {java_double_str(observed * 100)}%."
    )
    if bound:
        return text + f" More than {CATEGORY_CAP} distinct values."
    if unknown:
        shown = ", ".join(_quote(v) for v, _ in unknown[:SHOWN_VALUES])
        more = len(unknown) - SHOWN_VALUES
        text += f" Unknown values: {shown}" + (f" (and {more} more)." if more > 0 else ".")
    return text


def check(domains: list[str], col: ColumnState, threshold: float) -> tuple[bool, str | None]:
    """(evaluated, description of the violation or None)."""
    domain = {str(v) for v in domains}
    if col.present == 0:
        return False, None
    if col.categories is None:
        if col.kind != "text":
            return False, None  # typed numbers keep no value counts
        # More than CATEGORY_CAP distinct values: bound the in-domain share from above.
        outside_at_least = max(0, CATEGORY_CAP + 1 - len(domain))
        upper = max(0.0, (col.present - outside_at_least) / col.present)
        if upper < threshold:
            return True, description(threshold, upper, [], bound=True)
        return False, None
    observed = in_domain_fraction(domain, col.categories)
    if observed is None:
        return False, None
    if observed < threshold:
        return True, description(threshold, observed, unknown_values(domain, col.categories))
    return True, None


def evaluate(view: FeatureView) -> Outcome | None:
    """Needs ``string_constraints.domains`` (else not run)."""
    if view.spec is None or view.col is None or view.cfg is None:
        return None
    domains = (view.spec.get("string_constraints") or {}).get("domains")
    if not isinstance(domains, list):
        return None
    return check(domains, view.col, view.cfg.domain_content_threshold)
