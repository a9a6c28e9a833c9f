"""Reading predictions, probabilities and labels: flat tables and SageMaker merged records.

Two kinds of input, told apart per file:

* **Flat tables** (CSV, Parquet, JSON, JSON Lines): the attributes name columns -- a header name,
  or a 0-based column index given as text (``"0"``), as SageMaker's ``inference_attribute`` does
  (format study §4.1). CSV values arrive as text; typed formats keep their types.
* **Merged records** (JSON Lines from the ground-truth merge, §5.4; read in :mod:`.merged`): a capture record plus
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

  Every row of a record counts: a request carrying several instances (a multi-line CSV body,
  ``{"predictions": [...]}`` with Clarify's ``{"instances": [{"label": …}, …]}`` labels, a
  batch-transform record) is read row by row by :mod:`mmon.merged_rows`, and a record whose
  predictions and labels cannot be paired is an input error (exit 2).
  Records of shadow traffic (``eventMetadata.invocationSource = "ShadowExperiment"``) are skipped
  like SageMaker's analyzer does; a record without ``groundTruthData`` is an unlabelled
  prediction.

Everything is vectorised with polars: only the three wanted columns of a file are read (raw),
then made canonical -- ``actual``, ``predicted`` as :func:`class_text` for class labels (computed
once per distinct text) or ``Float64``, ``score`` as ``Float64`` -- with fast paths for the usual
data (a plain cast first; trimming, missing-value spellings and per-class lists only when some
value needs them).
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

from mmon.errors import InputError
from mmon.file_lines import raw_bytes as _raw  # gunzipped bytes, the readers' rule (.merged too)
from mmon.readers import DatasetFile
from mmon.store import Store, is_local, join, local_path, polars_path

MISSING_TOKENS = ("", "nan", "null", "none")
SUMMARY_FILE = "merge_summary.json"
_INDEX = re.compile(r"^\d+$")
_MAX_EXAMPLES = 3

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


def _source(store: Store, url: str) -> tuple[object, dict[str, str] | None]:
    """What polars should scan (a path or bytes) and its storage options."""
    if store.polars_native(url) and not url.lower().endswith(".gz"):
        so = store.polars_options(url)
        return polars_path(local_path(url) if so is None else url), so  # a path, not a glob
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


def _flat_frame(store: Store, f: DatasetFile, attrs: Attributes) -> pl.DataFrame:
    """The raw ``actual`` / ``predicted`` / ``score`` columns of a flat table (only those are read)."""
    lf = _scan_flat(store, f)
    schema = lf.collect_schema()
    cols: list[pl.Expr] = []
    for name, attr, what in (
        ("actual", attrs.ground_truth, "ground-truth"),
        ("predicted", attrs.inference, "inference"),
        ("score", attrs.probability, "probability"),
    ):
        if attr:
            cols.append(pl.col(_column(schema, attr, what, f.url)).alias(name))
    return lf.select(cols).collect() if cols else pl.DataFrame()


# -- canonical columns, with fast paths for the usual data ------------------------------------------

# Class columns with at most this many distinct texts are canonicalised per distinct value.
_MAP_UNIQUE_LIMIT = 100_000
_PROBE = 10_000  # values looked at first to tell whether the distinct ones are few


def canonical_classes(s: pl.Series) -> pl.Series:
    """:func:`class_text` of a whole column; for text columns computed once per distinct value."""
    mostly_distinct = s.len() > 2 * _PROBE and s.head(_PROBE).n_unique() > _PROBE // 2
    if s.dtype == pl.String and not mostly_distinct:
        # (Finding the distinct texts of a column that is mostly distinct -- a probability read as
        # a class -- costs a hash per value and saves nothing: then every value is computed.)
        uniq = s.unique()
        if uniq.len() <= _MAP_UNIQUE_LIMIT:
            canon = pl.DataFrame({"u": uniq}).select(class_text(pl.col("u"), pl.String()).alias("u"))["u"]
            if canon.equals(uniq, check_names=False, null_equal=True):
                return s  # already canonical
            return s.replace_strict(uniq, canon, return_dtype=pl.String)
    return pl.DataFrame({"v": s}).select(class_text(pl.col("v"), s.dtype).alias("v"))["v"]


def _numbers(s: pl.Series, what: str, url: str) -> pl.Series:
    """Float64 values of a column; unreadable text is an input error naming examples."""
    if s.dtype == pl.String:
        fast = s.cast(pl.Float64, strict=False)
        if (fast.is_null() & s.is_not_null()).any():  # spaces, "NaN" spellings or bad text
            value, flag = number_value(pl.col("v"), pl.String())
            out = pl.DataFrame({"v": s}).select(value.alias("v"), flag.alias("bad"))
            bad = out["bad"]
            if bad.any():
                examples = s.filter(bad).head(_MAX_EXAMPLES).to_list()
                shown = ", ".join(repr(x) for x in examples)
                raise InputError(f"{url}: {int(bad.sum())} {what} value(s) are not numbers (e.g. {shown})")
            return out["v"]
        return fast.fill_nan(None)
    value, _bad = number_value(pl.col("v"), s.dtype)
    return pl.DataFrame({"v": s}).select(value.alias("v"))["v"]


def _probabilities(s: pl.Series, index: int, url: str) -> pl.Series:
    """A probability column: numbers, or element ``index`` of per-class lists (list values or
    the text ``[0.1, 0.9]``)."""
    if isinstance(s.dtype, (pl.List, pl.Array)) or (s.dtype == pl.String and s.str.contains("[", literal=True).any()):
        value, bad = probability_value(pl.col("v"), s.dtype, index)
        out = pl.DataFrame({"v": s}).select(value.alias("v"), bad.alias("bad"))
        if out["bad"].any():
            examples = ", ".join(repr(x) for x in s.filter(out["bad"]).head(_MAX_EXAMPLES).to_list())
            raise InputError(f"{url}: {int(out['bad'].sum())} probability value(s) are not numbers (e.g. {examples})")
        return out["v"]
    return _numbers(s, "probability", url)


def _canonical(raw: pl.DataFrame, attrs: Attributes, url: str) -> pl.DataFrame:
    """``actual``, ``predicted`` (classes as text, or Float64) and ``score`` (Float64) of a file."""
    kind = pl.Float64 if attrs.numeric else pl.String
    out: dict[str, pl.Series] = {}
    for name, what in (("actual", "label"), ("predicted", "prediction")):
        if name not in raw.columns:
            out[name] = pl.repeat(None, raw.height, dtype=kind, eager=True).alias(name)
        elif attrs.numeric:
            out[name] = _numbers(raw[name], what, url).alias(name)
        else:
            out[name] = canonical_classes(raw[name]).alias(name)
    if attrs.probability:
        out["score"] = (
            _probabilities(raw["score"], attrs.probability_index, url).alias("score")
            if "score" in raw.columns
            else pl.repeat(None, raw.height, dtype=pl.Float64, eager=True).alias("score")
        )
    return pl.DataFrame(out)


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
