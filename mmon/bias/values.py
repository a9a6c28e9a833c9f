"""Matching label and facet values: Clarify's continuous / categorical rule and the boolean masks.

See :mod:`mmon.bias.compute` (module docstring) for the rules in prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from mmon.errors import InputError

UNIQUENESS_THRESHOLD = 0.05


# -- value matching -----------------------------------------------------------------------------


def numeric_view(s: pl.Series) -> pl.Series | None:
    """The column as Float64 when every non-empty value is a number, else None."""
    if s.dtype == pl.Boolean:
        return None
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)
    st = s.cast(pl.String).str.strip_chars()
    st = pl.select(pl.when(st == "").then(None).otherwise(st)).to_series()
    num = st.cast(pl.Float64, strict=False)
    if num.null_count() == st.null_count() and num.null_count() < len(num):
        return num
    return None


def as_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v).strip())
    except ValueError:
        return None


def _texts(values: list[Any]) -> list[str]:
    out: list[str] = []
    for v in values:
        if isinstance(v, bool):
            out += ["true", "True", "TRUE"] if v else ["false", "False", "FALSE"]
        else:
            out.append(str(v))
    return out


def _fmt_bound(x: float, integral: bool) -> str:
    return str(int(x)) if integral and float(x).is_integer() else str(float(x))


@dataclass
class Binarized:
    """A column turned into positive / sensitive booleans."""

    mask: pl.Series  # Boolean, nulls where the value is missing
    display: str  # Clarify's value_or_threshold string
    continuous: bool


def _kind(s: pl.Series) -> str:
    """How Clarify's container would type the column: ``bool``, ``int``, ``float`` or ``text``.

    Text columns (CSV fields, merged-record payload values) are typed as pandas would read them:
    all integers → int, all numbers → float."""
    if s.dtype == pl.Boolean:
        return "bool"
    if s.dtype.is_integer():
        return "int"
    if s.dtype.is_float():
        return "float"
    if s.dtype != pl.String:
        return "text"
    st = s.str.strip_chars()
    st = pl.select(pl.when(st == "").then(None).otherwise(st)).to_series()
    if st.null_count() == len(st):
        return "text"
    if st.str.contains(r"^[+-]?\d+$").fill_null(True).all():
        return "int"
    if st.cast(pl.Float64, strict=False).null_count() == st.null_count():
        return "float"
    return "text"


def is_continuous(values: list[Any], s: pl.Series) -> bool:
    """Clarify's data-type rule (smclarify ``series_datatype``): with one value given, a float
    column is continuous, an integer column is continuous when its distinct values make up at least
    5 % of its non-null rows (so a 0/1 column of at most 40 rows is continuous); booleans, text
    and lists of several values are categories."""
    if len(values) != 1:
        return False
    kind = _kind(s)
    if kind == "float":
        return True
    if kind != "int":
        return False
    valid = s.drop_nulls()
    return valid.len() > 0 and valid.n_unique() / valid.len() >= UNIQUENESS_THRESHOLD


def small_window_warning(s: pl.Series, values: list[Any], what: str, name: str) -> str | None:
    """The warning for Clarify's trap: a column of at most two integer values read as continuous,
    so ``[v]`` means "greater than v" rather than "equal to v"."""
    valid = s.drop_nulls()
    if _kind(s) != "int" or valid.n_unique() > 2:
        return None
    return (
        f"{what} {name!r} has {valid.n_unique()} distinct value(s) in {valid.len()} rows (at least 5 %): "
        f"Clarify treats it as continuous, so {values} means greater than {values[0]}, as SageMaker computes it"
    )


def binarize(s: pl.Series, values: list[Any], continuous: bool | None = None) -> Binarized:
    """Positive (label) or sensitive (facet) rows of ``s`` for Clarify's ``values_or_threshold``."""
    num = numeric_view(s)
    if continuous is None:
        continuous = is_continuous(values, s)
    if continuous:
        t = as_number(values[0])
        if num is None or t is None:
            raise InputError(
                f"column {s.name!r}: Facet/label value provided must be a single numeric threshold for continuous data"
            )
        mx = num.max()
        valid = num.drop_nulls()
        integral = bool((valid.round(0) == valid).all()) and float(t).is_integer()
        top = _fmt_bound(float(mx), integral) if mx is not None else "nan"  # type: ignore[arg-type]
        display = f"({_fmt_bound(t, integral)}, {top}]"
        return Binarized((num > t).alias(s.name), display, True)
    display = ",".join(str(v) for v in values)
    if num is not None:
        nums = [x for x in (as_number(v) for v in values) if x is not None]
        mask = num.is_in(nums) if nums else pl.Series(s.name, [False] * len(s))
        mask = pl.select(pl.when(num.is_null()).then(None).otherwise(mask)).to_series()
    else:
        st = s.cast(pl.String)
        mask = st.is_in(_texts(values))
    return Binarized(mask.alias(s.name), display, False)
