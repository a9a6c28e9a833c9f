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

# Integral ∪ Fractional in one pass; a match without '.', 'e' or 'E' is Integral.
NUMERIC_RE = r"^[-+]? ?\d+(?:\.\d+)?(?:[Ee][-+]?\d+)?$"

# Class codes stored per value while profiling a batch.
C_NULL, C_INTEGRAL, C_FRACTIONAL, C_BOOLEAN, C_STRING = 0, 1, 2, 3, 4


def is_numeric_text(col: str) -> pl.Expr:
    """Whether each value is Integral or Fractional text (one regex pass; materialise and reuse)."""
    return pl.col(col).str.contains(NUMERIC_RE)


def text_class(col: str, numeric: pl.Expr | None = None) -> pl.Expr:
    """Class code of each value of a text column (see module docstring).

    ``numeric`` is the result of ``is_numeric_text`` when the caller has it already.
    """
    s = pl.col(col)
    if numeric is None:
        numeric = is_numeric_text(col)
    return (
        pl.when(s.is_null())
        .then(pl.lit(C_NULL, pl.Int8))
        .when(numeric & ~s.str.contains_any([".", "e", "E"]))
        .then(pl.lit(C_INTEGRAL, pl.Int8))
        .when(numeric)
        .then(pl.lit(C_FRACTIONAL, pl.Int8))
        .when(s.is_in(["true", "false"]))
        .then(pl.lit(C_BOOLEAN, pl.Int8))
        .otherwise(pl.lit(C_STRING, pl.Int8))
    )


def word_class(col: str) -> pl.Expr:
    """Class code of a text column known to hold no number: null, Boolean or String."""
    s = pl.col(col)
    return (
        pl.when(s.is_null())
        .then(pl.lit(C_NULL, pl.Int8))
        .when(s.is_in(["true", "false"]))
        .then(pl.lit(C_BOOLEAN, pl.Int8))
        .otherwise(pl.lit(C_STRING, pl.Int8))
    )


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
