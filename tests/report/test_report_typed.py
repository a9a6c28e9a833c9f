"""mmon report on model-quality, bias and feature-attribution runs, and on SageMaker's own files."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, ndcg_score

from mmon.report import build_report
from mmon.store import Store
from tests.bias.test_bias_cli import _loans
from tests.clihelp import run_cli
from tests.report.test_report import Dom

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT.parent / "shared" / "reference"
SM, EXT = REF / "sagemaker", REF / "external"
MODELS = ROOT / "fixtures" / "models" / "attribution_models.py"
CHURN = SM / "data" / "churn-validation-with-predictions.csv"


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, table_id
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)]


def test_model_quality(tmp_path: Path, capsys) -> None:
    mq = ["--type", "model-quality", "--problem-type", "BinaryClassification", "--inference-attribute", "prediction",
          "--probability-attribute", "probability", "--ground-truth-attribute", "label"]  # fmt: skip
    code, _, err = run_cli(["baseline", CHURN, *mq, "-o", tmp_path / "base", "-q"], capsys)
    assert code == 0, err
    df = pl.read_csv(CHURN)
    flip = np.random.default_rng(1).random(df.height) < 0.3
    cur = df.with_columns(pl.when(pl.Series(flip)).then(1 - pl.col("label")).otherwise(pl.col("label")).alias("label"))
    cur.write_csv(tmp_path / "cur.csv")
    code, _, err = run_cli(["run", tmp_path / "cur.csv", *mq, "--baseline-constraints", tmp_path / "base" / "constraints.json",
                            "-o", tmp_path / "run", "-q", "--no-fail-on-violations"], capsys)  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(["report", tmp_path / "run", "--baseline-statistics", tmp_path / "base" / "statistics.json",
                              "--baseline-constraints", tmp_path / "base" / "constraints.json", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    html = (tmp_path / "run" / "report.html").read_text()
    # Confusion matrix (rows actual, columns predicted) = sklearn's on the same rows.
    cm = confusion_matrix(cur["label"], cur["prediction"], labels=[0, 1])
    cells = _cells(html, "confusion-matrix")
    assert [[int(c) for c in row[1:]] for row in cells] == cm.tolist()
    rows = {r[0]: r for r in _cells(html, "mq-table")}
    assert float(rows["accuracy"][1]) == pytest.approx(accuracy_score(cur["label"], cur["prediction"]), abs=5e-5)
    assert float(rows["accuracy"][3]) == pytest.approx(accuracy_score(df["label"], df["prediction"]), abs=5e-5)
    assert rows["accuracy"][5] == "LessThanThreshold" and rows["accuracy"][7] == "yes"
    violations = json.loads((tmp_path / "run" / "constraint_violations.json").read_text())["violations"]
    assert sum(1 for r in rows.values() if r[7] == "yes") == len(violations) == json.loads(out)["violations"]
    assert len(Dom(html).find("tr", "violation")) == len(violations)


def test_bias(tmp_path: Path, capsys) -> None:
    cfg = {"label": "approved", "label_values_or_threshold": [1],
           "facet": [{"name_or_index": "age_group", "value_or_threshold": ["young"]}], "probability_threshold": 0.5,
           "methods": {"pre_training_bias": {"methods": ["CI", "DPL"]}, "post_training_bias": {"methods": ["DPPL", "DI", "AD"]}}}  # fmt: skip
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    _loans(4000, 1).write_csv(tmp_path / "train.csv")
    _loans(4000, 1, harsh_on_young=True).write_csv(tmp_path / "harsh.csv")
    bias = ["--type", "bias", "--config", tmp_path / "cfg.json", "--probability-attribute", "probability"]
    assert run_cli(["baseline", tmp_path / "train.csv", *bias, "-o", tmp_path / "base", "-q"], capsys)[0] == 0
    code, _, err = run_cli(["run", tmp_path / "harsh.csv", *bias, "--baseline-constraints", tmp_path / "base" / "analysis.json",
                            "-o", tmp_path / "run", "-q", "--no-fail-on-violations"], capsys)  # fmt: skip
    assert code == 0, err
    ctx, html = build_report(Store({}), str(tmp_path / "run"), baseline_constraints=str(tmp_path / "base" / "analysis.json"))
    assert ctx["header"]["type"] == "bias"
    base = json.loads((tmp_path / "base" / "analysis.json").read_text())
    cur = json.loads((tmp_path / "run" / "analysis.json").read_text())

    def value(doc: dict, metric: str) -> float:
        m = next(m for m in doc["post_training_bias_metrics"]["facets"]["age_group"][0]["metrics"] if m["name"] == metric)
        return m["value"]

    di = next(r for r in ctx["bias"]["rows"] if r["metric"] == "DI")
    assert (di["baseline"], di["current"]) == (value(base, "DI"), value(cur, "DI"))
    flagged = {v["metric_name"] for v in json.loads((tmp_path / "run" / "constraint_violations.json").read_text())["violations"]}
    assert {r["metric"] for r in ctx["bias"]["rows"] if r["violated"]} == flagged
    assert len(ctx["bias"]["figures"]) == 1 and "age_group = young" in html


def fa_baseline(tmp_path: Path, capsys) -> list[str | Path]:
    """A SHAP config, train.csv and cur.csv of four normal features, and the linear model's
    feature-attribution baseline in base/; returns the options a run of that type takes."""
    cfg = {"headers": list("abcd"), "methods": {"shap": {"baseline": [[0, 0, 0, 0]], "num_samples": 20, "seed": 1}}}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    for n, s, name in ((300, 1, "train"), (200, 2, "cur")):
        rng = np.random.default_rng(s)
        pl.DataFrame({c: rng.normal(0, 1, n) for c in "abcd"}).write_csv(tmp_path / f"{name}.csv")
    fa = ["--type", "feature-attribution", "--config", tmp_path / "cfg.json"]
    assert run_cli(["baseline", tmp_path / "train.csv", *fa, "--model", f"{MODELS}:linear", "-o", tmp_path / "base", "-q"], capsys)[0] == 0
    return fa


def test_feature_attribution(tmp_path: Path, capsys) -> None:
    fa = fa_baseline(tmp_path, capsys)
    code, _, err = run_cli(["run", tmp_path / "cur.csv", *fa, "--model", f"{MODELS}:switched", "--baseline-constraints",
                            tmp_path / "base" / "analysis.json", "-o", tmp_path / "run", "-q", "--no-fail-on-violations"], capsys)  # fmt: skip
    assert code == 0, err
    ctx, html = build_report(Store({}), str(tmp_path / "run"), baseline_constraints=str(tmp_path / "base" / "analysis.json"))
    label = ctx["fa"]["labels"][0]
    b = json.loads((tmp_path / "base" / "analysis.json").read_text())["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    c = json.loads((tmp_path / "run" / "analysis.json").read_text())["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    feats = list(b)
    # Clarify's nDCG: relevance = baseline values, order = current values (sklearn's definition).
    want = ndcg_score([[b[f] for f in feats]], [[c[f] for f in feats]])
    assert label["ndcg"] == pytest.approx(want, rel=1e-12) and label["violated"]
    assert [r["feature"] for r in label["rows"]] == sorted(feats, key=lambda f: -b[f])
    assert {r["feature"]: r["current_rank"] for r in label["rows"]} == {f: i + 1 for i, f in enumerate(sorted(feats, key=lambda f: -c[f]))}


# -- SageMaker's own files ---------------------------------------------------------------------


def _folder(tmp: Path, files: dict[str, Path | bytes]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        if isinstance(src, bytes):
            (tmp / name).write_bytes(src)
        else:
            shutil.copy(src, tmp / name)
    return tmp


def test_sagemaker_old_generation_violations(tmp_path: Path, capsys) -> None:
    folder = _folder(tmp_path / "sm", {"constraint_violations.json": SM / "dq-constraint_violations.old-format.sdk-test.json",
                                       "statistics.json": SM / "dq-statistics.sdk-test.json"})  # fmt: skip
    code, _, err = run_cli(["report", folder, "--baseline-statistics", SM / "dq-statistics.sdk-test.json",
                            "--baseline-constraints", SM / "dq-constraints.old-format.sdk-test.json", "-q"], capsys)  # fmt: skip
    assert code == 0, err
    dom = Dom((folder / "report.html").read_text())
    assert len(dom.find("tr", "violation")) == 7
    text = "".join(dom.text)
    assert "Value: 0.009009009009009009 does not meet the constraint requirement!" in text


@pytest.mark.parametrize(
    ("statistics", "constraints", "features"),
    [
        ("data/aai540-statistics.2024-10.json.gz", "dq-constraints.2024-10.json", 14),
        ("dq-statistics.2020-05.from-log.json", "dq-constraints.2020-05.from-log.json", 2),
    ],
)
def test_sagemaker_statistics_of_both_generations(tmp_path: Path, statistics: str, constraints: str, features: int) -> None:
    raw = (SM / statistics).read_bytes()
    raw = gzip.decompress(raw) if statistics.endswith(".gz") else raw
    (tmp_path / "baseline.json").write_bytes(raw)
    folder = _folder(tmp_path / "exec", {"statistics.json": raw, "constraint_violations.json": b'{"violations": []}'})
    ctx, html = build_report(
        Store({}), str(folder), baseline_statistics=str(tmp_path / "baseline.json"), baseline_constraints=str(SM / constraints)
    )
    panels = ctx["panels"]
    assert len(panels) == features and len(Dom(html).find("section", "panel")) == features
    numeric = [p for p in panels if p.kind == "numeric"]
    assert numeric and all(p.linf_simple == 0.0 and p.distance == 0.0 and len(p.charts) == 2 and p.completeness_chart for p in numeric)
    doc = json.loads(raw)
    n = {f["name"]: f["numerical_statistics"]["common"]["num_present"] for f in doc["features"] if "numerical_statistics" in f}
    assert all(p.n == n[p.name] for p in numeric)  # the sketch weight = SageMaker's count of values
    assert ctx["header"]["status"] == "Completed" and ctx["header"]["baseline_rows"] == doc["dataset"]["item_count"]


def test_sagemaker_model_quality_violations(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "mq", {"constraint_violations.json": SM / "mq-constraint_violations.binary.2021-05.reconstructed.json"})
    ctx, html = build_report(Store({}), str(folder))
    assert ctx["header"]["type"] == "model-quality"
    rows = {r["name"]: r for r in ctx["mq"]["rows"]}
    assert len(rows) == 10 and all(r["violated"] for r in rows.values())
    assert rows["auc"]["operator"] == "LessThanThreshold" and rows["auc"]["threshold"] == pytest.approx(0.9395127993393898)
    regression = _folder(tmp_path / "reg", {"statistics.json": SM / "mq-statistics-regression.sdk-test.json"})
    ctx, _ = build_report(Store({}), str(regression))
    assert {r["name"] for r in ctx["mq"]["rows"]} >= {"mae", "mse", "rmse", "r2"}


def test_sagemaker_bias_violations_with_the_baseline_analysis(tmp_path: Path) -> None:
    adult = EXT / "amazon-sagemaker-examples" / "clarify-adult"
    folder = _folder(tmp_path / "bias", {"constraint_violations.json": adult / "violations.endpoint.json"})
    ctx, _ = build_report(Store({}), str(folder), baseline_constraints=str(adult / "baseline-analysis.json"))
    violations = json.loads((adult / "violations.endpoint.json").read_text())["violations"]
    flagged = [r for r in ctx["bias"]["rows"] if r["violated"]]
    assert len(flagged) == len(violations)
    for v in violations:
        row = next(r for r in flagged if r["metric"] == v["metric_name"] and r["value"] == v["facet_value"])
        quoted = re.search(r"Metric value (\S+) doesn't meet the baseline constraint requirement (\S+)", v["description"])
        assert row["current"] == pytest.approx(float(quoted.group(1)))
        assert row["baseline"] == pytest.approx(float(quoted.group(2)))  # the baseline analysis agrees with SageMaker's text


@pytest.mark.slow
def test_sagemaker_results_on_s3_with_the_baseline_by_option(s3_store: Store, s3_bucket: str, s3_options: dict[str, str], capsys) -> None:
    """The issue's `mmon report SAGEMAKER_RESULTS/ --baseline-statistics s3://…/statistics.json`."""
    stats = (SM / "dq-statistics.2020-05.from-log.json").read_bytes()
    s3_store.write_bytes(f"{s3_bucket}/baseline/statistics.json", stats)
    s3_store.write_bytes(f"{s3_bucket}/results/statistics.json", stats)
    s3_store.write_bytes(f"{s3_bucket}/results/constraint_violations.json",
                         (SM / "dq-constraint_violations.old-format.sdk-test.json").read_bytes())  # fmt: skip
    opts = [x for k, v in s3_options.items() for x in ("-s", f"{k}={v}")]
    code, out, err = run_cli(["report", f"{s3_bucket}/results/", "--baseline-statistics", f"{s3_bucket}/baseline/statistics.json",
                              "--json", *opts], capsys)  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    html = s3_store.read_text(doc["report"])
    assert doc["report"].endswith("/results/report.html") and doc["violations"] == 7
    assert len(Dom(html).find("tr", "violation")) == 7 and len(Dom(html).find("section", "panel")) == 9


def test_sagemaker_explainability_analyses(tmp_path: Path) -> None:
    """Two real Clarify explainability analyses of the adult model: ranking and nDCG against sklearn."""
    current = SM / "clarify-explainability-analysis.json"
    other = json.loads((EXT / "amazon-sagemaker-examples" / "clarify-adult" / "explainability-baseline-analysis.json").read_text())
    (label_key,) = other["explanations"]["kernel_shap"]
    # The examples' baseline names its one label by a value; give it the current file's label name.
    other["explanations"]["kernel_shap"] = {"label0": other["explanations"]["kernel_shap"][label_key]}
    (tmp_path / "baseline.json").write_text(json.dumps(other))
    folder = _folder(tmp_path / "fa", {"analysis.json": current})
    ctx, html = build_report(Store({}), str(folder), baseline_constraints=str(tmp_path / "baseline.json"))
    assert ctx["header"]["type"] == "feature-attribution"
    (label,) = ctx["fa"]["labels"]
    b = other["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    c = json.loads(current.read_text())["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    assert label["ndcg"] == pytest.approx(ndcg_score([[b[f] for f in b]], [[c[f] for f in b]]), rel=1e-12)
    assert len(label["rows"]) == len(b) == 14 and "Education-Num" in html
    same, _ = build_report(Store({}), str(folder), baseline_constraints=str(current))
    assert same["fa"]["labels"][0]["ndcg"] == pytest.approx(1.0)
