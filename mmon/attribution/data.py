"""The data a feature-attribution job explains: read, its features named, made a matrix, sampled, and
the SHAP background.

CSV columns arrive as text and are used as numbers when every value parses; mmon's capture
bookkeeping columns (``__mmon_*``) and the config's ``label`` column are never features. The
features are the config's ``headers`` (mapped by position onto headerless CSV) or every other
column. With ``--max-records N`` a seeded uniform sample of N records is explained (file order kept).
The background is the config's ``methods.shap.baseline`` rows, or a k-means summary of the data.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import polars as pl

from mmon import merged_rows
from mmon.attribution.kernel_shap import kmeans
from mmon.capture import is_meta_column
from mmon.errors import InputError
from mmon.readers import dataset_files, iter_batches
from mmon.store import Store


def _merged_features(store: Store, url: str, config: dict[str, Any]) -> pl.DataFrame | None:
    """The features of SageMaker merged / capture records (every instance a row), else None."""
    with store.open(url, "rb") as fh:
        first = fh.readline()
    try:
        rec = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or "captureData" not in rec:
        return None
    recs = merged_rows.read_records(store.read_bytes(url), url)
    rows = merged_rows.features(recs, url, config.get("features"))
    return rows.drop("_rec", "_row").rename(lambda c: f"_c{c[1:]}" if c.startswith("#") else c)


def read_frame(
    store: Store, inputs: list[str], fmt: str | None, header: bool, config: dict[str, Any] | None = None
) -> pl.DataFrame:
    files = dataset_files(store, inputs, fmt, header)
    frames = []
    for f in files:
        merged = _merged_features(store, f.url, config or {}) if f.format == "jsonl" else None
        frames += [merged] if merged is not None else list(iter_batches(store, f))
    if not frames:
        raise InputError(f"{', '.join(inputs)}: no data")
    df = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    return df.select([c for c in df.columns if not is_meta_column(c)])


def _is_positional(cols: list[str]) -> bool:
    return bool(cols) and all(c == f"_c{i}" for i, c in enumerate(cols))


def resolve_features(df: pl.DataFrame, config: dict[str, Any]) -> tuple[pl.DataFrame, list[str]]:
    """Rename headerless columns to the config's headers and return (frame, feature names)."""
    cols = list(df.columns)
    headers = config.get("headers")
    label = config.get("label")
    if headers and isinstance(label, str) and label not in headers and any(c in label for c in ".[$"):
        # Clarify's rule for JSON datasets: with a label path, the last header is the label's.
        headers, label = headers[:-1], None
    if headers:
        if _is_positional(cols) and not all(h in cols for h in headers):
            keep = [c for i, c in enumerate(cols) if not (isinstance(label, int) and i == label)]
            if len(headers) == len(keep):
                df = df.rename(dict(zip(keep, headers, strict=True)))
            elif len(headers) == len(cols):
                df = df.rename(dict(zip(cols, headers, strict=True)))
            else:
                raise InputError(
                    f"the config names {len(headers)} headers but the data has {len(cols)} columns"
                    + (" (one of them the label)" if label is not None else "")
                )
        missing = [h for h in headers if h not in df.columns and h != label]
        if missing:
            raise InputError(
                f"config headers not in the data: {', '.join(missing[:5])}"
                + (" …" if len(missing) > 5 else "")
            )
        feats = [h for h in headers if h != label]
    else:
        label_name = cols[label] if isinstance(label, int) and 0 <= label < len(cols) else label
        feats = [c for c in cols if c != label_name]
    if not feats:
        raise InputError("no feature columns to explain")
    return df, feats


def column_values(s: pl.Series) -> tuple[np.ndarray, bool]:
    """(values, numeric): float64 with NaN for nulls when every present value is a number."""
    if s.dtype.is_numeric() or s.dtype == pl.Boolean:
        return s.cast(pl.Float64).fill_null(float("nan")).to_numpy(), True
    if s.dtype == pl.String:
        as_num = s.str.strip_chars().cast(pl.Float64, strict=False)
        if as_num.null_count() == s.null_count():
            return as_num.fill_null(float("nan")).to_numpy(), True
    return np.asarray(s.to_list(), dtype=object), False


def feature_matrix(df: pl.DataFrame, feats: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows × features array, numeric mask): float64 when every feature is numeric, else object."""
    cols, numeric = zip(*(column_values(df[f]) for f in feats), strict=True)
    num = np.array(numeric, dtype=bool)
    if num.all():
        return np.column_stack(cols).astype(np.float64), num
    out = np.empty((df.height, len(feats)), dtype=object)
    for j, c in enumerate(cols):
        out[:, j] = c
    return out, num


def sample_rows(n: int, max_records: int | None, seed: int) -> np.ndarray | None:
    if max_records is None or n <= max_records:
        return None
    if max_records < 1:
        raise InputError(f"--max-records {max_records}: expected at least 1")
    return np.sort(np.random.default_rng(seed).choice(n, size=max_records, replace=False))


def _parse_baseline_value(v: Any, numeric: bool, where: str) -> Any:
    if not numeric:
        return v
    if v is None or v == "":
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: {v!r} is not a number, but the feature is numeric in the data") from exc


def baseline_rows(store: Store, spec: Any, feats: list[str], numeric: np.ndarray) -> np.ndarray:
    m = len(feats)
    rows: list[list[Any]] = []
    where = "methods.shap.baseline"
    if isinstance(spec, str):
        where = spec
        text = store.read_text(spec)
        first = text.lstrip()[:1]
        if first in ("{", "["):
            for i, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise InputError(f"{spec}:{i}: not valid JSON ({exc.msg})") from exc
        else:
            import csv

            rows = [r for r in csv.reader(io.StringIO(text)) if r]
            if rows and [c.strip() for c in rows[0]] == feats:
                rows = rows[1:]  # a header line
    else:
        rows = list(spec) if isinstance(spec, list) else [spec]
    # Clarify's JSON form ({"instances": [{"features": [...]}, ...]}, what the SDK writes for JSON
    # datasets): one row per instance.
    rows = [r for row in rows for r in (row["instances"] if isinstance(row, dict) and isinstance(row.get("instances"), list) else [row])]
    out = np.empty((len(rows), m), dtype=object)
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            row = row.get("features", row) if "features" in row else [row.get(f) for f in feats]
        if not isinstance(row, list) or len(row) != m:
            size = len(row) if isinstance(row, list) else type(row).__name__
            raise InputError(
                f"{where}: baseline row {i + 1} has {size} values, expected {m} (one per feature)"
            )
        for j, v in enumerate(row):
            out[i, j] = _parse_baseline_value(v, bool(numeric[j]), f"{where}: baseline row {i + 1}")
    if not len(out):
        raise InputError(f"{where}: the SHAP baseline has no rows")
    return out.astype(np.float64) if numeric.all() else out


def summarise(x: np.ndarray, numeric: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means background over the numeric features; other features take their cluster's mode."""
    if numeric.any():
        num = x[:, numeric].astype(np.float64)
        centres, weights = kmeans(num, k, seed)
        if numeric.all():
            return centres, weights
        # Assign rows to the nearest centre to get each cluster's mode of the non-numeric columns.
        filled = np.where(np.isfinite(num), num, np.nanmean(num, axis=0))
        scale = filled.std(axis=0)
        scale[scale == 0] = 1.0
        dist = (((filled[:, None, :] - centres[None, :, :]) / scale) ** 2).sum(axis=2)
        assign = dist.argmin(axis=1)
    else:
        centres, weights, assign = np.zeros((1, 0)), np.ones(1), np.zeros(len(x), dtype=np.int64)
    out = np.empty((len(centres), x.shape[1]), dtype=object)
    out[:, numeric] = centres
    for c in range(len(centres)):
        members = x[assign == c] if (assign == c).any() else x
        for j in np.flatnonzero(~numeric):
            vals, counts = np.unique(members[:, j].astype(str), return_counts=True)
            out[c, j] = vals[counts.argmax()]
    return out, weights
