"""Deequ's data-type classes, as polars expressions.

SageMaker's analyzer classifies every non-null value by the text of it (Deequ 2.0.2,
``analyzers/catalyst/StatefulDataType.scala`` and ``analyzers/DataType.scala``):

* Integral   ``^(-|\\+)? ?\\d+$``
* Fractional ``^(-|\\+)? ?\\d+((\\.\\d+)|((?:\\.\\d+)?[Ee][-+]?\\d+))$``
* Boolean    ``^(true|false)$``
* String     anything else

and a column's type from the counts: all null -> Unknown; any String (or Boolean mixed with
numbers) -> String; only Boolean -> Boolean; any Fractional -> Fractional; else Integral.
Typed columns (Parquet, JSON) keep their own type, as Spark hands Deequ typed columns.
"""

from __future__ import annotations

import polars as pl

INTEGRAL = "Integral"
FRACTIONAL = "Fractional"
BOOLEAN = "Boolean"
STRING = "String"
UNKNOWN = "Unknown"

# Integral ∪ Fractional in one pass; a match without '.', 'e' or 'E' is Integral. Java's ``\d`` is
# ASCII only ([0-9]); the Rust regex engine's ``\d`` would also take other scripts' digits.
NUMERIC_RE = r"^[-+]? ?[0-9]+(?:\.[0-9]+)?(?:[Ee][-+]?[0-9]+)?$"
BOOLEAN_WORDS = ["true", "false"]


def is_numeric_text(col: str) -> pl.Expr:
    """Whether each value is Integral or Fractional text (one regex pass; materialise and reuse)."""
    return pl.col(col).str.contains(NUMERIC_RE)


def is_fractional_text(col: str, numeric: pl.Expr) -> pl.Expr:
    """Fractional among the numeric values: those written with a point or an exponent."""
    return numeric & pl.col(col).str.contains("[.eE]")


def is_boolean_text(col: str) -> pl.Expr:
    return pl.col(col).is_in(BOOLEAN_WORDS)


def text_value(col: str, numeric: pl.Expr | None = None, spaced: bool = False) -> pl.Expr:
    """Numeric value of a text column where the text is Deequ-numeric, else null.

    Polars would also parse ``inf``, ``NaN`` or ``.5``; Deequ calls those String, so they must
    not reach the numeric statistics. Deequ also accepts a space after the sign (``- 4``), which
    polars does not parse: ``spaced=True`` removes spaces first (slower; callers use it only for
    the rare batch where the plain cast missed values).
    """
    s = pl.col(col)
    if numeric is None:
        numeric = is_numeric_text(col)
    text = s.str.replace_all(" ", "", literal=True) if spaced else s
    return pl.when(numeric).then(text.cast(pl.Float64, strict=False))


def native_kind(dtype: pl.DataType) -> str:
    """How a typed column is profiled: 'text', 'integral', 'fractional', 'boolean' or 'other'."""
    if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        return "text"
    if dtype.is_integer():
        return "integral"
    if dtype.is_float() or dtype.is_decimal():
        return "fractional"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Null:
        return "null"
    return "other"


def column_type(n_integral: int, n_fractional: int, n_boolean: int, n_string: int) -> str:
    """Deequ's column type from the per-value class counts."""
    numbers = n_integral + n_fractional
    if n_string > 0 or (n_boolean > 0 and numbers > 0):
        return STRING
    if n_boolean > 0:
        return BOOLEAN
    if n_fractional > 0:
        return FRACTIONAL
    if n_integral > 0:
        return INTEGRAL
    return UNKNOWN
