"""The row-level checks on real profiles: each scenario that must fire has a twin that must not.

Baselines are built as mmon builds them (profile -> statistics.json -> read back + suggested
constraints), current windows are profiled with the same code, so these tests exercise the whole
path a monitoring run takes.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mmon.checks import (
    CHECK_TYPES,
    CheckOptions,
    check_data_quality,
    parse_disable,
    violations_document,
)
from mmon.errors import InputError
from mmon.jsonfmt import java_double_str
from mmon.schemas import validate
from mmon.stats.profile import CATEGORY_CAP, profile_batch
from mmon.stats.statistics import read_statistics, to_statistics
from mmon.suggest import suggest_constraints


def baseline_from(df: pl.DataFrame):
    stats = to_statistics(profile_batch(df))
    return read_statistics(stats), suggest_constraints(stats)


def run(base: pl.DataFrame, cur: pl.DataFrame, options: CheckOptions | None = None, edit=None):
    stats, constraints = baseline_from(base)
    if edit is not None:
        edit(constraints)
    return check_data_quality(stats, constraints, profile_batch(cur), options)


def kinds(report) -> list[tuple[str, str]]:
    return [(v["feature_name"], v["constraint_check_type"]) for v in report.violations]


def ages(seed: int, n: int, fmt: str = "{}") -> list[str]:
    rng = np.random.default_rng(seed)
    return [fmt.format(int(x)) for x in rng.integers(18, 90, n)]


# -- the seed scenario --------------------------------------------------------------------------


def test_seed_scenario_integral_age_receives_decimals() -> None:
    base = pl.DataFrame({"age": ages(1, 1000)})
    cur = pl.DataFrame({"age": ages(2, 1000, "{}.0")})  # same distribution, written 37.0
    report = run(base, cur)
    assert report.violations == [
        {
            "feature_name": "age",
            "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met. Expected data type: Integral, "
            "Expected match: 100.0%. Observed: Only 0.0% of data is Integral.",
        }
    ]


def test_seed_scenario_twin_integral_age_receives_integers() -> None:
    report = run(pl.DataFrame({"age": ages(1, 1000)}), pl.DataFrame({"age": ages(2, 1000)}))
    assert report.violations == []
    (feat,) = report.features
    assert feat.checks_run == ["data_type_check", "completeness_check", "non_negative_check", "baseline_drift_check"]


# -- data_type_check ----------------------------------------------------------------------------


def test_data_type_partial_share_uses_java_percent() -> None:
    # 7 of 1977 values not Integral: SageMaker's 99.64592817400101 % (format study §3).
    cur_vals = ages(3, 1970) + ["0.1"] * 7
    report = run(pl.DataFrame({"x": ages(1, 2000)}), pl.DataFrame({"x": cur_vals}))
    assert kinds(report) == [("x", "data_type_check")]
    assert "Observed: Only 99.64592817400101% of data is Integral." in report.violations[0]["description"]


def test_data_type_threshold_is_a_required_fraction() -> None:
    cur = pl.DataFrame({"x": ages(3, 95) + ["1.5"] * 5})

    def lower(c):
        c["monitoring_config"]["datatype_check_threshold"] = 0.9

    assert kinds(run(pl.DataFrame({"x": ages(1, 100)}), cur, edit=lower)) == []
    fired = run(pl.DataFrame({"x": ages(1, 100)}), cur)
    assert kinds(fired) == [("x", "data_type_check")]


def test_fractional_baseline_accepts_integral_values_but_not_text() -> None:
    rng = np.random.default_rng(5)
    base = pl.DataFrame({"price": [f"{x:.2f}" for x in rng.uniform(1, 100, 500)]})
    cur_ok = pl.DataFrame({"price": [f"{x:.2f}" for x in rng.uniform(1, 100, 400)] + ["12", "50", "7"] * 10})
    assert kinds(run(base, cur_ok)) == []
    cur_bad = pl.DataFrame({"price": [f"{x:.2f}" for x in rng.uniform(1, 100, 490)] + ["n/a"] * 10})
    report = run(base, cur_bad)
    assert kinds(report) == [("price", "data_type_check")]
    assert "Expected data type: Fractional" in report.violations[0]["description"]
    assert "Only 98.0% of data is Fractional." in report.violations[0]["description"]


def test_string_baseline_accepts_any_value() -> None:
    # Like REAL-2024 zipcode: number-like text plus words is a String column.
    base = pl.DataFrame({"zip": [f"{85000 + i}.0" for i in range(300)] + ["Unknown"] * 30})
    cur = pl.DataFrame({"zip": [f"{85000 + i}.0" for i in range(200)] + ["true", "12"] * 5})
    stats, constraints = baseline_from(base)
    assert constraints["features"][0]["inferred_type"] == "String"
    report = check_data_quality(stats, constraints, profile_batch(cur))
    assert kinds(report) == []
    assert "data_type_check" in report.features[0].checks_run


def test_boolean_column_reported_as_string_matches_true_false() -> None:
    base = pl.DataFrame({"flag": ["true", "false"] * 100})
    cur = pl.DataFrame({"flag": ["false", "true"] * 80})
    stats, constraints = baseline_from(base)
    assert constraints["features"][0]["inferred_type"] == "String"
    assert kinds(check_data_quality(stats, constraints, profile_batch(cur))) == []


# -- completeness_check -------------------------------------------------------------------------


def test_completeness_below_baseline_fires_with_sagemaker_text() -> None:
    base = pl.DataFrame({"age_range": ages(1, 320)})
    cur_vals: list[str | None] = ages(2, 310) + [None] * 10
    report = run(base, pl.DataFrame({"age_range": cur_vals}))
    assert kinds(report) == [("age_range", "completeness_check")]
    assert report.violations[0]["description"] == (
        "Data completeness requirement is not met. Expected: 100.0%. Observed: Only 96.875%."
    )
    assert report.features[0].completeness == pytest.approx(310 / 320)


def test_completeness_at_or_above_baseline_passes() -> None:
    base_vals: list[str | None] = ages(1, 300) + [None] * 20  # baseline 93.75 %
    cur_vals: list[str | None] = ages(2, 300) + [None] * 20
    report = run(pl.DataFrame({"a": base_vals}), pl.DataFrame({"a": cur_vals}))
    assert kinds(report) == []
    worse: list[str | None] = ages(2, 290) + [None] * 30

    def simple(c: dict) -> None:
        c["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"

    # SageMaker's exact rule (Simple): 90.6 % < 93.75 % fires.
    assert kinds(run(pl.DataFrame({"a": base_vals}), pl.DataFrame({"a": worse}), edit=simple)) == [("a", "completeness_check")]
    # Robust (default): on 320 rows that drop is within the sampling margin (5.7 points); a real loss is not.
    assert kinds(run(pl.DataFrame({"a": base_vals}), pl.DataFrame({"a": worse}))) == []
    lost: list[str | None] = ages(2, 250) + [None] * 70
    assert kinds(run(pl.DataFrame({"a": base_vals}), pl.DataFrame({"a": lost}))) == [("a", "completeness_check")]


def test_all_null_current_column_fails_completeness_only() -> None:
    report = run(pl.DataFrame({"a": ages(1, 100)}), pl.DataFrame({"a": pl.Series([None] * 50, dtype=pl.String)}))
    assert kinds(report) == [("a", "completeness_check")]
    assert report.violations[0]["description"].endswith("Observed: Only 0.0%.")


# -- missing / extra columns --------------------------------------------------------------------


def test_missing_and_extra_columns() -> None:
    base = pl.DataFrame({"a": ages(1, 100), "b": ages(2, 100), "c": ages(3, 100)})
    cur = pl.DataFrame({"a": ages(4, 100), "c": ages(5, 100), "d": ages(6, 100), "e": ages(7, 100)})
    report = run(base, cur)
    assert kinds(report) == [("b", "missing_column_check"), ("d", "extra_column_check"), ("e", "extra_column_check")]
    assert report.violations[0]["description"] == "Column is missing in the current dataset (baseline: 3 columns, current: 4)."
    assert report.violations[1]["description"] == "Column is not in the baseline (baseline: 3 columns, current: 4)."
    names = [f.name for f in report.features]
    assert names == ["a", "b", "c", "d", "e"]
    missing = report.features[1]
    assert missing.inferred_type is None and missing.checks_run == ["missing_column_check"]


def test_same_columns_in_another_order_are_not_missing_or_extra() -> None:
    base = pl.DataFrame({"a": ages(1, 100), "b": ages(2, 100)})
    cur = pl.DataFrame({"b": ages(4, 100), "a": ages(5, 100)})
    assert kinds(run(base, cur)) == []


# -- categorical_values_check -------------------------------------------------------------------


def _states(seed: int, n: int, extra: list[str] | None = None) -> list[str]:
    rng = np.random.default_rng(seed)
    vals = rng.choice(["CA", "NY", "TX", "WA", "OR"], n).tolist()
    return vals + (extra or [])


def test_unknown_category_fires_and_names_values() -> None:
    base = pl.DataFrame({"state": _states(1, 500)})
    extra = ["x"] * 4 + ["y"] * 3 + ["z", "u", "v", "w", "t"]
    report = run(base, pl.DataFrame({"state": _states(2, 468, extra)}))
    assert kinds(report) == [("state", "categorical_values_check")]
    desc = report.violations[0]["description"]
    expected_pct = java_double_str(468 / 480 * 100)
    assert desc == (
        "Data content requirement is not met. Expected: 100.0% of values in the baseline domain. "
        f"Observed: Only {expected_pct}%. Unknown values: 'x', 'y', 't', 'u', 'v' (and 2 more)."
    )


def test_known_categories_pass_and_threshold_is_honoured() -> None:
    base = pl.DataFrame({"state": _states(1, 500)})
    assert kinds(run(base, pl.DataFrame({"state": _states(2, 300)}))) == []
    cur = pl.DataFrame({"state": _states(2, 297, ["zz"] * 3)})

    def lower(c):
        c["monitoring_config"]["domain_content_threshold"] = 0.99

    assert kinds(run(base, cur, edit=lower)) == []
    assert kinds(run(base, cur)) == [("state", "categorical_values_check")]


def test_high_cardinality_current_window_still_fires() -> None:
    base = pl.DataFrame({"state": _states(1, 500)})
    cur = pl.DataFrame({"state": [f"id{i}" for i in range(CATEGORY_CAP + 200)]})
    report = run(base, cur, CheckOptions(disabled={("*", "baseline_drift_check")}))
    assert kinds(report) == [("state", "categorical_values_check")]
    assert "Observed: at most" in report.violations[0]["description"]


# -- non_negative_check -------------------------------------------------------------------------


def test_negative_value_where_baseline_was_non_negative() -> None:
    base = pl.DataFrame({"qty": ages(1, 200)})
    stats, constraints = baseline_from(base)
    assert constraints["features"][0]["num_constraints"] == {"is_non_negative": True}
    cur = pl.DataFrame({"qty": ages(2, 199) + ["-3"]})
    report = check_data_quality(stats, constraints, profile_batch(cur))
    assert report.violations == [
        {
            "feature_name": "qty",
            "constraint_check_type": "non_negative_check",
            "description": "Non-negative requirement is not met. Observed minimum: -3.0.",
        }
    ]


def test_negative_values_allowed_when_baseline_had_them() -> None:
    base = pl.DataFrame({"t": [str(x) for x in range(-50, 150)]})
    stats, constraints = baseline_from(base)
    assert "num_constraints" not in constraints["features"][0]
    cur = pl.DataFrame({"t": [str(x) for x in range(-40, 160)]})
    assert kinds(check_data_quality(stats, constraints, profile_batch(cur))) == []


# -- options, order, document -------------------------------------------------------------------


def test_disable_one_check_for_one_feature_or_all() -> None:
    base = pl.DataFrame({"a": ages(1, 300), "b": ages(2, 300)})
    cur = pl.DataFrame({"a": ages(3, 300, "{}.0"), "b": ages(4, 300, "{}.0")})
    assert kinds(run(base, cur)) == [("a", "data_type_check"), ("b", "data_type_check")]
    one = CheckOptions(disabled={parse_disable("a:data_type_check")})
    assert kinds(run(base, cur, one)) == [("b", "data_type_check")]
    every = CheckOptions(disabled={parse_disable("*:data_type")})
    report = run(base, cur, every)
    assert kinds(report) == []
    assert "data_type_check" not in report.features[0].checks_run


def test_evaluate_constraints_disabled_globally_and_per_feature() -> None:
    base = pl.DataFrame({"a": ages(1, 300), "b": ages(2, 300)})
    cur = pl.DataFrame({"a": ages(3, 300, "{}.0"), "c": ages(4, 300)})
    assert kinds(run(base, cur)) == [("a", "data_type_check"), ("b", "missing_column_check"), ("c", "extra_column_check")]

    def per_feature(c):
        c["features"][0]["monitoringConfigOverrides"] = {"evaluate_constraints": "Disabled"}

    assert kinds(run(base, cur, edit=per_feature)) == [("b", "missing_column_check"), ("c", "extra_column_check")]

    def globally(c):
        c["monitoring_config"]["evaluate_constraints"] = "Disabled"

    report = run(base, cur, edit=globally)
    assert report.violations == []
    assert all(f.checks_run == [] for f in report.features)


def test_violations_are_in_feature_then_check_order() -> None:
    base = pl.DataFrame({"z": ages(1, 300), "a": _states(1, 300)})
    cur = pl.DataFrame(
        {
            "z": ages(2, 280, "{}.5") + [None] * 10 + ["-5"] * 10,
            "a": _states(2, 290, ["new"] * 10),
            "extra": ages(3, 300),
        }
    )
    report = run(base, cur)
    got = kinds(report)
    assert [f for f, _ in got] == sorted((f for f, _ in got), key=["z", "a", "extra"].index)
    for feature in ("z", "a"):
        order = [c for f, c in got if f == feature]
        assert order == sorted(order, key=CHECK_TYPES.index)
    assert ("z", "data_type_check") in got and ("z", "completeness_check") in got and ("z", "non_negative_check") in got
    assert ("a", "categorical_values_check") in got and ("extra", "extra_column_check") in got


def test_violations_document_validates_against_schema() -> None:
    base = pl.DataFrame({"a": ages(1, 300), "b": _states(1, 300)})
    cur = pl.DataFrame({"a": ages(2, 290, "{}.5") + [None] * 10, "b": _states(2, 290, ["q"] * 10), "x": ages(1, 300)})
    doc = violations_document(run(base, cur))
    assert {v["constraint_check_type"] for v in doc["violations"]} >= {
        "data_type_check",
        "completeness_check",
        "categorical_values_check",
        "extra_column_check",
    }
    validate(doc, "constraint_violations", "test")


def test_bad_constraints_are_input_errors() -> None:
    base = pl.DataFrame({"a": ages(1, 100)})

    def bad_method(c):
        c["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Fancy"

    with pytest.raises(InputError, match="comparison_method"):
        run(base, base, edit=bad_method)

    def bad_override(c):
        c["features"][0]["monitoringConfigOverrides"] = {"datatype_check_threshold": 2}

    with pytest.raises(InputError, match="feature 'a'"):
        run(base, base, edit=bad_override)


def test_completeness_robust_margin_ignores_sampling_noise_but_not_real_loss() -> None:
    """2 % random nulls: a fresh sample below the baseline's exact share is noise under Robust."""
    import numpy as np
    import polars as pl

    from mmon.checks import check_data_quality
    from mmon.stats.profile import profile_batch
    from mmon.stats.statistics import read_statistics, to_statistics
    from mmon.suggest import suggest_constraints

    def frame(n: int, seed: int, null_rate: float) -> pl.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(0, 1, n)
        return pl.DataFrame({"x": [None if m else f"{v:.3f}" for v, m in zip(x, rng.random(n) < null_rate, strict=True)]})

    base_state = profile_batch(frame(200_000, 1, 0.02))
    stats = to_statistics(base_state)
    cons = suggest_constraints(stats)
    base = read_statistics(stats)
    expected = cons["features"][0]["completeness"]
    # Find a same-distribution sample whose share is below the baseline's (happens half the time).
    for seed in range(2, 40):
        cur = profile_batch(frame(200_000, seed, 0.02))
        if cur.columns["x"].present / cur.rows < expected:
            break
    else:
        raise AssertionError("no sample below the baseline share")
    robust = check_data_quality(base, cons, cur)
    assert [v for v in robust.violations if v["constraint_check_type"] == "completeness_check"] == []
    simple_cons = {**cons, "monitoring_config": {**cons["monitoring_config"], "distribution_constraints": {
        **cons["monitoring_config"]["distribution_constraints"], "comparison_method": "Simple"}}}  # fmt: skip
    simple = check_data_quality(base, simple_cons, cur)
    assert [v["constraint_check_type"] for v in simple.violations] == ["completeness_check"]
    # A real loss (5 % nulls instead of 2 %) still fires under Robust.
    worse = check_data_quality(base, cons, profile_batch(frame(200_000, 99, 0.05)))
    assert [v["constraint_check_type"] for v in worse.violations] == ["completeness_check"]


def test_string_expectation_is_strict_only_where_the_statistics_say_numeric():
    from mmon.checks import data_type

    # 9 numbers and 1 word under a String constraint: the statistics say String (SageMaker's own
    # zipcode case) → every value counts; they say Fractional (a constraint edited against the
    # data) → only the word is String-class.
    assert data_type.match_fraction("String", 5, 4, 0, 1, "String") == 1.0
    assert data_type.match_fraction("String", 5, 4, 0, 1, None) == 1.0
    assert data_type.match_fraction("String", 5, 4, 0, 1, "Fractional") == 0.1
    assert data_type.match_fraction("String", 5, 4, 0, 1, "Integral") == 0.1
