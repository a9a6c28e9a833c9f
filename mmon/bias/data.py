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
* **Merged records** (JSON Lines with ``captureData`` + ``groundTruthData``, format study §5.4,
  endpoint or batch transform): read by :mod:`mmon.merged_rows` -- every instance of a request is
  a row (``{"instances": [...]}`` with ``predictions[*]`` and Clarify's JSON labels, or a
  multi-line CSV body); a record whose input, output and label give different row counts is an
  input error (exit 2). Features come from Clarify's ``features`` path when the config has one,
  named by ``headers`` without the label's header (for JSON datasets Clarify's rule: the last
  entry of ``headers``) when the counts fit, else ``_c0…``; the prediction from
  ``--inference-attribute`` / ``--probability-attribute`` (a 0-based CSV field, or a JSON path /
  field name; default the first CSV field or the only JSON field); with neither attribute the
  output is a probability when a threshold is configured, else the predicted label; the label
  from ``groundTruthData.data`` (CSV text, or JSON along the config's ``label`` path, e.g.
  ``instances[*].label``). ``BASE64`` payloads are decoded first. Shadow traffic
  (``invocationSource = ShadowExperiment``) is skipped, as SageMaker does.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field

import polars as pl

from mmon import merged_rows
from mmon.capture import META_PREFIX
from mmon.errors import InputError
from mmon.readers import DatasetFile, dataset_files, iter_batches
from mmon.store import Store

LABEL = "__bias_label"
PRED = "__bias_pred"
PROB = "__bias_prob"
INTERNAL = (LABEL, PRED, PROB)
DEFAULT_PROBABILITY_THRESHOLD = 0.5

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
    features: str | None = None  # Clarify's ``features`` path in JSON payloads (instances[*].features)


# -- flat tables --------------------------------------------------------------------------------


def column_of(columns: list[str], spec: str | int, what: str, source: str | None = None) -> str:
    """The column ``spec`` names: a name, or a 0-based index. In a file (``source``, which starts
    the messages) a digit string that is no column's name is an index too; in the analysed data
    (``source`` None) only an int is."""
    if isinstance(spec, int) or (source is not None and spec.isdigit() and spec not in columns):
        i = int(spec)
        if i >= len(columns):
            raise InputError(f"{source + ': ' if source else ''}{what} index {i} is out of range ({len(columns)} columns)")
        return columns[i]
    if spec not in columns:
        where = f"{source}: {what} column {spec!r} not found" if source else f"{what} column {spec!r} not found in the data"
        raise InputError(f"{where} (columns: {', '.join(columns[:20])})")
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
        label_col = column_of(cols, loc.label, "label", f.url)
    model_cols.add(label_col)
    out = [pl.col(label_col).alias(LABEL)]
    if loc.want_predictions:
        if loc.inference_attribute is not None:
            c = column_of(cols, loc.inference_attribute, "--inference-attribute", f.url)
            out.append(pl.col(c).alias(PRED))
            model_cols.add(c)
        elif loc.probability_attribute is not None:
            c = column_of(cols, loc.probability_attribute, "--probability-attribute", f.url)
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


def _merged(store: Store, f: DatasetFile, loc: Locator) -> tuple[pl.DataFrame, set[str], list[str]]:
    """Rows of merged records: every instance of a request is a row (:mod:`mmon.merged_rows`)."""
    warnings: list[str] = []
    recs = merged_rows.read_file(store, f.url)
    unlabelled = recs["gt_text"].null_count()
    if unlabelled:
        warnings.append(f"{f.url}: {unlabelled} record(s) without groundTruthData skipped")
        recs = recs.filter(pl.col("gt_text").is_not_null())
    sides: dict[str, pl.DataFrame] = {}
    feats = merged_rows.features(recs, f.url, loc.features)
    if feats.width > 2:
        sides["in"] = feats
    sides["gt"] = merged_rows.values(recs, "gt", loc.label, f.url).rename({"v": LABEL})
    if loc.want_predictions:
        attr = loc.inference_attribute if loc.inference_attribute is not None else loc.probability_attribute
        as_prob = loc.inference_attribute is None and (
            loc.probability_attribute is not None or loc.probability_threshold is not None
        )
        sides["out"] = merged_rows.values(recs, "out", attr, f.url).rename({"v": PROB if as_prob else PRED})
    rows = merged_rows.assemble(recs, sides, f.url).drop("_rec", "_row")
    positional = [c for c in rows.columns if c.startswith("#")]
    names = _feature_names(len(positional), loc)
    rows = rows.rename(dict(zip(positional, names, strict=True)))
    return rows, set(), warnings


def _is_json_dataset(f: DatasetFile, loc: Locator) -> bool:
    """A Clarify JSON dataset (``{"instances": [{"features": [...], "label": ...}]}``), read along
    the config's ``features`` / ``label`` paths."""
    return f.format == "json" and (
        loc.features is not None or (isinstance(loc.label, str) and "[*]" in loc.label)
    )


def _json_dataset(store: Store, f: DatasetFile, loc: Locator) -> tuple[pl.DataFrame, set[str]]:
    raw = store.read_bytes(f.url)
    if f.url.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8-sig")
    # The whole file is one document: a one-record frame whose sides all read it.
    recs = pl.DataFrame({"_rec": [1], "event_id": [None], **{f"{k}_text": [text] for k in ("in", "out", "gt")},
                         **{f"{k}_kind": ["json"] for k in ("in", "out", "gt")}},
                        schema_overrides={"_rec": pl.UInt32, "event_id": pl.String})  # fmt: skip
    sides = {
        "in": merged_rows.features(recs, f.url, loc.features),
        "gt": merged_rows.values(recs, "gt", loc.label, f.url).rename({"v": LABEL}),
    }
    model_cols: set[str] = set()
    if loc.want_predictions:
        attr = loc.inference_attribute if loc.inference_attribute is not None else loc.probability_attribute
        if attr is None:
            raise InputError(
                f"{f.url}: a JSON dataset carries no predictions unless --inference-attribute or "
                "--probability-attribute names them (e.g. instances[*].predicted_label)"
            )
        sides["out"] = merged_rows.values(recs, "out", attr, f.url).rename(
            {"v": PRED if loc.inference_attribute is not None else PROB}
        )
    rows = merged_rows.assemble(recs, sides, f.url).drop("_rec", "_row")
    positional = [c for c in rows.columns if c.startswith("#")]
    rows = rows.rename(dict(zip(positional, _feature_names(len(positional), loc), strict=True)))
    return rows, model_cols


def _feature_names(width: int, loc: Locator) -> list[str]:
    headers = list(loc.headers or [])
    if headers and len(headers) == width + 1:
        if isinstance(loc.label, str) and loc.label in headers:
            headers.remove(loc.label)
        else:
            # Clarify's rule for JSON datasets: the label's header is the last entry of headers.
            headers = headers[:-1]
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
        elif _is_json_dataset(f, loc):
            frame, mc = _json_dataset(store, f, loc)
        else:
            frame, mc = _flat(store, f, loc)
        frames.append(frame)
        model_cols |= mc
    frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    return Rows(frame, [f.url for f in files], model_cols, warnings)
