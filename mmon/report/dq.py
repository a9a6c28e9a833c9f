"""Data-quality panels: one per feature, baseline vs current, from the two statistics.json files.

Nothing here reads raw data. Numeric features are drawn from the KLL sketches (the same sketches
the drift check compares), falling back to the 10 ``kll.buckets`` when a file has no sketch (the
CDF is then interpolated linearly inside each bucket, and the panel says so). The L∞ gap is the
one ``baseline_drift_check`` measures: ``max |F_b(x) - F_c(x)|`` over the items of both sketches
(``mmon.stats.kll.linf_distance``), marked where it is largest; Robust's margin and n, m are the
check's own (``mmon.checks.drift``). String features: the categorical buckets of both files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from markupsafe import Markup

from mmon.checks import drift, drift_tests
from mmon.checks.config import CHISQUARED, ROBUST, MonitoringConfig, feature_config, global_config
from mmon.checks.model import BASELINE_DRIFT, CATEGORICAL_TESTS, DATA_TYPE, NUMERIC_TESTS
from mmon.report import charts
from mmon.report.charts import Series
from mmon.stats.kll import KLLSketch
from mmon.stats.statistics import DatasetStatistics, FeatureStatistics

HIST_BINS = 12
CDF_POINTS = 40  # points per CDF curve: enough for the eye, small for 1 000 panels
TOP_K = 10
UNSEEN_LISTED = 10


@dataclass
class Panel:
    name: str
    kind: str  # numeric | string | absent
    baseline_type: str | None = None
    current_type: str | None = None
    violations: list[dict[str, str]] = field(default_factory=list)
    completeness_baseline: float | None = None
    completeness_current: float | None = None
    completeness_expected: float | None = None
    distance: float | None = None
    linf_simple: float | None = None
    method: str | None = None
    threshold: float | None = None
    margin: float | None = None
    n: int | None = None
    m: int | None = None
    tests: dict[str, float] = field(default_factory=dict)
    unseen: list[str] = field(default_factory=list)
    unseen_more: int = 0
    notes: list[str] = field(default_factory=list)
    charts: list[Markup] = field(default_factory=list)
    completeness_chart: Markup | None = None
    type_match: float | None = None  # from a data_type_check violation (SageMaker's text)
    type_chart: Markup | None = None
    order: int = 0

    @property
    def violating(self) -> bool:
        return bool(self.violations)


# -- CDFs of either side ------------------------------------------------------------------------

Cdf = Callable[[np.ndarray], np.ndarray]


def _bucket_cdf(buckets: list[dict[str, Any]]) -> tuple[Cdf, np.ndarray] | None:
    """A CDF interpolated linearly inside the 10 KLL buckets (files without a sketch)."""
    try:
        lows = np.array([float(b["lower_bound"]) for b in buckets])
        highs = np.array([float(b["upper_bound"]) for b in buckets])
        counts = np.array([float(b["count"]) for b in buckets])
    except (KeyError, TypeError, ValueError):
        return None
    total = counts.sum()
    if not buckets or not total > 0 or not np.isfinite(lows).all() or not np.isfinite(highs).all():
        return None
    xs = np.concatenate([lows[:1], highs])
    ys = np.concatenate([[0.0], np.cumsum(counts) / total])
    return (lambda x: np.interp(x, xs, ys, left=0.0, right=1.0)), xs


def _side(f: FeatureStatistics | None) -> tuple[Cdf, np.ndarray, KLLSketch | None] | None:
    if f is None:
        return None
    if f.sketch is not None and f.sketch.count > 0:
        sk = f.sketch
        items, _ = sk.sorted_items()
        return (lambda x: np.asarray(sk.cdf(x), dtype=float)), items, sk
    got = _bucket_cdf(f.buckets)
    return (got[0], got[1], None) if got else None


def _union_cdfs(a: KLLSketch, b: KLLSketch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(union of both sketches' items ascending, cdf_a and cdf_b there): ``np.union1d`` and two
    ``KLLSketch.cdf`` calls in one sort. The ranks are the same integers (all weight of items <= x)
    divided the same way, so the values are bit-identical, in a third of the time."""
    items_a, weights_a = a.sorted_items()
    items_b, weights_b = b.sorted_items()
    items = np.concatenate([items_a, items_b])
    order = np.argsort(items, kind="stable")
    items = items[order]
    zeros_a, zeros_b = np.zeros(items_a.shape[0], np.int64), np.zeros(items_b.shape[0], np.int64)
    rank_a = np.cumsum(np.concatenate([weights_a, zeros_b])[order])
    rank_b = np.cumsum(np.concatenate([zeros_a, weights_b])[order])
    last = np.ones(items.shape[0], dtype=bool)  # the last of each run of equal items: its rank counts them all
    np.not_equal(items[1:], items[:-1], out=last[:-1])
    keys = items[last]
    return keys, rank_a[last].astype(np.float64) / float(a.count), rank_b[last].astype(np.float64) / float(b.count)


def _thin(xs: np.ndarray, keep: float | None, count: int) -> np.ndarray:
    """At most ``count`` of the sorted ``xs`` (evenly by rank), always with ``keep`` (the gap)."""
    if xs.shape[0] > count:
        xs = xs[np.unique(np.linspace(0, xs.shape[0] - 1, count).round().astype(int))]
    if keep is not None and math.isfinite(keep):
        xs = np.union1d(xs, [keep])
    return xs


def _numeric(p: Panel, b: FeatureStatistics | None, c: FeatureStatistics | None, cfg: MonitoringConfig) -> None:
    sb, sc = _side(b), _side(c)
    if sb is None and sc is None:
        p.notes.append("no distribution in either statistics file")
        return
    if (sb and sb[2] is None) or (sc and sc[2] is None):
        p.notes.append("drawn from the 10 KLL buckets (no sketch in the file): linear inside each bucket")
    gap_x: float | None = None
    keys = None
    if sb and sc:
        if sb[2] is not None and sc[2] is not None:
            keys, fb, fc = _union_cdfs(sb[2], sc[2])
        else:
            keys = np.union1d(sb[1], sc[1])
            fb, fc = sb[0](keys), sc[0](keys)
        diff = np.abs(fb - fc)
        i = int(np.argmax(diff)) if keys.shape[0] else 0
        if keys.shape[0]:
            gap_x = float(keys[i])
            p.linf_simple = float(diff[i])
        if sb[2] is not None and sc[2] is not None:
            p.n, p.m = sb[2].count, sc[2].count
            p.method = "linf_robust" if cfg.comparison_method == ROBUST else "linf_simple"
            if cfg.comparison_method == ROBUST:
                p.margin = drift.robust_margin(p.n, p.m)
            p.distance = drift.select(p.linf_simple or 0.0, p.n, p.m, cfg.comparison_method)
            p.threshold = cfg.comparison_threshold
    sides = [s for s in (sb, sc) if s]
    allx = keys if keys is not None else np.unique(np.concatenate([s[1] for s in sides]))  # both: the union already
    allx = allx[np.isfinite(allx)]
    if allx.shape[0] == 0:
        return
    edges = np.linspace(float(allx[0]), float(allx[-1]), HIST_BINS + 1) if allx[-1] > allx[0] else np.array([allx[0], allx[0]])
    hist, steps = [], []
    xs = _thin(allx, gap_x, CDF_POINTS)
    gap_at: list[float] = []
    for s, name, cls in ((sb, "baseline", "s0"), (sc, "current", "s1")):
        if s is None:
            continue
        # One cdf call per side: bin edges, the curve's points and the gap.
        at = s[0](np.concatenate([edges, xs, [gap_x if gap_x is not None else 0.0]]))
        cdf, curve = at[: edges.shape[0]], at[edges.shape[0] : -1]
        gap_at.append(float(at[-1]))
        shares = np.diff(np.concatenate([[0.0], cdf[1:-1], [1.0]])) if edges.shape[0] > 2 else np.array([1.0])
        hist.append(Series(name, [round(v, 4) for v in shares.tolist()], cls))
        steps.append(Series(name, [round(v, 4) for v in curve.tolist()], cls))
    gap = (gap_x, gap_at[0], gap_at[1]) if gap_x is not None and sb and sc else None
    p.charts.append(charts.histogram(edges.tolist(), hist, f"{p.name}: distribution, baseline vs current"))
    p.charts.append(charts.steps(xs.tolist(), steps, f"{p.name}: cumulative distribution, L∞ gap marked", gap=gap))


def _string(p: Panel, b: FeatureStatistics | None, c: FeatureStatistics | None, cfg: MonitoringConfig) -> None:
    bc = (b.categories if b else None) or {}
    cc = (c.categories if c else None) or {}
    if not bc and not cc:
        p.notes.append("no categories in the statistics (more than 120 distinct values): not drift-checked")
        return
    nb, nc = sum(bc.values()), sum(cc.values())
    share_b = {k: v / nb for k, v in bc.items()} if nb else {}
    share_c = {k: v / nc for k, v in cc.items()} if nc else {}
    if bc and cc and nb and nc:
        if cfg.categorical_drift_method == CHISQUARED:
            r = drift.chi_squared(cc, bc)
            p.method, p.distance = "chi_squared", (None if math.isnan(r.p_value) else r.p_value)
        else:
            simple, n, m = drift.categorical_linf(bc, cc)
            p.linf_simple, p.n, p.m = simple, n, m
            p.method = "linf_robust" if cfg.comparison_method == ROBUST else "linf_simple"
            p.margin = drift.robust_margin(n, m) if cfg.comparison_method == ROBUST else None
            p.distance = drift.select(simple, n, m, cfg.comparison_method)
        p.threshold = cfg.categorical_comparison_threshold
    keys = sorted(share_b.keys() | share_c.keys(), key=lambda k: (-max(share_b.get(k, 0.0), share_c.get(k, 0.0)), k))
    top = keys[:TOP_K]
    labels = list(top)
    vb = [share_b.get(k, 0.0) if bc else None for k in top]
    vc = [share_c.get(k, 0.0) if cc else None for k in top]
    if len(keys) > TOP_K:
        labels.append(f"other ({len(keys) - TOP_K})")
        vb.append(max(0.0, 1.0 - sum(v or 0.0 for v in vb)) if bc else None)
        vc.append(max(0.0, 1.0 - sum(v or 0.0 for v in vc)) if cc else None)
    series = [Series("baseline", vb, "s0"), Series("current", vc, "s1")]
    p.charts.append(charts.hbars(labels, series, f"{p.name}: top {len(top)} categories, baseline vs current"))
    if bc:
        unseen = sorted((k for k in cc if k not in bc), key=lambda k: (-cc[k], k))
        p.unseen = unseen[:UNSEEN_LISTED]
        p.unseen_more = max(0, len(unseen) - UNSEEN_LISTED)


_TYPE_DESC = re.compile(r"Expected match: ([\d.]+)%\. Observed: Only ([\d.]+)% of data is")


def _type_chart(p: Panel) -> None:
    """The share of values of the baseline's type, as the data_type_check violation states it."""
    for v in p.violations:
        m = _TYPE_DESC.search(str(v.get("description", "")))
        if v.get("constraint_check_type") == DATA_TYPE and m:
            p.type_match = float(m.group(2)) / 100
            p.type_chart = charts.meter(
                [None, p.type_match], f"{p.name}: share of values of type {p.baseline_type} (mark: required)", float(m.group(1)) / 100
            )
            return


def _completeness_chart(p: Panel) -> None:
    if p.completeness_baseline is None and p.completeness_current is None:
        return
    p.completeness_chart = charts.meter(
        [p.completeness_baseline, p.completeness_current], f"{p.name}: completeness, baseline and current (mark: required)",
        p.completeness_expected,
    )


def panels(
    baseline: DatasetStatistics | None,
    current: DatasetStatistics | None,
    constraints: dict[str, Any] | None,
    violations: list[dict[str, Any]],
    tests: list[str],
    run_distances: dict[str, float],
) -> list[Panel]:
    """Every feature's panel, violating features first (then by drift distance, then file order)."""
    cfg0 = global_config(constraints or {})
    specs = {f["name"]: f for f in (constraints or {}).get("features", []) if isinstance(f, dict) and "name" in f}
    names: list[str] = list(specs)
    for src in (baseline, current):
        for n in src.features if src else {}:
            if n not in names:
                names.append(n)
    by_feature: dict[str, list[dict[str, str]]] = {}
    for v in violations:
        name = v.get("feature_name")
        if isinstance(name, str):
            by_feature.setdefault(name, []).append(v)
            if name not in names:
                names.append(name)
    out = []
    for order, name in enumerate(names):
        b = baseline.features.get(name) if baseline else None
        c = current.features.get(name) if current else None
        spec = specs.get(name)
        cfg = feature_config(cfg0, spec)
        p = Panel(name=name, kind="absent", order=order, violations=by_feature.get(name, []))
        p.baseline_type = (spec or {}).get("inferred_type") or (b.inferred_type if b else None)
        p.current_type = c.inferred_type if c else None
        p.completeness_baseline = b.completeness if b else None
        p.completeness_current = c.completeness if c else None
        if spec and isinstance(spec.get("completeness"), (int, float)):
            p.completeness_expected = float(spec["completeness"])
        numeric = (b is not None and b.is_numeric) or (b is None and c is not None and c.is_numeric)
        if b is None and c is None:
            p.notes.append("in neither statistics file")
        elif c is None and current is not None:
            p.notes.append("missing from the current data")
        elif b is None and baseline is not None:
            p.notes.append("not in the baseline")
        if b is not None or c is not None:
            p.kind = "numeric" if numeric else "string"
            (_numeric if numeric else _string)(p, b, c, cfg)
        _completeness_chart(p)
        _type_chart(p)
        if p.distance is None and name in run_distances:
            p.distance = run_distances[name]
        if tests and b is not None and c is not None:
            p.tests = _tests(tests, b, c, numeric)
        out.append(p)
    out.sort(key=lambda p: (not p.violating, -(p.distance if p.distance is not None and charts.finite(p.distance) else -1.0), p.order))
    return out


def _tests(names: list[str], b: FeatureStatistics, c: FeatureStatistics, numeric: bool) -> dict[str, float]:
    """The ``--drift-test`` values of the run, recomputed from the two files (same code as the run)."""
    if numeric:
        want = [t for t in names if t in NUMERIC_TESTS]
        if want and b.sketch is not None and c.sketch is not None and b.sketch.count and c.sketch.count:
            return drift_tests.numeric_tests(want, b.sketch, c.sketch, b.std_dev)
        return {}
    want = [t for t in names if t in CATEGORICAL_TESTS]
    if want and b.categories and c.categories and sum(c.categories.values()):
        return drift_tests.categorical_tests(want, b.categories, c.categories)
    return {}


def is_drift(v: dict[str, Any]) -> bool:
    return v.get("constraint_check_type") == BASELINE_DRIFT
