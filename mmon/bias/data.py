"""Reading the rows a bias analysis needs: flat tables and SageMaker merged records.

The result is one polars DataFrame with the dataset's own columns (features, facets, group
variable) plus ``__bias_label`` (the observed label), and ``__bias_pred`` (the predicted label) or
``__bias_prob`` (a probability, turned into a label with the threshold) when predictions exist.

* **Flat tables** (CSV, Parquet, JSON Lines, JSON via :mod:`mmon.readers`): the label is the
  config's ``label`` column (name, or 0-based index), else a ``label`` column (``mmon
  capture-merge --flat``); the prediction is ``--inference-attribute`` (a column, name or index),
  or ``--probability-attribute`` + threshold, else a ``prediction`` column, else a
  ``probability`` column. Headerless CSV columns ``_c0…`` take the config's ``headers``.
  ``mmon.capture.META_PREFIX`` columns are dropped.
* **Merged records** (JSON Lines with ``captureData`` + ``groundTruthData``, format study §5.4):
  features from ``captureData.endpointInput.data`` (CSV: split on commas, named by ``headers``
  (without the label's header) when the counts fit, else ``_c0…``; JSON: an object's keys, a
  list's positions, ``instances[0]`` / ``features`` unwrapped); the prediction from
  ``captureData.endpointOutput.data`` (CSV: field ``--inference-attribute`` /
  ``--probability-attribute`` (0-based), default the first field; JSON: that key or dotted path);
  with neither attribute the output is a probability when a threshold is configured, else the
  predicted label; the label from ``groundTruthData.data`` (CSV text, or JSON followed along the
  config's ``label`` path, e.g. ``instances[*].label``). ``BASE64`` payloads are decoded first.
  Shadow traffic (``invocationSource = ShadowExperiment``) is skipped, as SageMaker does.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from mmon.capture import META_PREFIX
from mmon.errors import InputError
from mmon.readers import DatasetFile, dataset_files, iter_batches
from mmon.store import Store

LABEL = "__bias_label"
PRED = "__bias_pred"
PROB = "__bias_prob"
INTERNAL = (LABEL, PRED, PROB)
DEFAULT_PROBABILITY_THRESHOLD = 0.5

S = pl.String
_IO = pl.Struct({"data": S, "encoding": S, "observedContentType": S})
MERGED_SCHEMA = {
    "captureData": pl.Struct({"endpointInput": _IO, "endpointOutput": _IO}),
    "groundTruthData": _IO,
    "eventMetadata": pl.Struct({"invocationSource": S}),
}


@dataclass
class Rows:
    frame: pl.DataFrame
    files: list[str]
    # Columns that are not features (label / prediction / probability sources) for the Flip Test.
    model_columns: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Locator:
    label: str | int
    headers: list[str] | None
    inference_attribute: str | None
    probability_attribute: str | None
    probability_threshold: float | None
    want_predictions: bool


# -- flat tables --------------------------------------------------------------------------------


def _column(columns: list[str], spec: str | int, what: str, source: str) -> str:
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and spec not in columns):
        i = int(spec)
        if i >= len(columns):
            raise InputError(f"{source}: {what} index {i} is out of range ({len(columns)} columns)")
        return columns[i]
    if spec not in columns:
        raise InputError(f"{source}: {what} column {spec!r} not found (columns: {', '.join(columns[:20])})")
    return spec


def _flat(store: Store, f: DatasetFile, loc: Locator) -> tuple[pl.DataFrame, set[str]]:
    frame = pl.concat(list(iter_batches(store, f)), how="vertical_relaxed")
    frame = frame.select([c for c in frame.columns if not c.startswith(META_PREFIX)])
    if f.format == "csv" and not f.header and loc.headers and len(loc.headers) == frame.width:
        frame = frame.rename(dict(zip(frame.columns, loc.headers, strict=True)))
    cols = frame.columns
    model_cols: set[str] = set()
    if isinstance(loc.label, str) and loc.label not in cols and "label" in cols:
        label_col = "label"  # capture-merge --flat, or a JMESPath label meant for JSON payloads
    else:
        label_col = _column(cols, loc.label, "label", f.url)
    model_cols.add(label_col)
    out = [pl.col(label_col).alias(LABEL)]
    if loc.want_predictions:
        if loc.inference_attribute is not None:
            c = _column(cols, loc.inference_attribute, "--inference-attribute", f.url)
            out.append(pl.col(c).alias(PRED))
            model_cols.add(c)
        elif loc.probability_attribute is not None:
            c = _column(cols, loc.probability_attribute, "--probability-attribute", f.url)
            out.append(pl.col(c).alias(PROB))
            model_cols.add(c)
        elif "prediction" in cols and frame["prediction"].null_count() < frame.height:
            out.append(pl.col("prediction").alias(PRED))
            model_cols.add("prediction")
        elif "probability" in cols:
            out.append(pl.col("probability").alias(PROB))
            model_cols.add("probability")
        else:
            raise InputError(
                f"{f.url}: no predicted label found; pass --inference-attribute COLUMN or "
                "--probability-attribute COLUMN (post-training bias needs predictions)"
            )
        for c in ("prediction", "probability"):
            if c in cols:
                model_cols.add(c)
    return frame.with_columns(out), model_cols


# -- merged records -----------------------------------------------------------------------------


def _is_merged(store: Store, f: DatasetFile) -> bool:
    if f.format != "jsonl":
        return False
    with store.open(f.url, "rb") as fh:
        raw = gzip.GzipFile(fileobj=fh) if f.url.lower().endswith(".gz") else fh
        for line in io.TextIOWrapper(raw, encoding="utf-8", errors="replace"):
            if line.strip():
                try:
                    first = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(first, dict) and ("captureData" in first or "groundTruthData" in first)
    return False


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\*|\d+)\]")


def follow(value: Any, path: str | None) -> Any:
    """Follow a dotted / JMESPath-like path (``instances[*].label``, ``predictions[0].score``,
    ``$.a.b``); ``[*]`` takes the first element. No path: unwrap a one-key object or a list."""
    if path is None or path == "":
        while True:
            if isinstance(value, list) and value:
                value = value[0]
            elif isinstance(value, dict) and len(value) == 1:
                value = next(iter(value.values()))
            else:
                return value
    for m in _PATH_PART.finditer(path.removeprefix("$").lstrip(".")):
        key, idx = m.group(1), m.group(2)
        if key is not None:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        else:
            if not isinstance(value, list) or not value:
                return None
            value = value[0] if idx == "*" else (value[int(idx)] if int(idx) < len(value) else None)
    while isinstance(value, list) and value and not isinstance(value[0], (dict, list)) and len(value) == 1:
        value = value[0]
    return value


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _decoded(data: pl.Expr, encoding: pl.Expr) -> pl.Expr:
    """Payload text: BASE64 decoded, others as they are."""
    return (
        pl.when(encoding.str.to_uppercase() == "BASE64")
        .then(data.str.decode("base64").cast(S, strict=False))
        .otherwise(data)
    )


def _is_json(encoding: pl.Expr, ctype: pl.Expr) -> pl.Expr:
    return (encoding.str.to_uppercase() == "JSON") | (
        (encoding.str.to_uppercase() == "BASE64") & ctype.str.to_lowercase().str.contains("json")
    )


def _json_features(text: str | None) -> list[tuple[str | None, str | None]]:
    if text is None:
        return []
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        return []
    if isinstance(v, dict) and "instances" in v and isinstance(v["instances"], list) and v["instances"]:
        v = v["instances"][0]
    if isinstance(v, dict) and "features" in v and isinstance(v["features"], list):
        v = v["features"]
    if isinstance(v, list) and v and isinstance(v[0], list):
        v = v[0]
    if isinstance(v, dict):
        return [(k, _text(x)) for k, x in v.items()]
    if isinstance(v, list):
        return [(None, _text(x)) for x in v]
    return [(None, _text(v))]


def _merged(store: Store, f: DatasetFile, loc: Locator) -> tuple[pl.DataFrame, set[str], list[str]]:
    warnings: list[str] = []
    raw = store.read_bytes(f.url)
    if f.url.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    try:
        recs = pl.read_ndjson(io.BytesIO(raw), schema=MERGED_SCHEMA)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{f.url}: cannot read merged records: {str(exc).splitlines()[0]}") from exc
    cin = pl.col("captureData").struct.field("endpointInput")
    cout = pl.col("captureData").struct.field("endpointOutput")
    gt = pl.col("groundTruthData")
    t = recs.filter(
        pl.col("eventMetadata").struct.field("invocationSource").fill_null("") != "ShadowExperiment"
    ).select(
        _decoded(cin.struct.field("data"), cin.struct.field("encoding")).alias("in"),
        _is_json(cin.struct.field("encoding"), cin.struct.field("observedContentType"))
        .fill_null(False)
        .alias("in_json"),
        _decoded(cout.struct.field("data"), cout.struct.field("encoding")).alias("out"),
        _is_json(cout.struct.field("encoding"), cout.struct.field("observedContentType"))
        .fill_null(False)
        .alias("out_json"),
        _decoded(gt.struct.field("data"), gt.struct.field("encoding")).alias("gt"),
        _is_json(gt.struct.field("encoding"), gt.struct.field("observedContentType"))
        .fill_null(False)
        .alias("gt_json"),
    )
    unlabelled = t["gt"].null_count()
    if unlabelled:
        warnings.append(f"{f.url}: {unlabelled} record(s) without groundTruthData skipped")
        t = t.filter(pl.col("gt").is_not_null())
    n = t.height
    label_path = loc.label if isinstance(loc.label, str) else None

    # Features.
    any_json_in = bool(t["in_json"].any()) if n else False
    if not any_json_in:
        parts = t["in"].str.strip_chars().str.split(",")
        width = int(parts.list.len().max() or 0) if n else 0  # type: ignore[arg-type]
        feats = [parts.list.get(i, null_on_oob=True).str.strip_chars() for i in range(width)]
        names = _feature_names(width, loc)
        features = pl.DataFrame({name: s for name, s in zip(names, feats, strict=True)})
    else:
        rows = [_json_features(x) for x in t["in"].to_list()]
        keys: list[str] = []
        for r in rows:
            for i, (k, _) in enumerate(r):
                name = k if k is not None else (_feature_names(len(r), loc)[i])
                if name not in keys:
                    keys.append(name)
        data: dict[str, list[str | None]] = {k: [None] * n for k in keys}
        for j, r in enumerate(rows):
            names = _feature_names(len(r), loc)
            for i, (k, v) in enumerate(r):
                data[k if k is not None else names[i]][j] = v
        features = pl.DataFrame(data, schema={k: S for k in keys})

    # Label.
    gt_values = []
    for text, is_json in zip(t["gt"].to_list(), t["gt_json"].to_list(), strict=True):
        if is_json:
            try:
                gt_values.append(_text(follow(json.loads(text), label_path)))
            except json.JSONDecodeError:
                gt_values.append(None)
        else:
            gt_values.append(
                text.split(",")[int(loc.label)].strip()
                if isinstance(loc.label, int) and "," in text
                else text.strip()
            )
    cols = [pl.Series(LABEL, gt_values, dtype=S)]

    # Prediction.
    if loc.want_predictions:
        attr = loc.inference_attribute if loc.inference_attribute is not None else loc.probability_attribute
        as_prob = loc.inference_attribute is None and (
            loc.probability_attribute is not None or loc.probability_threshold is not None
        )
        out_values: list[str | None] = []
        for text, is_json in zip(t["out"].to_list(), t["out_json"].to_list(), strict=True):
            if text is None:
                out_values.append(None)
            elif is_json:
                try:
                    out_values.append(_text(follow(json.loads(text), attr)))
                except json.JSONDecodeError:
                    out_values.append(None)
            else:
                fields = text.strip().split(",")
                i = int(attr) if attr is not None and str(attr).isdigit() else 0
                out_values.append(fields[i].strip() if i < len(fields) else None)
        cols.append(pl.Series(PROB if as_prob else PRED, out_values, dtype=S))
    return features.with_columns(cols), set(), warnings


def _feature_names(width: int, loc: Locator) -> list[str]:
    headers = list(loc.headers or [])
    if headers and len(headers) == width + 1 and isinstance(loc.label, str) and loc.label in headers:
        headers.remove(loc.label)
    if len(headers) == width:
        return headers
    return [f"_c{i}" for i in range(width)]


def read_rows(
    store: Store, inputs: list[str], loc: Locator, fmt: str | None = None, header: bool = True
) -> Rows:
    files = dataset_files(store, inputs, fmt, header)
    if not files:
        raise InputError(f"no data files found in {', '.join(inputs)}")
    frames: list[pl.DataFrame] = []
    model_cols: set[str] = set()
    warnings: list[str] = []
    for f in files:
        if _is_merged(store, f):
            frame, mc, w = _merged(store, f, loc)
            warnings.extend(w)
        else:
            frame, mc = _flat(store, f, loc)
        frames.append(frame)
        model_cols |= mc
    frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    return Rows(frame, [f.url for f in files], model_cols, warnings)
