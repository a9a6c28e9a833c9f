"""Reading predictions, probabilities and labels: flat tables and SageMaker merged records.

Two kinds of input, told apart per file:

* **Flat tables** (CSV, Parquet, JSON, JSON Lines): the attributes name columns -- a header name,
  or a 0-based column index given as text (``"0"``), as SageMaker's ``inference_attribute`` does
  (format study §4.1). CSV values arrive as text; typed formats keep their types.
* **Merged records** (JSON Lines from the ground-truth merge, §5.4): a capture record plus
  ``groundTruthData``, recognised by a ``captureData`` or ``groundTruthData`` key in the first
  record. The prediction and probability come from ``captureData.endpointOutput.data``, the label
  from ``groundTruthData.data``, each decoded by its ``encoding``:

  - ``CSV``: the attribute is a 0-based field index (``inference_attribute=0`` = first field);
    the label is the whole payload unless ``ground_truth_attribute`` is an index;
  - ``JSON``: the attribute is a JSONPath (``$.predicted_label``) or a dotted path
    (``predictions[0].score`` is read as ``$.predictions[0].score``); a JSON label without an
    attribute is the payload's scalar value;
  - ``BASE64``: decoded, then read as JSON when ``observedContentType`` mentions ``json``, else
    as CSV.

  One prediction per record: a multi-row payload contributes its first row (and a warning).
  Records of shadow traffic (``eventMetadata.invocationSource = "ShadowExperiment"``) are skipped
  like SageMaker's analyzer does; a record without ``groundTruthData`` is an unlabelled
  prediction.

Everything is vectorised with polars: a file becomes three columns -- ``actual``, ``predicted``,
``score`` -- in canonical form (:func:`class_text` for class labels, ``Float64`` for numbers).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import posixpath
import re
from dataclasses import dataclass, field

import polars as pl

from mmon.errors import InputError, MmonError, StorageError
from mmon.readers import DatasetFile
from mmon.store import Store, is_local, join, local_path

MISSING_TOKENS = ("", "nan", "null", "none")
SUMMARY_FILE = "merge_summary.json"
_INDEX = re.compile(r"^\d+$")
_MAX_EXAMPLES = 3

S = pl.String
MERGED_SCHEMA = {
    "captureData": pl.Struct(
        {"endpointOutput": pl.Struct({"data": S, "encoding": S, "observedContentType": S})}
    ),
    "groundTruthData": pl.Struct({"data": S, "encoding": S, "observedContentType": S}),
    "eventMetadata": pl.Struct({"invocationSource": S}),
}


@dataclass
class Attributes:
    """Where to find each value; None = not wanted."""

    inference: str | None
    probability: str | None
    ground_truth: str | None
    probability_index: int = -1  # element of a per-class probability list (-1 = last)
    numeric: bool = False  # Regression: labels and predictions are numbers


@dataclass
class Table:
    """The rows of every input file: ``actual``, ``predicted`` (classes as text, or Float64 for
    regression) and ``score`` (Float64, binary probability), nulls where missing."""

    frame: pl.DataFrame
    files: list[str]
    merged_files: int = 0
    warnings: list[str] = field(default_factory=list)
    unlabelled_elsewhere: int = 0  # predictions the merge left out for want of a label


# -- canonical values ------------------------------------------------------------------------------


def _is_missing_text(s: pl.Expr) -> pl.Expr:
    return s.str.to_lowercase().is_in(MISSING_TOKENS)


def class_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A class label as canonical text, null when missing.

    Numbers compare by value: ``1``, ``1.0``, ``"1"``, ``" 1.0 "``, ``"1e0"`` are all the class
    ``"1"`` (integral values as integers, other numbers in shortest form); ``true`` / ``false``
    (booleans or text in any case) are ``"true"`` / ``"false"``; other text is kept as written,
    trimmed. Missing: null, NaN, and the texts ``""``, ``nan``, ``null``, ``none`` (any case).
    SageMaker's Spark reader compares the values of a typed column the same way, so labels written
    ``1`` and predictions written ``1.0`` are one class.
    """
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.String)
    if dtype == pl.Boolean:
        return expr.cast(pl.String)
    if dtype.is_integer():
        return expr.cast(pl.String)
    if dtype.is_float() or dtype.is_decimal():
        f = expr.cast(pl.Float64)
        return _number_text(f)
    if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        s = expr.cast(pl.String).str.strip_chars()
        f = s.cast(pl.Float64, strict=False)
        low = s.str.to_lowercase()
        return (
            pl.when(s.is_null() | _is_missing_text(s))
            .then(pl.lit(None, dtype=pl.String))
            .when(f.is_not_null())
            .then(_number_text(f))
            .when(low.is_in(["true", "false"]))
            .then(low)
            .otherwise(s)
        )
    raise InputError(f"a label column of type {dtype} cannot be read as classes")


def _number_text(f: pl.Expr) -> pl.Expr:
    integral = f.is_finite() & (f == f.round(0)) & (f.abs() < 2.0**53)
    return (
        pl.when(f.is_null() | f.is_nan())
        .then(pl.lit(None, dtype=pl.String))
        .when(integral)
        .then(f.cast(pl.Int64, strict=False).cast(pl.String))
        .otherwise(f.cast(pl.String))
    )


def number_value(expr: pl.Expr, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(Float64 value, "unreadable text" flag). Missing values and NaN give null, not a flag."""
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.Float64), pl.lit(False)
    if dtype == pl.Boolean or dtype.is_numeric():
        v = expr.cast(pl.Float64)
        return pl.when(v.is_nan()).then(None).otherwise(v), pl.lit(False)
    if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        s = expr.cast(pl.String).str.strip_chars()
        v = s.cast(pl.Float64, strict=False)
        missing = s.is_null() | _is_missing_text(s)
        bad = (~missing) & v.is_null()
        return pl.when(missing | v.is_nan()).then(None).otherwise(v), bad
    raise InputError(f"a column of type {dtype} cannot be read as numbers")


def probability_value(expr: pl.Expr, dtype: pl.DataType, index: int) -> tuple[pl.Expr, pl.Expr]:
    """A probability: a number, or element ``index`` of a per-class list (a list column or the
    text ``[0.1, 0.9]``). Returns (Float64 value, "unreadable" flag)."""
    if isinstance(dtype, pl.List):
        v = expr.list.get(index, null_on_oob=True).cast(pl.Float64, strict=False)
        return pl.when(v.is_nan()).then(None).otherwise(v), pl.lit(False)
    if isinstance(dtype, pl.Array):
        v = expr.arr.get(index, null_on_oob=True).cast(pl.Float64, strict=False)
        return pl.when(v.is_nan()).then(None).otherwise(v), pl.lit(False)
    if dtype == pl.String:
        s = expr.str.strip_chars()
        element = (
            s.str.strip_chars("[] ").str.split(",").list.get(index, null_on_oob=True).str.strip_chars()
        )
        text = pl.when(s.str.starts_with("[")).then(element).otherwise(s)
        return number_value(text, pl.String())
    return number_value(expr, dtype)


# -- reading files ------------------------------------------------------------------------------


def _raw(store: Store, url: str) -> bytes:
    data = store.read_bytes(url)
    if url.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{url}: not a valid gzip file ({exc})") from exc
    return data


def _source(store: Store, url: str) -> tuple[object, dict[str, str] | None]:
    """What polars should scan (a path or bytes) and its storage options."""
    if store.polars_native(url) and not url.lower().endswith(".gz"):
        so = store.polars_options(url)
        return (local_path(url) if so is None else url), so
    return io.BytesIO(_raw(store, url)), None


def _first_record(store: Store, url: str) -> dict[str, object] | None:
    """The first JSON object of a JSON Lines file (reads only the beginning of the file)."""
    try:
        with store.open(url, "rb") as fh:
            stream = gzip.GzipFile(fileobj=fh) if url.lower().endswith(".gz") else fh
            for _ in range(1000):
                line = stream.readline()
                if not line:
                    return None
                if line.strip():
                    obj = json.loads(line)
                    return obj if isinstance(obj, dict) else None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError):
        return None
    return None


def is_merged_record(record: dict[str, object] | None) -> bool:
    return isinstance(record, dict) and ("captureData" in record or "groundTruthData" in record)


def _scan_flat(store: Store, f: DatasetFile) -> pl.LazyFrame:
    src, so = _source(store, f.url)
    if f.format == "csv":
        lf = pl.scan_csv(src, has_header=f.header, infer_schema=False, storage_options=so, raise_if_empty=True)  # type: ignore[arg-type]
        if not f.header:
            names = lf.collect_schema().names()
            lf = lf.rename({n: f"_c{i}" for i, n in enumerate(names)})
        return lf
    if f.format == "parquet":
        return pl.scan_parquet(src, storage_options=so)  # type: ignore[arg-type]
    if f.format == "jsonl":
        return pl.scan_ndjson(src, infer_schema_length=None, storage_options=so)  # type: ignore[arg-type]
    if f.format == "json":
        raw = src.getvalue() if isinstance(src, io.BytesIO) else _raw(store, f.url)
        return pl.read_json(io.BytesIO(raw)).lazy()
    raise InputError(f"{f.url}: unknown format {f.format!r}")


def _column(schema: pl.Schema, attr: str, what: str, url: str) -> str:
    names = schema.names()
    if attr in names:
        return attr
    if _INDEX.match(attr) and int(attr) < len(names):
        return names[int(attr)]
    shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
    raise InputError(f"{url}: no column {attr!r} for --{what}-attribute (columns: {shown})")


def _flat_frame(store: Store, f: DatasetFile, attrs: Attributes) -> tuple[pl.DataFrame, list[str]]:
    lf = _scan_flat(store, f)
    schema = lf.collect_schema()
    exprs: list[pl.Expr] = []
    bad: list[pl.Expr] = []
    raw: dict[str, pl.Expr] = {}

    def keep_raw(name: str, col: str) -> None:
        if schema[col] == pl.String:
            raw[name] = pl.col(col)

    if attrs.ground_truth:
        col = _column(schema, attrs.ground_truth, "ground-truth", f.url)
        exprs.append(_value(pl.col(col), schema[col], attrs, "actual", bad))
        keep_raw("actual", col)
    else:
        exprs.append(pl.lit(None, dtype=pl.Float64 if attrs.numeric else pl.String).alias("actual"))
    if attrs.inference:
        col = _column(schema, attrs.inference, "inference", f.url)
        exprs.append(_value(pl.col(col), schema[col], attrs, "predicted", bad))
        keep_raw("predicted", col)
    else:
        exprs.append(pl.lit(None, dtype=pl.Float64 if attrs.numeric else pl.String).alias("predicted"))
    if attrs.probability:
        col = _column(schema, attrs.probability, "probability", f.url)
        v, flag = probability_value(pl.col(col), schema[col], attrs.probability_index)
        exprs.append(v.alias("score"))
        bad.append(flag.alias("bad_score"))
        keep_raw("score", col)
    return _collect(lf, exprs, bad, f.url, raw)


def _value(expr: pl.Expr, dtype: pl.DataType, attrs: Attributes, name: str, bad: list[pl.Expr]) -> pl.Expr:
    if attrs.numeric:
        v, flag = number_value(expr, dtype)
        bad.append(flag.alias(f"bad_{name}"))
        return v.alias(name)
    return class_text(expr, dtype).alias(name)


def _collect(
    lf: pl.LazyFrame, exprs: list[pl.Expr], bad: list[pl.Expr], url: str, raw_cols: dict[str, pl.Expr]
) -> tuple[pl.DataFrame, list[str]]:
    """Evaluate the value expressions; unreadable numbers are an input error with examples (the
    examples are looked up again only then, so the raw text is not kept in memory)."""
    df = lf.select(*exprs, *bad).collect()
    for flag_expr in bad:
        flag = flag_expr.meta.output_name()
        count = int(df[flag].sum())
        if not count:
            continue
        what = flag[4:]
        examples: list[object] = []
        if what in raw_cols:
            examples = lf.select(raw_cols[what].alias("raw"), flag_expr).filter(pl.col(flag)).head(_MAX_EXAMPLES).collect()["raw"].to_list()
        shown = f" (e.g. {', '.join(repr(x) for x in examples)})" if examples else ""
        label = {"actual": "label", "predicted": "prediction", "score": "probability"}[what]
        raise InputError(f"{url}: {count} {label} value(s) are not numbers{shown}")
    return df.select([c for c in df.columns if not c.startswith("bad_")]), []


def _json_path(attr: str) -> str:
    if attr.startswith("$"):
        return attr
    return "$." + attr if not attr.startswith("[") else "$" + attr


@dataclass(frozen=True)
class _Kinds:
    """Which payload encodings occur on one side of a file's records (pruned expressions)."""

    csv: bool
    json: bool
    base64: bool
    multiline: bool


def _kinds(raw: pl.DataFrame, side: str) -> _Kinds:
    enc = raw[f"{side}_enc"].str.to_uppercase()
    ctype = raw[f"{side}_ctype"].fill_null("").str.to_lowercase()
    b64 = enc == "BASE64"
    json_like = (enc == "JSON") | (b64 & ctype.str.contains("json"))
    return _Kinds(
        csv=bool((~json_like.fill_null(False)).any()),
        json=bool(json_like.fill_null(False).any()),
        base64=bool(b64.fill_null(False).any()),
        multiline=bool(raw[f"{side}_data"].str.contains("\n", literal=True).fill_null(False).any()) or bool(b64.fill_null(False).any()),
    )


def _payload(side: str, k: _Kinds) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(first row of the decoded payload text, is-JSON flag, has-more-rows flag) of one side."""
    data = pl.col(f"{side}_data")
    enc = pl.col(f"{side}_enc").str.to_uppercase()
    ctype = pl.col(f"{side}_ctype").fill_null("").str.to_lowercase()
    text = data
    if k.base64:
        text = pl.when(enc == "BASE64").then(data.str.decode("base64", strict=False).cast(pl.String)).otherwise(data)
    text = text.str.strip_chars()
    if k.json and k.csv:
        is_json = ((enc == "JSON") | ((enc == "BASE64") & ctype.str.contains("json"))).fill_null(False)
    else:
        is_json = pl.lit(k.json)
    if not k.multiline:
        return text, is_json, pl.lit(False)
    # JSON documents may span lines; only CSV / JSON Lines payloads are cut at the first row.
    whole = is_json & ~ctype.str.contains("jsonlines")
    first = pl.when(whole).then(text).otherwise(text.str.split("\n").list.first().str.strip_chars())
    more = pl.when(whole).then(False).otherwise(text.str.contains("\n", literal=True)).fill_null(False)
    return first, is_json, more


def _field(text: pl.Expr, is_json: pl.Expr, k: _Kinds, attr: str | None) -> pl.Expr:
    """The attribute's value in a payload, as text (null when absent)."""
    none = pl.lit(None, dtype=pl.String)
    if attr is None or attr == "":
        # The whole payload: CSV text, or a JSON scalar.
        csv_value, json_value = text, text.str.json_path_match("$")
    elif _INDEX.match(attr):
        i = int(attr)
        csv_value = text.str.split(",").list.get(i, null_on_oob=True).str.strip_chars().str.strip_chars('"')
        json_value = text.str.json_path_match(f"$[{i}]")
        if i == 0:  # a JSON scalar is its own first field
            json_value = pl.coalesce(json_value, text.str.json_path_match("$"))
    else:
        # A name: a JSON path; in a CSV payload there are no names (the whole text for labels).
        csv_value, json_value = none, text.str.json_path_match(_json_path(attr))
    if not k.json:
        return csv_value
    if not k.csv:
        return json_value
    return pl.when(is_json).then(json_value).otherwise(csv_value)


def _merged_frame(store: Store, f: DatasetFile, attrs: Attributes) -> tuple[pl.DataFrame, list[str]]:
    src, so = _source(store, f.url)
    out = pl.col("captureData").struct.field("endpointOutput")
    gt = pl.col("groundTruthData")
    try:
        raw = (
            pl.scan_ndjson(src, schema=MERGED_SCHEMA, storage_options=so)  # type: ignore[arg-type]
            .filter(pl.col("eventMetadata").struct.field("invocationSource").fill_null("") != "ShadowExperiment")
            .select(
                out.struct.field("data").alias("o_data"),
                out.struct.field("encoding").alias("o_enc"),
                out.struct.field("observedContentType").alias("o_ctype"),
                gt.struct.field("data").alias("g_data"),
                gt.struct.field("encoding").alias("g_enc"),
                gt.struct.field("observedContentType").alias("g_ctype"),
            )
            .collect()
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{f.url}: cannot read merged records: {str(exc).strip().splitlines()[0]}") from exc
    ok, gk = _kinds(raw, "o"), _kinds(raw, "g")
    out_text, out_json, out_more = _payload("o", ok)
    gt_text, gt_json, gt_more = _payload("g", gk)
    if attrs.ground_truth and not _INDEX.match(attrs.ground_truth):
        # A name: a JSON path in JSON labels (else the JSON scalar); CSV labels are the whole payload.
        by_name = _field(gt_text, gt_json, gk, attrs.ground_truth)
        label = _field(gt_text, gt_json, gk, None)
        label = pl.coalesce(by_name, label) if gk.json else label
    else:
        label = _field(gt_text, gt_json, gk, attrs.ground_truth)
    exprs: list[pl.Expr] = []
    bad: list[pl.Expr] = []
    raw_cols: dict[str, pl.Expr] = {"actual": label}
    exprs.append(_value(label, pl.String(), attrs, "actual", bad))
    if attrs.inference:
        _check_attr(attrs.inference, "inference")
        pred = _field(out_text, out_json, ok, attrs.inference)
        exprs.append(_value(pred, pl.String(), attrs, "predicted", bad))
        raw_cols["predicted"] = pred
    else:
        exprs.append(pl.lit(None, dtype=pl.Float64 if attrs.numeric else pl.String).alias("predicted"))
    if attrs.probability:
        _check_attr(attrs.probability, "probability")
        prob = _field(out_text, out_json, ok, attrs.probability)
        v, flag = probability_value(prob, pl.String(), attrs.probability_index)
        exprs.append(v.alias("score"))
        bad.append(flag.alias("bad_score"))
        raw_cols["score"] = prob
    exprs.append((out_more | gt_more).alias("more"))
    try:
        df, warnings = _collect(raw.lazy(), exprs, bad, f.url, raw_cols)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{f.url}: cannot read merged records: {str(exc).strip().splitlines()[0]}") from exc
    multi = int(df["more"].sum())
    if multi:
        warnings.append(f"{f.url}: {multi} record(s) hold several rows; only the first row of each is used")
    return df.drop("more"), warnings


def _check_attr(attr: str, what: str) -> None:
    if not attr.strip():
        raise InputError(f"--{what}-attribute is empty")


def _folder(url: str) -> str:
    return os.path.dirname(local_path(url)) if is_local(url) else posixpath.dirname(url)


def merge_summaries(store: Store, files: list[DatasetFile]) -> tuple[list[DatasetFile], int, list[str]]:
    """Separate ``merge_summary.json`` files from the data and count what they say was left out.

    ``mmon capture-merge`` with ground truth writes only the labelled predictions; its
    ``merge_summary.json`` (next to ``merged.jsonl``) counts the predictions of the window still
    without a label (``ground_truth.captured_without_label``). A summary given among the inputs,
    or lying next to a data file, adds them to the run's predictions, so that the share of
    labelled predictions is reported -- and judged by ``min_labelled`` -- over the whole window.
    """
    data = [f for f in files if posixpath.basename(f.url.replace(os.sep, "/")) != SUMMARY_FILE]
    given = {_folder(f.url): f.url for f in files if f not in data}
    unlabelled = 0
    warnings: list[str] = []
    for folder in dict.fromkeys(_folder(f.url) for f in data):
        url = given.get(folder) or join(folder, SUMMARY_FILE)
        if url not in given.values() and not store.exists(url):
            continue
        try:
            doc = json.loads(store.read_text(url))
            names = {posixpath.basename(str(doc["output"]["path"]).replace(os.sep, "/"))}
            gt = doc.get("ground_truth") or {}
            missing = int(gt.get("captured_without_label", 0))
        except (KeyError, TypeError, ValueError, json.JSONDecodeError):
            warnings.append(f"{url}: not a capture-merge summary; ignored")
            continue
        if not any(posixpath.basename(f.url.replace(os.sep, "/")) in names for f in data if _folder(f.url) == folder):
            continue
        if missing:
            unlabelled += missing
            warnings.append(f"{url}: {missing} predictions of the window had no ground-truth label yet")
    return data, unlabelled, warnings


def read_table(store: Store, files: list[DatasetFile], attrs: Attributes) -> Table:
    """Read every file into one :class:`Table` (file order, rows in file order)."""
    frames: list[pl.DataFrame] = []
    files, unlabelled, warnings = merge_summaries(store, files)
    merged = 0
    for f in files:
        try:
            if f.format in ("jsonl", "json") and is_merged_record(_first_record(store, f.url)):
                merged += 1
                df, w = _merged_frame(store, f, attrs)
            else:
                df, w = _flat_frame(store, f, attrs)
        except MmonError:
            raise
        except pl.exceptions.NoDataError as exc:
            raise InputError(f"{f.url}: the file is empty") from exc
        except FileNotFoundError as exc:
            raise InputError(f"{f.url}: no such file") from exc
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if any(s in msg.lower() for s in ("connection refused", "error sending request", "forbidden", "403", "credentials")):
                raise StorageError(f"{f.url}: cannot read from the store: {msg}") from exc
            raise InputError(f"{f.url}: cannot read as {f.format}: {msg}") from exc
        frames.append(df)
        warnings.extend(w)
    if not frames:
        frame = pl.DataFrame(schema={"actual": pl.String, "predicted": pl.String})
    else:
        frame = pl.concat(frames, how="diagonal_relaxed")
    if attrs.probability and "score" not in frame.columns:
        frame = frame.with_columns(score=pl.lit(None, dtype=pl.Float64))
    return Table(frame, [f.url for f in files], merged, warnings, unlabelled)
