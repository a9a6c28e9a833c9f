"""Model-quality baseline and run end to end: flat tables and merged capture records, disk and S3."""

from __future__ import annotations

import base64
import json
import math
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.errors import InputError, SchemaError
from mmon.jsonfmt import dumps, loads
from mmon.model_quality import (
    MQConfig,
    NotEnoughLabels,
    baseline_model_quality,
    mq_rows,
    mq_summary,
    run_model_quality,
)
from mmon.store import Store

# -- data -----------------------------------------------------------------------------------------


def binary_rows(n: int, seed: int, skill: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities; ``skill`` 0 = noise, 1 = a good model."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    p = np.clip(0.5 + skill * (y - 0.5) * 0.8 + rng.normal(0, 0.2, n), 0, 1)
    return y.astype(int), np.round(p, 6)


def multiclass_rows(n: int, seed: int, skill: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    classes = np.array(["cat", "dog", "emu"])
    y = classes[rng.choice(3, n, p=[0.5, 0.3, 0.2])]
    pred = np.where(rng.random(n) < skill, y, classes[rng.integers(0, 3, n)])
    return y, pred


def regression_rows(n: int, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.round(rng.normal(50, 10, n), 3)
    return y, np.round(y + rng.normal(0, noise, n), 3)


def merged_record(i: int, output: str, label: str | None, out_enc: str = "CSV", gt_enc: str = "CSV", **extra) -> str:
    """A record as SageMaker's ground-truth merge writes it (§5.4)."""
    rec: dict = {
        "captureData": {
            "endpointInput": {"data": "1,2,3", "encoding": "CSV", "mode": "INPUT", "observedContentType": "text/csv"},
            "endpointOutput": {
                "data": output,
                "encoding": out_enc,
                "mode": "OUTPUT",
                "observedContentType": "application/json" if out_enc == "JSON" else "text/csv; charset=utf-8",
            },
        },
        "eventMetadata": {"eventId": f"e-{i}", "inferenceId": str(i), "inferenceTime": "2024-01-19T20:06:08Z", **extra},
        "eventVersion": "0",
    }
    if label is not None:
        rec["groundTruthData"] = {"data": label, "encoding": gt_enc}
    return json.dumps(rec)


def write_lines(path: Path, lines: list[str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def merged_binary(path: Path, n: int, seed: int, skill: float) -> str:
    y, p = binary_rows(n, seed, skill)
    return write_lines(path, [merged_record(i, repr(float(p[i])), str(y[i])) for i in range(n)])


def merged_multiclass(path: Path, n: int, seed: int, skill: float) -> str:
    y, pred = multiclass_rows(n, seed, skill)
    lines = [
        merged_record(i, json.dumps({"predicted_label": pred[i], "probabilities": [0.2, 0.3, 0.5]}), json.dumps({"label": y[i]}), "JSON", "JSON")
        for i in range(n)
    ]
    return write_lines(path, lines)


def merged_regression(path: Path, n: int, seed: int, noise: float) -> str:
    y, yhat = regression_rows(n, seed, noise)
    return write_lines(path, [merged_record(i, f"{yhat[i]},extra", str(y[i])) for i in range(n)])


BINARY = MQConfig("BinaryClassification", "0", probability_attribute="0", probability_threshold=0.5)
MULTI = MQConfig("MulticlassClassification", "predicted_label", ground_truth_attribute="label")
REGR = MQConfig("Regression", "0")
MAKERS = {"binary": (merged_binary, BINARY, 0.9, 0.1), "multi": (merged_multiclass, MULTI, 0.9, 0.2), "regr": (merged_regression, REGR, 1.0, 8.0)}
HEADLINE = {"binary": "accuracy", "multi": "accuracy", "regr": "rmse"}


def _read(store: Store, url: str) -> dict:
    return loads(store.read_text(url))


# -- the three problem types from merged records, on disk and on S3 ---------------------------------


def _end_to_end(store: Store, root: str, tmp: Path, kind: str) -> None:
    make, cfg, good, bad = MAKERS[kind]
    local = tmp / kind
    base_in = make(local / "base.jsonl", 400, 1, good)
    same_in = base_in
    worse_in = make(local / "worse.jsonl", 300, 2, bad)
    if not root.startswith("s3://"):
        inputs = {"base": base_in, "same": same_in, "worse": worse_in}
    else:
        inputs = {}
        for name, p in (("base", base_in), ("worse", worse_in)):
            inputs[name] = f"{root}/{kind}/in/{name}/part-00000.c000.jsonl"
            store.write_bytes(inputs[name], Path(p).read_bytes())
        inputs["same"] = f"{root}/{kind}/in/base"  # a folder
    out = f"{root}/{kind}"
    b = baseline_model_quality(store, [inputs["base"]], f"{out}/baseline", cfg)
    assert b.labelled == b.rows == 400 and not b.violations
    assert store.exists(f"{out}/baseline/statistics.json") and store.exists(f"{out}/baseline/constraints.json")
    stats = _read(store, f"{out}/baseline/statistics.json")
    assert stats == loads(dumps(b.statistics))

    same = run_model_quality(
        store, [inputs["same"]], f"{out}/same", cfg, f"{out}/baseline/constraints.json", f"{out}/baseline/statistics.json",
        endpoint="ep", schedule="sched", metric_time="2024-01-19T20:00:00Z",
    )  # fmt: skip
    assert same.violations == [] and _read(store, f"{out}/same/constraint_violations.json") == {"violations": []}
    records = [json.loads(x) for x in store.read_text(f"{out}/same/cloudwatch_metrics.jsonl").splitlines()]
    section = next(k for k in stats if k.endswith("_metrics"))
    scalars = [k for k, v in stats[section].items() if isinstance(v, dict) and "value" in v]
    assert [r["MetricName"] for r in records] == [k for k in scalars if math.isfinite(stats[section][k]["value"])]
    assert records[0]["Dimensions"] == [{"Name": "Endpoint", "Value": "ep"}, {"Name": "MonitoringSchedule", "Value": "sched"}]
    assert records[0]["Timestamp"] == "2024-01-19T20:00:00Z"
    assert "mmon_model_quality_violations" in store.read_text(f"{out}/same/metrics.prom")

    worse = run_model_quality(store, [inputs["worse"]], f"{out}/worse", cfg, f"{out}/baseline/constraints.json")
    names = [v["metric_name"] for v in worse.violations]
    assert HEADLINE[kind] in names
    assert _read(store, f"{out}/worse/constraint_violations.json") == {"violations": worse.violations}
    v = worse.violations[names.index(HEADLINE[kind])]
    op = "GreaterThanThreshold" if kind == "regr" else "LessThanThreshold"
    assert v["constraint_check_type"] == op
    assert v["description"].startswith(f"Metric {HEADLINE[kind]} with ") and f" was {op} '" in v["description"]
    assert worse.labelled == worse.rows == 300


@pytest.mark.parametrize("kind", ["binary", "multi", "regr"])
def test_end_to_end_local(kind: str, tmp_path: Path) -> None:
    _end_to_end(Store(), str(tmp_path / "out"), tmp_path, kind)


@pytest.mark.parametrize("kind", ["binary", "multi", "regr"])
def test_end_to_end_s3(kind: str, s3_store: Store, s3_bucket: str, tmp_path: Path) -> None:
    _end_to_end(s3_store, s3_bucket, tmp_path, kind)


# -- flat tables -----------------------------------------------------------------------------------


def test_flat_csv_baseline_then_accuracy_drop(tmp_path: Path) -> None:
    y, p = binary_rows(500, 3, 0.9)
    pl.DataFrame({"probability": p, "prediction": (p > 0.5).astype(int), "label": y}).write_csv(tmp_path / "b.csv")
    cfg = MQConfig("BinaryClassification", "prediction", "label", "probability")
    base = baseline_model_quality(Store(), [str(tmp_path / "b.csv")], str(tmp_path / "base"), cfg)
    # Same data through Parquet with typed columns: same numbers, no violation.
    pl.read_csv(tmp_path / "b.csv").write_parquet(tmp_path / "b.parquet")
    same = run_model_quality(Store(), [str(tmp_path / "b.parquet")], str(tmp_path / "r0"), cfg, str(tmp_path / "base/constraints.json"))
    assert same.violations == []
    assert same.statistics["binary_classification_metrics"]["confusion_matrix"] == base.statistics["binary_classification_metrics"]["confusion_matrix"]
    # The model degrades: a third of its predictions are flipped.
    flip = np.arange(500) % 3 == 0
    pred = np.where(flip, 1 - (p > 0.5).astype(int), (p > 0.5).astype(int))
    pl.DataFrame({"probability": np.where(flip, 1 - p, p), "prediction": pred, "label": y}).write_csv(tmp_path / "w.csv")
    run = run_model_quality(Store(), [str(tmp_path / "w.csv")], str(tmp_path / "r1"), cfg, str(tmp_path / "base/constraints.json"))
    names = [v["metric_name"] for v in run.violations]
    assert {"accuracy", "auc", "precision", "f1"} <= set(names)
    acc = run.statistics["binary_classification_metrics"]["accuracy"]
    v = run.violations[names.index("accuracy")]
    threshold = base.constraints["binary_classification_constraints"]["accuracy"]["threshold"]  # type: ignore[index]
    assert v == {
        "constraint_check_type": "LessThanThreshold",
        "description": f"Metric accuracy with {acc['value']!r} +/- {acc['standard_deviation']!r} was LessThanThreshold '{threshold!r}'",
        "metric_name": "accuracy",
    }
    summary = mq_summary(run)
    assert summary["violations"] == len(names) and summary["metrics"]["accuracy"]["violated"] is True
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    rows = {r["metric"]: r for r in mq_rows(run)}
    assert rows["accuracy"]["status"] == "VIOLATION" and rows["accuracy"]["constraint"].startswith("< 0.")
    assert rows["false_positive_rate"]["constraint"].startswith("> ")
    assert rows["recall_best_constant_classifier"]["status"] == ""


def test_small_window_sd_is_nan_in_files_and_text(tmp_path: Path) -> None:
    y, p = binary_rows(300, 4, 0.9)
    pl.DataFrame({"p": p, "y": y}).write_csv(tmp_path / "b.csv")
    cfg = MQConfig("BinaryClassification", None, "y", "p")
    baseline_model_quality(Store(), [str(tmp_path / "b.csv")], str(tmp_path / "base"), cfg)
    y2, p2 = binary_rows(50, 5, 0.0)
    pl.DataFrame({"p": p2, "y": y2}).write_csv(tmp_path / "w.csv")
    run = run_model_quality(Store(), [str(tmp_path / "w.csv")], str(tmp_path / "run"), cfg, str(tmp_path / "base/constraints.json"))
    text = (tmp_path / "run" / "statistics.json").read_text()
    assert '"standard_deviation" : "NaN"' in text
    assert run.violations and all(" +/- NaN was " in v["description"] for v in run.violations)


def test_nan_and_missing_labels_are_dropped_and_counted(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("prediction,label\n1,1\n0,NaN\n1,\n0,0\n1,0\n,1\n")
    cfg = MQConfig("BinaryClassification", "prediction", "label")
    r = baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "o"), cfg)
    assert r.rows == 6 and r.labelled == 3
    assert r.statistics["dataset"]["item_count"] == 3
    assert any("2 of 6 predictions have no ground-truth label" in w for w in r.warnings)
    assert any("1 labelled rows have no prediction" in w for w in r.warnings)
    assert r.statistics["binary_classification_metrics"]["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 0, "1": 1}}


def test_empty_input_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("prediction,label\n")
    cfg = MQConfig("BinaryClassification", "prediction", "label")
    with pytest.raises(InputError, match="no row has both a prediction and a ground-truth label"):
        baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "o"), cfg)
    assert not (tmp_path / "o").exists()
    (tmp_path / "labels-missing.csv").write_text("prediction,label\n1,\n0,nan\n")
    with pytest.raises(InputError) as exc:
        baseline_model_quality(Store(), [str(tmp_path / "labels-missing.csv")], str(tmp_path / "o"), cfg)
    assert exc.value.exit_code == 2


def test_min_labelled_refusal(tmp_path: Path) -> None:
    y, p = binary_rows(300, 6, 0.9)
    base_in = write_lines(tmp_path / "b.jsonl", [merged_record(i, str(p[i]), str(y[i])) for i in range(300)])
    baseline_model_quality(Store(), [base_in], str(tmp_path / "base"), BINARY)
    # Labels arrive late: 40 of 100 predictions of the window have one.
    lines = [merged_record(i, str(p[i]), str(y[i]) if i < 40 else None) for i in range(100)]
    window = write_lines(tmp_path / "w" / "part.jsonl", lines)
    cons = str(tmp_path / "base" / "constraints.json")
    cfg = MQConfig(**{**BINARY.__dict__, "min_labelled": 50})
    with pytest.raises(NotEnoughLabels, match="only 40 of 100 predictions in the window have a ground-truth label") as exc:
        run_model_quality(Store(), [window], str(tmp_path / "run"), cfg, cons)
    assert exc.value.exit_code == 2 and (exc.value.labelled, exc.value.rows, exc.value.minimum) == (40, 100, 50)
    assert not (tmp_path / "run").exists()
    ok = run_model_quality(Store(), [window], str(tmp_path / "run"), MQConfig(**{**BINARY.__dict__, "min_labelled": 40}), cons)
    assert (ok.labelled, ok.rows) == (40, 100)
    assert any("60 of 100 predictions have no ground-truth label" in w for w in ok.warnings)
    # No label at all (raw capture, nothing merged yet): refused even with the default minimum.
    raw = write_lines(tmp_path / "raw.jsonl", [merged_record(i, "0.3", None) for i in range(5)])
    with pytest.raises(NotEnoughLabels, match="only 0 of 5"):
        run_model_quality(Store(), [raw], str(tmp_path / "run2"), BINARY, cons)


# -- values: strings or numbers, probability lists, encodings ------------------------------------------


def test_classes_match_across_spellings_and_types(tmp_path: Path) -> None:
    pl.DataFrame({"pred": [1.0, 0.0, 1.0, 0.0], "label": ["1", "0.0", " 1.0 ", "1e0"]}).write_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.jsonl").write_text('{"pred": true, "label": 1}\n{"pred": false, "label": 0}\n')
    cfg = MQConfig("BinaryClassification", "pred", "label")
    r = baseline_model_quality(Store(), [str(tmp_path / "a.parquet")], str(tmp_path / "o"), cfg)
    assert r.statistics["binary_classification_metrics"]["confusion_matrix"] == {"0": {"0": 1, "1": 0}, "1": {"0": 1, "1": 2}}
    r = baseline_model_quality(Store(), [str(tmp_path / "b.jsonl")], str(tmp_path / "o2"), cfg)
    # booleans match the numbers 1 / 0 (Spark casts true to 1.0)
    assert r.statistics["binary_classification_metrics"]["confusion_matrix"] == {"0": {"0": 1, "1": 0}, "1": {"0": 0, "1": 1}}
    (tmp_path / "c.csv").write_text("pred,label\nTRUE,true\nFalse,true\nfalse,false\n")
    r = baseline_model_quality(Store(), [str(tmp_path / "c.csv")], str(tmp_path / "o3"), cfg)
    assert r.statistics["binary_classification_metrics"]["confusion_matrix"] == {
        "false": {"false": 1, "true": 0}, "true": {"false": 1, "true": 1},
    }  # fmt: skip
    assert r.statistics["binary_classification_metrics"]["recall"]["value"] == 0.5


def test_binary_with_three_classes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("pred,label\n0.2,0\n0.9,1\n0.4,1\n")
    cfg = MQConfig("BinaryClassification", "pred", "label")
    with pytest.raises(InputError, match="a binary problem has two"):
        baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "o"), cfg)


def test_positive_label_and_text_classes(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("pred,label\nyes,yes\nno,yes\nno,no\nyes,no\nyes,yes\n")
    r = baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "o"), MQConfig("BinaryClassification", "pred", "label"))
    assert any("positive class taken to be 'yes'" in w for w in r.warnings)
    assert r.statistics["binary_classification_metrics"]["recall"]["value"] == 2 / 3
    cfg = MQConfig("BinaryClassification", "pred", "label", positive_label="no")
    r = baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "o2"), cfg)
    assert r.statistics["binary_classification_metrics"]["recall"]["value"] == 0.5 and not r.warnings
    # A window with one class only: the baseline's statistics name the other one.
    (tmp_path / "w.csv").write_text("pred,label\nno,no\nno,no\n")
    cfg = MQConfig("BinaryClassification", "pred", "label")
    cons, stats = str(tmp_path / "o" / "constraints.json"), str(tmp_path / "o" / "statistics.json")
    r = run_model_quality(Store(), [str(tmp_path / "w.csv")], str(tmp_path / "r"), cfg, cons, stats)
    assert r.statistics["binary_classification_metrics"]["confusion_matrix"] == {"no": {"no": 2, "yes": 0}, "yes": {"no": 0, "yes": 0}}
    with pytest.raises(InputError, match="cannot tell the positive class"):
        run_model_quality(Store(), [str(tmp_path / "w.csv")], str(tmp_path / "r2"), cfg, cons)


def test_probability_lists_and_threshold(tmp_path: Path) -> None:
    # CSV text lists, a Parquet list column and a JSON endpoint output all give P(class 1).
    (tmp_path / "a.csv").write_text('probs,label\n"[0.9, 0.1]",0\n"[0.2,0.8]",1\n"[0.5,0.5]",1\n"[0.6,0.4]",1\n')
    pl.DataFrame({"probs": [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.6, 0.4]], "label": [0, 1, 1, 1]}).write_parquet(tmp_path / "a.parquet")
    lines = [
        merged_record(i, json.dumps({"scores": s}), str(y), "JSON")
        for i, (s, y) in enumerate([([0.9, 0.1], 0), ([0.2, 0.8], 1), ([0.5, 0.5], 1), ([0.6, 0.4], 1)])
    ]
    write_lines(tmp_path / "m.jsonl", lines)
    for src, attr in (("a.csv", "probs"), ("a.parquet", "probs"), ("m.jsonl", "scores")):
        cfg = MQConfig("BinaryClassification", None, "label", attr)
        r = baseline_model_quality(Store(), [str(tmp_path / src)], str(tmp_path / "o" / src), cfg)
        m = r.statistics["binary_classification_metrics"]
        # 0.5 is not greater than the 0.5 threshold: predicted 0
        assert m["confusion_matrix"] == {"0": {"0": 1, "1": 0}, "1": {"0": 2, "1": 1}}, src
        assert m["auc"]["value"] == 1.0, src
        cfg = MQConfig("BinaryClassification", None, "label", attr, probability_threshold=0.3)
        r = baseline_model_quality(Store(), [str(tmp_path / src)], str(tmp_path / "o2" / src), cfg)
        assert r.statistics["binary_classification_metrics"]["confusion_matrix"]["1"] == {"0": 0, "1": 3}, src


def test_headerless_csv_with_index_attributes(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("0.9,1,1\n0.2,0,0\n0.7,1,0\n")
    cfg = MQConfig("BinaryClassification", "1", "2", "0")
    r = baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "o"), cfg, fmt="csv", header=False)
    assert r.statistics["binary_classification_metrics"]["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 0, "1": 1}}
    with pytest.raises(InputError, match="no column 'prediction' for --inference-attribute"):
        baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "o"), MQConfig("BinaryClassification", "prediction", "2"), header=False)


def test_merged_record_encodings_and_shadow_traffic(tmp_path: Path) -> None:
    b64 = base64.b64encode(b"0.8\n").decode()
    lines = [
        merged_record(0, "0.9,0.1", "1"),
        merged_record(1, json.dumps([0.3]), json.dumps(0), "JSON", "JSON"),
        merged_record(2, b64, "1", "BASE64"),
        merged_record(3, "0.95", "0", invocationSource="ShadowExperiment"),
        merged_record(4, "0.1\n0.7", "0\n1"),  # two rows, two labels: both count
        merged_record(5, base64.b64encode(b"[0.85]").decode(), "1", "BASE64").replace("text/csv; charset=utf-8", "application/json"),
    ]
    path = write_lines(tmp_path / "m.jsonl.gz", [])
    import gzip

    Path(path).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    r = baseline_model_quality(Store(), [path], str(tmp_path / "o"), BINARY)
    assert r.rows == 6  # the shadow record is skipped; record 4 holds two rows
    assert r.statistics["binary_classification_metrics"]["confusion_matrix"] == {"0": {"0": 2, "1": 0}, "1": {"0": 0, "1": 4}}
    # Two predictions with one label cannot be paired: an input error, not a silent first row.
    Path(path).write_bytes(gzip.compress((merged_record(4, "0.1\n0.7", "0") + "\n").encode()))
    with pytest.raises(InputError, match=r"record 1 \(event 4\): .*endpointOutput 2.*cannot be paired"):
        baseline_model_quality(Store(), [path], str(tmp_path / "o2"), BINARY)


def test_regression_bad_numbers_are_reported(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("pred,y\n1.5,1\nabc,2\n3,\n")
    with pytest.raises(InputError, match=r"1 prediction value\(s\) are not numbers \(e\.g\. 'abc'\)"):
        baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "o"), MQConfig("Regression", "pred", "y"))


# -- constraints files ------------------------------------------------------------------------------


def test_edited_constraints_are_validated_and_used(tmp_path: Path) -> None:
    y, pred = multiclass_rows(300, 8, 0.7)
    pl.DataFrame({"p": pred, "y": y}).write_csv(tmp_path / "d.csv")
    cfg = MQConfig("MulticlassClassification", "p", "y")
    base = baseline_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "base"), cfg)
    cons_path = tmp_path / "base" / "constraints.json"
    doc = loads(cons_path.read_text())
    assert list(doc["multiclass_classification_constraints"]) == [
        "accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1", "weighted_f2",
    ]  # fmt: skip
    # A user loosens accuracy by hand and adds a check of the best-constant figure.
    doc["multiclass_classification_constraints"]["accuracy"]["threshold"] = 1
    doc["multiclass_classification_constraints"]["accuracy_best_constant_classifier"] = {
        "threshold": 0.1, "comparison_operator": "LessThanThreshold",
    }  # fmt: skip
    cons_path.write_text(dumps(doc))
    r = run_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "run"), cfg, str(cons_path))
    acc = base.statistics["multiclass_classification_metrics"]["accuracy"]["value"]
    assert [v["metric_name"] for v in r.violations] == ["accuracy"]
    assert r.violations[0]["description"].endswith("was LessThanThreshold '1.0'") and repr(acc) in r.violations[0]["description"]
    doc["multiclass_classification_constraints"]["accuracy"]["comparison_operator"] = "LessThan"
    cons_path.write_text(dumps(doc))
    with pytest.raises(SchemaError, match="comparison_operator"):
        run_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "run2"), cfg, str(cons_path))


def test_wrong_baseline_files_are_refused(tmp_path: Path, shared_dir: Path) -> None:
    (tmp_path / "d.csv").write_text("p,y\n1,1\n")
    cfg = MQConfig("Regression", "p", "y")
    with pytest.raises(InputError, match="data-quality constraints file"):
        run_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "r"), cfg, str(shared_dir / "dq-constraints.2024-10.json"))
    (tmp_path / "c.json").write_text('{"binary_classification_constraints": {}}')
    with pytest.raises(InputError, match="no 'regression_constraints' for --problem-type Regression"):
        run_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "r"), cfg, str(tmp_path / "c.json"))
    with pytest.raises(InputError, match="--problem-type 'Ranking'"):
        run_model_quality(Store(), [str(tmp_path / "d.csv")], str(tmp_path / "r"), MQConfig("Ranking", "p", "y"), str(tmp_path / "c.json"))


def test_before_publish_runs_before_any_write(tmp_path: Path) -> None:
    # A scheduled run that lost its lock raises in the hook: no report file may appear.
    y, p = binary_rows(300, 4, 0.9)
    pl.DataFrame({"probability": p, "prediction": (p > 0.5).astype(int), "label": y}).write_csv(tmp_path / "b.csv")
    cfg = MQConfig("BinaryClassification", "prediction", "label", "probability")
    baseline_model_quality(Store(), [str(tmp_path / "b.csv")], str(tmp_path / "base"), cfg)
    seen: list[list[str]] = []

    def hook() -> None:
        seen.append(sorted(os.listdir(tmp_path / "r")) if (tmp_path / "r").exists() else [])
        raise RuntimeError("lost the lock")

    with pytest.raises(RuntimeError, match="lost the lock"):
        run_model_quality(
            Store(), [str(tmp_path / "b.csv")], str(tmp_path / "r"), cfg, str(tmp_path / "base/constraints.json"),
            before_publish=hook,
        )  # fmt: skip
    assert seen == [[]]
    assert not (tmp_path / "r").exists() or os.listdir(tmp_path / "r") == []
