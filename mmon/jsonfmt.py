"""SageMaker's JSON byte format: Jackson's default pretty printer and Java ``Double.toString``.

SageMaker Model Monitor's analyzer (Scala, Jackson) writes ``statistics.json``,
``constraints.json`` and ``constraint_violations.json`` with Jackson's ``DefaultPrettyPrinter``.
:func:`dumps` reproduces those bytes exactly; the rules are in the format study
(``shared/reference/sagemaker-formats.md`` §1.4) and were checked by re-serialising the real files
under ``shared/reference/sagemaker/`` byte for byte (``tests/test_jsonfmt.py``):

- 2-space indent per object level, ``"key" : value``, fields separated by ``,`` + newline; an
  empty object is ``{ }``;
- arrays inline: ``[ a, b ]``, empty ``[ ]``, arrays of objects ``[ {`` … ``}, {`` … ``} ]`` (arrays
  add no indent level);
- Python ``float`` → Java ``Double.toString`` (:func:`java_double_str`), ``int`` → plain integer:
  the caller picks float or int to get SageMaker's double-vs-long choice per key (§1.2);
- non-finite floats → the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (Jackson's
  ``QUOTE_NON_NUMERIC_NUMBERS`` default, §1.4 and §4.2);
- strings escape only ``"``, ``\\`` and control characters; non-ASCII is written raw (UTF-8);
- ``\\n`` line ends and no trailing newline.
"""

from __future__ import annotations

import json
import math
import numbers
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
import polars as pl

__all__ = ["dumps", "loads", "java_double_str"]

# Smallest positive normal double. Below it (subnormals) Java's "length 1 or 2" rule can differ
# from the shortest repr, see _java_digits.
_MIN_NORMAL = 2.2250738585072014e-308


def _repr_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of finite ``x > 0`` and the exponent E of ``d.ddd × 10^E``."""
    r = repr(x)
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    int_part, _, frac_part = mant.partition(".")
    digits = int_part + frac_part
    # Scientific exponent of the first significant digit.
    stripped = digits.lstrip("0")
    e += len(int_part) - 1 - (len(digits) - len(stripped))
    digits = stripped.rstrip("0") or "0"
    return digits, e


def _java_digits(x: float) -> tuple[str, int]:
    """Digits and exponent that Java (JDK 19+ ``Double.toString`` spec) selects for ``x > 0``.

    The spec picks, among the decimals that round to ``x``, those of minimal length m; when m is 1
    it also admits length-2 decimals and takes the one closest to ``x`` (ties: even last digit).
    For normal doubles only one such decimal exists, so Python's shortest ``repr`` digits are the
    answer; for subnormals a 2-digit decimal may be closer (``Double.MIN_VALUE`` → ``4.9E-324``,
    where ``repr`` says ``5e-324``).
    """
    digits, e = _repr_digits(x)
    if len(digits) > 1 or x >= _MIN_NORMAL:
        return digits, e
    exact = Decimal(x)
    e2 = exact.adjusted()  # exponent of x's first significant digit
    scale = Decimal(1).scaleb(e2 - 1)
    best: tuple[Decimal, int, Decimal] | None = None  # (distance, last digit parity, candidate)
    for rounding in (ROUND_FLOOR, ROUND_CEILING):
        n = (exact / scale).to_integral_value(rounding=rounding)
        cand = n * scale
        if float(cand) != x:
            continue
        key = (abs(cand - exact), int(n) % 2, cand)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is None:  # cannot happen: the 1-digit repr decimal is itself a candidate
        return digits, e
    cand = best[2].normalize()
    _sign, cdigits, cexp = cand.as_tuple()
    d = "".join(map(str, cdigits)).rstrip("0") or "0"
    assert isinstance(cexp, int)
    return d, cexp + len(cdigits) - 1


def java_double_str(x: float) -> str:
    """``x`` formatted like Java's ``Double.toString(double)``.

    Plain notation with at least one fractional digit when ``10^-3 <= |x| < 10^7`` (judged on the
    chosen decimal, as Java does), otherwise ``d.dddE±n`` with a capital ``E`` and no ``+``:
    ``0.0``, ``-0.0``, ``3.0``, ``0.001``, ``9.99E-4``, ``9999999.0``, ``1.0E7``, ``3.8E7``,
    ``1.4402689218907343E10``, ``4.9E-324``. Non-finite values give ``NaN``, ``Infinity``,
    ``-Infinity``. Digits are the shortest that round-trip (Python ``repr``), which matched every
    value in the real REAL-2024 and REAL-2020 files (format study §1.4).
    """
    x = float(x)
    if 1e-3 <= abs(x) < 1e7:
        # Here Python's repr is Java's string: the same shortest digits (normal doubles), plain
        # notation, at least one fractional digit (checked against the general path in tests).
        return repr(x)
    return _java_layout(x)


def _java_layout(x: float) -> str:
    """:func:`java_double_str` without the fast path for ``10^-3 <= |x| < 10^7``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    digits, e = _java_digits(abs(x))
    if -3 <= e < 7:
        if e >= 0:
            int_part = digits[: e + 1].ljust(e + 1, "0")
            frac = digits[e + 1 :] or "0"
        else:
            int_part = "0"
            frac = "0" * (-e - 1) + digits
        return f"{sign}{int_part}.{frac}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{e}"


# Jackson's CharTypes.sOutputEscapes128: short escapes for these, \u00XX (upper-case hex) for
# the other control characters; '/' and DEL are not escaped, non-ASCII is written raw.
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_ESCAPE_TABLE: dict[int, str] = {i: f"\\u{i:04X}" for i in range(0x20)}
_ESCAPE_TABLE.update({ord(k): v for k, v in _SHORT_ESCAPES.items()})
# Lone UTF-16 surrogates cannot be encoded as UTF-8 (Jackson would refuse them); escaping keeps the
# output writable instead of failing later at encode time.
_ESCAPE_TABLE.update({i: f"\\u{i:04X}" for i in range(0xD800, 0xE000)})


def _quote(s: str) -> str:
    return '"' + s.translate(_ESCAPE_TABLE) + '"'


def _scalar(obj: Any) -> str | None:
    """The JSON text of a scalar, or None when ``obj`` is a container."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return _quote(obj)
    if isinstance(obj, float):
        if math.isfinite(obj):
            return java_double_str(obj)
        return _quote(java_double_str(obj))
    if isinstance(obj, int):
        return int.__repr__(obj)
    # numpy scalars and other numeric types: keep their float/int nature.
    if getattr(getattr(obj, "dtype", None), "kind", None) == "b":  # numpy.bool_
        return "true" if bool(obj) else "false"
    if isinstance(obj, numbers.Integral):
        return str(int(obj))
    if isinstance(obj, numbers.Real):
        return _scalar(float(obj))
    return None


def _float_text(x: float) -> str:
    return java_double_str(x) if math.isfinite(x) else _quote(java_double_str(x))


def _write(obj: Any, level: int, out: list[str]) -> None:
    s = _scalar(obj)
    if s is not None:
        out.append(s)
        return
    if isinstance(obj, dict):
        if not obj:
            out.append("{ }")
            return
        inner = "\n" + "  " * (level + 1)
        first = True
        out.append("{")
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            out.append(inner if first else "," + inner)
            first = False
            out.append(_quote(key))
            out.append(" : ")
            _write(value, level + 1, out)
        out.append("\n" + "  " * level + "}")
        return
    if isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[ ]")
            return
        if set(map(type, obj)) == {float}:
            # Lists of doubles (KLL sketch levels: thousands per feature) in one join. polars'
            # shortest float text is repr()'s (checked on millions of values, and in tests), 3x
            # faster; java_double_str then rewrites the values outside its repr() range.
            a = np.asarray(obj, dtype=np.float64)
            texts = pl.Series(a).cast(pl.String).to_list()
            a = np.abs(a)
            for i in np.flatnonzero(~((a >= 1e-3) & (a < 1e7))).tolist():
                texts[i] = _float_text(obj[i])
            out.append("[ " + ", ".join(texts) + " ]")
            return
        out.append("[ ")
        for i, value in enumerate(obj):
            if i:
                out.append(", ")
            # Jackson's array indenter is inline: elements (objects too) stay at this level.
            _write(value, level, out)
        out.append(" ]")
        return
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    """Serialise ``obj`` exactly as SageMaker's Jackson default pretty printer does (§1.4).

    Accepts dict (str keys, insertion order kept), list/tuple, str, int, float, bool and None.
    Floats are always written as doubles (``3.0``), ints as longs (``3``). No trailing newline.
    """
    out: list[str] = []
    _write(obj, 0, out)
    return "".join(out)


def loads(text: str | bytes) -> Any:
    """Parse JSON text, keeping the int/float distinction as written (``3`` → int, ``3.0`` → float).

    Non-finite numbers written by SageMaker are *strings* (``"NaN"``) and stay strings here; the
    schemas (``schemas/*.schema.json``) accept them in numeric slots. Python's parser also accepts
    bare ``NaN``/``Infinity`` literals (written by Python-based tools) as floats.
    Raises ``json.JSONDecodeError`` on invalid JSON (see ``mmon.schemas.load_json``).
    """
    return json.loads(text)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:30]} is too large for a double")
    return v


def strict_loads(text: str | bytes) -> Any:
    """Parse JSON as polars (and the JSON standard) reads it: ``NaN``/``Infinity`` literals and
    numbers too large for a double raise ``ValueError``; invalid JSON raises ``JSONDecodeError``
    (a ``ValueError`` too) and over-deep nesting ``RecursionError``.
    """
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
