"""Bias drift end to end: baseline → run, violations, edge cases, merged records, local disk and S3."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import polars as pl
import pytest

from mmon import schemas
from mmon.bias import BiasOptions, baseline_bias, load_analysis_config, load_bias_constraints, run_bias
from mmon.bias.compute import Analysis, Entry
from mmon.bias.drift import compare
from mmon.bias.metrics import POST_TRAINING
from mmon.errors import InputError, SchemaError
from mmon.store import Store, join

CONFIG = {
    "label": "approved",
    "label_values_or_threshold": [1],
    "facet": [{"name_or_index": "age_group", "value_or_threshold": ["young"]}],
    "group_variable": "region",
}
OPTS = BiasOptions(inference_attribute="prediction")


def loan(
    n: int = 20_000, young_threshold: float = 0.55, seed: int = 11, young_share: float = 0.3
) -> pl.DataFrame:
    """Loan applications: the label depends on income and credit only; the model approves when its
    score is above 0.5, or above ``young_threshold`` for the young (slightly harsher at launch)."""
    rng = np.random.default_rng(seed)
    rest = (1 - young_share) / 2
    age = rng.choice(["young", "middle", "senior"], n, p=[young_share, rest, rest])
    income = rng.normal(50, 15, n).round(1)
    credit = rng.normal(650, 60, n).round(0)
    region = rng.integers(0, 4, n)
    score = 1 / (1 + np.exp(-((income - 50) / 15 + (credit - 650) / 60)))
    approved = (rng.random(n) < score).astype(int)
    pred = (score > np.where(age == "young", young_threshold, 0.5)).astype(int)
    return pl.DataFrame(
        {
            "age_group": age,
            "income": income,
            "credit": credit,
            "region": region,
            "approved": approved,
            "prediction": pred,
        }
    )


def _csv(store: Store, url: str, df: pl.DataFrame) -> str:
    store.write_bytes(url, df.write_csv().encode())
    return url


def _scenario(store: Store, root: str) -> None:
    base = loan()
    data = {
        "base": _csv(store, join(root, "base.csv"), base),
        # the same applications and predictions in another order: the same distribution. Facet a's rows
        # keep their order: Clarify's Flip Test picks among equally distant facet-a neighbours by its
        # k-d tree's visiting order, so reordering them can move FT (in smclarify as in mmon;
        # tests/bias/test_bias_fliptest.py), and SageMaker would flag that.
        "same": _csv(store, join(root, "same.csv"), pl.concat([
            base.filter(pl.col("age_group") == "young").sample(fraction=1.0, shuffle=True, seed=3),
            base.filter(pl.col("age_group") != "young"),
        ])),  # fmt: skip
        # the same applications and labels; the model now approves young applicants only above 0.7
        "harsh": _csv(store, join(root, "harsh.csv"), loan(young_threshold=0.7)),
    }
    b = baseline_bias(store, [data["base"]], join(root, "baseline"), CONFIG, OPTS)
    assert b.outputs == {"analysis": join(root, "baseline", "analysis.json")}
    constraints = b.outputs["analysis"]
    assert load_bias_constraints(store, constraints) == b.analysis

    same = run_bias(store, [data["same"]], join(root, "same"), CONFIG, constraints, OPTS, endpoint="loans", schedule="hourly",
                    metric_time="2026-11-21T13:00:00Z")  # fmt: skip
    assert same.violations == [] and same.not_judged == []
    assert same.compared == 8 + 13

    harsh = run_bias(store, [data["harsh"]], join(root, "harsh"), CONFIG, constraints, OPTS)
    # Expected from the formulas (d = young, whose approval threshold rises 0.55 → 0.7 on the same rows):
    #  fewer predicted approvals for d → q^_d falls: DPPL = q^_a - q^_d grows (> 0 at baseline), DI = q^_d/q^_a falls
    #  (< 1) -- not a violation: SageMaker compares |DI| as it compares every metric (its real reports);
    #  TP_d → FN_d: recall_d falls → RD grows; FN_d/FP_d grows → TE grows; acc_d falls (0.5 is the calibrated
    #  threshold) → AD grows; precision_d rises → DAR = prec_a - prec_d falls (< 0); NPV_d falls → DRR falls (< 0);
    #  FP_d → TN_d: specificity_d rises → SD = spec_d - spec_a grows (> 0); c_d = n_d1/n^_d1 rises → DCA falls (< 0);
    #  r_d = n_d0/n^_d0 falls → DCR falls (< 0); young's share of predicted rejections rises in each region →
    #  CDDPL grows; more zero-benefit FNs → GE grows; the k-NN on the others approves young rows the model now
    #  rejects → FT more negative. Labels are unchanged, so no pre-training metric moves.
    flagged = sorted(v["metric_name"] for v in harsh.violations)
    assert flagged == sorted(set(POST_TRAINING) - {"DI"})
    assert {(v["facet"], v["facet_value"]) for v in harsh.violations} == {("age_group", "young")}
    for v in harsh.violations:
        assert list(v) == ["constraint_check_type", "description", "facet", "facet_value", "metric_name"]
        assert v["constraint_check_type"] == "bias_drift_check"
        assert re.fullmatch(
            r"Metric value \S+ doesn't meet the baseline constraint requirement \S+", v["description"]
        )
    pre_base = {
        m["name"]: m["value"]
        for m in b.analysis["pre_training_bias_metrics"]["facets"]["age_group"][0]["metrics"]
    }
    pre_now = {
        m["name"]: m["value"]
        for m in harsh.analysis["pre_training_bias_metrics"]["facets"]["age_group"][0]["metrics"]
    }
    assert pre_now == pre_base

    # The files: violations validate against the schema, analysis.json is Clarify's shape, metrics per §6.
    doc = json.loads(store.read_text(harsh.outputs["constraint_violations"]))
    schemas.validate(doc, "constraint_violations", "x")
    assert doc["version"] == "1.0" and len(doc["violations"]) == 12
    analysis = json.loads(store.read_text(harsh.outputs["analysis"]))
    assert list(analysis) == ["version", "post_training_bias_metrics", "pre_training_bias_metrics"]
    recs = [json.loads(line) for line in store.read_text(same.outputs["cloudwatch_metrics"]).splitlines()]
    assert len(recs) == 21
    r = next(x for x in recs if x["MetricName"] == "bias_metric_AD")
    assert r["Timestamp"] == "2026-11-21T13:00:00Z"
    assert [d["Name"] for d in r["Dimensions"]] == [
        "Endpoint", "MonitoringSchedule", "BiasStage", "Label", "LabelValue", "Facet", "FacetValue",
    ]  # fmt: skip
    assert {d["Name"]: d["Value"] for d in r["Dimensions"]}["BiasStage"] == "Post-Training"
    title, headers, rows = harsh.table()
    assert headers[-1] == "status" and sum(row[-1] == "VIOLATION" for row in rows) == 12
    json.dumps(harsh.summary(), allow_nan=False)


def test_done_when_scenario_local(tmp_path):
    _scenario(Store(), str(tmp_path))


def test_done_when_scenario_s3(s3_store, s3_bucket):
    _scenario(s3_store, s3_bucket)


# -- edge cases: reported, never violated, never a crash -----------------------------------------


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("bias")
    cfg = dict(CONFIG, facet=[{"name_or_index": "age_group"}])  # every value: young, middle, senior
    path = str(root / "base.csv")
    loan(4000).write_csv(path)
    baseline_bias(Store(), [path], str(root / "b"), cfg, OPTS)
    return root, cfg, str(root / "b" / "analysis.json")


def _run(baseline, df: pl.DataFrame, name: str, **kw):
    root, cfg, constraints = baseline
    path = str(root / f"{name}.csv")
    df.write_csv(path)
    return run_bias(Store(), [path], str(root / name), kw.pop("config", cfg), constraints, OPTS, **kw)


def test_facet_value_absent_from_the_window(baseline):
    df = loan(3000, seed=5, young_threshold=0.9).filter(pl.col("age_group") != "young")
    r = _run(baseline, df, "absent")
    absent = [n for n in r.not_judged if n["facet_value"] == "young"]
    assert {n["reason"] for n in absent} == {"facet value absent from the window"}
    assert {n["stage"] for n in absent} == {"Pre-training", "Post-Training"}
    assert all(v["facet_value"] != "young" for v in r.violations)


def test_too_few_rows_to_judge(baseline):
    df = loan(3000, seed=6, young_share=0.002, young_threshold=0.99)  # ~6 young rows, all rejected
    n_young = df.filter(pl.col("age_group") == "young").height
    assert 0 < n_young < 10
    r = _run(baseline, df, "few")
    few = [n for n in r.not_judged if n["facet_value"] == "young"]
    assert few and all(n["reason"].startswith("too few rows to judge") for n in few)
    assert all(v["facet_value"] != "young" for v in r.violations)


def test_division_by_zero_is_a_violation_like_sagemakers(baseline):
    # No false positive among the young (every young prediction is a rejection): TE = FN_d/0 = inf,
    # which SageMaker's own reports flag against a finite baseline ("Metric value Infinity ...").
    df = loan(3000, seed=7, young_threshold=1.1)
    r = _run(baseline, df, "divzero")
    te = [v for v in r.violations if v["facet_value"] == "young" and v["metric_name"] == "TE"]
    assert te and te[0]["description"].startswith("Metric value Infinity doesn't meet the baseline constraint requirement ")
    assert not [n for n in r.not_judged if n["facet_value"] == "young" and n["metric_name"] == "TE"]
    json.dumps(r.summary(), allow_nan=False)  # --json output stays standard JSON
    analysis = json.loads((baseline[0] / "divzero" / "analysis.json").read_text())
    te_doc = [
        m
        for m in analysis["post_training_bias_metrics"]["facets"]["age_group"]
        if m["value_or_threshold"] == "young"
    ][0]
    assert {m["name"]: m["value"] for m in te_doc["metrics"]}["TE"] == "Infinity"  # Clarify's inf_as_str


def test_undefined_current_value_is_reported(baseline):
    df = loan(3000, seed=8).with_columns(pl.lit(1).alias("approved"))  # no negative label at all
    r = _run(baseline, df, "undefined")
    cddl = [n for n in r.not_judged if n["metric_name"] == "CDDL"]
    assert cddl and all(n["reason"] == "no value in this window (No negative labels in set)" for n in cddl)
    assert not any(v["metric_name"] == "CDDL" for v in r.violations)


def test_di_is_compared_like_every_other_metric():
    # SageMaker's real reports: DI 0.083 against a baseline of 0.178 is not a violation, i.e. DI is
    # compared as |value| like the metrics whose ideal is 0 (not on a log scale around 1).
    def verdict(base: float, cur: float) -> bool:
        doc = {"post_training_bias_metrics": {"label": "l", "label_value_or_threshold": "1", "facets": {"f": [
            {"value_or_threshold": "x", "metrics": [{"name": "DI", "description": "", "value": base}]}]}}}  # fmt: skip
        e = Entry("f", "x", False, n_d_post=100, n_a_post=100, post=[{"name": "DI", "value": cur}])
        cur_doc = {"post_training_bias_metrics": {"facets": {}}}
        return bool(compare(doc, Analysis(cur_doc, [e], 200, 200), 10).violations)

    assert not verdict(0.17798594847775176, 0.08312)
    assert verdict(0.8, 1.2)
    assert not verdict(0.8, 0.7)
    assert verdict(0.8, math.inf)
    assert not verdict(math.inf, 5.0)


def test_dg_example_dppl():
    # DG: baseline DPPL 0.2; 0.1 is no violation (closer to 0), -0.3 is (farther from 0)
    def verdict(cur: float) -> list:
        doc = {
            "post_training_bias_metrics": {
                "facets": {"f": [{"value_or_threshold": "x", "metrics": [{"name": "DPPL", "value": 0.2}]}]}
            }
        }
        e = Entry("f", "x", False, n_d_post=50, n_a_post=50, post=[{"name": "DPPL", "value": cur}])
        return compare(doc, Analysis({"post_training_bias_metrics": {}}, [e], 100, 100), 10).violations

    assert verdict(0.1) == []
    assert verdict(-0.3) == [
        {"constraint_check_type": "bias_drift_check",
         "description": "Metric value -0.3 doesn't meet the baseline constraint requirement 0.2",
         "facet": "f", "facet_value": "x", "metric_name": "DPPL"}
    ]  # fmt: skip


def test_real_clarify_analysis_is_accepted_as_constraints(shared_dir):
    store = Store()
    doc = load_bias_constraints(store, str(shared_dir / "clarify-bias-analysis.json"))
    assert (
        doc["post_training_bias_metrics"]["facets"]["customer_gender_female"][0]["value_or_threshold"] == "1"
    )


def test_bad_constraints_and_config(tmp_path):
    store = Store()
    bad = tmp_path / "c.json"
    bad.write_text('{"violations": []}')
    with pytest.raises(InputError, match="not a Clarify bias analysis"):
        load_bias_constraints(store, str(bad))
    cfg = tmp_path / "analysis_config.json"
    cfg.write_text(
        json.dumps({"label": "y", "label_values_or_threshold": [1], "facet": [{"value_or_threshold": [1]}]})
    )
    with pytest.raises(SchemaError, match=r"'name_or_index' is a required property at /facet/0"):
        load_analysis_config(store, str(cfg))
    cfg.write_text(json.dumps({"label": "y", "label_values_or_threshold": [1], "facet": [{"name_or_index": "a"}],
                               "methods": {"post_training_bias": {"methods": ["DPPL", "XX"]}}}))  # fmt: skip
    with pytest.raises(SchemaError, match="methods/post_training_bias/methods"):
        load_analysis_config(store, str(cfg))


def test_missing_predictions_is_an_input_error(tmp_path):
    path = str(tmp_path / "d.csv")
    loan(100).drop("prediction").write_csv(path)
    with pytest.raises(InputError, match="no predicted label"):
        baseline_bias(Store(), [path], str(tmp_path / "o"), CONFIG, BiasOptions())
    # pre-training only needs no predictions
    cfg = dict(CONFIG, methods={"pre_training_bias": {"methods": "all"}})
    r = baseline_bias(Store(), [path], str(tmp_path / "o"), cfg, BiasOptions())
    assert list(r.analysis) == ["version", "pre_training_bias_metrics"]


# -- merged capture records ---------------------------------------------------------------------


def _merged_lines(df: pl.DataFrame, probability: bool) -> str:
    lines = []
    for i, r in enumerate(df.iter_rows(named=True)):
        features = f"{r['age_group']},{r['income']},{r['credit']},{r['region']}"
        out = str(0.9 if r["prediction"] else 0.1) if probability else str(r["prediction"])
        lines.append(json.dumps({
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": features, "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": out, "encoding": "CSV"},
            },
            "eventMetadata": {"eventId": f"e{i}", "inferenceTime": "2026-11-21T12:00:00Z"},
            "eventVersion": "0",
            "groundTruthData": {"data": str(r["approved"]), "encoding": "CSV"},
        }))  # fmt: skip
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("probability", [False, True])
def test_merged_records_give_the_flat_tables_metrics(tmp_path, probability):
    df = loan(2000, seed=9)
    flat = str(tmp_path / "flat.csv")
    df.write_csv(flat)
    merged = tmp_path / "merged.jsonl"
    merged.write_text(_merged_lines(df, probability))
    cfg = dict(CONFIG, headers=["age_group", "income", "credit", "region", "approved"])
    a = baseline_bias(Store(), [flat], str(tmp_path / "a"), cfg, OPTS).analysis
    opts = BiasOptions(probability_threshold=0.5) if probability else BiasOptions()
    b = baseline_bias(Store(), [str(merged)], str(tmp_path / "b"), cfg, opts).analysis
    assert a == b


def test_merged_records_with_json_payloads(tmp_path):
    df = loan(500, seed=10)
    lines = []
    for i, r in enumerate(df.iter_rows(named=True)):
        features = {k: r[k] for k in ("age_group", "income", "credit", "region")}
        rec = {
            "captureData": {
                "endpointInput": {"observedContentType": "application/json", "mode": "INPUT", "encoding": "JSON",
                                  "data": json.dumps({"instances": [features]})},
                "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "encoding": "JSON",
                                   "data": json.dumps({"predictions": [{"predicted_label": r["prediction"], "score": 0.5}]})},
            },
            "eventMetadata": {"eventId": f"e{i}", "inferenceTime": "2026-11-21T12:00:00Z"},
            "eventVersion": "0",
            "groundTruthData": {"data": json.dumps({"instances": [{"label": r["approved"]}]}), "encoding": "JSON"},
        }  # fmt: skip
        lines.append(json.dumps(rec))
    # a shadow-traffic record is skipped, as SageMaker's analyzer does
    shadow = json.loads(lines[0])
    shadow["eventMetadata"]["invocationSource"] = "ShadowExperiment"
    lines.append(json.dumps(shadow))
    merged = tmp_path / "merged.jsonl"
    merged.write_text("\n".join(lines) + "\n")
    flat = str(tmp_path / "flat.csv")
    df.write_csv(flat)
    a = baseline_bias(Store(), [flat], str(tmp_path / "a"), CONFIG, OPTS)
    cfg = dict(CONFIG, label="instances[*].label")
    b = baseline_bias(
        Store(),
        [str(merged)],
        str(tmp_path / "b"),
        cfg,
        BiasOptions(inference_attribute="predictions[0].predicted_label"),
    )
    assert b.rows == 500
    assert (
        b.analysis["post_training_bias_metrics"]["facets"]
        == a.analysis["post_training_bias_metrics"]["facets"]
    )
    assert (
        b.analysis["pre_training_bias_metrics"]["facets"] == a.analysis["pre_training_bias_metrics"]["facets"]
    )
