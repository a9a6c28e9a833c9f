"""mmon baseline/run --type bias through the CLI, and the violations view of its report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from tests.clihelp import run_cli


def _loans(n: int, seed: int, harsh_on_young: bool = False) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["young", "middle", "senior"], n, p=[0.3, 0.4, 0.3])
    score = rng.normal(0, 1, n)
    label = (score + rng.normal(0, 0.5, n) > 0).astype(int)
    prob = 1 / (1 + np.exp(-2 * score))
    if harsh_on_young:
        prob = np.where(group == "young", prob * 0.4, prob)
    return pl.DataFrame({"age_group": group, "income": np.round(score * 10 + 50, 2), "approved": label, "probability": np.round(prob, 6)})


def test_bias_drift_flags_the_harsher_facet(tmp_path: Path, capsys) -> None:
    cfg = {
        "label": "approved",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "age_group", "value_or_threshold": ["young"]}],
        "probability_threshold": 0.5,
        "methods": {"pre_training_bias": {"methods": ["CI", "DPL"]}, "post_training_bias": {"methods": ["DPPL", "DI", "AD"]}},
    }
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    base = _loans(20_000, 1)
    base.write_csv(tmp_path / "train.csv")
    base.sample(fraction=1.0, shuffle=True, seed=3).write_csv(tmp_path / "same.csv")
    _loans(20_000, 1, harsh_on_young=True).write_csv(tmp_path / "harsh.csv")
    bias = ["--type", "bias", "--config", tmp_path / "cfg.json", "--probability-attribute", "probability"]
    code, _, err = run_cli(["baseline", tmp_path / "train.csv", *bias, "-o", tmp_path / "base", "-q"], capsys)
    assert code == 0, err
    cons = tmp_path / "base" / "analysis.json"
    code, out, err = run_cli(["run", tmp_path / "same.csv", *bias, "--baseline-constraints", cons, "-o", tmp_path / "r1", "--json"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["run", tmp_path / "harsh.csv", *bias, "--baseline-constraints", cons, "-o", tmp_path / "r2", "--json"], capsys)
    assert code == 1, err
    flagged = {v["metric_name"] for v in json.loads(out)["violations"]}
    # DI falls below the baseline's (< 1): not worse by SageMaker's |value| rule, so not flagged.
    assert flagged <= {"DPPL", "AD"} and "DPPL" in flagged
    assert all(v["constraint_check_type"] == "bias_drift_check" for v in json.loads(out)["violations"])
    code, out, _ = run_cli(["violations", tmp_path / "r2"], capsys)
    assert code == 1 and "age_group=young" in out


def test_small_window_of_01_labels_warns_on_stderr(tmp_path, capsys):
    """Clarify's rule: 2 distinct values in 40 rows is 5 %: the 0/1 label and facet are continuous,
    so [0] means "greater than 0" -- computed as SageMaker computes it, with a warning."""
    rng = np.random.default_rng(3)
    pl.DataFrame({"x": rng.random(40), "sex": rng.integers(0, 2, 40), "label": rng.integers(0, 2, 40),
                  "pred": rng.integers(0, 2, 40)}).write_csv(tmp_path / "w.csv")  # fmt: skip
    cfg = {"label": "label", "label_values_or_threshold": [0], "facet": [{"name_or_index": "sex", "value_or_threshold": [0]}]}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    code, _, err = run_cli(["baseline", tmp_path / "w.csv", "--type", "bias", "--config", tmp_path / "cfg.json",
                            "--inference-attribute", "pred", "-o", tmp_path / "o"], capsys)  # fmt: skip
    assert code == 0, err
    assert "mmon: warning: label 'label' has 2 distinct value(s) in 40 rows" in err and "greater than 0" in err
    doc = json.loads((tmp_path / "o" / "analysis.json").read_text())
    assert doc["pre_training_bias_metrics"]["label_value_or_threshold"] == "(0, 1]"
    assert doc["pre_training_bias_metrics"]["facets"]["sex"][0]["value_or_threshold"] == "(0, 1]"
