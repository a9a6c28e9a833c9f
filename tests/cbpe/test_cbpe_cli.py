"""`mmon baseline/run --type model-quality --estimator cbpe` end to end: files written, estimates equal
to the library's, violations when accuracy falls, labels never read, S3, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.cbpe import fit
from mmon.cbpe.multiclass import fit_multiclass
from mmon.cli.app import main
from mmon.schemas import validate


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _binary(n: int, seed: int, sd: float = 1.5, labels: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, sd, n)
    y = rng.random(n) < _sigmoid(1.5 * x)
    score = np.round(_sigmoid(1.1 * x + 0.3), 9)
    df = pl.DataFrame({"feature": x, "score": score, "prediction": np.where(score > 0.5, "yes", "no")})
    return df.with_columns(label=pl.Series(np.where(y, "yes", "no"))) if labels else df


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def _base_args(ref: Path, out: Path) -> list[str]:
    return [
        "baseline", str(ref), "--type", "model-quality", "--problem-type", "BinaryClassification",
        "--estimator", "cbpe", "--inference-attribute", "prediction", "--probability-attribute", "score",
        "--ground-truth-attribute", "label", "--positive-label", "yes", "--reference-chunk-size", "2000", "-o", str(out),
    ]  # fmt: skip


def test_binary_baseline_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = _binary(20000, 1)
    ref.write_csv(tmp_path / "ref.csv")
    rc, out, err = _cli(capsys, *_base_args(tmp_path / "ref.csv", tmp_path / "base"), "--json")
    assert rc == 0, err
    cbpe = json.loads((tmp_path / "base" / "cbpe.json").read_text())
    assert cbpe["positive_label"] == "yes" and cbpe["negative_label"] == "no"
    cons = json.loads((tmp_path / "base" / "constraints.json").read_text())
    validate(cons, "constraints", "constraints.json")
    assert cons["binary_classification_constraints"]["accuracy"]["comparison_operator"] == "LessThanThreshold"

    # A window of the same kind without labels: estimates equal the library's, no violation.
    win = _binary(3000, 2, labels=False)
    win.write_parquet(tmp_path / "win.parquet")
    run = [
        "run", str(tmp_path / "win.parquet"), "--type", "model-quality", "--problem-type", "BinaryClassification",
        "--estimator", "cbpe", "--baseline-statistics", str(tmp_path / "base" / "statistics.json"),
        "--baseline-constraints", str(tmp_path / "base" / "constraints.json"), "--json",
    ]  # fmt: skip
    rc, out, err = _cli(capsys, *run, "-o", str(tmp_path / "r1"))
    assert rc == 0, err
    stats = json.loads((tmp_path / "r1" / "statistics.json").read_text())
    validate(stats, "statistics", "statistics.json")
    model = fit(
        (ref["label"] == "yes").to_numpy().astype(int), (ref["prediction"] == "yes").to_numpy().astype(int),
        ref["score"].to_numpy(), chunk_size=2000,
    )  # fmt: skip
    lib = model.estimate(win["score"].to_numpy(), (win["prediction"] == "yes").to_numpy().astype(int))
    section = stats["binary_classification_metrics"]
    for m, e in lib.items():
        assert section[m]["value"] == pytest.approx(e.value, abs=1e-12)
        assert section[m]["standard_deviation"] == pytest.approx(e.sampling_error, abs=1e-12)
    assert stats["mmon_estimation"]["estimated"] is True
    cm = section["confusion_matrix"]
    assert sum(v for row in cm.values() for v in row.values()) == pytest.approx(3000)
    assert json.loads((tmp_path / "r1" / "constraint_violations.json").read_text())["violations"] == []
    cw = [json.loads(line) for line in (tmp_path / "r1" / "cloudwatch_metrics.jsonl").read_text().splitlines()]
    assert {r["MetricName"] for r in cw} >= {"estimated_accuracy", "estimated_auc"}
    assert 'mmon_model_quality_estimated_metric{problem_type="BinaryClassification",metric="accuracy"}' in (
        tmp_path / "r1" / "metrics.prom"
    ).read_text()

    # Inputs concentrated in the uncertain region: accuracy falls, the estimate says so (exit 1).
    _binary(3000, 3, sd=0.4, labels=False).write_csv(tmp_path / "bad.csv")
    run[1] = str(tmp_path / "bad.csv")
    rc, out, err = _cli(capsys, *run, "-o", str(tmp_path / "r2"))
    assert rc == 1, err
    v = json.loads((tmp_path / "r2" / "constraint_violations.json").read_text())["violations"]
    assert "accuracy" in {x["metric_name"] for x in v}
    assert any("(CBPE, no labels)" in x["description"] for x in v)


def test_multiclass_baseline_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(4)
    classes = ["a", "b", "c"]
    w = np.array([[1.2, 0.0], [-0.6, 1.0], [-0.6, -1.0]])

    def sample(n: int, labels: bool) -> pl.DataFrame:
        x = rng.normal(0, 1, (n, 2))
        logits = x @ w.T
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = np.array(classes)[(rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)]
        s = np.exp(0.7 * logits) / np.exp(0.7 * logits).sum(axis=1, keepdims=True)
        df = pl.DataFrame({f"p_{c}": s[:, k] for k, c in enumerate(classes)}).with_columns(
            pred=pl.Series(np.array(classes)[s.argmax(axis=1)])
        )
        return df.with_columns(y=pl.Series(y)) if labels else df

    ref = sample(12000, True)
    ref.write_parquet(tmp_path / "ref.parquet")
    spec = "a=p_a,b=p_b,c=p_c"
    rc, _, err = _cli(
        capsys, "baseline", str(tmp_path / "ref.parquet"), "--type", "model-quality", "--problem-type",
        "MulticlassClassification", "--estimator", "cbpe", "--inference-attribute", "pred",
        "--probability-attribute", spec, "--ground-truth-attribute", "y", "-o", str(tmp_path / "base"), "--json",
    )  # fmt: skip
    assert rc == 0, err
    win = sample(2500, False)
    win.write_parquet(tmp_path / "win.parquet")
    rc, _, err = _cli(
        capsys, "run", str(tmp_path / "win.parquet"), "--type", "model-quality", "--problem-type",
        "MulticlassClassification", "--estimator", "cbpe", "--baseline-constraints",
        str(tmp_path / "base" / "constraints.json"), "-o", str(tmp_path / "r"), "--json",
    )  # fmt: skip
    assert rc in (0, 1), err
    stats = json.loads((tmp_path / "r" / "statistics.json").read_text())
    model = fit_multiclass(ref["y"].to_numpy(), ref["pred"].to_numpy(), ref.select("p_a", "p_b", "p_c").to_numpy(), classes)
    lib = model.estimate(win.select("p_a", "p_b", "p_c").to_numpy(), win["pred"].to_numpy())
    for m, e in lib.items():
        assert stats["multiclass_classification_metrics"][m]["value"] == pytest.approx(e.value, abs=1e-12)


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = _binary(5000, 1)
    nan = ref.with_columns(score=pl.when(pl.int_range(pl.len()) == 7).then(float("nan")).otherwise(pl.col("score")))
    nan.write_parquet(tmp_path / "nan.parquet")
    rc, _, err = _cli(capsys, *_base_args(tmp_path / "nan.parquet", tmp_path / "b"))
    assert rc == 2 and "NaN" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()
    # --estimator for another type, an unknown estimator, a regression problem
    rc, _, err = _cli(capsys, "baseline", str(tmp_path / "nan.parquet"), "--type", "bias", "--estimator", "cbpe", "-o", str(tmp_path / "x"))
    assert rc == 2 and "--estimator cbpe is for --type model-quality" in err
    rc, _, err = _cli(capsys, *_base_args(tmp_path / "nan.parquet", tmp_path / "x")[:-2], "--estimator", "dle", "-o", str(tmp_path / "x"))
    assert rc == 2 and "expected none or cbpe" in err
    # A run against a baseline made without --estimator cbpe: names the missing file.
    ref.write_csv(tmp_path / "ref.csv")
    args = _base_args(tmp_path / "ref.csv", tmp_path / "plain")
    args.remove("--estimator")
    args.remove("cbpe")
    args.remove("--reference-chunk-size")
    args.remove("2000")
    assert _cli(capsys, *args)[0] == 0
    rc, _, err = _cli(
        capsys, "run", str(tmp_path / "ref.csv"), "--type", "model-quality", "--problem-type", "BinaryClassification",
        "--estimator", "cbpe", "--baseline-constraints", str(tmp_path / "plain" / "constraints.json"), "-o", str(tmp_path / "r"),
    )  # fmt: skip
    assert rc == 2 and "cbpe.json" in err and "--estimator cbpe" in err


@pytest.mark.slow
def test_on_s3(tmp_path: Path, capsys: pytest.CaptureFixture[str], s3_bucket: str, s3_env: dict[str, str]) -> None:
    from mmon.store import Store

    store = Store({})
    store.write_bytes(f"{s3_bucket}/ref/ref.csv", _binary(8000, 1).write_csv().encode())
    store.write_bytes(f"{s3_bucket}/win/win.csv", _binary(2000, 5, labels=False).write_csv().encode())
    args = _base_args(Path("x"), Path("y"))
    args[1] = f"{s3_bucket}/ref/ref.csv"
    args[-1] = f"{s3_bucket}/base"
    assert _cli(capsys, *args)[0] == 0
    rc, _, err = _cli(
        capsys, "run", f"{s3_bucket}/win/win.csv", "--type", "model-quality", "--problem-type", "BinaryClassification",
        "--estimator", "cbpe", "--baseline-constraints", f"{s3_bucket}/base/constraints.json", "-o", f"{s3_bucket}/out",
    )  # fmt: skip
    assert rc in (0, 1), err
    assert json.loads(store.read_text(f"{s3_bucket}/out/statistics.json"))["mmon_estimation"]["estimator"] == "cbpe"


def test_scheduled_run_on_capture_without_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mmon run --capture … --estimator cbpe --scheduled-time`: SageMaker capture files whose endpoint
    output is the score; no ground truth anywhere; the hour folder holds the estimated report."""
    import uuid

    ref = _binary(10000, 1).with_columns(label=pl.when(pl.col("label") == "yes").then(1).otherwise(0))
    ref.select("score", "label").write_csv(tmp_path / "ref.csv")
    rc, _, err = _cli(
        capsys, "baseline", str(tmp_path / "ref.csv"), "--type", "model-quality", "--problem-type", "BinaryClassification",
        "--estimator", "cbpe", "--probability-attribute", "score", "--ground-truth-attribute", "label",
        "--positive-label", "1", "-o", str(tmp_path / "base"),
    )  # fmt: skip
    assert rc == 0, err
    win = _binary(600, 9, labels=False)
    hour = tmp_path / "capture" / "ep" / "AllTraffic" / "2024" / "01" / "01" / "18"
    hour.mkdir(parents=True)
    lines = []
    for i, (x, s) in enumerate(zip(win["feature"], win["score"], strict=True)):
        lines.append(json.dumps({
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": f"{x}", "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": f"{s}", "encoding": "CSV"},
            },
            "eventMetadata": {"eventId": str(uuid.UUID(int=i)), "inferenceTime": f"2024-01-01T18:{i // 60:02d}:{i % 60:02d}Z"},
            "eventVersion": "0",
        }))  # fmt: skip
    (hour / "00-00-000-a.jsonl").write_text("\n".join(lines) + "\n")
    rc, out, err = _cli(
        capsys, "run", "--capture", str(tmp_path / "capture" / "ep" / "AllTraffic"), "--type", "model-quality",
        "--problem-type", "BinaryClassification", "--estimator", "cbpe", "--inference-attribute", "0",
        "--probability-attribute", "0", "--scheduled-time", "2024-01-01T19:00:00Z", "--schedule-expression", "hourly",
        "--baseline-constraints", str(tmp_path / "base" / "constraints.json"), "-o", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert rc in (0, 1), err
    (stats_file,) = (tmp_path / "out").rglob("statistics.json")
    stats = json.loads(stats_file.read_text())
    assert stats["dataset"]["item_count"] == 600
    model = fit(ref["label"].to_numpy(), (ref["score"] > 0.5).to_numpy().astype(int), ref["score"].to_numpy())
    lib = model.estimate(win["score"].to_numpy(), (win["score"] > 0.5).to_numpy().astype(int))
    assert stats["binary_classification_metrics"]["accuracy"]["value"] == pytest.approx(lib["accuracy"].value, abs=1e-9)
