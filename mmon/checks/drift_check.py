"""``baseline_drift_check`` for one feature: the distance of :mod:`.drift` and the extra drift
tests of :mod:`.drift_tests`, as the registry's ``evaluate``.

Runs when ``perform_comparison`` is Enabled and both sides have a distribution: a KLL sketch for a
numeric baseline (and current numbers), categorical buckets for a String baseline (and current
values). The distance is compared with its threshold; the extra drift tests' values go into the
feature's result, and those given a threshold add violations of this check after its own.
"""

from __future__ import annotations

import math

from . import drift, drift_tests
from .config import CHISQUARED, ROBUST
from .model import CATEGORICAL_TESTS, NUMERIC_TESTS, FeatureView, Outcome


def evaluate(view: FeatureView) -> Outcome | None:
    stats, col, cfg, res = view.stats, view.col, view.cfg, view.result
    if stats is None or col is None or cfg is None or not cfg.perform_comparison:
        return None
    method = "linf_robust" if cfg.comparison_method == ROBUST else "linf_simple"
    if stats.sketch is not None and stats.sketch.count > 0:
        if col.kll.count == 0:
            return None
        simple, n, m = drift.numeric_linf(stats.sketch, col.kll)
        distance = drift.select(simple, n, m, cfg.comparison_method)
        res.drift_distance, res.drift_method = distance, method
        desc = drift.description(distance, cfg.comparison_threshold) if distance > cfg.comparison_threshold else None
        names = [t.name for t in view.tests if t.name in NUMERIC_TESTS]
        if names:
            res.extra.update(drift_tests.numeric_tests(names, stats.sketch, col.kll, stats.std_dev))
        _test_violations(view, NUMERIC_TESTS)
        return True, desc
    if not stats.categories:
        return None
    cur = col.categories
    if not cur or sum(cur.values()) == 0:
        return None
    threshold = cfg.categorical_comparison_threshold
    if cfg.categorical_drift_method == CHISQUARED:
        result = drift.chi_squared(cur, stats.categories)
        res.drift_method = "chi_squared"
        if math.isnan(result.p_value):
            desc = None
        else:
            res.drift_distance = result.p_value
            desc = drift.chi_squared_description(result.p_value, threshold) if result.p_value < threshold else None
    else:
        simple, n, m = drift.categorical_linf(stats.categories, cur)
        distance = drift.select(simple, n, m, cfg.comparison_method)
        res.drift_distance, res.drift_method = distance, method
        desc = drift.description(distance, threshold) if distance > threshold else None
    names = [t.name for t in view.tests if t.name in CATEGORICAL_TESTS]
    if names:
        res.extra.update(drift_tests.categorical_tests(names, stats.categories, cur))
    _test_violations(view, CATEGORICAL_TESTS)
    return True, desc


def _test_violations(view: FeatureView, applicable: tuple[str, ...]) -> None:
    for t in view.tests:
        if t.threshold is None or t.name not in applicable or t.name not in view.result.extra:
            continue
        value = view.result.extra[t.name]
        if drift_tests.exceeds(t.name, value, t.threshold):
            view.more.append(drift_tests.description(t.name, value, t.threshold))
