"""Checks against SageMaker's own files: a SageMaker-made baseline, and AWS's designed violation data."""

from __future__ import annotations

import gzip
import json
import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.checks import check_data_quality
from mmon.stats.profile import profile_batch
from mmon.stats.statistics import read_statistics, to_statistics
from mmon.suggest import suggest_constraints
from tests.checks.test_checks_core import kinds

# -- REAL-2024: SageMaker's statistics.json + constraints.json and the CSV they were made from ----


@pytest.fixture(scope="module")
def aai540(shared_dir: Path):
    stats = json.loads(gzip.decompress((shared_dir / "data" / "aai540-statistics.2024-10.json.gz").read_bytes()))
    constraints = json.loads((shared_dir / "dq-constraints.2024-10.json").read_text())
    csv = gzip.decompress((shared_dir / "data" / "aai540-train_data.csv.gz").read_bytes())
    return read_statistics(stats), constraints, pl.read_csv(csv, infer_schema=False)


def test_sagemaker_baseline_against_its_own_data_is_clean(aai540) -> None:
    baseline, constraints, data = aai540
    report = check_data_quality(baseline, constraints, profile_batch(data))
    assert report.violations == []
    by_name = {f.name: f for f in report.features}
    assert list(by_name) == [f["name"] for f in constraints["features"]]
    # Numeric and categorical features were really compared (and are identical).
    assert by_name["price"].drift_distance == 0.0 and by_name["state"].drift_distance == 0.0
    assert "categorical_values_check" in by_name["state"].checks_run
    assert by_name["zipcode"].drift_distance is None  # high-cardinality String: no distribution


def test_sagemaker_baseline_against_modified_data(aai540) -> None:
    baseline, constraints, data = aai540
    changed = data.with_columns(
        (pl.col("price").cast(pl.Float64) * 3).cast(pl.String).alias("price"),
        pl.when(pl.int_range(pl.len()) % 1000 == 7).then(pl.lit("Atlantis")).otherwise(pl.col("state")).alias("state"),
    )
    report = check_data_quality(baseline, constraints, profile_batch(changed))
    assert kinds(report) == [("price", "baseline_drift_check"), ("state", "categorical_values_check")]
    drift_desc = report.violations[0]["description"]
    m = re.search("distance: (.+) exceeds", drift_desc)  # AWS's visualisation helper parses this
    assert m is not None and float(m.group(1)) > 0.1
    assert drift_desc.endswith(" exceeds threshold: 0.1")
    n_new = (changed.height + 992) // 1000
    assert report.violations[1]["description"].startswith(
        "Data content requirement is not met. Expected: 100.0% of values in the baseline domain. Observed: Only "
    )
    share = float(report.violations[1]["description"].split("Only ")[1].split("%")[0]) / 100
    assert share == pytest.approx(1 - n_new / changed.height, abs=1e-12)
    assert report.violations[1]["description"].endswith("Unknown values: 'Atlantis'.")


# -- REAL-DQ-2021: the data AWS built to trigger violations ------------------------------------


def _numbers(values: list[str | None]) -> np.ndarray:
    return np.array([float(v) for v in values if v is not None], dtype=np.float64)


def test_designed_drift_dataset(shared_dir: Path) -> None:
    base = pl.read_csv(shared_dir / "data" / "dq-designed-baseline.csv", infer_schema=False)
    drift = pl.read_csv(shared_dir / "data" / "dq-designed-drift.csv", infer_schema=False, has_header=False)
    # 28 input columns without the model output `target`: the baseline's columns 2..29, by position.
    assert drift.width == base.width - 1 == 28
    drift.columns = base.columns[1:]
    stats = to_statistics(profile_batch(base))
    report = check_data_quality(read_statistics(stats), suggest_constraints(stats), profile_batch(drift))
    got = kinds(report)

    def of(check: str) -> list[str]:
        return [f for f, c in got if c == check]

    # What the data set was built for (format study §12 item 3): decimals in zip_feature_0/1,
    # age_range missing in 10 of 320 rows (SageMaker's real run: Only 96.875%).
    assert of("data_type_check") == ["zip_feature_0", "zip_feature_1"]
    assert of("completeness_check") == ["age_range"]
    by = {v["feature_name"]: v["description"] for v in report.violations if v["constraint_check_type"] == "completeness_check"}
    assert by["age_range"] == "Data completeness requirement is not met. Expected: 100.0%. Observed: Only 96.875%."
    assert of("missing_column_check") == ["target"]
    assert of("non_negative_check") == ["zip_feature_0", "zip_feature_1"]  # -0.25 and -42.0
    assert of("extra_column_check") == [] and of("categorical_values_check") == []
    # Drift: exactly the columns whose raw-data Robust L-infinity exceeds 0.1 (exact sketches here).
    expected_drift = []
    for name in drift.columns:
        a, b = _numbers(base[name].to_list()), _numbers(drift[name].to_list())
        xs = np.union1d(a, b)
        d = np.max(np.abs(np.searchsorted(np.sort(a), xs, "right") / a.size - np.searchsorted(np.sort(b), xs, "right") / b.size))
        if d - 1.8 * math.sqrt((a.size + b.size) / (a.size * b.size)) > 0.1:
            expected_drift.append(name)
    assert expected_drift  # the data set was built to drift
    assert of("baseline_drift_check") == expected_drift
