"""The ``*_metrics`` sections of a model-quality ``statistics.json``, computed with polars.

Per problem type one pass of polars aggregations counts (or sums) everything for the full data
and for SageMaker's five 80 % samples at once; the binary curves need one sort. The metric
formulas themselves are the pure functions of :mod:`mmon.model_quality.functions`.

``standard_deviation`` (DG: "provided only when at least 200 samples are available … randomly
sampling 80% of the data 5 times, computing the metric, and taking the standard deviation"):
five Bernoulli samples keeping each row with probability 0.8 (Spark ``Dataset.sample(false, 0.8)``
semantics; exactly 52429/65536 = 0.800003), drawn with numpy's PCG64 generator from ``seed``; the sample standard deviation
(``ddof=1``, Spark's ``stddev``) of the five values. Below 200 rows it is NaN, which the writer
puts as the string ``"NaN"`` (Jackson's format for a non-finite double).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from mmon.errors import InputError
from mmon.model_quality import functions as F

SAMPLES = 5
SAMPLE_FRACTION = 0.8
KEEP_BELOW = round(SAMPLE_FRACTION * 65536)  # 52429 of 65536 16-bit values
MIN_ROWS_FOR_SD = 200
CURVE_MAX_POINTS = 1000
MAX_CLASSES = 1000
BETAS = (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0))


def sample_masks(n: int, seed: int) -> list[np.ndarray] | None:
    """The five row samples (boolean masks) behind ``standard_deviation``; None below 200 rows."""
    if n < MIN_ROWS_FOR_SD:
        return None
    rng = np.random.default_rng(seed)
    # 16 random bits per row and sample (raw PCG64 output, little-endian): a row is kept when they
    # are below 52429 (p = 0.800003).
    raw = rng.bit_generator.random_raw((SAMPLES * n + 3) // 4).astype("<u8", copy=False)
    bits = raw.view("<u2")[: SAMPLES * n].reshape(SAMPLES, n)
    return list(bits < KEEP_BELOW)


def metric(values: Any, with_sd: bool) -> dict[str, float]:
    """``{"value", "standard_deviation"}`` from an array [full, sample 1, …, sample 5]."""
    v = np.atleast_1d(np.asarray(values, dtype=np.float64))
    sd = float(np.std(v[1:], ddof=1)) if with_sd and v.size > 2 else math.nan
    if with_sd and not np.all(np.isfinite(v[1:])):
        sd = math.nan
    return {"value": float(v[0]), "standard_deviation": sd}


def sort_classes(classes: set[str] | list[str]) -> list[str]:
    """Class order of the confusion matrix: numeric order when every class is a number, else text."""
    items = [c for c in classes if c is not None]

    def num(c: str) -> float | None:
        try:
            x = float(c)
        except ValueError:
            return None
        return x if math.isfinite(x) else None

    nums = [num(c) for c in items]
    if items and all(x is not None for x in nums):
        return [c for _, c in sorted(zip(nums, items, strict=True), key=lambda t: (t[0], t[1]))]
    return sorted(items)


def _with_masks(frame: pl.DataFrame, masks: list[np.ndarray] | None) -> pl.DataFrame:
    if not masks:
        return frame
    return frame.with_columns([pl.Series(f"w{k + 1}", m) for k, m in enumerate(masks)])


def _filters(masks: list[np.ndarray] | None) -> list[pl.Expr | None]:
    return [None] + [pl.col(f"w{k + 1}") for k in range(len(masks or []))]


def _sum(expr: pl.Expr, w: pl.Expr | None) -> pl.Expr:
    return (expr if w is None else expr.filter(w)).sum()


def _count(expr: pl.Expr, w: pl.Expr | None) -> pl.Expr:
    """Rows where the boolean ``expr`` holds (within the sample ``w``)."""
    return (expr if w is None else expr & w).sum()


def confusion_matrix(frame: pl.DataFrame, classes: list[str]) -> dict[str, dict[str, int]]:
    """``{actual: {predicted: count}}`` over every class pair (zeros included), classes in order."""
    counts = frame.group_by("actual", "predicted").len()
    cm = {a: dict.fromkeys(classes, 0) for a in classes}
    for a, p, n in counts.iter_rows():
        cm[a][p] = int(n)
    return cm


# -- binary -----------------------------------------------------------------------------------


def _curves(work: pl.DataFrame, n_samples: int) -> dict[str, Any]:
    """``auc``, ``au_prc`` (full data, then each sample) and the two curves, from one sort.

    After sorting by score (descending), cumulative counts at the last row of each tie group
    give the curve points; the samples reuse the same order with their row masks.
    """
    cols = ["score", "y"] + [f"w{k + 1}" for k in range(n_samples)]
    scored = work.select(cols)
    if scored["score"].null_count():  # (a filter copies every column: only when it drops a row)
        scored = scored.filter(pl.col("score").is_not_null())
    scored = scored.sort("score", descending=True)
    s = scored["score"].to_numpy()
    end = np.ones(s.size, dtype=bool)
    end[:-1] = s[1:] != s[:-1]
    del s
    y = scored["y"].to_numpy()
    small = np.int32 if y.size < 2**31 - 1 else np.int64
    tp = np.cumsum(y, dtype=small)[end]
    fp = np.flatnonzero(end).astype(small)
    np.add(fp, 1, out=fp)  # rows up to each group's end ...
    np.subtract(fp, tp, out=fp)  # ... minus the positives
    both = tp.size > 0 and tp[-1] > 0 and fp[-1] > 0
    # The areas over every point, made block by block; the written curves from their kept points
    # alone (each point depends on its own counts and the last ones, which are kept): the full
    # curves were four float64 arrays of every distinct score.
    auc = F.area_under_roc_curve(tp, fp) if both else math.nan
    au_prc = F.area_under_pr_counts(tp, fp) if both else math.nan
    keep = F.thin_curve(tp.size, CURVE_MAX_POINTS)
    x, t = F.roc_curve(tp[keep], fp[keep])
    roc = {"false_positive_rates": x.tolist(), "true_positive_rates": t.tolist()}
    r, p = F.precision_recall_curve(tp[keep], fp[keep])
    top = F.precision_recall_curve(tp[:1], fp[:1])[1][0]  # the curve starts at the top group's precision
    pr = {"precisions": [float(top), *p[1:].tolist()], "recalls": r.tolist()}
    del tp, fp  # (the samples' counts come next, as large)
    aucs, auprcs = [auc], [au_prc]
    if n_samples:
        for k in range(n_samples):
            w = scored[f"w{k + 1}"].to_numpy()
            ktp = np.cumsum(y & w, dtype=small)[end]
            kfp = np.cumsum(w, dtype=small)[end]
            np.subtract(kfp, ktp, out=kfp)
            ok = ktp.size > 0 and ktp[-1] > 0 and kfp[-1] > 0
            aucs.append(F.area_under_roc_counts(ktp, kfp))
            auprcs.append(F.area_under_pr_counts(ktp, kfp) if ok else math.nan)
    return {"roc": roc, "pr": pr, "auc": aucs, "au_prc": auprcs}


def binary_metrics(frame: pl.DataFrame, positive: str, seed: int = 0) -> dict[str, Any]:
    """``binary_classification_metrics`` of rows ``actual`` / ``predicted`` (class text) and an
    optional ``score`` (probability of the positive class). Needs at least one row."""
    n = frame.height
    masks = sample_masks(n, seed)
    with_sd = masks is not None
    has_score = "score" in frame.columns and frame["score"].null_count() < n
    cols = [(pl.col("actual") == positive).alias("y"), (pl.col("predicted") == positive).alias("p")]
    if has_score:
        cols.append(pl.col("score"))
    work = _with_masks(frame.select(cols), masks)

    exprs = []
    yc, pc = pl.col("y"), pl.col("p")
    for k, w in enumerate(_filters(masks)):
        exprs += [
            _count(yc & pc, w).alias(f"tp{k}"),
            _count(~yc & pc, w).alias(f"fp{k}"),
            _count(yc & ~pc, w).alias(f"fn{k}"),
            _count(~yc & ~pc, w).alias(f"tn{k}"),
        ]
    row = work.select(exprs).row(0, named=True)
    ks = range(len(_filters(masks)))
    tp, fp, fn, tn = (np.array([float(row[f"{c}{k}"]) for k in ks]) for c in ("tp", "fp", "fn", "tn"))
    total = tp + fp + fn + tn

    rec = F.recall(tp, fn)
    prec = F.precision(tp, fp)
    acc = F.accuracy(tp + tn, total)
    # Best constant classifier: the majority actual class throughout (ties: the positive class).
    actual_pos, actual_neg = tp + fn, fp + tn
    says_pos = np.asarray(F.best_constant_class(np.stack([actual_pos, actual_neg], axis=-1))) == 0
    btp = np.where(says_pos, actual_pos, 0.0)
    bfp = np.where(says_pos, actual_neg, 0.0)
    bfn = np.where(says_pos, 0.0, actual_pos)
    btn = np.where(says_pos, 0.0, actual_neg)
    brec = F.recall(btp, bfn)
    bprec = F.precision(btp, bfp)

    classes = sort_classes(
        set(frame["actual"].unique().to_list()) | set(frame["predicted"].unique().to_list()) | {positive}
    )
    out: dict[str, Any] = {
        "confusion_matrix": confusion_matrix(frame, classes),
        "recall": metric(rec, with_sd),
        "precision": metric(prec, with_sd),
        "accuracy": metric(acc, with_sd),
        "recall_best_constant_classifier": metric(brec, with_sd),
        "precision_best_constant_classifier": metric(bprec, with_sd),
        "accuracy_best_constant_classifier": metric(F.accuracy(btp + btn, total), with_sd),
        "true_positive_rate": metric(F.true_positive_rate(tp, fn), with_sd),
        "true_negative_rate": metric(F.true_negative_rate(fp, tn), with_sd),
        "false_positive_rate": metric(F.false_positive_rate(fp, tn), with_sd),
        "false_negative_rate": metric(F.false_negative_rate(tp, fn), with_sd),
    }
    if has_score:
        curves = _curves(work, len(masks or []))
        out["receiver_operating_characteristic_curve"] = curves["roc"]
        out["precision_recall_curve"] = curves["pr"]
        out["auc"] = metric(curves["auc"], with_sd)
        out["au_prc"] = metric(curves["au_prc"], with_sd)
    for name, beta in BETAS:
        out[name] = metric(F.f_beta(prec, rec, beta), with_sd)
    for name, beta in BETAS:
        out[f"{name}_best_constant_classifier"] = metric(F.f_beta(bprec, brec, beta), with_sd)
    return out


# -- multiclass -------------------------------------------------------------------------------


def multiclass_metrics(frame: pl.DataFrame, seed: int = 0) -> dict[str, Any]:
    """``multiclass_classification_metrics`` of rows ``actual`` / ``predicted`` (class text)."""
    n = frame.height
    masks = sample_masks(n, seed)
    with_sd = masks is not None
    enum = frame.schema["actual"]
    if isinstance(enum, pl.Enum) and frame.schema["predicted"] == enum:
        classes = enum.categories.to_list()  # already the sorted classes of both columns
    else:
        classes = sort_classes(set(frame["actual"].unique().to_list()) | set(frame["predicted"].unique().to_list()))
    if len(classes) > MAX_CLASSES:
        raise InputError(
            f"MulticlassClassification: {len(classes)} distinct classes (more than {MAX_CLASSES}); "
            "is the label a number (use --problem-type Regression) or an ID column?"
        )
    if isinstance(enum, pl.Enum):
        code_cols = [pl.col("actual").to_physical().alias("a"), pl.col("predicted").to_physical().alias("p")]
    else:
        codes = {c: i for i, c in enumerate(classes)}
        code_cols = [
            pl.col("actual").replace_strict(codes, return_dtype=pl.UInt32).alias("a"),
            pl.col("predicted").replace_strict(codes, return_dtype=pl.UInt32).alias("p"),
        ]
    work = _with_masks(frame.select(code_cols), masks)
    aggs = [pl.len().alias("n0")] + [pl.col(f"w{k + 1}").sum().alias(f"n{k + 1}") for k in range(len(masks or []))]
    grouped = work.group_by("a", "p").agg(aggs)
    n_sets = 1 + len(masks or [])
    k = len(classes)
    cm = np.zeros((n_sets, k, k), dtype=np.float64)
    a_idx = grouped["a"].to_numpy().astype(np.int64)
    p_idx = grouped["p"].to_numpy().astype(np.int64)
    for s in range(n_sets):
        cm[s, a_idx, p_idx] = grouped[f"n{s}"].to_numpy().astype(np.float64)

    support = cm.sum(axis=-1)
    best = np.asarray(F.best_constant_class(support))
    bcm = np.zeros_like(cm)
    for s in range(n_sets):
        bcm[s, :, best[s]] = support[s]

    cm_doc = {a: {p: int(cm[0, i, j]) for j, p in enumerate(classes)} for i, a in enumerate(classes)}
    out: dict[str, Any] = {
        "confusion_matrix": cm_doc,
        "accuracy": metric(F.multiclass_accuracy(cm), with_sd),
        "weighted_recall": metric(F.weighted_recall(cm), with_sd),
        "weighted_precision": metric(F.weighted_precision(cm), with_sd),
    }
    for name, beta in BETAS:
        out[f"weighted_{name}"] = metric(F.weighted_f_beta(cm, beta), with_sd)
    out["accuracy_best_constant_classifier"] = metric(F.multiclass_accuracy(bcm), with_sd)
    out["weighted_recall_best_constant_classifier"] = metric(F.weighted_recall(bcm), with_sd)
    out["weighted_precision_best_constant_classifier"] = metric(F.weighted_precision(bcm), with_sd)
    for name, beta in BETAS:
        out[f"weighted_{name}_best_constant_classifier"] = metric(F.weighted_f_beta(bcm, beta), with_sd)
    return out


# -- regression -----------------------------------------------------------------------------


def regression_metrics(frame: pl.DataFrame, seed: int = 0) -> dict[str, Any]:
    """``regression_metrics`` of Float64 rows ``actual`` / ``predicted``.

    SageMaker's ``mae``, ``mse``, ``rmse``, ``r2``, then (mmon addition) the same four for the
    best constant regressor -- the mean of the labels, the constant that minimises MSE, whose
    textbook R² is 0 -- as ``*_best_constant_regressor``.

    SageMaker's ``r2`` is ``1 − SS_res / Σ(ŷ − mean ŷ)²``: the spread of the *predictions*, not of
    the labels (Spark's ``RegressionMetrics`` fed (label, prediction) pairs where it expects
    (prediction, observation)). Measured on SageMaker's own output: the SDK's
    ``pipeline-quality-check/model_quality`` statistics.json says r2 = -3.208758170289026 where
    the textbook R² of its 100 rows is -0.335; the predictions' spread gives -3.208758170289027.
    """
    n = frame.height
    masks = sample_masks(n, seed)
    with_sd = masks is not None
    work = _with_masks(
        frame.select(y=pl.col("actual"), e=pl.col("predicted") - pl.col("actual"), p=pl.col("predicted")), masks
    )
    filters = _filters(masks)
    first = []
    for k, w in enumerate(filters):
        first += [
            _count(pl.col("y").is_not_null(), w).alias(f"n{k}"),
            _sum(pl.col("e").abs(), w).alias(f"sae{k}"),
            _sum(pl.col("e") * pl.col("e"), w).alias(f"sse{k}"),
            _sum(pl.col("y"), w).alias(f"sy{k}"),
            _sum(pl.col("p"), w).alias(f"sp{k}"),
        ]
    r1 = work.select(first).row(0, named=True)
    ks = range(len(filters))
    cnt = np.array([float(r1[f"n{k}"]) for k in ks])
    sae = np.array([float(r1[f"sae{k}"]) for k in ks])
    sse = np.array([float(r1[f"sse{k}"]) for k in ks])
    mean = np.asarray(F.safe_divide(np.array([float(r1[f"sy{k}"]) for k in ks]), cnt))
    mean_p = np.asarray(F.safe_divide(np.array([float(r1[f"sp{k}"]) for k in ks]), cnt))
    second = []
    for k, w in enumerate(filters):
        d = pl.col("y") - float(mean[k])
        dp = pl.col("p") - float(mean_p[k])
        second += [_sum(d * d, w).alias(f"sst{k}"), _sum(d.abs(), w).alias(f"sad{k}"), _sum(dp * dp, w).alias(f"ssp{k}")]
    r2row = work.select(second).row(0, named=True)
    sst = np.array([float(r2row[f"sst{k}"]) for k in ks])
    sad = np.array([float(r2row[f"sad{k}"]) for k in ks])
    ssp = np.array([float(r2row[f"ssp{k}"]) for k in ks])

    mse = F.mean_squared_error(sse, cnt)
    bmse = F.mean_squared_error(sst, cnt)
    return {
        "mae": metric(F.mean_absolute_error(sae, cnt), with_sd),
        "mse": metric(mse, with_sd),
        "rmse": metric(F.root_mean_squared_error(mse), with_sd),
        "r2": metric(F.r2(sse, ssp), with_sd),
        "mae_best_constant_regressor": metric(F.mean_absolute_error(sad, cnt), with_sd),
        "mse_best_constant_regressor": metric(bmse, with_sd),
        "rmse_best_constant_regressor": metric(F.root_mean_squared_error(bmse), with_sd),
        "r2_best_constant_regressor": metric(F.r2(sst, sst), with_sd),
    }
