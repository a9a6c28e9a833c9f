"""Checks every entry of mmon's registries must pass (scikit-learn's ``test_common`` idea): a new monitor
type, data-quality check or drift test is covered here as soon as it is registered, or this file
fails until it gets its case.

* every monitor type of ``mmon.monitors.MONITORS`` (and model quality's ``--estimator cbpe``)
  round-trips baseline -> run: the baseline's own data gives no violation, a drifted window does;
* every data-quality check of ``mmon.checks.registry.CHECKS`` reports a violation with
  SageMaker's description for a window made to break it (a new check's registry line makes its
  case here fail until ``DESCRIPTIONS`` and ``_broken_window`` have it), and names its module's
  ``evaluate``;
* every drift test of ``DRIFT_TEST_NAMES`` agrees with scipy on exact (uncompacted) sketches.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from mmon import monitors
from mmon.checks import CheckOptions, DriftTest, check_data_quality
from mmon.checks import drift_tests as T
from mmon.checks.model import CATEGORICAL_TESTS, DRIFT_TEST_NAMES, NUMERIC_TESTS
from mmon.checks.registry import CHECKS, Check
from mmon.monitors import MonitorOptions, RunRequest
from mmon.stats.profile import profile_batch
from mmon.stats.statistics import read_statistics, to_statistics
from mmon.store import Store
from mmon.suggest import suggest_constraints
from tests.checks.test_drift_tests import numpy_decile_shares, psi_reference, sketch

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "fixtures" / "models" / "attribution_models.py"
FEATURES = ["a", "b", "c", "d"]


def _frame(n: int = 2000, seed: int = 0) -> pl.DataFrame:
    """Four features, a group, the model's probability and prediction, and a label drawn from it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 4))
    prob = np.round(1 / (1 + np.exp(-(x @ np.array([1.5, 1.0, 0.5, 0.1])))), 6)
    label = (rng.random(n) < prob).astype(int)
    group = rng.choice(["young", "old"], n)
    cols = {f: np.round(x[:, i], 6) for i, f in enumerate(FEATURES)}
    return pl.DataFrame({**cols, "group": group, "probability": prob, "prediction": (prob > 0.5).astype(int), "label": label})


@dataclass
class Case:
    options: MonitorOptions
    drift_data: Callable[[pl.DataFrame], pl.DataFrame] = lambda f: f
    drift_options: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    statistics: bool = False  # the run reads the baseline's statistics.json too


def _bias_config() -> dict[str, Any]:
    return {
        "label": "label",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "group", "value_or_threshold": ["young"]}],
        "probability_threshold": 0.5,
        "methods": {"post_training_bias": {"methods": ["DPPL"]}},
    }


MQ = {"problem_type": "BinaryClassification", "probability_attribute": "probability", "ground_truth_attribute": "label"}
CASES: dict[str, Case] = {
    "data-quality": Case(
        MonitorOptions("data-quality"),
        drift_data=lambda f: f.with_columns(pl.col("a") + 5),
        statistics=True,
    ),
    "model-quality": Case(
        MonitorOptions("model-quality", **MQ),  # type: ignore[arg-type]
        drift_data=lambda f: f.with_columns((1 - pl.col("label")).alias("label")),
        statistics=True,
    ),
    "model-quality --estimator cbpe": Case(
        MonitorOptions("model-quality", **MQ, inference_attribute="prediction", positive_label="1",  # type: ignore[arg-type]
                       estimator="cbpe", reference_chunk_size=500),
        # Scores near 0.5: the estimated accuracy falls to about a coin's.
        drift_data=lambda f: f.with_columns(probability=0.5 + (pl.col("probability") - 0.5) / 50).with_columns(
            prediction=(pl.col("probability") > 0.5).cast(pl.Int64)
        ),
        statistics=True,
    ),
    "bias": Case(
        MonitorOptions("bias", probability_attribute="probability"),
        drift_data=lambda f: f.with_columns(
            probability=pl.when(pl.col("group") == "young").then(pl.col("probability") * 0.2).otherwise(pl.col("probability"))
        ),
        config=_bias_config(),
    ),
    "feature-attribution": Case(
        MonitorOptions("feature-attribution", model=f"{MODELS}:linear", max_records=200),
        drift_options={"model": f"{MODELS}:switched"},  # the model now leans on the least important feature
        config={"headers": FEATURES, "methods": {"shap": {"baseline": [[0.0, 0.0, 0.0, 0.0]], "num_samples": 50}}},
    ),
}


def test_every_monitor_type_has_a_case() -> None:
    assert {name.split(" ")[0] for name in CASES} == set(monitors.MONITORS)
    assert monitors.TYPES == tuple(monitors.MONITORS)


@pytest.mark.parametrize("name", list(CASES))
def test_monitor_round_trips_baseline_to_run(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    store = Store()
    frame = _frame()
    columns = FEATURES if name == "feature-attribution" else [c for c in frame.columns if c != "group" or name == "bias"]
    frame.select(columns).write_csv(tmp_path / "train.csv")
    case.drift_data(frame).select(columns).write_csv(tmp_path / "drifted.csv")
    o = replace(case.options)
    if case.config is not None:
        (tmp_path / "config.json").write_text(json.dumps(case.config))
        o.config = str(tmp_path / "config.json")

    base = monitors.baseline(store, [str(tmp_path / "train.csv")], str(tmp_path / "base"), o, None, True, None)
    assert base.outputs and all(Path(u).is_file() for u in base.outputs.values()), base.outputs
    written = {Path(u).name for u in base.outputs.values()}
    cons = tmp_path / "base" / ("constraints.json" if "constraints.json" in written else "analysis.json")
    assert cons.is_file(), written
    stats = str(tmp_path / "base" / "statistics.json") if case.statistics else None

    def run(data: str, out: str, opts: MonitorOptions) -> Any:
        result = monitors.run(store, [str(tmp_path / data)], str(tmp_path / out), opts, RunRequest(str(cons), stats))
        assert isinstance(result.violations, list) and isinstance(result.warnings, list)
        assert Path(result.outputs["constraint_violations"]).is_file()
        doc = json.loads(Path(result.outputs["constraint_violations"]).read_text())
        assert doc["violations"] == result.violations
        if name != "data-quality":  # data quality's view is the CLI's own (mmon/cli/run_cmd.py)
            summary, title, headers, rows = monitors.view(o.run_type, result)
            assert isinstance(summary, dict) and title and all(len(r) == len(headers) for r in rows)
        return result

    same = run("train.csv", "same", o)
    assert same.violations == [], same.violations
    drifted_data = "train.csv" if case.drift_options else "drifted.csv"
    drifted = run(drifted_data, "drifted", replace(o, **case.drift_options))
    assert drifted.violations, f"{name}: the drifted window raised no violation"


# -- data-quality checks ------------------------------------------------------------------------------

# A window that breaks every check (see _broken_window), and the description each writes. SageMaker's
# published wordings (format study §3: data type, completeness, drift) are matched exactly, with the
# percentages computed here from the window: 998 of 999 present "count" values are integral, 999 of
# 1000 are present; missing/extra column, non-negative and categorical values are mmon's wordings.
DESCRIPTIONS = {
    "data_type_check": re.escape("Data type match requirement is not met. Expected data type: Integral, Expected "
                                 f"match: 100.0%. Observed: Only {998 / 999 * 100!r}% of data is Integral."),
    "completeness_check": re.escape(f"Data completeness requirement is not met. Expected: 100.0%. Observed: Only {999 / 1000 * 100!r}%."),
    "baseline_drift_check": r"Baseline drift distance: 0\.\d+(E-\d+)? exceeds threshold: 0\.1",
    "non_negative_check": re.escape("Non-negative requirement is not met. Observed minimum: -3.0."),
    "categorical_values_check": re.escape("Data content requirement is not met. Expected: 100.0% of values in the baseline "
                                          "domain. Observed: Only ") + r"\d+\.\d+%\. Unknown values: 'violet'\.",
    "missing_column_check": re.escape("Column is missing in the current dataset (baseline: 4 columns, current: 4)."),
    "extra_column_check": re.escape("Column is not in the baseline (baseline: 4 columns, current: 4)."),
}  # fmt: skip


def _broken_window() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(4)
    n = 1000
    base = pl.DataFrame(
        {
            "count": [str(v) for v in rng.integers(0, 100, n)],  # integral, non-negative
            "score": [str(v) for v in np.round(rng.normal(0, 1, n), 4)],  # fractional: drifts below
            "colour": rng.choice(["red", "green"], n).tolist(),
            "gone": [str(v) for v in rng.integers(0, 5, n)],  # missing from the window
        }
    )
    cur = pl.DataFrame(
        {
            "count": ["-3", "x", *[str(v) for v in rng.integers(0, 100, n - 3)], None],
            "score": [str(v) for v in np.round(rng.normal(6, 1, n), 4)],
            "colour": rng.choice(["red", "green", "violet"], n).tolist(),
            "new": ["1"] * n,
        }
    )
    return base, cur


@functools.cache
def _broken_descriptions() -> dict[str, list[str]]:
    base, cur = _broken_window()
    stats = to_statistics(profile_batch(base))
    report = check_data_quality(read_statistics(stats), suggest_constraints(stats), profile_batch(cur), CheckOptions())
    found: dict[str, list[str]] = {}
    for v in report.violations:
        found.setdefault(v["constraint_check_type"], []).append(v["description"])
    return found


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_every_data_quality_check_describes_its_violation(check: Check) -> None:
    assert callable(check.function()) and check.summary and check.scope in ("missing", "extra", "feature")
    assert check.name in DESCRIPTIONS, f"{check.name}: add its description pattern and a case in _broken_window"
    found = _broken_descriptions()
    assert check.name in found, (check.name, found)
    for description in found[check.name]:
        assert re.fullmatch(DESCRIPTIONS[check.name], description), (check.name, description)


def test_no_violation_outside_the_registry() -> None:
    assert set(_broken_descriptions()) <= {c.name for c in CHECKS}
    assert set(DESCRIPTIONS) == {c.name for c in CHECKS}


# -- drift tests ---------------------------------------------------------------------------------------


_A = np.round(np.random.default_rng(1).normal(10, 2, 1500), 3)
_B = np.round(np.random.default_rng(2).normal(10.5, 2.4, 1100), 3)
_CB = {"a": 500, "b": 300, "c": 200}
_CC = {"a": 180, "b": 150, "c": 90, "new": 30}
_CB_SHARES = np.array([500, 300, 200, 0]) / 1000
_CC_SHARES = np.array([180, 150, 90, 30]) / 450

# test -> the scipy/numpy value on the numeric pair (_A, _B) / on the category counts (_CB, _CC)
NUMERIC_REFERENCE: dict[str, Callable[[], float]] = {
    "ks": lambda: sps.ks_2samp(_A, _B, method="asymp").pvalue,
    "wasserstein": lambda: sps.wasserstein_distance(_A, _B) / np.std(_A),
    "psi": lambda: psi_reference(*numpy_decile_shares(_A, _B)),
    "js": lambda: jensenshannon(*numpy_decile_shares(_A, _B), base=2),
}
CATEGORICAL_REFERENCE: dict[str, Callable[[], float]] = {
    "psi": lambda: psi_reference(_CB_SHARES, _CC_SHARES),
    "js": lambda: jensenshannon(_CB_SHARES, _CC_SHARES, base=2),
    # new categories are not in the expected frequencies: chi-squared over the baseline's categories
    "chi2": lambda: sps.chisquare([180, 150, 90], np.array([0.5, 0.3, 0.2]) * 420).pvalue,
}


def test_every_drift_test_has_a_scipy_reference() -> None:
    assert set(NUMERIC_REFERENCE) == set(NUMERIC_TESTS)
    assert set(CATEGORICAL_REFERENCE) == set(CATEGORICAL_TESTS)
    assert set(NUMERIC_TESTS) | set(CATEGORICAL_TESTS) == set(DRIFT_TEST_NAMES)


@pytest.mark.parametrize("test", NUMERIC_TESTS)
def test_numeric_drift_test_agrees_with_scipy(test: str) -> None:
    got = T.numeric_tests([test], sketch(_A), sketch(_B), float(np.std(_A)))[test]
    assert got == pytest.approx(NUMERIC_REFERENCE[test](), rel=1e-9)


@pytest.mark.parametrize("test", CATEGORICAL_TESTS)
def test_categorical_drift_test_agrees_with_scipy(test: str) -> None:
    got = T.categorical_tests([test], _CB, _CC)[test]
    assert got == pytest.approx(CATEGORICAL_REFERENCE[test](), rel=1e-9)


@pytest.mark.parametrize("test", DRIFT_TEST_NAMES)
def test_every_drift_test_raises_a_violation_naming_itself(test: str) -> None:
    rng = np.random.default_rng(3)
    n = 3000
    base = pl.DataFrame({"num": rng.normal(0, 1, n), "cat": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]).tolist()})
    cur = pl.DataFrame({"num": rng.normal(1.5, 1, n), "cat": rng.choice(["x", "y", "z"], n, p=[0.1, 0.3, 0.6]).tolist()})
    stats = to_statistics(profile_batch(base))
    threshold = 0.05 if test in ("ks", "chi2") else 0.1
    report = check_data_quality(
        read_statistics(stats), suggest_constraints(stats), profile_batch(cur),
        CheckOptions(drift_tests=[DriftTest(test, threshold)]),
    )  # fmt: skip
    named = [v for v in report.violations if f"Baseline drift {test}" in v["description"]]
    assert named, [v["description"] for v in report.violations]
