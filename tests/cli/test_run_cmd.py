"""mmon run (data quality) through its CLI: scenarios that must fire and twins that must not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.clihelp import run_cli


def _baseline(src: Path, out: Path, capsys, *extra: str) -> tuple[Path, Path]:
    code, _, err = run_cli(["baseline", src, "-o", out, "-q", *extra], capsys)
    assert code == 0, err
    return out / "statistics.json", out / "constraints.json"


def _run(data, stats: Path, cons: Path, out: Path, capsys, *extra: str) -> tuple[int, dict]:
    code, stdout, err = run_cli(
        ["run", *([data] if not isinstance(data, list) else data), "--baseline-statistics", stats,
         "--baseline-constraints", cons, "-o", out, "--json", *extra],
        capsys,
    )  # fmt: skip
    assert code in (0, 1), err
    return code, json.loads(stdout)


def _people(n: int, seed: int, age_fmt: str = "{}") -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "age": [age_fmt.format(a) for a in rng.integers(18, 80, n)],
            "income": [f"{v:.2f}" for v in rng.lognormal(10, 0.4, n)],
            "city": rng.choice(["paris", "lyon", "nice", "lille"], n).tolist(),
        }
    )


def test_seed_scenario_age_sent_as_float(tmp_path: Path, capsys) -> None:
    """The re:Invent demo: an Integral `age` baseline, traffic sending 37.0 -> one data_type_check."""
    _people(3000, 1).write_csv(tmp_path / "train.csv")
    _people(800, 2, age_fmt="{}.0").write_csv(tmp_path / "cur.csv")
    stats, cons = _baseline(tmp_path / "train.csv", tmp_path / "base", capsys)
    code, doc = _run(tmp_path / "cur.csv", stats, cons, tmp_path / "run", capsys)
    assert code == 1
    assert doc["violations"] == [
        {
            "feature_name": "age",
            "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met. Expected data type: Integral, "
            "Expected match: 100.0%. Observed: Only 0.0% of data is Integral.",
        }
    ]
    # The twin: the same traffic with integral ages is clean.
    _people(800, 2).write_csv(tmp_path / "cur2.csv")
    code, doc = _run(tmp_path / "cur2.csv", stats, cons, tmp_path / "run2", capsys)
    assert code == 0 and doc["violations"] == []
    # And the report on disk is SageMaker's file.
    saved = json.loads((tmp_path / "run" / "constraint_violations.json").read_text())
    assert saved["violations"][0]["feature_name"] == "age"
    code, out, _ = run_cli(["violations", tmp_path / "run"], capsys)
    assert code == 1 and "data_type_check" in out


def _wide(n: int, seed: int, shifted: tuple[str, ...] = ()) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(12):
        x = rng.normal(i, 1 + i / 4, n)
        if f"num{i}" in shifted:
            x = x + 0.8 * (1 + i / 4)
        cols[f"num{i}"] = np.round(x, 4)
    for i in range(8):
        p = np.array([0.4, 0.3, 0.2, 0.1])
        if f"cat{i}" in shifted:
            p = p[::-1]
        cols[f"cat{i}"] = rng.choice(["a", "b", "c", "d"], n, p=p)
    return pl.DataFrame(cols)


def test_injected_drift_is_flagged_in_those_columns_only(tmp_path: Path, capsys) -> None:
    shifted = ("num3", "num9", "cat5")
    _wide(20_000, 10).write_parquet(tmp_path / "train.parquet")
    _wide(5_000, 11, shifted).write_parquet(tmp_path / "cur.parquet")
    stats, cons = _baseline(tmp_path / "train.parquet", tmp_path / "base", capsys)
    code, doc = _run(tmp_path / "cur.parquet", stats, cons, tmp_path / "run", capsys)
    assert code == 1
    flagged = {(v["feature_name"], v["constraint_check_type"]) for v in doc["violations"]}
    assert flagged == {(c, "baseline_drift_check") for c in shifted}
    for v in doc["violations"]:
        assert "distance: " in v["description"] and "exceeds threshold: 0.1" in v["description"]


def test_no_false_alarm_on_same_distribution(tmp_path: Path, capsys) -> None:
    _wide(200_000, 20).write_parquet(tmp_path / "a.parquet")
    _wide(200_000, 21).write_parquet(tmp_path / "b.parquet")
    stats, cons = _baseline(tmp_path / "a.parquet", tmp_path / "base", capsys)
    code, doc = _run(tmp_path / "b.parquet", stats, cons, tmp_path / "run", capsys)
    assert code == 0 and doc["violations"] == []


def test_designed_violations_dataset(shared_dir: Path, tmp_path: Path, capsys) -> None:
    """AWS's designed dataset raises the checks it was built to raise (format study §12.3)."""
    stats, cons = _baseline(shared_dir / "data" / "dq-designed-baseline.csv", tmp_path / "base", capsys)
    # The drift file is the endpoint's input only (28 columns, no header, no prediction): name its
    # columns after the baseline's inputs, as a capture merged with --header-from would.
    drift = pl.read_csv(shared_dir / "data" / "dq-designed-drift.csv", has_header=False, infer_schema=False)
    base_cols = pl.read_csv(shared_dir / "data" / "dq-designed-baseline.csv", n_rows=1).columns
    drift = drift.rename(dict(zip(drift.columns, base_cols[1:], strict=True)))
    drift.write_csv(tmp_path / "drift.csv")
    code, doc = _run(tmp_path / "drift.csv", stats, cons, tmp_path / "run", capsys)
    assert code == 1
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in doc["violations"]}
    by = {v["feature_name"] + "/" + v["constraint_check_type"]: v["description"] for v in doc["violations"]}
    assert {("zip_feature_0", "data_type_check"), ("zip_feature_1", "data_type_check")} <= checks
    assert ("age_range", "completeness_check") in checks
    assert by["age_range/completeness_check"] == (
        "Data completeness requirement is not met. Expected: 100.0%. Observed: Only 96.875%."
    )
    assert ("target", "missing_column_check") in checks


def test_sagemaker_baseline_monitors_its_own_data(shared_dir: Path, tmp_path: Path, capsys) -> None:
    import gzip

    stats = tmp_path / "statistics.json"
    stats.write_bytes(gzip.decompress((shared_dir / "data" / "aai540-statistics.2024-10.json.gz").read_bytes()))
    cons = shared_dir / "dq-constraints.2024-10.json"
    csv = tmp_path / "train.csv"
    csv.write_bytes(gzip.decompress((shared_dir / "data" / "aai540-train_data.csv.gz").read_bytes()))
    code, doc = _run(csv, stats, cons, tmp_path / "run", capsys)
    assert code == 0 and doc["violations"] == []
    df = pl.read_csv(csv, infer_schema=False)
    df = df.with_columns((pl.col("price").cast(pl.Float64) * 3).cast(pl.String).alias("price"))
    df.write_csv(tmp_path / "cur.csv")
    code, doc = _run(tmp_path / "cur.csv", stats, cons, tmp_path / "run2", capsys)
    assert code == 1
    assert {(v["feature_name"], v["constraint_check_type"]) for v in doc["violations"]} == {("price", "baseline_drift_check")}


def test_no_fail_on_violations_and_disable(tmp_path: Path, capsys) -> None:
    _people(2000, 1).write_csv(tmp_path / "train.csv")
    _people(500, 2, age_fmt="{}.0").write_csv(tmp_path / "cur.csv")
    stats, cons = _baseline(tmp_path / "train.csv", tmp_path / "base", capsys)
    code, doc = _run(tmp_path / "cur.csv", stats, cons, tmp_path / "r1", capsys, "--no-fail-on-violations")
    assert code == 0 and len(doc["violations"]) == 1
    code, doc = _run(tmp_path / "cur.csv", stats, cons, tmp_path / "r2", capsys, "--disable", "age:data_type_check")
    assert code == 0 and doc["violations"] == []


def test_postprocessor_runs_and_its_failure_keeps_the_report(tmp_path: Path, capsys) -> None:
    _people(1000, 1).write_csv(tmp_path / "train.csv")
    stats, cons = _baseline(tmp_path / "train.csv", tmp_path / "base", capsys)
    marker = tmp_path / "called"
    (tmp_path / "post.py").write_text(f"def postprocess_handler():\n    open({str(marker)!r}, 'w').write('ok')\n")
    code, _ = _run(tmp_path / "train.csv", stats, cons, tmp_path / "r1", capsys, "--postprocessor", tmp_path / "post.py")
    assert code == 0 and marker.read_text() == "ok"

    def post(script: str, out: str) -> tuple[int, str]:
        code, _, err = run_cli(
            ["run", tmp_path / "train.csv", "--baseline-statistics", stats, "--baseline-constraints", cons,
             "-o", tmp_path / out, "--postprocessor", tmp_path / script],
            capsys,
        )  # fmt: skip
        return code, err

    (tmp_path / "bad.py").write_text("def postprocess_handler(logger):\n    raise RuntimeError('boom')\n")
    code, err = post("bad.py", "r2")
    assert code == 2 and "boom" in err and "report was written" in err
    assert (tmp_path / "r2" / "constraint_violations.json").exists()
    (tmp_path / "none.py").write_text("x = 1\n")
    code, err = post("none.py", "r3")
    assert code == 2 and "postprocess_handler" in err and not (tmp_path / "r3").exists()


def test_invalid_baseline_is_refused_before_any_output(tmp_path: Path, capsys) -> None:
    _people(500, 1).write_csv(tmp_path / "train.csv")
    stats, cons = _baseline(tmp_path / "train.csv", tmp_path / "base", capsys)
    doc = json.loads(cons.read_text())
    doc["features"][0]["inferred_type"] = "Float"
    bad = tmp_path / "bad_constraints.json"
    bad.write_text(json.dumps(doc))
    code, out, err = run_cli(
        ["run", tmp_path / "train.csv", "--baseline-statistics", stats, "--baseline-constraints", bad, "-o", tmp_path / "r"],
        capsys,
    )
    assert code == 2
    assert "bad_constraints.json" in err and "/features/0/inferred_type" in err
    assert not (tmp_path / "r").exists()


def test_metrics_files(tmp_path: Path, capsys) -> None:
    _people(1000, 1).write_csv(tmp_path / "train.csv")
    stats, cons = _baseline(tmp_path / "train.csv", tmp_path / "base", capsys)
    code, _ = _run(
        tmp_path / "train.csv", stats, cons, tmp_path / "r", capsys,
        "--endpoint", "ep1", "--schedule", "hourly", "--metric-time", "2026-11-21T13:00:00Z",
    )  # fmt: skip
    records = [json.loads(line) for line in (tmp_path / "r" / "cloudwatch_metrics.jsonl").read_text().splitlines()]
    names = {r["MetricName"] for r in records}
    assert {"feature_data_age", "feature_non_null_age", "feature_baseline_drift_age", "feature_non_null_city"} <= names
    for r in records:
        assert r["Timestamp"] == "2026-11-21T13:00:00Z"
        assert {"Name": "Endpoint", "Value": "ep1"} in r["Dimensions"]
        assert {"Name": "MonitoringSchedule", "Value": "hourly"} in r["Dimensions"]
    age = next(r for r in records if r["MetricName"] == "feature_data_age")["StatisticValues"]
    ages = pl.read_csv(tmp_path / "train.csv")["age"]
    assert age["SampleCount"] == 1000 and age["Sum"] == float(ages.sum()) and age["Maximum"] == float(ages.max())
    prom = (tmp_path / "r" / "metrics.prom").read_text()
    assert 'feature="age"' in prom and 'endpoint="ep1"' in prom


def test_run_on_s3(s3_store, s3_bucket: str, s3_options: dict[str, str], tmp_path: Path, capsys) -> None:
    opts = [x for k, v in s3_options.items() for x in ("-s", f"{k}={v}")]
    _people(2000, 1).write_csv(tmp_path / "train.csv")
    _people(500, 2, age_fmt="{}.0").write_csv(tmp_path / "cur.csv")
    s3_store.write_bytes(f"{s3_bucket}/cur/part-0.csv", (tmp_path / "cur.csv").read_bytes())
    code, _, err = run_cli(["baseline", tmp_path / "train.csv", "-o", f"{s3_bucket}/base", "-q", *opts], capsys)
    assert code == 0, err
    code, out, err = run_cli(
        ["run", f"{s3_bucket}/cur/", "--baseline-statistics", f"{s3_bucket}/base/statistics.json",
         "--baseline-constraints", f"{s3_bucket}/base/constraints.json", "-o", f"{s3_bucket}/reports/1", "--json", *opts],
        capsys,
    )  # fmt: skip
    assert code == 1, err
    assert [v["feature_name"] for v in json.loads(out)["violations"]] == ["age"]
    code, out, _ = run_cli(["violations", f"{s3_bucket}/reports/1", "--json", *opts], capsys)
    assert code == 1 and json.loads(out)["count"] == 1


@pytest.mark.parametrize("flag", [["--type", "bias-drift"], ["--drift-test", "nope"], ["--disable", "nocolon"]])
def test_usage_errors(flag: list[str], tmp_path: Path, capsys) -> None:
    _people(100, 1).write_csv(tmp_path / "t.csv")
    stats, cons = _baseline(tmp_path / "t.csv", tmp_path / "b", capsys)
    code, _, err = run_cli(
        ["run", tmp_path / "t.csv", "--baseline-statistics", stats, "--baseline-constraints", cons, "-o", tmp_path / "r", *flag],
        capsys,
    )
    assert code == 2 and "Traceback" not in err
