"""mmon report on a schedule's folder: 24 hourly slots, one missing and one failed, drawn as gaps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mmon.capture.synth import demo
from mmon.demo import make_frame
from mmon.errors import InputError
from mmon.report import build_report
from mmon.scheduled import scheduled_run
from mmon.store import Store
from tests.clihelp import run_cli
from tests.report.test_report import Dom

MISSING, FAILED = "2024-01-01T06:00:00Z", "2024-01-01T09:00:00Z"


@pytest.fixture(scope="module")
def schedule(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sched")
    demo(str(root), hours=24, records_per_hour=60)
    make_frame(3000, seed=7).write_csv(root / "train.csv")
    from mmon.cli.app import main

    with pytest.raises(SystemExit):
        main(["baseline", str(root / "train.csv"), "-o", str(root / "base"), "-q"])
    store = Store({})
    capture = str(root / "datacapture" / "demo-endpoint" / "AllTraffic")
    stats, cons = str(root / "base" / "statistics.json"), str(root / "base" / "constraints.json")
    for hour in range(1, 25):
        t = f"2024-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z"
        if t == MISSING:
            continue
        try:
            scheduled_run(store, str(root / "out"), stats, cons if t != FAILED else str(root / "nope.json"), t,
                          schedule_expression="hourly", capture=capture, endpoint="demo-endpoint")  # fmt: skip
        except InputError:
            assert t == FAILED
    return {"root": root, "out": root / "out", "stats": root / "base" / "statistics.json", "cons": root / "base" / "constraints.json"}


def test_history_of_24_slots(schedule: dict[str, Path], capsys) -> None:
    code, out, err = run_cli(["report", schedule["out"], "--baseline-constraints", schedule["cons"], "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["kind"] == "history" and doc["type"] == "data-quality"
    html = (schedule["out"] / "report.html").read_text()
    dom = Dom(html)
    rows = dom.find("tr", "execution")
    assert len(rows) == 24
    ctx, _ = build_report(Store({}), str(schedule["out"]), baseline_constraints=str(schedule["cons"]))
    h = ctx["history"]
    statuses = {r["time"]: r["status"] for r in h["rows"]}
    assert statuses[MISSING] == "Missing" and statuses[FAILED] == "Failed"
    assert (h["count"], h["missing"], h["failed"]) == (23, 1, 1)
    assert h["with_violations"] == sum(1 for s in statuses.values() if s == "CompletedWithViolations") > 0
    # The drifting features come first; each line has 22 points (24 slots minus the missing and the
    # failed one), and its values are the runs' own distances (cloudwatch_metrics.jsonl).
    first = h["figures"][0]
    assert first["flagged"] > 0
    points = re.findall(r"<title>([^<]*) — drift distance: ([^<]*)</title>", str(first["chart"]))
    assert len(points) == 22
    folder = schedule["out"] / "2024" / "01" / "01" / "20"
    records = [json.loads(x) for x in (folder / "cloudwatch_metrics.jsonl").read_text().splitlines()]
    want = {r["MetricName"]: r["Value"] for r in records if "Value" in r}[f"feature_baseline_drift_{first['title']}"]
    got = dict(points)["01-01 20:00"]
    assert float(got) == pytest.approx(want, rel=1e-3)
    # Gaps: the line is broken around the two slots without values; both are shaded.
    assert str(first["chart"]).count('class="failed"') == 2
    assert str(first["chart"]).count('class="line s1"') >= 2
    assert 'class="threshold"' in str(first["chart"])


def test_history_links_to_execution_reports(schedule: dict[str, Path], capsys) -> None:
    one = schedule["out"] / "2024" / "01" / "01" / "20"
    code, _, err = run_cli(["report", one, "--baseline-statistics", schedule["stats"], "--baseline-constraints", schedule["cons"], "-q"], capsys)
    assert code == 0, err
    html = (one / "report.html").read_text()
    assert "2024-01-01T19:00:00Z – 2024-01-01T20:00:00Z" in html  # the window from execution.json
    assert "demo-endpoint" in html
    code, _, err = run_cli(["report", schedule["out"], "-o", schedule["root"] / "h.html", "-q"], capsys)
    assert code == 0, err
    links = [a["href"] for a in Dom((schedule["root"] / "h.html").read_text()).find("a") if a.get("href", "").endswith("report.html")]
    assert links == ["out/2024/01/01/20/report.html"]  # relative to h.html, written beside out/
    run_cli(["report", schedule["out"], "-q"], capsys)
    links = [a["href"] for a in Dom((schedule["out"] / "report.html").read_text()).find("a") if a.get("href", "").endswith("report.html")]
    assert links == ["2024/01/01/20/report.html"]


def test_a_failed_execution_alone(schedule: dict[str, Path], capsys) -> None:
    failed = schedule["out"] / "2024" / "01" / "01" / "09"
    code, out, err = run_cli(["report", failed, "--json"], capsys)
    assert code == 0, err
    html = (failed / "report.html").read_text()
    assert "Failed" in html and "did not complete" in html and json.loads(out)["violations"] is None
    record = json.loads((failed / "execution.json").read_text())
    assert record["status"] == "Failed" and record["message"] in html


def test_model_quality_and_bias_over_time_in_sagemaker_style_folders(tmp_path: Path, capsys) -> None:
    """Folders with only a run's files (as SageMaker writes them, no execution.json), one slot missing."""
    import numpy as np
    import polars as pl

    from tests.bias.test_bias_cli import _loans
    from tests.report.test_report_typed import CHURN

    mq = ["--type", "model-quality", "--problem-type", "BinaryClassification", "--inference-attribute", "prediction",
          "--probability-attribute", "probability", "--ground-truth-attribute", "label"]  # fmt: skip
    assert run_cli(["baseline", CHURN, *mq, "-o", tmp_path / "base", "-q"], capsys)[0] == 0
    df = pl.read_csv(CHURN)
    accuracy = {}
    for hour, noise in ((1, 0.0), (2, 0.2), (4, 0.4)):  # 03 is missing
        flip = np.random.default_rng(hour).random(df.height) < noise
        cur = df.with_columns(pl.when(pl.Series(flip)).then(1 - pl.col("label")).otherwise(pl.col("label")).alias("label"))
        cur.write_csv(tmp_path / f"w{hour}.csv")
        out = tmp_path / "mq" / "2024" / "01" / "01" / f"{hour:02d}"
        code, _, err = run_cli(["run", tmp_path / f"w{hour}.csv", *mq, "--baseline-constraints", tmp_path / "base" / "constraints.json",
                                "-o", out, "-q", "--no-fail-on-violations"], capsys)  # fmt: skip
        assert code == 0, err
        accuracy[f"01-01 {hour:02d}:00"] = (cur["label"] == cur["prediction"]).mean()
    ctx, html = build_report(Store({}), str(tmp_path / "mq"), baseline_statistics=str(tmp_path / "base" / "statistics.json"), baseline_constraints=str(tmp_path / "base" / "constraints.json"))
    h = ctx["history"]
    assert h["type"] == "model-quality" and [r["status"] for r in h["rows"]].count("Missing") == 1 and len(h["rows"]) == 4
    fig = next(f for f in h["figures"] if f["title"] == "accuracy")
    points = dict(re.findall(r"<title>([^<]*) — accuracy: ([^<]*)</title>", str(fig["chart"])))
    assert {k: float(v) for k, v in points.items()} == pytest.approx(accuracy, abs=5e-5)
    assert 'class="band"' in str(fig["chart"]) and 'class="threshold"' in str(fig["chart"])
    # Bias over time: two executions, the metric's line against the baseline's value.
    cfg = {"label": "approved", "label_values_or_threshold": [1], "facet": [{"name_or_index": "age_group", "value_or_threshold": ["young"]}],
           "probability_threshold": 0.5, "methods": {"post_training_bias": {"methods": ["DPPL"]}}}  # fmt: skip
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    bias = ["--type", "bias", "--config", tmp_path / "cfg.json", "--probability-attribute", "probability"]
    _loans(3000, 1).write_csv(tmp_path / "train.csv")
    assert run_cli(["baseline", tmp_path / "train.csv", *bias, "-o", tmp_path / "bbase", "-q"], capsys)[0] == 0
    for hour, harsh in ((1, False), (2, True)):
        _loans(3000, hour + 5, harsh_on_young=harsh).write_csv(tmp_path / f"b{hour}.csv")
        out = tmp_path / "bias" / "2024" / "01" / "01" / f"{hour:02d}"
        assert run_cli(["run", tmp_path / f"b{hour}.csv", *bias, "--baseline-constraints", tmp_path / "bbase" / "analysis.json",
                        "-o", out, "-q", "--no-fail-on-violations"], capsys)[0] == 0  # fmt: skip
    ctx, _ = build_report(Store({}), str(tmp_path / "bias"), baseline_constraints=str(tmp_path / "bbase" / "analysis.json"))
    fig = ctx["history"]["figures"][0]
    assert fig["title"].startswith("DPPL · age_group = young") and str(fig["chart"]).count("<circle") == 2


def test_attribution_ndcg_over_time(tmp_path: Path, capsys) -> None:
    from sklearn.metrics import ndcg_score

    from tests.report.test_report_typed import MODELS, fa_baseline

    fa = fa_baseline(tmp_path, capsys)
    for hour, model in ((1, "linear"), (2, "switched")):
        out = tmp_path / "fa" / "2024" / "01" / "01" / f"{hour:02d}"
        assert run_cli(["run", tmp_path / "cur.csv", *fa, "--model", f"{MODELS}:{model}", "--baseline-constraints",
                        tmp_path / "base" / "analysis.json", "-o", out, "-q", "--no-fail-on-violations"], capsys)[0] == 0  # fmt: skip
    ctx, _ = build_report(Store({}), str(tmp_path / "fa"), baseline_constraints=str(tmp_path / "base" / "analysis.json"))
    fig = ctx["history"]["figures"][0]
    points = [float(v) for _, v in re.findall(r"<title>([^<]*) — nDCG: ([^<]*)</title>", str(fig["chart"]))]
    b = json.loads((tmp_path / "base" / "analysis.json").read_text())["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    want = []
    for hour in (1, 2):
        doc = json.loads((tmp_path / "fa" / "2024" / "01" / "01" / f"{hour:02d}" / "analysis.json").read_text())
        c = doc["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
        want.append(ndcg_score([[b[f] for f in b]], [[c[f] for f in b]]))
    assert points == pytest.approx(want, abs=5e-5) and want[1] < 0.9 <= want[0]
    assert 'class="threshold"' in str(fig["chart"])


def test_history_without_metrics_files_recomputes_drift_from_the_statistics(schedule: dict[str, Path], tmp_path: Path) -> None:
    """SageMaker's folders hold statistics.json and the violations, no metric records: the distance
    comes from the two statistics files, and equals the run's own (its cloudwatch record)."""
    import shutil

    want = {}
    for hour in ("12", "20", "22"):
        src = schedule["out"] / "2024" / "01" / "01" / hour
        dst = tmp_path / "sm" / "2024" / "01" / "01" / hour
        dst.mkdir(parents=True)
        for name in ("statistics.json", "constraint_violations.json"):
            shutil.copy(src / name, dst / name)
        records = [json.loads(x) for x in (src / "cloudwatch_metrics.jsonl").read_text().splitlines()]
        want[f"01-01 {hour}:00"] = {r["MetricName"]: r["Value"] for r in records if "Value" in r}["feature_baseline_drift_income"]
    ctx, _ = build_report(Store({}), str(tmp_path / "sm"), baseline_statistics=str(schedule["stats"]), baseline_constraints=str(schedule["cons"]))
    h = ctx["history"]
    # The period is inferred from the folders (2 h here): 14, 16 and 18 are missing slots.
    assert [r["status"] for r in h["rows"]].count("Missing") == 3 and any("recomputed" in n for n in ctx["notes"])
    fig = next(f for f in h["figures"] if f["title"] == "income")
    got = {k: float(v) for k, v in re.findall(r"<title>([^<]*) — drift distance: ([^<]*)</title>", str(fig["chart"]))}
    assert got == pytest.approx(want, rel=1e-3)
