"""mmon baseline/run --type model-quality | feature-attribution | bias through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.clihelp import run_cli

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "fixtures" / "models" / "attribution_models.py"


def test_model_quality_churn_end_to_end(shared_dir: Path, tmp_path: Path, capsys) -> None:
    src = shared_dir / "data" / "churn-validation-with-predictions.csv"
    mq = ["--type", "model-quality", "--problem-type", "BinaryClassification", "--inference-attribute", "prediction",
          "--probability-attribute", "probability", "--ground-truth-attribute", "label"]  # fmt: skip
    code, out, err = run_cli(["baseline", src, *mq, "-o", tmp_path / "base", "--json"], capsys)
    assert code == 0, err
    stats = json.loads((tmp_path / "base" / "statistics.json").read_text())
    m = stats["binary_classification_metrics"]
    assert m["accuracy"]["value"] == 0.9402985074626866  # SageMaker's published figure
    assert m["recall"]["value"] == 0.5714285714285714
    code, out, err = run_cli(["run", src, *mq, "--baseline-constraints", tmp_path / "base" / "constraints.json", "-o", tmp_path / "r1", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["violations"] == []
    # Worse predictions: flip a third of them.
    df = pl.read_csv(src)
    flip = np.arange(df.height) % 3 == 0
    df = df.with_columns(pl.Series("prediction", np.where(flip, 1 - df["prediction"].to_numpy(), df["prediction"].to_numpy())))
    df.write_csv(tmp_path / "worse.csv")
    code, out, err = run_cli(["run", tmp_path / "worse.csv", *mq, "--baseline-constraints", tmp_path / "base" / "constraints.json", "-o", tmp_path / "r2"], capsys)
    assert code == 1, err
    code, out, _ = run_cli(["violations", tmp_path / "r2", "--json"], capsys)
    names = {v.get("metric_name") for v in json.loads(out)["violations"]}
    assert code == 1 and "accuracy" in names, names


def _fa_data(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({c: rng.normal(0, 1, n) for c in "abcd"})


@pytest.fixture
def fa_config(tmp_path: Path) -> Path:
    cfg = {"headers": list("abcd"), "methods": {"shap": {"baseline": [[0, 0, 0, 0]], "num_samples": 20, "seed": 1}}}
    p = tmp_path / "analysis_config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_feature_attribution_end_to_end(fa_config: Path, tmp_path: Path, capsys) -> None:
    _fa_data(300, 1).write_csv(tmp_path / "train.csv")
    _fa_data(200, 2).write_csv(tmp_path / "cur.csv")
    fa = ["--type", "feature-attribution", "--config", fa_config]
    code, out, err = run_cli(["baseline", tmp_path / "train.csv", *fa, "--model", f"{MODELS}:linear", "-o", tmp_path / "base", "--json"], capsys)
    assert code == 0, err
    analysis = json.loads((tmp_path / "base" / "analysis.json").read_text())
    assert "kernel_shap" in analysis["explanations"]
    cons = tmp_path / "base" / "analysis.json"
    code, out, err = run_cli(["run", tmp_path / "cur.csv", *fa, "--model", f"{MODELS}:linear", "--baseline-constraints", cons, "-o", tmp_path / "r1", "--json"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["run", tmp_path / "cur.csv", *fa, "--model", f"{MODELS}:switched", "--baseline-constraints", cons, "-o", tmp_path / "r2"], capsys)
    assert code == 1, err
    code, out, _ = run_cli(["violations", tmp_path / "r2", "--json"], capsys)
    assert code == 1
    assert {v["constraint_check_type"] for v in json.loads(out)["violations"]} == {"feature_attribution_drift_check"}


def test_typed_usage_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    code, _, err = run_cli(["baseline", tmp_path / "d.csv", "--type", "model-quality", "-o", tmp_path / "o"], capsys)
    assert code == 2 and "--problem-type" in err
    code, _, err = run_cli(["baseline", tmp_path / "d.csv", "--type", "feature-attribution", "-o", tmp_path / "o"], capsys)
    assert code == 2 and "--config" in err
    code, _, err = run_cli(["baseline", tmp_path / "d.csv", "--type", "nonsense", "-o", tmp_path / "o"], capsys)
    assert code == 2 and "--type" in err
