"""Where values sit in decoded JSON payloads of merged records, and how they become columns.

Paths follow Clarify's JMESPath subset (``instances[*].features``, ``$.predictions[0].score``,
``SageMakerOutput.predictions[*].predicted_label``; one ``[*]`` per path, one row per element).
:func:`navigate` follows a path through a decoded column, :func:`spread` turns one row value into
columns (a list into ``#0, #1, …``, an object into its keys), and the default paths of a side
(:func:`default_features`, :func:`value_steps`) say where a payload keeps its rows when no path is
given. Used by :mod:`mmon.merged_rows`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from mmon.errors import InputError

S = pl.String


SIDE_NAMES = {"in": "endpointInput", "out": "endpointOutput", "gt": "groundTruthData"}
_PART = re.compile(r"([^.\[\]]+)|\[(\*|\d+)\]")
OUTPUT_KEY = "SageMakerOutput"  # batch transform with join_source=Input: the model's answer


def parse_path(path: str) -> list[tuple[str, str]]:
    """``instances[*].features`` → [("key", "instances"), ("all", ""), ("key", "features")]."""
    out: list[tuple[str, str]] = []
    for m in _PART.finditer(path.strip().removeprefix("$").lstrip(".")):
        key, idx = m.group(1), m.group(2)
        if key is not None:
            out.append(("key", key))
        elif idx == "*":
            out.append(("all", ""))
        else:
            out.append(("idx", idx))
    if sum(1 for k, _ in out if k == "all") > 1:
        raise InputError(f"path {path!r}: only one [*] is supported")
    return out

def _fields(dtype: Any) -> dict[str, Any]:
    return {f.name: f.dtype for f in dtype.fields} if isinstance(dtype, pl.Struct) else {}


def navigate(df: pl.DataFrame, parts: list[tuple[str, str]]) -> pl.DataFrame | None:
    """Follow ``parts`` from ``v``: ``_rec``, ``_row``, ``v``; None when the path does not exist.

    ``[*]`` explodes the list (one row per element; an empty list gives no row)."""
    rows = False
    for kind, arg in parts:
        dtype = df.schema["v"]
        if kind == "key":
            if arg not in _fields(dtype):
                return None
            df = df.with_columns(pl.col("v").struct.field(arg).alias("v"))
        elif isinstance(dtype, pl.Array):
            df = df.with_columns(pl.col("v").arr.to_list())
            dtype = df.schema["v"]
        if kind in ("all", "idx") and not isinstance(dtype, pl.List):
            return None
        if kind == "all":
            df = numbered(df.filter(pl.col("v").list.len() > 0).explode("v"))
            rows = True
        elif kind == "idx":
            df = df.with_columns(pl.col("v").list.get(int(arg), null_on_oob=True).alias("v"))
    if not rows:
        df = df.with_columns(pl.lit(0, pl.UInt32).alias("_row"))
    return df.select("_rec", "_row", "v")


def numbered(df: pl.DataFrame) -> pl.DataFrame:
    """``_row``: the row's place among the rows of its record (``_rec``), rows in order.

    The usual payload holds one instance: when the record numbers strictly increase every row
    is the first of its record, and the per-record count (a group-by over millions of records)
    is not needed."""
    if df.height < 2 or bool(df.select((pl.col("_rec").diff().slice(1) > 0).all()).item()):
        return df.with_columns(pl.lit(0, pl.UInt32).alias("_row"))
    return df.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_rec").alias("_row"))


def json_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, pl.Series):
        v = v.to_list()
    return json.dumps(v, separators=(",", ":"), default=str)


def as_text(expr: pl.Expr, dtype: Any) -> pl.Expr:
    """Values as text: nested values (a per-class probability list) as their JSON text."""
    if isinstance(dtype, (pl.Struct, pl.List, pl.Array)):
        return expr.map_elements(json_text, return_dtype=S)
    if dtype == pl.Boolean:
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    return expr.cast(S)


def spread(df: pl.DataFrame) -> pl.DataFrame:
    """One row value ``v`` → columns: a list → ``#0, #1, …``; an object → its keys; a scalar → ``#0``."""
    dtype = df.schema["v"]
    if isinstance(dtype, pl.Array):
        df = df.with_columns(pl.col("v").arr.to_list())
        dtype = df.schema["v"]
    if isinstance(dtype, pl.List):
        width = int(df.select(pl.col("v").list.len().max()).item() or 0) if df.height else 0
        inner = dtype.inner
        cols = [as_text(pl.col("v").list.get(i, null_on_oob=True), inner).alias(f"#{i}") for i in range(width)]
        return df.with_columns(cols).drop("v")
    fields = _fields(dtype)
    if fields:
        return df.with_columns(as_text(pl.col("v").struct.field(k), t).alias(k) for k, t in fields.items()).drop("v")
    return df.with_columns(as_text(pl.col("v"), dtype).alias("#0")).drop("v")

def default_features(dtype: Any) -> list[tuple[str, str]]:
    f = _fields(dtype)
    if isinstance(f.get("instances"), (pl.List, pl.Array)):
        inner = f["instances"].inner
        parts = [("key", "instances"), ("all", "")]
        if list(_fields(inner)) == ["features"]:
            parts.append(("key", "features"))
        return parts
    if isinstance(dtype, (pl.List, pl.Array)) and isinstance(dtype.inner, (pl.List, pl.Array, pl.Struct)):
        return [("all", "")]
    return []


def value_steps(dtype: Any, attr: str | None, side: str, url: str) -> list[tuple[str, str]]:
    """Where one value per row sits in a decoded JSON payload of ``dtype``."""
    f = _fields(dtype)
    if attr:
        steps = parse_path(attr) if not attr.isdigit() else [("idx", attr)]
        if steps and steps[0][0] == "key" and steps[0][1] not in f and isinstance(f.get(OUTPUT_KEY), pl.Struct):
            # Batch transform with join_source=Input: the model's output sits under SageMakerOutput.
            return [("key", OUTPUT_KEY), *value_steps(f[OUTPUT_KEY], attr, side, url)]
        if len(steps) == 1 and steps[0][0] == "key" and steps[0][1] not in f:
            # A bare field name: that field of every row ({"predictions": [...]} / {"instances": [...]}).
            for key in ("predictions", "instances"):
                if isinstance(f.get(key), (pl.List, pl.Array)):
                    return [("key", key), ("all", ""), steps[0]]
        if attr.isdigit() and isinstance(dtype, (pl.List, pl.Array)) and isinstance(dtype.inner, (pl.List, pl.Array)):
            return [("all", ""), ("idx", attr)]
        return steps
    if side == "out" and isinstance(f.get(OUTPUT_KEY), pl.Struct) and "instances" in f:
        return [("key", OUTPUT_KEY), *value_steps(f[OUTPUT_KEY], None, side, url)]
    for key in ("predictions", "instances"):
        if isinstance(f.get(key), (pl.List, pl.Array)):
            inner = f[key].inner
            steps = [("key", key), ("all", "")]
            sub = _fields(inner)
            if side == "gt" and "label" in sub:
                return [*steps, ("key", "label")]
            if len(sub) == 1:
                return [*steps, ("key", next(iter(sub)))]
            if sub:
                raise InputError(
                    f"{url}: {SIDE_NAMES[side]}: each element has the fields {', '.join(sub)}; "
                    "say which one to read (--inference-attribute / --probability-attribute, or the config's label)"
                )
            return steps
    if isinstance(dtype, (pl.List, pl.Array)) and not isinstance(dtype.inner, (pl.List, pl.Array, pl.Struct)):
        return [("all", "")]
    if len(f) == 1:
        return [("key", next(iter(f)))]
    if f:
        raise InputError(
            f"{url}: {SIDE_NAMES[side]}: the payload has the fields {', '.join(f)}; say which one to read"
        )
    return []
