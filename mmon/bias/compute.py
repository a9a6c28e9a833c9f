"""Bias analysis of a table: label / facet matching, columnar counts (polars), Clarify's analysis.json.

Everything row-wise is a polars expression: the observed and predicted labels become two boolean
columns, each facet entry a boolean mask, and one ``select`` of sums gives every count the
metrics need (per facet entry: n, positives, predicted positives, TP, FP, FN; facet *a* = total
minus facet *d*). CDDL / CDDPL add one ``group_by`` on the group variable per facet entry; the Flip
Test a k-NN over the numeric features (:mod:`mmon.bias.fliptest`). The metric formulas themselves are the pure functions
of :mod:`mmon.bias.metrics`.

Matching rules (README-ready):

* a label or facet value list is compared numerically when the column is numeric (``"1"``,
  ``1`` and ``1.0`` match ``1``), else as text (``True`` matches ``true``/``True``);
* a column is treated as continuous -- positive / sensitive when **greater than** the single
  given threshold, Clarify's ``(threshold, max]`` interval -- by Clarify's own rule (smclarify
  ``series_datatype``): exactly one value given and the column is of floats, or of integers whose
  distinct values make up at least 5 % of its rows; otherwise (booleans, text, several values) the
  values are categories. The rule makes a 0/1 column of at most 40 rows continuous, so
  ``[0]`` means "greater than 0": mmon computes exactly that, as SageMaker does, and warns. A run
  reuses the baseline's choice for each facet (an interval ``(t, max]`` in the baseline means
  continuous); the label is typed per window, as Clarify types it;
* a facet without ``value_or_threshold`` is analysed once per distinct value (that value vs the
  rest), in order of first appearance, as Clarify does;
* predictions: a predicted label is matched like the label; a probability becomes the label
  ``1`` when greater than the threshold (else ``0``) and is then matched like the label (when the
  positive label values are not numbers, ``probability > threshold`` is the positive class);
* rows without a label are left out of both stages, rows without a prediction out of the
  post-training stage (each counted in a warning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mmon.bias import metrics as M
from mmon.bias.data import INTERNAL, LABEL, PRED, PROB, Rows, column_of
from mmon.bias.fliptest import flip_counts
from mmon.bias.values import Binarized, as_number, binarize, numeric_view, small_window_warning
from mmon.errors import InputError

Y, YH = "__bias_y", "__bias_yhat"
MAX_FACET_VALUES = 1000


# -- the analysis -------------------------------------------------------------------------------


@dataclass
class Entry:
    """One facet value (or threshold) of the analysis, with the counts its judgement needs."""

    facet: str
    value: str  # value_or_threshold as written
    continuous: bool
    n_d: int = 0
    n_a: int = 0
    n_d_post: int = 0
    n_a_post: int = 0
    pre: list[dict[str, Any]] = field(default_factory=list)
    post: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return facet_value_key(self.value, self.continuous)


def facet_value_key(value: str, continuous: bool | None = None) -> str:
    """Match key of a facet entry: intervals ``(t, max]`` match on ``t`` (max moves with the data)."""
    if continuous is None:
        continuous = value.startswith("(") and value.endswith("]") and "," in value
    if continuous:
        return value.split(",", 1)[0] + ", ...]"
    return value


@dataclass
class Analysis:
    doc: dict[str, Any]
    entries: list[Entry]
    rows: int
    rows_post: int
    warnings: list[str] = field(default_factory=list)


def _metric(name: str, fn: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "description": M.DESCRIPTIONS[name]}
    try:
        v = float(fn())
    except M.MetricUndefined as exc:
        d["value"] = None
        d["error"] = str(exc)
        return d
    if math.isnan(v):
        d["value"] = None
        d["error"] = "the metric is not a number on this data"
    else:
        d["value"] = v
    return d


@dataclass
class _Counts:
    n: int
    pos: int  # observed positive
    pred: int = 0  # predicted positive
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def tn(self) -> int:
        return self.n - self.tp - self.fp - self.fn


def _counts(
    frame: pl.DataFrame, masks: list[pl.Expr], with_pred: bool
) -> tuple[_Counts, list[tuple[_Counts, _Counts]]]:
    """Total counts and (facet d, facet a) counts per mask, from one select of sums."""
    y = pl.col(Y)
    exprs: list[pl.Expr] = [pl.len().alias("n"), y.sum().alias("pos")]
    if with_pred:
        yh = pl.col(YH)
        exprs += [
            yh.sum().alias("pred"),
            (y & yh).sum().alias("tp"),
            (~y & yh).sum().alias("fp"),
            (y & ~yh).sum().alias("fn"),
        ]
    for i, m in enumerate(masks):
        exprs += [m.sum().alias(f"n{i}"), (m & y).sum().alias(f"pos{i}")]
        if with_pred:
            exprs += [
                (m & yh).sum().alias(f"pred{i}"),
                (m & y & yh).sum().alias(f"tp{i}"),
                (m & ~y & yh).sum().alias(f"fp{i}"),
                (m & y & ~yh).sum().alias(f"fn{i}"),
            ]
    row = frame.select(exprs).row(0, named=True)
    keys = ["n", "pos"] + (["pred", "tp", "fp", "fn"] if with_pred else [])
    total = _Counts(**{k: int(row[k] or 0) for k in keys})
    out = []
    for i in range(len(masks)):
        d = _Counts(**{k: int(row[f"{k}{i}"] or 0) for k in keys})
        a = _Counts(**{k: getattr(total, k) - getattr(d, k) for k in keys})
        out.append((d, a))
    return total, out


def _groups(frame: pl.DataFrame, group: str, mask: pl.Expr, label: str) -> list[M.GroupCounts]:
    y = pl.col(label)
    g = (
        frame.group_by(group)
        .agg(
            pl.len().alias("n"),
            y.sum().alias("n_pos"),
            (mask & y).sum().alias("n_pos_d"),
            (~y).sum().alias("n_neg"),
            (mask & ~y).sum().alias("n_neg_d"),
        )
        .sort(group, nulls_last=True)
    )  # a fixed summation order: the same data gives the same bits
    return [
        M.GroupCounts(**{k: int(v or 0) for k, v in r.items() if k != group}) for r in g.iter_rows(named=True)
    ]


def _feature_matrix(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    cols = []
    for c in columns:
        num = numeric_view(frame[c]) if frame[c].dtype != pl.Boolean else frame[c].cast(pl.Float64)
        if num is None and frame[c].dtype == pl.String:
            # True / False columns count as 1 / 0, as numpy counts pandas' bool columns in smclarify.
            low = frame[c].str.strip_chars().str.to_lowercase()
            if low.is_in(["true", "false"]).all():
                num = (low == "true").cast(pl.Float64)
        if num is None:
            raise M.MetricUndefined("FlipTest does not support non-numeric columns")
        if num.null_count() or bool(num.is_nan().any()):
            raise M.MetricUndefined("FlipTest does not support missing values")
        cols.append(num.to_numpy())
    if not cols:
        raise M.MetricUndefined("FlipTest needs at least one feature column")
    return np.column_stack(cols)


def _predicted(
    frame: pl.DataFrame, label_values: list[Any], label_bin: Binarized, threshold: float
) -> pl.Series:
    if PRED in frame.columns:
        return binarize(frame[PRED], label_values, label_bin.continuous).mask
    prob = numeric_view(frame[PROB])
    if prob is None:
        raise InputError("the probability attribute has non-numeric values")
    as_label = (prob > threshold).cast(pl.Int64)
    if any(as_number(v) is not None for v in label_values) and not label_bin.continuous:
        m = binarize(as_label, label_values, False).mask
    else:
        m = prob > threshold
    return pl.select(pl.when(prob.is_null()).then(None).otherwise(m)).to_series()


def analyse(
    rows: Rows,
    config: dict[str, Any],
    pre_methods: list[str],
    post_methods: list[str],
    probability_threshold: float | None = None,
    pinned: dict[str, bool] | None = None,
) -> Analysis:
    """Compute Clarify's analysis.json for the rows. ``pinned``: facet name → continuous (from a baseline)."""
    warnings = list(rows.warnings)
    frame = rows.frame
    label_values = list(config["label_values_or_threshold"])
    threshold = (
        probability_threshold
        if probability_threshold is not None
        else float(config.get("probability_threshold", 0.5))
    )

    label_bin = binarize(frame[LABEL], label_values)
    if label_bin.continuous and (w := small_window_warning(frame[LABEL], label_values, "label", label_header(config))):
        warnings.append(w)
    frame = frame.with_columns(label_bin.mask.alias(Y))
    missing_label = frame[Y].null_count()
    if missing_label:
        warnings.append(f"{missing_label} row(s) without a label left out")
        frame = frame.filter(pl.col(Y).is_not_null())
    if frame.height and not bool(frame[Y].any()):
        warnings.append(f"no row has a positive label ({label_bin.display})")
    want_post = bool(post_methods) and (PRED in frame.columns or PROB in frame.columns)
    post = frame
    if want_post:
        frame = frame.with_columns(_predicted(frame, label_values, label_bin, threshold).alias(YH))
        missing_pred = frame[YH].null_count()
        post = frame.filter(pl.col(YH).is_not_null())
        if missing_pred:
            warnings.append(f"{missing_pred} row(s) without a prediction left out of post-training metrics")
    elif post_methods:
        raise InputError(
            "post-training bias metrics need predictions: pass --inference-attribute or --probability-attribute"
        )

    data_cols = [c for c in frame.columns if c not in INTERNAL and c not in (Y, YH)]
    group_var = config.get("group_variable")
    group_col = None
    if group_var is not None:
        group_col = column_of(data_cols, group_var, "group_variable")

    entries: list[Entry] = []
    pre_section: dict[str, list[dict[str, Any]]] = {}
    post_section: dict[str, list[dict[str, Any]]] = {}
    ge_value: dict[str, Any] | None = None
    if want_post and "GE" in post_methods:
        c, _ = _counts(post, [], True)
        ge_value = _metric("GE", lambda: M.ge(c.tp, c.fp, c.fn, c.tn))

    for facet in config["facet"]:
        name = column_of(data_cols, facet["name_or_index"], "facet")
        series = frame[name]
        given = facet.get("value_or_threshold")
        facet_entries: list[tuple[str, bool, pl.Series]] = []
        if given:
            b = binarize(series, list(given), (pinned or {}).get(name))
            if b.continuous and name not in (pinned or {}) and (w := small_window_warning(series, list(given), "facet", name)):
                warnings.append(w)
            facet_entries.append((b.display, b.continuous, b.mask.fill_null(False)))
        else:
            st = series.cast(pl.String)
            uniq = st.drop_nulls().unique(maintain_order=True).to_list()
            if len(uniq) > MAX_FACET_VALUES:
                raise InputError(
                    f"facet {name!r} has {len(uniq)} distinct values; give value_or_threshold (values or a threshold)"
                )
            for u in uniq:
                facet_entries.append((u, False, (st == u).fill_null(False)))
        pre_list: list[dict[str, Any]] = []
        post_list: list[dict[str, Any]] = []
        masks_pre = [pl.lit(m) for *_, m in facet_entries]
        counts_pre: list[Any] = (
            _counts(frame, masks_pre, False)[1] if pre_methods else [None] * len(facet_entries)
        )
        counts_post: list[Any] = [None] * len(facet_entries)
        if want_post:
            post_masks = [pl.lit(m.filter(frame[YH].is_not_null())) for *_, m in facet_entries]
            counts_post = _counts(post, post_masks, True)[1]
        for i, (display, continuous, mask) in enumerate(facet_entries):
            e = Entry(name, display, continuous)
            if pre_methods:
                d, a = counts_pre[i]
                e.n_d, e.n_a = d.n, a.n
                e.pre = _pre_metrics(pre_methods, d, a, frame, mask, group_col)
                pre_list.append({"value_or_threshold": display, "metrics": e.pre})
            if want_post:
                d, a = counts_post[i]
                e.n_d_post, e.n_a_post = d.n, a.n
                pmask = mask.filter(frame[YH].is_not_null())
                feature_cols = [c for c in data_cols if c != name and c not in rows.model_columns]
                e.post = _post_metrics(post_methods, d, a, post, pmask, group_col, feature_cols, ge_value)
                post_list.append({"value_or_threshold": display, "metrics": e.post})
            entries.append(e)
        if pre_methods:
            pre_section[name] = pre_list
        if want_post:
            post_section[name] = post_list

    label_name = label_header(config)
    doc: dict[str, Any] = {"version": "1.0"}
    if want_post:
        doc["post_training_bias_metrics"] = {
            "label": label_name,
            "facets": post_section,
            "label_value_or_threshold": label_bin.display,
        }
    if pre_methods:
        doc["pre_training_bias_metrics"] = {
            "label": label_name,
            "facets": pre_section,
            "label_value_or_threshold": label_bin.display,
        }
    return Analysis(doc, entries, frame.height, post.height if want_post else 0, warnings)


def label_header(config: dict[str, Any]) -> str:
    """The label's name in analysis.json: the config's ``label``, except a JSON path (or a label
    not among ``headers``) names the last entry of ``headers`` -- Clarify's rule for JSON datasets
    (the SDK's BiasAnalysisConfig writes the features' headers + ``Target``)."""
    label = config["label"]
    headers = config.get("headers") or []
    if isinstance(label, str) and headers and label not in headers and any(c in label for c in ".[$"):
        return str(headers[-1])
    return str(label)


def _dist(c: _Counts) -> list[float]:
    """Label distribution [P(negative), P(positive)] of one facet (0s when the facet is empty)."""
    return [M.divide(c.n - c.pos, c.n), M.divide(c.pos, c.n)]


def _pre_metrics(
    names: list[str], d: _Counts, a: _Counts, frame: pl.DataFrame, mask: pl.Series, group_col: str | None
) -> list[dict[str, Any]]:
    def facets() -> None:
        M._facets_present(a.n, d.n)  # noqa: SLF001

    def distribution(fn: Any) -> Any:
        def run() -> float:
            facets()
            return fn(_dist(a), _dist(d))

        return run

    def cddl() -> float:
        if group_col is None:
            raise M.MetricUndefined("Group variable is empty or not provided")
        facets()
        groups = _groups(frame.with_columns(mask.alias("__m")), group_col, pl.col("__m"), Y)
        return M.cdd(groups, a.pos + d.pos, a.n + d.n - a.pos - d.pos)

    table = {
        "CDDL": cddl,
        "CI": lambda: M.ci(a.n, d.n),
        "DPL": lambda: M.dpl(a.n, a.pos, d.n, d.pos),
        "JS": distribution(M.js),
        "KL": distribution(M.kl),
        "KS": distribution(M.ks),
        "LP": distribution(M.lp),
        "TVD": distribution(M.tvd),
    }
    return [_metric(n, table[n]) for n in names]


def _post_metrics(
    names: list[str],
    d: _Counts,
    a: _Counts,
    frame: pl.DataFrame,
    mask: pl.Series,
    group_col: str | None,
    feature_cols: list[str],
    ge_value: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    def cddpl() -> float:
        if group_col is None:
            raise M.MetricUndefined("Group variable is empty or not provided")
        M._facets_present(a.n, d.n)  # noqa: SLF001
        groups = _groups(frame.with_columns(mask.alias("__m")), group_col, pl.col("__m"), YH)
        return M.cdd(groups, a.pred + d.pred, a.n + d.n - a.pred - d.pred)

    def ft() -> float:
        M._facets_present(a.n, d.n)  # noqa: SLF001
        x = _feature_matrix(frame, feature_cols)
        m = mask.to_numpy()
        yh = frame[YH].to_numpy().astype(bool)
        f_pos, f_neg = flip_counts(x[~m], yh[~m], x[m], yh[m])
        return M.ft(d.n, f_pos, f_neg, a.n)

    table = {
        "AD": lambda: M.ad(a.tp, a.tn, a.n, d.tp, d.tn, d.n),
        "CDDPL": cddpl,
        "DAR": lambda: M.dar(a.tp, a.pred, d.tp, d.pred, a.n, d.n),
        "DCA": lambda: M.dca(a.pos, a.pred, d.pos, d.pred, a.n, d.n),
        "DCR": lambda: M.dcr(a.n - a.pos, a.n - a.pred, d.n - d.pos, d.n - d.pred, a.n, d.n),
        "DI": lambda: M.di(a.n, a.pred, d.n, d.pred),
        "DPPL": lambda: M.dppl(a.n, a.pred, d.n, d.pred),
        "DRR": lambda: M.drr(a.tn, a.n - a.pred, d.tn, d.n - d.pred, a.n, d.n),
        "FT": ft,
        "RD": lambda: M.rd(a.tp, a.fn, d.tp, d.fn, a.n, d.n),
        "SD": lambda: M.sd(a.tn, a.fp, d.tn, d.fp, a.n, d.n),
        "TE": lambda: M.te(a.fn, a.fp, d.fn, d.fp, a.n, d.n),
    }
    out = []
    for n in names:
        if n == "GE":
            assert ge_value is not None
            out.append(dict(ge_value))
        else:
            out.append(_metric(n, table[n]))
    return out
