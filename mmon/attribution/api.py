"""Feature-attribution drift: Clarify's explainability baseline and monitoring run (format study §8).

``baseline_attribution`` computes global SHAP values of the baseline dataset and writes Clarify's
``analysis.json`` — which *is* the constraints file of this monitor (Clarify writes no separate
``constraints.json``: ``ClarifyBaseliningJob.suggested_constraints()`` returns analysis.json).
``run_attribution`` computes the same for a monitoring window, scores each label's ranking against
the baseline's with nDCG and writes ``analysis.json``, ``constraint_violations.json`` and
``cloudwatch_metrics.jsonl`` in one atomic ``write_many``.

Data: CSV columns arrive as text and are used as numbers when every value parses; mmon's capture
bookkeeping columns (``__mmon_*``) and the config's ``label`` column are never features. The
features are the config's ``headers`` (mapped by position onto headerless CSV) or every other
column. With ``--max-records N`` a seeded uniform sample of N records is explained (file order kept).

``columns:PREFIX``: the data already holds each row's local attributions; column ``PREFIX + F`` is
feature F's attribution (``PREFIX + "expected_value"``, if present, gives the expected value). The
global values are aggregated from those columns with ``agg_method``; no model is called.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Unpack

import numpy as np
import polars as pl

from mmon import merged_rows
from mmon.attribution.cloudwatch import METHOD, cloudwatch_records
from mmon.attribution.config import (
    AGG_METHODS,
    load_analysis,
    predictor_config,
    shap_config,
    validate_analysis,
    validate_config,
)
from mmon.attribution.kernel_shap import default_num_samples, kernel_shap, kmeans, max_coalitions
from mmon.attribution.model import ColumnsModel, Model, ModelError, load_model
from mmon.attribution.ndcg import DEFAULT_THRESHOLD, ndcg, rankings, violation
from mmon.capture import is_meta_column
from mmon.documents import Body, document_body, write_report
from mmon.errors import InputError
from mmon.filenames import ANALYSIS_FILE, CLOUDWATCH_FILE, LOCAL_SHAP_FILE, VIOLATIONS_FILE
from mmon.jsonfmt import java_double_str
from mmon.metrics import cloudwatch_jsonl, metric_time_or_now
from mmon.monitors.place import Where
from mmon.monitors.result import AnalysisResult
from mmon.readers import dataset_files, iter_batches
from mmon.store import Store, join

DEFAULT_NUM_CLUSTERS = 10

Progress = Callable[[str, int, int], None]


@dataclass
class AttributionOptions:
    max_records: int | None = 1000
    seed: int = 0
    batch_size: int = 1000
    timeout: float = 60.0
    threshold: float = DEFAULT_THRESHOLD


@dataclass
class AttributionResult(AnalysisResult):
    model_calls: int
    ndcg: float | None
    baseline: dict[str, Any] | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    total_rows: int = 0
    threshold: float = DEFAULT_THRESHOLD
    model: str = ""

    def _labels(self) -> dict[str, Any]:
        return self.analysis["explanations"][METHOD]

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary for ``--json``."""
        labels: dict[str, Any] = {}
        base = self.baseline["explanations"][METHOD] if self.baseline else {}
        for label, entry in self._labels().items():
            item: dict[str, Any] = {
                "expected_value": entry.get("expected_value"),
                "global_shap_values": dict(entry["global_shap_values"]),
            }
            if self.baseline is not None:
                item["ndcg"] = self.scores.get(label)
                item["violated"] = any(v["label"] == label for v in self.violations)
                if label in base:
                    item["baseline_global_shap_values"] = dict(base[label]["global_shap_values"])
            labels[label] = item
        return {
            "model": self.model,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "model_calls": self.model_calls,
            "ndcg": self.ndcg,
            "threshold": self.threshold if self.baseline is not None else None,
            "violations": len(self.violations),
            "labels": labels,
            "outputs": dict(self.outputs),
            "warnings": list(self.warnings),
        }

    def table(self) -> tuple[str, list[str], list[list[str]]]:
        """(title, columns, rows) for the human view: one row per label and feature."""
        base = self.baseline["explanations"][METHOD] if self.baseline else None
        rows: list[list[str]] = []
        if base is None:
            columns = ["label", "feature", "global_shap", "rank"]
            for label, entry in self._labels().items():
                vals = entry["global_shap_values"]
                order, _ = rankings(vals, vals)
                for f in order:
                    rows.append([label, f, java_double_str(float(vals[f])), str(order.index(f) + 1)])
            title = f"Feature attributions (Kernel SHAP): {self.rows} records, {self.model_calls} model calls"
            return title, columns, rows
        columns = ["label", "feature", "baseline", "current", "baseline_rank", "current_rank", "status"]
        for label, entry in self._labels().items():
            if label not in base:
                continue
            bvals = base[label]["global_shap_values"]
            cvals = entry["global_shap_values"]
            ideal, cur = rankings(bvals, cvals)
            bad = any(v["label"] == label for v in self.violations)
            for f in ideal:
                rows.append(
                    [
                        label,
                        f,
                        java_double_str(float(bvals[f])),
                        java_double_str(float(cvals[f])) if f in cvals else "",
                        str(ideal.index(f) + 1),
                        str(cur.index(f) + 1),
                        "VIOLATION" if bad else "ok",
                    ]
                )
        scores = ", ".join(
            f"{k} nDCG {java_double_str(v) if v is not None else 'n/a'}" for k, v in self.scores.items()
        )
        title = (
            f"Feature attribution drift: {scores} (threshold {java_double_str(self.threshold)}); "
            f"{self.rows} records, {self.model_calls} model calls"
        )
        return title, columns, rows


# -- data ---------------------------------------------------------------------------------------------


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


def _read_frame(
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


def _resolve_features(df: pl.DataFrame, config: dict[str, Any]) -> tuple[pl.DataFrame, list[str]]:
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


def _column_values(s: pl.Series) -> tuple[np.ndarray, bool]:
    """(values, numeric): float64 with NaN for nulls when every present value is a number."""
    if s.dtype.is_numeric() or s.dtype == pl.Boolean:
        return s.cast(pl.Float64).fill_null(float("nan")).to_numpy(), True
    if s.dtype == pl.String:
        as_num = s.str.strip_chars().cast(pl.Float64, strict=False)
        if as_num.null_count() == s.null_count():
            return as_num.fill_null(float("nan")).to_numpy(), True
    return np.asarray(s.to_list(), dtype=object), False


def _matrix(df: pl.DataFrame, feats: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows × features array, numeric mask): float64 when every feature is numeric, else object."""
    cols, numeric = zip(*(_column_values(df[f]) for f in feats), strict=True)
    num = np.array(numeric, dtype=bool)
    if num.all():
        return np.column_stack(cols).astype(np.float64), num
    out = np.empty((df.height, len(feats)), dtype=object)
    for j, c in enumerate(cols):
        out[:, j] = c
    return out, num


def _sample(n: int, max_records: int | None, seed: int) -> np.ndarray | None:
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


def _baseline_rows(store: Store, spec: Any, feats: list[str], numeric: np.ndarray) -> np.ndarray:
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


def _summarise(x: np.ndarray, numeric: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
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
class _Computed:
    analysis: dict[str, Any]
    rows: int
    total_rows: int
    model_calls: int
    warnings: list[str]
    local: tuple[list[str], list[str], np.ndarray] | None  # (features, labels, values (n, M, D))


def _compute(
    store: Store,
    inputs: list[str],
    model_spec: str,
    config: dict[str, Any],
    options: AttributionOptions,
    fmt: str | None,
    header: bool,
    progress: Progress | None,
) -> tuple[_Computed, Model]:
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
    df = _read_frame(store, inputs, fmt, header, config)
    total = df.height
    if total == 0:
        raise InputError(f"{', '.join(inputs)}: the dataset has no records")

    if isinstance(model, ColumnsModel):
        return _from_columns(df, model, config, agg, warnings), model

    df, feats = _resolve_features(df, config)
    pick = _sample(total, options.max_records, seed)
    if pick is not None:
        df = df[pick.tolist()]
        warnings.append(
            f"explained a seeded sample of {df.height} of {total} records (--max-records {options.max_records})"
        )
    x, numeric = _matrix(df, feats)
    if "baseline" in shap:
        background, bweights = _baseline_rows(store, shap["baseline"], feats, numeric), None
        if background.dtype == object and x.dtype != object:
            background = background.astype(np.float64)
    else:
        k = int(shap.get("num_clusters", DEFAULT_NUM_CLUSTERS))
        background, bweights = _summarise(x, numeric, k, seed)
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
    return _Computed(doc, df.height, total, model.calls, warnings, local), model


def _from_columns(
    df: pl.DataFrame, model: ColumnsModel, config: dict[str, Any], agg: str, warnings: list[str]
) -> _Computed:
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
        col, numeric = _column_values(df[prefix + f])
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
        ev, numeric = _column_values(df[ev_col])
        if numeric and np.isfinite(ev).any():
            expected = np.array([float(np.nanmean(ev))])
    labels = _label_names(1, config, warnings)
    doc = _analysis_doc(feats, glob, expected, labels)
    return _Computed(doc, df.height, df.height, 0, warnings, None)


def _local_csv(local: tuple[list[str], list[str], np.ndarray]) -> bytes:
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


# -- public API ---------------------------------------------------------------------------------------


def baseline_attribution(
    store: Store,
    inputs: list[str],
    output: str,
    model_spec: str,
    config: dict[str, Any],
    options: AttributionOptions | None = None,
    fmt: str | None = None,
    header: bool = True,
    progress: Progress | None = None,
) -> AttributionResult:
    """Explain the baseline dataset and write ``OUT/analysis.json`` (the monitor's constraints)."""
    options = options or AttributionOptions()
    store.check_writable(output)
    computed, _model = _compute(store, inputs, model_spec, config, options, fmt, header, progress)
    urls = {"analysis": join(output, ANALYSIS_FILE)}
    files = {urls["analysis"]: encode_analysis(computed.analysis, urls["analysis"])}
    if computed.local is not None:
        urls["local_shap_values"] = join(output, *LOCAL_SHAP_FILE.split("/"))
        files[urls["local_shap_values"]] = _local_csv(computed.local)
    store.write_many(files)
    return AttributionResult(
        computed.analysis,
        [],
        urls,
        computed.warnings,
        computed.rows,
        computed.model_calls,
        None,
        total_rows=computed.total_rows,
        threshold=options.threshold,
        model=model_spec,
    )


def compare(
    baseline: dict[str, Any], current: dict[str, Any], threshold: float
) -> tuple[list[dict[str, Any]], dict[str, float | None], list[str]]:
    """(violations, nDCG per baseline label, warnings) for two explainability analysis documents."""
    violations: list[dict[str, Any]] = []
    scores: dict[str, float | None] = {}
    warnings: list[str] = []
    base = baseline["explanations"][METHOD]
    cur = current["explanations"][METHOD]
    for label, entry in base.items():
        if label not in cur:
            warnings.append(f"label {label!r} of the baseline is not in the current analysis; not compared")
            continue
        bvals = {k: float(v) for k, v in entry["global_shap_values"].items()}
        cvals = {k: float(v) for k, v in cur[label]["global_shap_values"].items()}
        missing = [f for f in bvals if f not in cvals]
        extra = [f for f in cvals if f not in bvals]
        if missing:
            warnings.append(
                f"{label}: baseline features missing from the current run rank last: {', '.join(missing[:5])}"
            )
        if extra:
            warnings.append(f"{label}: features not in the baseline are ignored: {', '.join(extra[:5])}")
        score = ndcg(bvals, cvals)
        scores[label] = score
        if score is None:
            warnings.append(f"{label}: every baseline attribution is 0; nDCG is undefined and not checked")
        elif score < threshold:
            violations.append(violation(label, score, threshold))
    for label in cur:
        if label not in base:
            warnings.append(f"label {label!r} is not in the baseline; not compared")
    return violations, scores, warnings


def run_attribution(
    store: Store,
    inputs: list[str],
    output: str,
    model_spec: str,
    config: dict[str, Any],
    constraints_url: str,
    options: AttributionOptions | None = None,
    progress: Progress | None = None,
    **where: Unpack[Where],
) -> AttributionResult:
    """Explain a monitoring window, compare with the baseline analysis.json and write the report."""
    options = options or AttributionOptions()
    store.check_writable(output)
    baseline = load_analysis(store, constraints_url)  # fail on a bad baseline before any model call
    fmt, header = where.get("fmt"), where.get("header", True)
    computed, _model = _compute(store, inputs, model_spec, config, options, fmt, header, progress)
    violations, scores, cmp_warnings = compare(baseline, computed.analysis, options.threshold)
    mt = metric_time_or_now(where.get("metric_time"))
    records = cloudwatch_records(computed.analysis, where.get("endpoint"), where.get("schedule"), mt)
    files: dict[str, tuple[str, Body]] = {
        "constraint_violations": (VIOLATIONS_FILE, document_body({"version": "1.0", "violations": violations},
                                                                 "constraint_violations")),
        "analysis": (ANALYSIS_FILE, lambda url: encode_analysis(computed.analysis, url)),
        "cloudwatch_metrics": (CLOUDWATCH_FILE, cloudwatch_jsonl(records)),
    }  # fmt: skip
    if computed.local is not None:
        files["local_shap_values"] = (LOCAL_SHAP_FILE, _local_csv(computed.local))
    urls = write_report(store, output, files, where.get("before_publish"))
    defined = [s for s in scores.values() if s is not None]
    return AttributionResult(
        computed.analysis,
        violations,
        urls,
        computed.warnings + cmp_warnings,
        computed.rows,
        computed.model_calls,
        min(defined) if defined else None,
        baseline=baseline,
        scores=scores,
        total_rows=computed.total_rows,
        threshold=options.threshold,
        model=model_spec,
    )
