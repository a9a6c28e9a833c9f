"""Turning captured payloads into table rows, vectorised with polars.

Each side of a record (``endpointInput``, ``endpointOutput``) is decoded by its ``encoding``:

* ``CSV``: split into rows on ``\\n`` (``\\r`` and blank rows dropped), each row into fields on
  ``,`` (rows with a ``"`` are read with a real CSV parser); values stay text, empty fields are
  missing, as SageMaker's analyzer reads a CSV capture.
* ``JSON``: decoded by polars. ``{"instances": [...]}`` (inputs) and ``{"predictions": [...]}``
  (outputs) give one row per element; any other object gives one row; a top-level list of objects
  or of lists gives one row per element; a top-level list of scalars (``[0.2, 0.8]``, a
  multi-output response) and a scalar give one row. An object row's keys are columns
  (``{"features": [...]}`` is a positional row); a list row's items are positional columns.
  ``application/jsonlines`` payloads give one row per line.
* ``BASE64``: decoded, then read as CSV or JSON by ``observedContentType``.

Whatever cannot be read is reported per record with a reason, never dropped silently.

Column keys are internal: ``"{side}#{i}"`` for the i-th positional field and ``"{side}:{name}"``
for a named JSON field, side ``o`` (output), ``i`` (input) or ``l`` (label). The caller orders and
names them (outputs first, then inputs, as SageMaker lays out a CSV capture).
"""

from __future__ import annotations

import csv
from typing import Any

import polars as pl

from mmon.capture.jsondecode import decode_json
from mmon.merged_paths import json_text

ROW_KEYS = ("instances", "predictions")
_NESTED = (pl.Struct, pl.List, pl.Array)


def _is_nested(dtype: Any) -> bool:
    return isinstance(dtype, _NESTED)


def _as_text(expr: pl.Expr, dtype: Any) -> pl.Expr:
    """Nested JSON values become their JSON text; scalars keep their type."""
    if _is_nested(dtype):
        return expr.map_elements(json_text, return_dtype=pl.String)
    return expr


def _csv_fields(row: str) -> list[str]:
    return next(csv.reader([row]), [])


def _positional(df: pl.DataFrame, col: str, side: str) -> pl.DataFrame:
    """Spread a list column into ``side#0, side#1, …``."""
    dtype = df.schema[col]
    if df.height == 0:
        return df.drop(col)
    width = int(df.select(pl.col(col).list.len().max()).item() or 0)
    inner = dtype.inner if isinstance(dtype, pl.List) else pl.String  # type: ignore[union-attr]
    cols = [_as_text(pl.col(col).list.get(i, null_on_oob=True), inner).alias(f"{side}#{i}") for i in range(width)]
    return df.with_columns(cols).drop(col)


# -- CSV ------------------------------------------------------------------------------------------


def _split_rows(df: pl.DataFrame, col: str) -> pl.DataFrame:
    """One row per line of ``col`` (``\r`` and blank lines dropped), numbered ``_row`` per ``_rec``.

    Most payloads are one line: those skip the explode and the per-record numbering.
    """
    df = df.with_columns(pl.col(col).str.strip_chars_end("\r\n"))
    multi = pl.col(col).str.contains("\n", literal=True)
    single = df.filter(~multi).with_columns(pl.lit(0, pl.UInt32).alias("_row"))
    many = df.filter(multi)
    if many.height:
        many = (
            many.with_columns(pl.col(col).str.split("\n"))
            .explode(col)
            .with_columns(pl.col(col).str.strip_suffix("\r"))
            .filter(pl.col(col).str.strip_chars() != "")
            .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_rec").alias("_row"))
        )
        single = pl.concat([single, many.select(single.columns)])
    return single.filter(pl.col(col).is_not_null() & (pl.col(col).str.strip_chars() != ""))


def csv_rows(df: pl.DataFrame, side: str) -> pl.DataFrame:
    """``_rec``, ``text`` → ``_rec``, ``_row``, ``side#i`` (strings; empty fields null)."""
    rows = _split_rows(df, "text")
    quoted = pl.col("text").str.contains('"', literal=True)
    plain = rows.filter(~quoted).with_columns(pl.col("text").str.split(",").alias("_fields")).drop("text")
    q = rows.filter(quoted)
    if q.height:
        # Only rows with a quote go through a real CSV parser (one Python call per such row).
        q = q.with_columns(pl.col("text").map_elements(_csv_fields, return_dtype=pl.List(pl.String)).alias("_fields")).drop("text")
        plain = pl.concat([plain, q])
    out = _positional(plain, "_fields", side)
    fields = [c for c in out.columns if c.startswith(f"{side}#")]
    return out.with_columns(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in fields)


# -- JSON -----------------------------------------------------------------------------------------


def _row_values(df: pl.DataFrame, side: str) -> pl.DataFrame:
    """``_rec``, ``_row``, ``val`` (one row's value) → ``_rec``, ``_row`` and the row's columns."""
    dtype = df.schema["val"]
    if isinstance(dtype, pl.Struct):
        names = [f.name for f in dtype.fields]
        if names == ["features"] and isinstance(dtype.fields[0].dtype, pl.List):
            return _positional(df.with_columns(pl.col("val").struct.field("features").alias("val")), "val", side)
        cols = [
            _as_text(pl.col("val").struct.field(f.name), f.dtype).alias(f"{side}:{f.name}") for f in dtype.fields
        ]
        return df.with_columns(cols).drop("val")
    if isinstance(dtype, (pl.List, pl.Array)):
        if isinstance(dtype, pl.Array):
            df = df.with_columns(pl.col("val").arr.to_list())
        return _positional(df, "val", side)
    return df.rename({"val": f"{side}#0"})


def json_rows(df: pl.DataFrame, side: str, jsonlines: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``_rec``, ``text`` (JSON payloads) → (rows ``_rec``, ``_row``, columns; bad ``_rec``, ``_reason``)."""
    if jsonlines:
        # One JSON document per line, each one row.
        df = (
            df.with_columns(pl.col("text").str.split("\n"))
            .explode("text")
            .filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
            .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_rec").alias("_row"))
        )
        groups, bad = decode_json(df.with_columns(pl.int_range(pl.len()).alias("_k")).select(
            pl.col("_k").cast(pl.UInt32).alias("_rec"), "text"
        ))
        keyed = df.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_k")).select("_k", "_rec", "_row")
        parts = []
        for g in groups:
            g = g.rename({"_rec": "_k"}).join(keyed, on="_k", how="left").drop("_k").rename({"doc": "val"})
            parts.append(_row_values(g, side))
        bad = bad.rename({"_rec": "_k"}).join(keyed, on="_k", how="left").select("_rec", "_reason")
        bad_recs = bad.select("_rec").unique()
        rows = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame(schema={"_rec": pl.UInt32, "_row": pl.UInt32})
        # A record with one bad line is bad as a whole.
        rows = rows.join(bad_recs, on="_rec", how="anti")
        return rows, bad.unique(subset="_rec", keep="first", maintain_order=True)
    groups, bad = decode_json(df)
    parts = []
    for g in groups:
        dtype = g.schema["doc"]
        if isinstance(dtype, pl.Struct):
            names = {f.name: f.dtype for f in dtype.fields}
            key = next((k for k in ROW_KEYS if isinstance(names.get(k), (pl.List, pl.Array))), None)
            if key is not None:
                # {"instances": [...]} / {"predictions": [...]}: one row per element. Objects of
                # the same batch without that key (decoded together, so with it as null) are rows.
                has = pl.col("doc").struct.field(key).is_not_null()
                others = [pl.col("doc").struct.field(n) for n in names if n != key]
                plain = g.filter(~has)
                if plain.height and others:
                    plain = plain.select("_rec", pl.struct(others).alias("val"))
                elif plain.height:
                    bad = pl.concat([bad, plain.select("_rec", pl.lit(f"payload's {key!r} is null").alias("_reason"))])
                g = g.filter(has).select("_rec", pl.col("doc").struct.field(key).alias("val"))
                if isinstance(g.schema["val"], pl.Array):
                    g = g.with_columns(pl.col("val").arr.to_list())
                empty = g.filter(pl.col("val").list.len() == 0)
                if empty.height:
                    bad = pl.concat([bad, empty.select("_rec", pl.lit(f"payload's {key!r} is empty").alias("_reason"))])
                g = g.explode("val").filter(pl.col("val").is_not_null())
                if plain.height and others:
                    plain = plain.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_rec").alias("_row"))
                    parts.append(_row_values(plain, side))
            else:
                g = g.rename({"doc": "val"})
        elif isinstance(dtype, (pl.List, pl.Array)):
            inner = dtype.inner  # type: ignore[union-attr]
            if isinstance(g.schema["doc"], pl.Array):
                g = g.with_columns(pl.col("doc").arr.to_list())
            if _is_nested(inner):
                g = g.rename({"doc": "val"}).explode("val").filter(pl.col("val").is_not_null())
            else:
                g = g.rename({"doc": "val"})  # [0.2, 0.8]: one row, several outputs
        else:
            g = g.rename({"doc": "val"})
        null_docs = g.filter(pl.col("val").is_null())
        if null_docs.height:
            bad = pl.concat([bad, null_docs.select("_rec", pl.lit("payload is JSON null").alias("_reason"))])
            g = g.filter(pl.col("val").is_not_null())
        g = g.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_rec").alias("_row"))
        parts.append(_row_values(g, side))
    rows = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame(schema={"_rec": pl.UInt32, "_row": pl.UInt32})
    return rows, bad


# -- one side of every record ---------------------------------------------------------------------


def _kind_expr(enc: str, ctype: str) -> pl.Expr:
    e = pl.col(enc).str.to_uppercase()
    c = pl.col(ctype).str.to_lowercase().fill_null("")
    by_type = pl.when(c.str.contains("csv")).then(pl.lit("csv")).when(c.str.contains("json")).then(pl.lit("json"))
    return (
        pl.when(e == "CSV")
        .then(pl.lit("csv"))
        .when(e == "JSON")
        .then(pl.lit("json"))
        .when(e == "BASE64")
        .then(pl.lit("base64"))
        .otherwise(by_type)
    )


def _utf8(binary: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Binary → text; (text, ok mask)."""
    try:
        text = binary.cast(pl.String)
        return text, text.is_not_null() | binary.is_null()
    except Exception:  # noqa: BLE001 - some payload is not UTF-8: decode one by one
        vals = []
        for b in binary.to_list():
            try:
                vals.append(None if b is None else b.decode("utf-8"))
            except UnicodeDecodeError:
                vals.append(None)
        text = pl.Series(vals, dtype=pl.String)
        return text, text.is_not_null() | binary.is_null()


def side_rows(records: pl.DataFrame, side: str, prefix: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows of one side of every record: (``_rec``, ``_row``, columns; bad ``_rec``, ``_reason``).

    ``records`` has ``_rec`` and ``{prefix}_enc``, ``{prefix}_ctype``, ``{prefix}_data``.
    Records whose side is absent give no rows and are not bad.
    """
    enc, ctype, data = f"{prefix}_enc", f"{prefix}_ctype", f"{prefix}_data"
    df = records.select("_rec", pl.col(data).alias("text"), pl.col(ctype).fill_null("").str.to_lowercase().alias("ct"),
                        _kind_expr(enc, ctype).alias("kind")).filter(pl.col("text").is_not_null())  # fmt: skip
    what = {"i": "endpointInput", "o": "endpointOutput", "l": "groundTruthData"}[side]
    bad = [
        df.filter(pl.col("kind").is_null()).select(
            "_rec", (pl.lit(f"{what}: cannot read encoding/content type ") + pl.col("ct")).alias("_reason")
        )
    ]
    b64 = df.filter(pl.col("kind") == "base64")
    if b64.height:
        by_type = (
            pl.when(pl.col("ct").str.contains("csv")).then(pl.lit("csv"))
            .when(pl.col("ct").str.contains("json")).then(pl.lit("json"))
        )  # fmt: skip
        b64 = b64.with_columns(by_type.alias("kind"))
        bad.append(
            b64.filter(pl.col("kind").is_null()).select(
                "_rec", (pl.lit(f"{what}: base64 payload of content type ") + pl.col("ct") + pl.lit(" is not CSV or JSON")).alias("_reason")
            )
        )
        b64 = b64.filter(pl.col("kind").is_not_null())
        raw = b64["text"].str.decode("base64", strict=False)
        text, ok = _utf8(raw)
        b64 = b64.with_columns(text.alias("text"), raw.is_null().alias("_nob64"), (~ok).alias("_noutf8"))
        bad.append(b64.filter(pl.col("_nob64")).select("_rec", pl.lit(f"{what}: not valid base64").alias("_reason")))
        bad.append(
            b64.filter(~pl.col("_nob64") & pl.col("_noutf8")).select(
                "_rec", pl.lit(f"{what}: base64 payload is not UTF-8 text").alias("_reason")
            )
        )
        b64 = b64.filter(~pl.col("_nob64") & ~pl.col("_noutf8")).drop("_nob64", "_noutf8")
        df = pl.concat([df.filter(pl.col("kind") != "base64"), b64])
    parts = []
    csv_part = df.filter(pl.col("kind") == "csv").select("_rec", "text")
    if csv_part.height:
        parts.append(csv_rows(csv_part, side))
    js = df.filter(pl.col("kind") == "json")
    for lines in (False, True):
        part = js.filter(pl.col("ct").str.contains("jsonlines") == lines).select("_rec", "text")
        if part.height:
            rows, jbad = json_rows(part, side, jsonlines=lines)
            parts.append(rows)
            bad.append(jbad.with_columns((pl.lit(f"{what}: ") + pl.col("_reason")).alias("_reason")))
    rows = (
        pl.concat(parts, how="diagonal_relaxed")
        if parts
        else pl.DataFrame(schema={"_rec": pl.UInt32, "_row": pl.UInt32})
    )
    bad_df = pl.concat([b.select(pl.col("_rec").cast(pl.UInt32), "_reason") for b in bad])
    # Payloads that produced no rows at all (e.g. only blank lines) are bad too.
    empty = df.join(rows.select("_rec").unique(), on="_rec", how="anti").join(bad_df, on="_rec", how="anti")
    if empty.height:
        bad_df = pl.concat([bad_df, empty.select("_rec", pl.lit(f"{what}: payload has no rows").alias("_reason"))])
    return rows.sort("_rec", "_row"), bad_df


def flatten(records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows of every record, output side and input side joined by row: (rows, bad ``_rec``/``_reason``).

    ``records`` needs ``_rec`` and the ``in_*`` / ``out_*`` columns. A record whose input and
    output have different row counts is bad (unless one side is absent or empty).
    """
    out_rows, out_bad = side_rows(records, "o", "out")
    in_rows, in_bad = side_rows(records, "i", "in")
    if (
        out_bad.height == 0 and in_bad.height == 0 and out_rows.height == in_rows.height == records.height
        and (out_rows.height == 0 or (out_rows["_row"].max() == 0 and in_rows["_row"].max() == 0))
        and out_rows["_rec"].equals(in_rows["_rec"])
    ):  # fmt: skip
        # The usual case: one row per record on both sides, already in record order.
        return out_rows.hstack(in_rows.drop("_rec", "_row")), out_bad
    bad = pl.concat([out_bad, in_bad]).unique(subset="_rec", keep="first", maintain_order=True)
    n_out = out_rows.group_by("_rec").agg(pl.len().alias("n_out"))
    n_in = in_rows.group_by("_rec").agg(pl.len().alias("n_in"))
    counts = n_out.join(n_in, on="_rec", how="full", coalesce=True)
    mismatch = counts.filter(pl.col("n_out").is_not_null() & pl.col("n_in").is_not_null() & (pl.col("n_out") != pl.col("n_in")))
    if mismatch.height:
        bad = pl.concat([
            bad,
            mismatch.select(
                "_rec",
                pl.format("endpointInput has {} rows but endpointOutput has {}", "n_in", "n_out").alias("_reason"),
            ),
        ]).unique(subset="_rec", keep="first", maintain_order=True)  # fmt: skip
    if bad.height:
        # The good records are read again without the bad ones, so that a bad record leaves no
        # trace in the table (not even a column of nulls, or a type widened to fit it).
        good, more_bad = flatten(records.join(bad.select("_rec"), on="_rec", how="anti"))
        return good, pl.concat([bad, more_bad]).sort("_rec")
    rows = out_rows.join(in_rows, on=["_rec", "_row"], how="full", coalesce=True).sort("_rec", "_row")
    return rows, bad.sort("_rec")


def label_rows(labels: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Label values of ground-truth records: (``_rec``, ``_row``, ``label``; bad ``_rec``/``_reason``).

    CSV labels: one label per line (the whole line). JSON labels (Clarify's
    ``{"instances": [{"label": 0}, …]}``): the ``label`` field, or the only field.
    """
    df = labels.select("_rec", pl.col("gt_enc").alias("l_enc"), pl.lit("").alias("l_ctype"), pl.col("gt_data").alias("l_data"))
    df = df.with_columns(
        pl.when(pl.col("l_enc").is_null()).then(pl.lit("CSV")).otherwise(pl.col("l_enc")).alias("l_enc"),
        pl.when(pl.col("l_enc").str.to_uppercase() == "JSON").then(pl.lit("application/json")).otherwise(pl.lit("text/csv")).alias("l_ctype"),
    )
    csv_like = df.filter(pl.col("l_enc").str.to_uppercase() != "JSON")
    parts = []
    bad = []
    if csv_like.height:
        # A CSV label is the whole line: a label with a comma stays one value.
        rows = (
            csv_like.select("_rec", pl.col("l_data").str.split("\n").alias("label"))
            .explode("label")
            .with_columns(pl.col("label").str.strip_suffix("\r"))
            .filter(pl.col("label").is_not_null() & (pl.col("label").str.strip_chars() != ""))
            .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_rec").alias("_row"))
        )
        parts.append(rows.select("_rec", "_row", "label"))
        empty = csv_like.join(rows.select("_rec").unique(), on="_rec", how="anti")
        bad.append(empty.select("_rec", pl.lit("groundTruthData: label is empty").alias("_reason")))
    js = df.filter(pl.col("l_enc").str.to_uppercase() == "JSON")
    if js.height:
        rows, jbad = side_rows(js, "l", "l")
        bad.append(jbad)
        cols = [c for c in rows.columns if c.startswith("l:") or c.startswith("l#")]
        pick = "l:label" if "l:label" in cols else (cols[0] if len(cols) == 1 else None)
        if pick is None:
            bad.append(rows.select("_rec").unique().select("_rec", pl.lit("groundTruthData: JSON label has no 'label' field").alias("_reason")))
        else:
            picked = rows.select("_rec", "_row", pl.col(pick).cast(pl.String).alias("label"))
            missing = picked.filter(pl.col("label").is_null()).select("_rec").unique(maintain_order=True)
            bad.append(missing.select("_rec", pl.lit("groundTruthData: JSON label has no 'label' field").alias("_reason")))
            parts.append(picked.join(missing, on="_rec", how="anti"))
    out = pl.concat(parts) if parts else pl.DataFrame(schema={"_rec": pl.UInt32, "_row": pl.UInt32, "label": pl.String})
    bad_df = pl.concat(bad) if bad else pl.DataFrame(schema={"_rec": pl.UInt32, "_reason": pl.String})
    return out.join(bad_df.select("_rec"), on="_rec", how="anti").sort("_rec", "_row"), bad_df
