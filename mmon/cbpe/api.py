"""``--type model-quality --estimator cbpe``: a baseline that fits CBPE, runs that estimate without labels.

Baseline (labelled reference) writes, beside each other:
  * ``statistics.json`` — the reference's realized model-quality metrics (as ``--estimator`` none);
  * ``constraints.json`` — SageMaker model-quality constraints whose thresholds are CBPE's lower
    thresholds (``LessThanThreshold``), so a later labelled run of the same window is judged by
    the same bounds;
  * ``cbpe.json`` — everything an estimate needs (schemas/cbpe.schema.json): calibrators'
    breakpoints, sampling-error components, both thresholds, the positive class.
Run (no labels) writes SageMaker's model-quality report: ``statistics.json`` with the estimated
metrics (``value``) and their sampling error (``standard_deviation``), the expected confusion
matrix, and a side field ``mmon_estimation`` (estimator, confidence bands, thresholds, alerts);
``constraint_violations.json`` for every estimate outside its thresholds; CloudWatch records and
Prometheus samples named ``estimated_<metric>`` so dashboards can draw them beside the realized
``<metric>`` of a later labelled run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from mmon.cbpe.estimator import CBPEModel, fit
from mmon.cbpe.multiclass import MulticlassModel, fit_multiclass
from mmon.cbpe.report import (
    LT,
    binary_matrix,
    estimate_statistics,
    estimate_violations,
    prometheus_text,
)
from mmon.documents import document_body, encode_document, load_document, write_report
from mmon.errors import InputError
from mmon.metrics import cloudwatch_jsonl, metric_time_or_now, value_records
from mmon.model_quality.api import (
    CLOUDWATCH_FILE,
    CONSTRAINTS_FILE,
    PROMETHEUS_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
    MQConfig,
    MQResult,
    prepare,
    statistics_document,
    validate_config,
)
from mmon.model_quality.constraints import SECTIONS
from mmon.monitors import ESTIMATORS, RunRequest  # (the estimators are named once, in the monitor registry)
from mmon.readers import dataset_files, iter_batches
from mmon.schemas import json_pointer, load_schema
from mmon.store import Store, join

__all__ = ["CBPE_FILE", "ESTIMATORS", "baseline_cbpe", "check_baseline", "load_cbpe", "run_cbpe"]

CBPE_FILE = "cbpe.json"
Model = CBPEModel | MulticlassModel


def _validate_cbpe(doc: Any, source: str) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(load_schema("cbpe.schema.json")).iter_errors(doc))
    if error is not None:
        from mmon.errors import SchemaError

        raise SchemaError(f"{source}: {json_pointer(error.absolute_path)}: {error.message}")


def _check_config(config: MQConfig) -> None:
    validate_config(config)
    if config.problem_type not in ("BinaryClassification", "MulticlassClassification"):
        raise InputError(f"--estimator cbpe estimates classifiers only, not {config.problem_type} (NannyML's DLE is not in mmon)")
    if not config.probability_attribute:
        raise InputError("--estimator cbpe needs --probability-attribute (the model's score, or CLASS=COLUMN,... for multiclass)")
    if config.problem_type == "MulticlassClassification" and not config.inference_attribute:
        raise InputError("--estimator cbpe needs --inference-attribute (the predicted class) for MulticlassClassification")


def _class_columns(spec: str) -> dict[str, str]:
    """``a=score_a,b=score_b`` -> {class: column} (multiclass scores)."""
    out: dict[str, str] = {}
    for part in spec.split(","):
        cls, sep, col = part.partition("=")
        if not sep or not cls.strip() or not col.strip():
            raise InputError(
                f"--probability-attribute {spec!r}: for MulticlassClassification give CLASS=COLUMN pairs, e.g. a=score_a,b=score_b"
            )
        out[cls.strip()] = col.strip()
    if len(out) < 3:
        raise InputError(f"--probability-attribute {spec!r}: a multiclass model needs at least 3 classes (binary: one score column)")
    return out


def _multiclass_frame(
    store: Store, inputs: list[str], fmt: str | None, header: bool, pred: str, truth: str | None, columns: dict[str, str]
) -> tuple[pl.DataFrame, list[str]]:
    """Predicted class, label (when asked) and one Float64 score per class, from flat tables."""
    files = dataset_files(store, inputs, fmt, header)
    if not files:
        raise InputError(f"{', '.join(inputs)}: no data file among the inputs")
    wanted = [pred] + ([truth] if truth else []) + list(columns.values())
    frames: list[pl.DataFrame] = []
    for f in files:
        for batch in iter_batches(store, f):
            missing = [c for c in wanted if c not in batch.columns]
            if missing:
                raise InputError(f"{f.url}: no column {missing[0]!r} (columns: {', '.join(batch.columns[:12])})")
            exprs = [pl.col(pred).cast(pl.String).alias("predicted")]
            if truth:
                exprs.append(pl.col(truth).cast(pl.String).alias("actual"))
            exprs += [pl.col(col).cast(pl.Float64, strict=False).alias(f"score_{cls}") for cls, col in columns.items()]
            frames.append(batch.select(exprs))
    frame = pl.concat(frames) if frames else pl.DataFrame()
    return frame, [f.url for f in files]


# -- baseline -------------------------------------------------------------------------------------


def baseline_cbpe(
    store: Store,
    inputs: list[str],
    output: str,
    config: MQConfig,
    chunk_size: int | None = None,
    fmt: str | None = None,
    header: bool = True,
) -> MQResult:
    """Fit CBPE on a labelled reference and write statistics.json, constraints.json and cbpe.json.

    ``chunk_size``: rows of each reference chunk the thresholds come from (default a tenth)."""
    _check_config(config)
    store.check_writable(output)
    warnings: list[str] = []
    model: Model
    if config.problem_type == "BinaryClassification":
        prepared = prepare(store, inputs, config, fmt, header)
        frame = prepared.frame
        if "score" not in frame.columns or frame["score"].null_count() == frame.height:
            raise InputError(f"no row has a readable probability in --probability-attribute {config.probability_attribute!r}")
        _refuse_missing(frame["score"], "the reference", config.probability_attribute)
        positive = str(prepared.positive)
        y = (frame["actual"].cast(pl.String) == positive).to_numpy().astype(np.int64)
        p = (frame["predicted"].cast(pl.String) == positive).to_numpy().astype(np.int64)
        model = _fit(lambda: fit(y, p, frame["score"].to_numpy(), chunk_size=chunk_size))
        stats = statistics_document(prepared, config)
        warnings += prepared.warnings
        files = prepared.files
        others = sorted(set(frame["actual"].cast(pl.String).unique().to_list()) | set(frame["predicted"].cast(pl.String).unique().to_list()) - {positive})
        extra: dict[str, Any] = {"positive_label": positive, "negative_label": others[0] if others else f"not {positive}"}
    else:
        columns = _class_columns(str(config.probability_attribute))
        if not config.ground_truth_attribute:
            raise InputError("the CBPE baseline needs --ground-truth-attribute (a labelled reference)")
        frame, files = _multiclass_frame(
            store, inputs, fmt, header, str(config.inference_attribute), config.ground_truth_attribute, columns
        )
        for c, col in columns.items():
            _refuse_missing(frame[f"score_{c}"], "the reference", col)
        frame = frame.drop_nulls()
        if frame.height == 0:
            raise InputError("no row has a prediction, every class score and a ground-truth label: nothing to baseline")
        classes = sorted(columns)
        scores = frame.select([f"score_{c}" for c in classes]).to_numpy()
        _refuse_nan(pl.Series(scores.ravel()), "the reference")
        model = _fit(lambda: fit_multiclass(frame["actual"].to_numpy(), frame["predicted"].to_numpy(), scores, classes, chunk_size))
        from mmon.model_quality.api import Prepared

        prepared = Prepared(frame.select("actual", "predicted"), frame.height, frame.height, None, files, [])
        stats = statistics_document(prepared, config)
        extra = {"class_columns": columns}
    warnings += model.warnings
    doc = {**model.to_json(), **extra, "attributes": _attributes_doc(config)}
    constraints = _constraints(model, config.problem_type)
    urls = {
        "cbpe": join(output, CBPE_FILE),
        "statistics": join(output, STATISTICS_FILE),
        "constraints": join(output, CONSTRAINTS_FILE),
    }
    _validate_cbpe(doc, urls["cbpe"])
    store.write_many(
        {
            urls["cbpe"]: (json.dumps(doc, indent=2) + "\n").encode(),
            urls["statistics"]: encode_document(stats, "statistics", urls["statistics"]),
            # constraints.json last: the baseline is usable only when every file is there.
            urls["constraints"]: encode_document(constraints, "constraints", urls["constraints"]),
        }
    )
    return MQResult(stats, constraints, [], urls, frame.height, frame.height, warnings, config.problem_type, files)


def _fit(fn: Callable[[], Model]) -> Model:
    try:
        return fn()
    except ValueError as exc:
        raise InputError(f"cannot fit CBPE: {exc}") from exc


def _refuse_nan(series: pl.Series, where: str) -> None:
    if series.dtype.is_float() and series.is_nan().any():
        raise InputError(f"{where} has NaN probabilities ({int(series.is_nan().sum())} rows): CBPE needs a score for every prediction")


def _refuse_missing(series: pl.Series, where: str, attribute: str | None) -> None:
    """CBPE cannot estimate a prediction without its score, and dropping such rows would bias the
    estimate silently: a null or NaN score (mmon's readers turn NaN into null) is an input error."""
    _refuse_nan(series, where)
    missing = series.null_count()
    if missing:
        raise InputError(
            f"{where} has {missing} of {series.len()} predictions without a probability in {attribute!r} (null or NaN): "
            "CBPE needs a score for every prediction"
        )


def _attributes_doc(config: MQConfig) -> dict[str, Any]:
    return {
        "inference_attribute": config.inference_attribute or None,
        "probability_attribute": config.probability_attribute or None,
        "probability_threshold": config.probability_threshold,
    }


def _constraints(model: Model, problem_type: str) -> dict[str, Any]:
    section: dict[str, Any] = {}
    for metric, (lo, _hi) in model.thresholds.items():
        if lo is not None and lo > 0:
            section[metric] = {"threshold": lo, "comparison_operator": LT}
    return {"version": 0.0, SECTIONS[problem_type][1]: section}


# -- run ------------------------------------------------------------------------------------------


def load_cbpe(store: Store, url: str) -> tuple[Model, dict[str, Any]]:
    """Read and validate ``cbpe.json``."""
    if not store.exists(url):
        raise InputError(f"{url}: no such file: a CBPE run needs a baseline made with --estimator cbpe")
    text = store.read_text(url)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{url}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    _validate_cbpe(doc, url)
    try:
        model: Model = MulticlassModel.from_json(doc) if doc["problem_type"] == "MulticlassClassification" else CBPEModel.from_json(doc)
    except ValueError as exc:
        raise InputError(f"{url}: {exc}") from exc
    return model, doc


def check_baseline(store: Store, config: MQConfig, constraints_url: str, statistics_url: str | None = None) -> None:
    """Read and validate a CBPE baseline (cbpe.json and constraints.json) without a window: an empty
    window is not an error, but a broken monitor must fail on its first quiet hour."""
    _model, doc = load_cbpe(store, _beside(statistics_url or constraints_url))
    if doc["problem_type"] != config.problem_type:
        raise InputError(f"a CBPE baseline for {doc['problem_type']}, not --problem-type {config.problem_type}")
    load_document(store, constraints_url, "constraints")


def _beside(url: str) -> str:
    """``cbpe.json`` in the folder of a baseline file (local path or URL)."""
    folder = url.rstrip("/").rsplit("/", 1)[0] if "/" in url else "."
    return join(folder, CBPE_FILE)


def run_cbpe(
    store: Store, inputs: list[str], output: str, config: MQConfig, req: RunRequest, cbpe_url: str | None = None
) -> MQResult:
    """Estimate the window's metrics without labels and write the report (see the module doc).

    ``req``: the baseline files and where the data is and metrics go; ``cbpe.json`` is read beside
    the baseline's statistics (or constraints) unless ``cbpe_url`` names it."""
    url = cbpe_url or _beside(req.statistics or req.constraints)
    model, doc = load_cbpe(store, url)
    if doc["problem_type"] != config.problem_type:
        raise InputError(f"{url}: a CBPE baseline for {doc['problem_type']}, not --problem-type {config.problem_type}")
    attrs = doc.get("attributes", {})
    config = MQConfig(
        problem_type=config.problem_type,
        inference_attribute=config.inference_attribute or attrs.get("inference_attribute"),
        ground_truth_attribute=None,
        probability_attribute=config.probability_attribute or attrs.get("probability_attribute"),
        probability_threshold=config.probability_threshold,
        positive_label=config.positive_label or doc.get("positive_label"),
        min_labelled=0,
        seed=config.seed,
    )
    _check_config(config)
    store.check_writable(output)
    constraints = load_document(store, req.constraints, "constraints")
    fmt, header = req.fmt, req.header
    warnings: list[str] = []
    if isinstance(model, CBPEModel):
        positive = str(doc["positive_label"])
        frame, files, rows, w = _binary_window(store, inputs, config, fmt, header, positive)
        warnings += w
        score = frame["score"].to_numpy() if frame.height else np.empty(0)
        pred = frame["pred"].to_numpy() if frame.height else np.empty(0, dtype=np.int64)
        proba = model.calibrator.apply(score)
        estimates, counts = _estimate(lambda: model.estimate_calibrated(proba, score, pred))
        del proba
        cm = binary_matrix(counts, positive, doc) if len(score) else None
    else:
        columns = doc.get("class_columns") or _class_columns(str(config.probability_attribute))
        frame, files = _multiclass_frame(store, inputs, fmt, header, str(config.inference_attribute), None, columns)
        rows = frame.height
        for c in model.classes:
            _refuse_missing(frame[f"score_{c}"], "the window", columns[c])
        frame = frame.drop_nulls()
        if rows - frame.height:
            warnings.append(f"{rows - frame.height} of {rows} predictions have no predicted class and are not estimated")
        scores = frame.select([f"score_{c}" for c in model.classes]).to_numpy() if frame.height else np.empty((0, len(model.classes)))
        _refuse_nan(pl.Series(scores.ravel()), "the window")
        preds = frame["predicted"].to_numpy() if frame.height else np.empty(0, dtype=str)
        estimates = _estimate(lambda: model.estimate(scores, preds))
        cm = None
    n = frame.height
    if n == 0:
        warnings.append("the window has no predictions: nothing to estimate (no traffic?)")
    stats = estimate_statistics(estimates, config.problem_type, n, cm)
    violations = estimate_violations(estimates)
    mt = metric_time_or_now(req.metric_time)
    endpoint, schedule = req.endpoint, req.schedule
    estimated = [(f"estimated_{m}", e.value) for m, e in estimates.items()]
    urls = write_report(store, output, {
        "constraint_violations": (VIOLATIONS_FILE, document_body({"violations": violations}, "constraint_violations")),
        "statistics": (STATISTICS_FILE, document_body(stats, "statistics")),
        "cloudwatch_metrics": (CLOUDWATCH_FILE, cloudwatch_jsonl(value_records(estimated, endpoint, schedule, mt))),
        "prometheus": (PROMETHEUS_FILE, prometheus_text(estimates, config.problem_type, violations, rows, endpoint, schedule).encode()),
    }, req.before_publish)  # fmt: skip
    # labelled = 0: no label was read; the estimate covers the window's n scored predictions.
    return MQResult(stats, constraints, violations, urls, 0, rows, warnings, config.problem_type, files)


def _estimate(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ValueError as exc:
        raise InputError(f"cannot estimate: {exc}") from exc


def _binary_window(
    store: Store, inputs: list[str], config: MQConfig, fmt: str | None, header: bool, positive: str
) -> tuple[pl.DataFrame, list[str], int, list[str]]:
    """Scores and 0/1 predictions of the window (labels neither needed nor read).

    Flat CSV and Parquet files are reduced batch by batch to a Float64 score and an Int8
    prediction (9 bytes a row: 10M rows in ~90 MB); merged capture records and JSON go through the
    model-quality reader, which decodes payloads."""
    from mmon.model_quality.api import _attributes, _derives_prediction, unify_booleans
    from mmon.model_quality.table import read_table

    files = dataset_files(store, inputs, fmt, header)
    if files and all(f.format in ("csv", "parquet") for f in files):
        return _flat_binary_window(store, files, config, positive, _derives_prediction(config))
    table = read_table(store, files, _attributes(config))
    if not table.files:
        raise InputError(f"{', '.join(inputs)}: no data file among the inputs")
    frame = unify_booleans(table.frame)
    warnings = list(table.warnings)
    rows = frame.height
    if "score" not in frame.columns:
        frame = frame.with_columns(score=pl.lit(None, dtype=pl.Float64))
    if _derives_prediction(config):
        pred = (pl.col("score") > float(config.probability_threshold)).cast(pl.Int64)
    else:
        pred = (pl.col("predicted").cast(pl.String) == positive).cast(pl.Int64)
    frame = frame.select(pl.col("score").cast(pl.Float64), pred.alias("pred"))
    _refuse_missing(frame["score"], "the window", config.probability_attribute)
    usable = frame.drop_nulls()
    if rows - usable.height:
        warnings.append(f"{rows - usable.height} of {rows} predictions have no predicted class and are not estimated")
    return usable, table.files, rows, warnings


def _flat_binary_window(
    store: Store, files: list[Any], config: MQConfig, positive: str, derive: bool
) -> tuple[pl.DataFrame, list[str], int, list[str]]:
    from mmon.model_quality.data import class_text

    prob, inf = str(config.probability_attribute), config.inference_attribute
    parts: list[pl.DataFrame] = []
    for f in files:
        for batch in iter_batches(store, f):
            for col in [prob] + ([] if derive or not inf else [inf]):
                if col not in batch.columns:
                    raise InputError(f"{f.url}: no column {col!r} (columns: {', '.join(batch.columns[:12])})")
            score = pl.col(prob).cast(pl.Float64, strict=False)
            if derive:
                pred = (score > float(config.probability_threshold)).cast(pl.Int8)
            else:
                pred = (class_text(pl.col(str(inf)), batch.schema[str(inf)]) == positive).cast(pl.Int8)
            parts.append(batch.select(score.alias("score"), pred.alias("pred")))
    frame = pl.concat(parts) if parts else pl.DataFrame(schema={"score": pl.Float64, "pred": pl.Int8})
    rows = frame.height
    _refuse_missing(frame["score"], "the window", prob)
    warnings: list[str] = []
    usable = frame.drop_nulls()
    if rows - usable.height:
        warnings.append(f"{rows - usable.height} of {rows} predictions have no predicted class and are not estimated")
    return usable, [f.url for f in files], rows, warnings
