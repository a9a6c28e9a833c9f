"""The global attributions of a dataset, as Clarify's ``analysis.json``: Kernel SHAP over the model's
answers, or aggregated from attribution columns the data already holds.

``columns:PREFIX``: the data already holds each row's local attributions; column ``PREFIX + F`` is
feature F's attribution (``PREFIX + "expected_value"``, if present, gives the expected value). The
global values are aggregated from those columns with ``agg_method``; no model is called.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mmon.attribution.cloudwatch import METHOD
from mmon.attribution.config import (
    AGG_METHODS,
    predictor_config,
    shap_config,
    validate_analysis,
    validate_config,
)
from mmon.attribution.data import (
    baseline_rows,
    column_values,
    feature_matrix,
    read_frame,
    resolve_features,
    sample_rows,
    summarise,
)
from mmon.attribution.kernel_shap import default_num_samples, kernel_shap, max_coalitions
from mmon.attribution.model import ColumnsModel, Model, ModelError, load_model
from mmon.attribution.ndcg import DEFAULT_THRESHOLD
from mmon.errors import InputError
from mmon.store import Store

DEFAULT_NUM_CLUSTERS = 10

Progress = Callable[[str, int, int], None]


@dataclass
class AttributionOptions:
    max_records: int | None = 1000
    seed: int = 0
    batch_size: int = 1000
    timeout: float = 60.0
    threshold: float = DEFAULT_THRESHOLD



def _aggregate(values: np.ndarray, method: str) -> np.ndarray:
    """(n, M, D) local values → (M, D) global values."""
    if method == "mean_abs":
        return np.abs(values).mean(axis=0)
    if method == "median":
        return np.median(values, axis=0)
    if method == "mean_sq":
        return (values**2).mean(axis=0)
    raise InputError(f"methods.shap.agg_method {method!r}: expected one of {', '.join(AGG_METHODS)}")


def _label_names(d: int, config: dict[str, Any], warnings: list[str]) -> list[str]:
    headers = predictor_config(config).get("label_headers")
    if headers and len(headers) == d:
        return list(headers)
    if headers:
        warnings.append(
            f"predictor.label_headers names {len(headers)} labels but the model returns {d} value(s) per record; "
            "using label0, label1, …"
        )
    return [f"label{i}" for i in range(d)]


def _analysis_doc(
    feats: list[str], global_values: np.ndarray, expected: np.ndarray | None, labels: list[str]
) -> dict[str, Any]:
    per_label: dict[str, Any] = {}
    for d, label in enumerate(labels):
        entry: dict[str, Any] = {
            "global_shap_values": {f: float(global_values[j, d]) for j, f in enumerate(feats)}
        }
        if expected is not None:
            entry["expected_value"] = float(expected[d])
        per_label[label] = entry
    return {"version": "1.0", "explanations": {METHOD: per_label}}


def encode_analysis(doc: dict[str, Any], url: str) -> bytes:
    """Clarify is Python: ``json.dumps(indent=4)`` as in the real analysis.json."""
    validate_analysis(doc, url)
    return json.dumps(doc, indent=4, ensure_ascii=False, allow_nan=False).encode("utf-8")


@dataclass
class Computed:
    analysis: dict[str, Any]
    rows: int
    total_rows: int
    model_calls: int
    warnings: list[str]
    local: tuple[list[str], list[str], np.ndarray] | None  # (features, labels, values (n, M, D))


def compute(
    store: Store,
    inputs: list[str],
    model_spec: str,
    config: dict[str, Any],
    options: AttributionOptions,
    fmt: str | None,
    header: bool,
    progress: Progress | None,
) -> tuple[Computed, Model]:
    config = validate_config(config)
    shap = shap_config(config)
    pred = predictor_config(config)
    agg = shap.get("agg_method", "mean_abs")
    seed = int(shap.get("seed", options.seed))
    if options.batch_size < 1:
        raise InputError(f"--batch-size {options.batch_size}: expected at least 1")
    model = load_model(
        model_spec,
        options.timeout,
        content_type=pred.get("content_type"),
        accept_type=pred.get("accept_type"),
        probability=str(pred["probability"]) if pred.get("probability") is not None else None,
        content_template=pred.get("content_template"),
    )
    warnings: list[str] = []
    df = read_frame(store, inputs, fmt, header, config)
    total = df.height
    if total == 0:
        raise InputError(f"{', '.join(inputs)}: the dataset has no records")

    if isinstance(model, ColumnsModel):
        return _from_columns(df, model, config, agg, warnings), model

    df, feats = resolve_features(df, config)
    pick = sample_rows(total, options.max_records, seed)
    if pick is not None:
        df = df[pick.tolist()]
        warnings.append(
            f"explained a seeded sample of {df.height} of {total} records (--max-records {options.max_records})"
        )
    x, numeric = feature_matrix(df, feats)
    if "baseline" in shap:
        background, bweights = baseline_rows(store, shap["baseline"], feats, numeric), None
        if background.dtype == object and x.dtype != object:
            background = background.astype(np.float64)
    else:
        k = int(shap.get("num_clusters", DEFAULT_NUM_CLUSTERS))
        background, bweights = summarise(x, numeric, k, seed)
        warnings.append(
            f"no methods.shap.baseline: the SHAP background is a {len(background)}-cluster k-means summary of the "
            "explained data; give a fixed baseline to make runs comparable"
        )
    m = len(feats)
    num_samples = int(shap.get("num_samples", default_num_samples(m)))
    if num_samples > max_coalitions(m) and m <= 30:
        num_samples = max_coalitions(m)

    def report(done: int, calls: int) -> None:
        if progress is not None:
            progress("model calls", done, calls)

    try:
        result = kernel_shap(
            model.predict,
            x,
            background,
            bweights,
            num_samples=num_samples,
            seed=seed,
            use_logit=bool(shap.get("use_logit", False)),
            batch_size=options.batch_size,
            progress=report,
        )
    except ValueError as exc:
        raise ModelError(f"model {model_spec}: {exc}") from exc
    if result.underdetermined:
        warnings.append(
            f"methods.shap.num_samples {num_samples} is too small for {m} features: the SHAP values are not "
            f"determined; use at least {m + 1}"
        )
    d = result.values.shape[2]
    labels = _label_names(d, config, warnings)
    glob = _aggregate(result.values, agg)
    doc = _analysis_doc(feats, glob, result.expected_value, labels)
    local = (feats, labels, result.values) if shap.get("save_local_shap_values") else None
    return Computed(doc, df.height, total, model.calls, warnings, local), model


def _from_columns(
    df: pl.DataFrame, model: ColumnsModel, config: dict[str, Any], agg: str, warnings: list[str]
) -> Computed:
    prefix = model.prefix
    ev_col = prefix + "expected_value"
    headers = config.get("headers")
    label = config.get("label")
    if headers:
        feats = [h for h in headers if h != label]
        missing = [prefix + f for f in feats if prefix + f not in df.columns]
        if missing:
            raise InputError(
                f"--model {model.spec}: attribution columns not in the data: {', '.join(missing[:5])}"
            )
    else:
        feats = [c[len(prefix) :] for c in df.columns if c.startswith(prefix) and c != ev_col]
        if not feats:
            raise InputError(f"--model {model.spec}: no column of the data starts with {prefix!r}")
    values = np.empty((df.height, len(feats), 1))
    for j, f in enumerate(feats):
        col, numeric = column_values(df[prefix + f])
        if not numeric:
            raise InputError(f"--model {model.spec}: column {prefix + f!r} holds values that are not numbers")
        values[:, j, 0] = col
    if np.isnan(values).any():
        warnings.append("some attribution cells are empty; they are left out of the global values")
    present = ~np.isnan(values)
    if not present.any(axis=0).all():
        raise InputError(f"--model {model.spec}: an attribution column has no values")
    if agg == "mean_abs":
        glob = np.nanmean(np.abs(values), axis=0)
    elif agg == "median":
        glob = np.nanmedian(values, axis=0)
    elif agg == "mean_sq":
        glob = np.nanmean(values**2, axis=0)
    else:
        raise InputError(f"methods.shap.agg_method {agg!r}: expected one of {', '.join(AGG_METHODS)}")
    expected = None
    if ev_col in df.columns:
        ev, numeric = column_values(df[ev_col])
        if numeric and np.isfinite(ev).any():
            expected = np.array([float(np.nanmean(ev))])
    labels = _label_names(1, config, warnings)
    doc = _analysis_doc(feats, glob, expected, labels)
    return Computed(doc, df.height, df.height, 0, warnings, None)


def local_csv(local: tuple[list[str], list[str], np.ndarray]) -> bytes:
    feats, labels, values = local
    n, m, d = values.shape
    names = feats if d == 1 else [f"{lab}___{f}" for lab in labels for f in feats]
    flat = values.transpose(0, 2, 1).reshape(n, d * m)
    buf = io.StringIO()
    import csv

    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for row in flat:
        w.writerow([repr(float(v)) for v in row])
    return buf.getvalue().encode("utf-8")
