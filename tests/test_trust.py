"""Issue 14, "trust in the field": no silent all-clear, no clobbered baseline, no colliding monitors.

Each test reproduces one numbered item of the issue through the CLI, as a user meets it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.capture.synth import demo
from mmon.demo import make_frame
from tests.capture_parts import one_part
from tests.clihelp import run_cli


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four hours of the demo endpoint's capture and labels (filed an hour late), and baselines."""
    root = tmp_path_factory.mktemp("trust")
    demo(str(root), hours=4, records_per_hour=60)
    make_frame(2000, seed=7).write_csv(root / "train.csv")
    frame = make_frame(2000, seed=8)
    rng = np.random.default_rng(1)
    labels = (rng.random(frame.height) < frame["approved_probability"].to_numpy()).astype(int)
    frame.with_columns(label=pl.Series(labels), prediction=(pl.col("approved_probability") > 0.5).cast(pl.Int64)).write_csv(
        root / "validation.csv"
    )
    return root


def _cli(args: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run_cli([str(a) for a in args], capsys)


@pytest.fixture(scope="module")
def dq_base(day: Path) -> Path:
    from mmon.cli.app import main

    with pytest.raises(SystemExit) as exc:
        main(["baseline", str(day / "train.csv"), "-o", str(day / "base"), "-q"])
    assert exc.value.code in (0, None)
    return day / "base"


@pytest.fixture(scope="module")
def mq_base(day: Path) -> Path:
    from mmon.cli.app import main

    with pytest.raises(SystemExit) as exc:
        main(["baseline", str(day / "validation.csv"), "--type", "model-quality", "--problem-type", "BinaryClassification",
              "--inference-attribute", "prediction", "--probability-attribute", "approved_probability",
              "--ground-truth-attribute", "label", "-o", str(day / "mq"), "-q"])  # fmt: skip
    assert exc.value.code in (0, None)
    return day / "mq"


def _dq(base: Path) -> list[object]:
    return ["--baseline-statistics", base / "statistics.json", "--baseline-constraints", base / "constraints.json"]


MQ = ["--type", "model-quality", "--problem-type", "BinaryClassification", "--inference-attribute", "0",
      "--probability-attribute", "0", "--probability-threshold", "0.5"]  # fmt: skip


# -- 1. a root that does not exist is an error; an empty hour is "no traffic" ----------------------


def test_1_capture_root_typo_is_an_error(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    typo = day / "datacapture" / "demo-endpoint" / "AllTrafic"
    code, out, err = _cli(["run", "--capture", typo, "--scheduled-time", "2024-01-01T02:00:00Z", *_dq(dq_base),
                           "-o", tmp_path / "rep", "--json"], capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert f"mmon: error: --capture {typo}: no such folder" in err
    assert not list((tmp_path / "rep").rglob("constraint_violations.json"))
    code, _, err = _cli(["capture-merge", "--capture", typo, "-o", tmp_path / "m", "--scheduled-time", "2024-01-01T02:00Z"], capsys)
    assert code == 2 and str(typo) in err
    gt_typo = day / "groundtruht"
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    code, _, err = _cli(["run", "--capture", capture, "--ground-truth", gt_typo, "--scheduled-time", "2024-01-01T02:00:00Z",
                         *MQ, "--baseline-constraints", day / "c.json", "-o", tmp_path / "rep2"], capsys)  # fmt: skip
    assert code == 2 and f"--ground-truth {gt_typo}: no such folder" in err
    # A file where a folder is expected is named as such.
    code, _, err = _cli(["capture-merge", "--capture", day / "train.csv", "-o", tmp_path / "m", "--scheduled-time", "2024-01-01T02:00Z"], capsys)
    assert code == 2 and "is a file, not a folder" in err


def test_1_empty_hour_of_an_existing_root_is_no_traffic(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    code, out, err = _cli(["run", "--capture", capture, "--scheduled-time", "2024-02-01T02:00:00Z", *_dq(dq_base),
                           "-o", tmp_path / "rep", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "Completed" and doc["item_count"] == 0
    # The merge's warning reaches the user, and the run says truthfully what it did not check.
    assert any("no capture files in the window" in w for w in doc["warnings"])
    assert any("no rows" in w and "only missing_column_check and extra_column_check" in w for w in doc["warnings"])
    assert "no capture files in the window" in err


def test_1_every_column_missing_is_reported(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    """Data of the wrong model: every baseline column missing -> one missing_column_check each (rows or not)."""
    pl.DataFrame({"a": ["1", "2"], "b": ["x", "y"]}).write_csv(tmp_path / "other.csv")
    pl.DataFrame(schema={"a": pl.String, "b": pl.String}).write_parquet(tmp_path / "other_empty.parquet")
    for f in ("other.csv", "other_empty.parquet"):
        code, out, err = _cli(["run", tmp_path / f, *_dq(dq_base), "-o", tmp_path / f"rep-{f}", "--json"], capsys)
        assert code == 1, err
        checks = [(v["feature_name"], v["constraint_check_type"]) for v in json.loads(out)["violations"]]
        baseline = [f["name"] for f in json.loads((dq_base / "constraints.json").read_text())["features"]]
        assert checks == [(n, "missing_column_check") for n in baseline] + [("a", "extra_column_check"), ("b", "extra_column_check")]


# -- 7. an empty window is not an error, for every type and format ----------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "blank-jsonl", "csv-header"])
def test_7_empty_window_data_quality(fmt: str, dq_base: Path, tmp_path: Path, capsys) -> None:
    names = [f["name"] for f in json.loads((dq_base / "constraints.json").read_text())["features"]]
    win = tmp_path / "win"
    win.mkdir()
    if fmt == "jsonl":
        (win / "merged.jsonl").write_bytes(b"")
    elif fmt == "blank-jsonl":
        (win / "merged.jsonl").write_bytes(b"\n\n")
    elif fmt == "parquet":
        pl.DataFrame(schema={n: pl.String for n in names}).write_parquet(win / "merged.parquet")
    else:
        (win / "part.csv").write_text(",".join(names) + "\n")
    code, out, err = _cli(["run", win, *_dq(dq_base), "-o", tmp_path / "rep", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "Completed" and doc["violation_count"] == 0 and doc["item_count"] == 0
    assert any("no rows" in w for w in doc["warnings"])
    assert (tmp_path / "rep" / "constraint_violations.json").exists()


def test_7_capture_merge_default_jsonl_then_run(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    """The default capture-merge format on an empty hour, then mmon run on it: exit 0, not 2."""
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    code, _, err = _cli(["capture-merge", "--capture", capture, "-o", tmp_path / "m", "--scheduled-time", "2024-03-01T02:00Z", "-q"], capsys)
    assert code == 0, err
    assert one_part(tmp_path / "m", "jsonl").read_bytes() == b""  # an empty window: one empty part
    code, out, err = _cli(["run", tmp_path / "m", *_dq(dq_base), "-o", tmp_path / "rep", "--json"], capsys)
    assert code == 0, err
    assert "Cannot infer" not in err and json.loads(out)["violation_count"] == 0


def test_7_empty_window_typed_runs(mq_base: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "win").mkdir()
    (tmp_path / "win" / "merged.jsonl").write_bytes(b"")
    code, out, err = _cli(["run", tmp_path / "win", *MQ, "--baseline-constraints", mq_base / "constraints.json",
                           "-o", tmp_path / "rep", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "NotJudged" and doc["violations"] == [] and doc["outputs"] == {}
    assert "nothing judged" in err
    assert not (tmp_path / "rep").exists()
    # The baseline is still checked on a quiet hour: a broken monitor fails at once.
    code, _, err = _cli(["run", tmp_path / "win", *MQ, "--baseline-constraints", mq_base / "statistics.json",
                         "-o", tmp_path / "rep"], capsys)  # fmt: skip
    assert code == 2 and "statistics.json" in err


def _bias_baseline(tmp_path: Path, capsys) -> list:
    """Write a small bias config and train.csv under tmp_path, baseline them into tmp_path/b, and return the
    bias flags a run needs beside --baseline-constraints."""
    cfg = {"label": "approved", "label_values_or_threshold": [1],
           "facet": [{"name_or_index": "group", "value_or_threshold": ["a"]}], "probability_threshold": 0.5,
           "methods": {"pre_training_bias": {"methods": ["CI"]}, "post_training_bias": {"methods": ["DPPL"]}}}  # fmt: skip
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    rng = np.random.default_rng(0)
    n = 600
    pl.DataFrame({"group": rng.choice(["a", "b"], n), "approved": rng.integers(0, 2, n), "probability": rng.random(n)}).write_csv(
        tmp_path / "train.csv"
    )
    bias = ["--type", "bias", "--config", tmp_path / "cfg.json", "--probability-attribute", "probability"]
    code, _, err = _cli(["baseline", tmp_path / "train.csv", *bias, "-o", tmp_path / "b", "-q"], capsys)
    assert code == 0, err
    return bias


def test_7_bias_empty_window(tmp_path: Path, capsys) -> None:
    bias = _bias_baseline(tmp_path, capsys)
    (tmp_path / "win").mkdir()
    (tmp_path / "win" / "merged.jsonl").write_bytes(b"")
    code, out, err = _cli(["run", tmp_path / "win", *bias, "--baseline-constraints", tmp_path / "b" / "analysis.json",
                           "-o", tmp_path / "rep", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] == "NotJudged"


def test_7_8_scheduled_model_quality_late_labels(day: Path, mq_base: Path, tmp_path: Path, capsys) -> None:
    """Labels are filed an hour after their predictions: without lookahead no label matches (not Failed);
    with --ground-truth-lookahead PT2H they are seen."""
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    common = ["run", "--capture", capture, "--ground-truth", day / "groundtruth", "--scheduled-time", "2024-01-01T02:00:00Z",
              *MQ, "--baseline-constraints", mq_base / "constraints.json", "--json"]  # fmt: skip
    code, out, err = _cli([*common, "-o", tmp_path / "r0"], capsys)
    assert code == 0, err
    assert json.loads(out)["status"] == "NotJudged"
    record = json.loads((tmp_path / "r0" / "2024" / "01" / "01" / "02" / "execution.json").read_text())
    assert record["status"] == "Completed" and "nothing judged" in record["message"]
    code, out, err = _cli([*common, "--ground-truth-lookahead", "PT2H", "-o", tmp_path / "r2"], capsys)
    assert code in (0, 1), err
    doc = json.loads(out)
    # The demo labels 70 % of predictions: 60 predictions in the hour.
    assert doc["rows"] == 60 and 30 <= doc["labelled"] <= 55
    record = json.loads((tmp_path / "r2" / "2024" / "01" / "01" / "02" / "execution.json").read_text())
    assert record["status"] in ("Completed", "CompletedWithViolations")
    merge = json.loads((tmp_path / "r2" / "merge" / "2024" / "01" / "01" / "02" / "merge_summary.json").read_text())
    assert merge["ground_truth"]["lookahead"] == "PT2H" and merge["ground_truth"]["matched"] == doc["labelled"]


def test_7_scheduled_model_quality_too_few_labels_is_not_failed(day: Path, mq_base: Path, tmp_path: Path, capsys) -> None:
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    code, out, err = _cli(["run", "--capture", capture, "--ground-truth", day / "groundtruth", "--ground-truth-lookahead", "PT2H",
                           "--scheduled-time", "2024-01-01T02:00:00Z", *MQ, "--min-labelled", "1000",
                           "--baseline-constraints", mq_base / "constraints.json", "-o", tmp_path / "r", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    record = json.loads((tmp_path / "r" / "2024" / "01" / "01" / "02" / "execution.json").read_text())
    assert record["status"] == "Completed" and "--min-labelled 1000" in record["message"]


def test_8_lookahead_needs_capture_and_ground_truth(dq_base: Path, tmp_path: Path, capsys) -> None:
    code, _, err = _cli(["run", tmp_path, *_dq(dq_base), "-o", tmp_path / "r", "--ground-truth-lookahead", "PT1H"], capsys)
    assert code == 2 and "--ground-truth-lookahead" in err


# -- 2. no output overwrites an input ---------------------------------------------------------------


def test_2_run_into_the_baseline_folder_is_refused(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    import shutil

    base = tmp_path / "base"
    shutil.copytree(dq_base, base)
    before = (base / "statistics.json").read_bytes()
    pl.read_csv(day / "train.csv").head(300).write_csv(tmp_path / "cur.csv")
    code, out, err = _cli(["run", tmp_path / "cur.csv", *_dq(base), "-o", base, "--json"], capsys)
    assert code == 2 and out == ""
    assert f"the output would overwrite the input {base / 'statistics.json'} (--baseline-statistics)" in err
    assert (base / "statistics.json").read_bytes() == before
    assert not (base / "constraint_violations.json").exists()
    # The same folder spelt another way (a trailing slash, a ./ path) is the same folder.
    code, _, err = _cli(["run", tmp_path / "cur.csv", *_dq(base), "-o", f"{base}/./", "--json"], capsys)
    assert code == 2 and (base / "statistics.json").read_bytes() == before
    # The twin: another folder is fine.
    code, _, err = _cli(["run", tmp_path / "cur.csv", *_dq(base), "-o", tmp_path / "rep", "-q"], capsys)
    assert code in (0, 1), err


def test_2_typed_run_into_the_baseline_folder_is_refused(tmp_path: Path, capsys) -> None:
    bias = _bias_baseline(tmp_path, capsys)
    analysis = tmp_path / "b" / "analysis.json"
    before = analysis.read_bytes()
    code, _, err = _cli(["run", tmp_path / "train.csv", *bias, "--baseline-constraints", analysis, "-o", tmp_path / "b"], capsys)
    assert code == 2 and "would overwrite the input" in err and "--baseline-constraints" in err
    assert analysis.read_bytes() == before
    # A config file named like an output is protected too.
    code, _, err = _cli(["baseline", tmp_path / "train.csv", "--type", "bias", "--config", tmp_path / "b" / "analysis.json",
                         "-o", tmp_path / "b"], capsys)  # fmt: skip
    assert code == 2 and "--config" in err and analysis.read_bytes() == before


def test_2_capture_merge_over_its_header_file_is_refused(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "m").mkdir()
    header = tmp_path / "m" / "merged.jsonl"
    header.write_text('{"a": 1}\n')
    code, _, err = _cli(["capture-merge", "--capture", day / "datacapture", "-o", tmp_path / "m", "--header-from", header,
                         "--scheduled-time", "2024-01-01T02:00Z"], capsys)  # fmt: skip
    assert code == 2 and "--header-from" in err and header.read_text() == '{"a": 1}\n'
    # Nor inside the capture or ground-truth folder, where the merge would be read back as capture.
    for flag, root in (("--capture", day / "datacapture"), ("--ground-truth", day / "groundtruth")):
        code, _, err = _cli(["capture-merge", "--capture", day / "datacapture", "--ground-truth", day / "groundtruth",
                             "-o", root / "2024" / "01" / "01" / "02", "--scheduled-time", "2024-01-01T02:00Z"], capsys)  # fmt: skip
        assert code == 2 and f"is inside {flag} {root}" in err


# -- 3. mmon never reads its own outputs as data ----------------------------------------------------


def test_3_report_inside_the_data_folder_is_not_read_back(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pl.read_csv(day / "train.csv").head(500).write_csv(data / "part-0.csv")
    code, out, err = _cli(["run", data, *_dq(dq_base), "-o", data / "report", "--json"], capsys)
    assert code in (0, 1), err
    first = json.loads(out)
    assert first["files"] == [str(data / "part-0.csv")]
    # The report (statistics.json, constraint_violations.json, cloudwatch_metrics.jsonl, metrics.prom)
    # now lies inside the data folder; a merge summary and an execution record and lock too.
    (data / "report" / "merge_summary.json").write_text("{}")
    (data / "report" / "execution.json").write_text("{}")
    (data / "report" / ".mmon-execution.lock").write_text("{}")
    assert (data / "report" / "cloudwatch_metrics.jsonl").exists()
    code, out, err = _cli(["run", data, *_dq(dq_base), "-o", data / "report", "--json"], capsys)
    assert code in (0, 1), err
    second = json.loads(out)
    assert second["files"] == first["files"] and second["violations"] == first["violations"]
    assert second["item_count"] == 500
    # A folder holding nothing but mmon's outputs is not data.
    code, _, err = _cli(["run", data / "report", *_dq(dq_base), "-o", tmp_path / "r2"], capsys)
    assert code == 2 and "only mmon's own output files" in err


def test_3_report_inside_the_capture_folder_is_not_read_as_capture(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    import shutil

    capture = tmp_path / "AllTraffic"
    shutil.copytree(day / "datacapture" / "demo-endpoint" / "AllTraffic", capture)

    def run(hour: str, out: Path) -> tuple[int, str, str]:
        return _cli(["run", "--capture", capture, "--scheduled-time", hour, *_dq(dq_base), "-o", out, "--json"], capsys)

    code, out, err = run("2024-01-01T03:00:00Z", tmp_path / "elsewhere")
    assert code in (0, 1), err
    clean = json.loads(out)
    # -o inside the capture (or ground-truth) folder: the reports would sit in its hour folders.
    for inside in (capture, capture / "reports", day / "groundtruth" / "r"):
        extra = ["--ground-truth", day / "groundtruth", *MQ, "--baseline-constraints", day / "c.json"] if "groundtruth" in str(inside) else []
        code, stdout, err = _cli(["run", "--capture", capture, "--scheduled-time", "2024-01-01T02:00:00Z", *_dq(dq_base),
                                  "-o", inside, *extra], capsys)  # fmt: skip
        assert code == 2 and "is inside --" in err and stdout == ""
    # A report that got there anyway (an older mmon, a copy by hand) is not read as capture.
    code, _, err = run("2024-01-01T02:00:00Z", tmp_path / "rep")
    assert code in (0, 1), err
    for f in (tmp_path / "rep" / "2024" / "01" / "01" / "02").iterdir():
        shutil.copy(f, capture / "2024" / "01" / "01" / "02" / f.name)
    assert (capture / "2024" / "01" / "01" / "02" / "cloudwatch_metrics.jsonl").exists()
    assert (capture / "2024" / "01" / "01" / "02" / "execution.json").exists()
    code, out, err = run("2024-01-01T03:00:00Z", tmp_path / "elsewhere2")
    assert code in (0, 1), err
    again = json.loads(out)
    assert again["item_count"] == clean["item_count"] == 60
    assert again["violations"] == clean["violations"]
    summary = json.loads((tmp_path / "elsewhere2" / "merge" / "2024" / "01" / "01" / "03" / "merge_summary.json").read_text())
    assert summary["capture"]["malformed_lines"] == 0 and summary["capture"]["files"] == 6


# -- 5. unknown names are errors listing the valid ones ---------------------------------------------


@pytest.fixture
def report(day: Path, dq_base: Path, tmp_path: Path, capsys) -> Path:
    """A data-quality report with violations (ages sent as 37.0)."""
    cur = pl.read_csv(day / "train.csv", infer_schema=False).head(400).with_columns(pl.col("age") + ".0")
    cur.write_csv(tmp_path / "cur.csv")
    code, _, err = _cli(["run", tmp_path / "cur.csv", *_dq(dq_base), "-o", tmp_path / "rep", "-q"], capsys)
    assert code == 1, err
    return tmp_path / "rep"


def test_5_violations_check_type_typo_is_an_error(report: Path, capsys) -> None:
    code, _, _ = _cli(["violations", report, "--check-type", "data_type_check"], capsys)
    assert code == 1
    code, out, err = _cli(["violations", report, "--check-type", "data_typo_check"], capsys)
    assert code == 2 and out == ""
    assert "--check-type 'data_typo_check': unknown check type" in err
    assert "did you mean 'data_type_check'" in err and "bias_drift_check" in err and "LessThanThreshold" in err
    # The short name (as --disable accepts it) is the check.
    code, _, _ = _cli(["violations", report, "--check-type", "data_type"], capsys)
    assert code == 1
    # A known check with no violation in this report is a clean answer, not an error.
    code, _, err = _cli(["violations", report, "--check-type", "non_negative_check"], capsys)
    assert code == 0, err


def test_5_violations_feature_typo_is_an_error(report: Path, capsys) -> None:
    code, _, _ = _cli(["violations", report, "--feature", "age"], capsys)
    assert code == 1
    code, _, _ = _cli(["violations", report, "--feature", "region"], capsys)  # a clean feature of the run
    assert code == 0
    code, _, err = _cli(["violations", report, "--feature", "agee"], capsys)
    assert code == 2 and "--feature 'agee': no such feature" in err and "did you mean 'age'" in err


def test_5_disable_unknown_feature_is_an_error(day: Path, dq_base: Path, report: Path, tmp_path: Path, capsys) -> None:
    cur = report.parent / "cur.csv"
    code, _, err = _cli(["run", cur, *_dq(dq_base), "-o", tmp_path / "r1", "--disable", "agee:data_type_check"], capsys)
    assert code == 2
    assert "--disable agee:data_type_check: no feature 'agee'" in err and "did you mean 'age'" in err
    assert not (tmp_path / "r1").exists()
    code, out, err = _cli(["run", cur, *_dq(dq_base), "-o", tmp_path / "r2", "--disable", "age:data_type_check", "--json"], capsys)
    assert code in (0, 1), err
    assert not [v for v in json.loads(out)["violations"] if v["feature_name"] == "age" and v["constraint_check_type"] == "data_type_check"]
    # '*' and the name of a column only the current data has are fine.
    pl.read_csv(cur, infer_schema=False).with_columns(pl.lit("x").alias("newcol")).write_csv(tmp_path / "cur2.csv")
    code, out, err = _cli(["run", tmp_path / "cur2.csv", *_dq(dq_base), "-o", tmp_path / "r3", "--json",
                           "--disable", "newcol:extra_column_check", "--disable", "*:data_type_check"], capsys)  # fmt: skip
    assert code in (0, 1), err
    assert not [v for v in json.loads(out)["violations"] if v["constraint_check_type"] in ("extra_column_check", "data_type_check")]


@pytest.mark.parametrize("command", ["run", "baseline", "violations", "capture-merge", "executions"])
def test_5_unknown_storage_key_is_an_error(command: str, tmp_path: Path, capsys) -> None:
    args = {
        "run": ["run", tmp_path / "x.csv", "-o", tmp_path / "o", "--baseline-statistics", "s", "--baseline-constraints", "c"],
        "baseline": ["baseline", tmp_path / "x.csv", "-o", tmp_path / "o"],
        "violations": ["violations", tmp_path],
        "capture-merge": ["capture-merge", "--capture", tmp_path, "-o", tmp_path / "o"],
        "executions": ["executions", tmp_path],
    }[command]
    code, _, err = _cli([*args, "-s", "endpoint=http://127.0.0.1:9"], capsys)
    assert code == 2
    assert "--storage-option endpoint=…: unknown key 'endpoint'" in err and "endpoint_url" in err and "anon" in err
    assert "http://127.0.0.1:9" not in err  # the value may be a secret: never echoed


# -- 4. baselines that do not fit together, misspelt keys, reserved column names --------------------


def test_4_statistics_and_constraints_of_different_baselines(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    pl.DataFrame({"x": ["1", "2", "3"], "y": ["a", "b", "c"]}).write_csv(tmp_path / "other.csv")
    code, _, err = _cli(["baseline", tmp_path / "other.csv", "-o", tmp_path / "other", "-q"], capsys)
    assert code == 0, err
    cur = tmp_path / "cur.csv"
    pl.read_csv(day / "train.csv").head(300).write_csv(cur)
    mixed = ["--baseline-statistics", dq_base / "statistics.json", "--baseline-constraints", tmp_path / "other" / "constraints.json"]
    code, out, err = _cli(["run", cur, *mixed, "-o", tmp_path / "r", "--json"], capsys)
    assert code == 2 and out == ""
    assert "share no feature: they are not the statistics and constraints of one baseline" in err
    # Partly different (a feature dropped from the constraints by hand): a warning naming it.
    cons = json.loads((dq_base / "constraints.json").read_text())
    cons["features"] = [f for f in cons["features"] if f["name"] != "balance"]
    (tmp_path / "c.json").write_text(json.dumps(cons))
    code, out, err = _cli(["run", cur, "--baseline-statistics", dq_base / "statistics.json", "--baseline-constraints",
                           tmp_path / "c.json", "-o", tmp_path / "r2", "--json"], capsys)  # fmt: skip
    assert code in (0, 1), err
    assert any("1 only in the statistics (balance)" in w for w in json.loads(out)["warnings"])
    # The twin: one baseline's own pair gives no such warning.
    code, out, err = _cli(["run", cur, *_dq(dq_base), "-o", tmp_path / "r3", "--json"], capsys)
    assert not any("same baseline" in w for w in json.loads(out)["warnings"])


@pytest.mark.parametrize(
    ("edit", "pointer", "hint"),
    [
        (lambda c: c["monitoring_config"]["distribution_constraints"].update(comparison_treshold=0.5),
         "/monitoring_config/distribution_constraints/comparison_treshold", "did you mean 'comparison_threshold'"),
        (lambda c: c["features"][1].update(completness=0.5), "/features/1/completness", "did you mean 'completeness'"),
        (lambda c: c["features"][1].update(monitoringConfigOverrides={"datatype_check_treshold": 0.5}),
         "/features/1/monitoringConfigOverrides/datatype_check_treshold", "did you mean 'datatype_check_threshold'"),
        (lambda c: c.update(monitoring_confg={}), "/monitoring_confg", "did you mean 'monitoring_config'"),
    ],
)
def test_4_misspelt_constraints_key_is_an_error(edit, pointer: str, hint: str, day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    cons = json.loads((dq_base / "constraints.json").read_text())
    edit(cons)
    (tmp_path / "c.json").write_text(json.dumps(cons))
    pl.read_csv(day / "train.csv").head(300).write_csv(tmp_path / "cur.csv")
    code, _, err = _cli(["run", tmp_path / "cur.csv", "--baseline-statistics", dq_base / "statistics.json",
                         "--baseline-constraints", tmp_path / "c.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code == 2
    assert f"c.json: unknown key '{pointer.rsplit('/', 1)[1]}' ({hint}?) at {pointer}" in err


def test_4_overrides_mmon_documents_are_still_accepted(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    """Every override spelling mmon.checks.config reads (SDK's, DG's, flat keys) passes the closed schema."""
    cons = json.loads((dq_base / "constraints.json").read_text())
    cons["features"][1]["monitoringConfigOverrides"] = {"comparison_threshold": 0.3}
    cons["features"][2]["monitoring_config_overrides"] = {"distribution_constraints": {"comparison_method": "Simple"}}
    cons["features"][3]["num_constraints"] = {"is_non_negative": True, "monitoring_config_overrides": {"emit_metrics": "Disabled"}}
    cons["features"][6]["string_constraints"]["monitoring_config_overrides"] = {"evaluate_constraints": "Disabled"}
    (tmp_path / "c.json").write_text(json.dumps(cons))
    pl.read_csv(day / "train.csv").head(300).write_csv(tmp_path / "cur.csv")
    code, _, err = _cli(["run", tmp_path / "cur.csv", "--baseline-statistics", dq_base / "statistics.json",
                         "--baseline-constraints", tmp_path / "c.json", "-o", tmp_path / "r", "-q"], capsys)  # fmt: skip
    assert code in (0, 1), err


def test_4_reserved_column_name(day: Path, tmp_path: Path, capsys) -> None:
    frame = pl.read_csv(day / "train.csv").head(500).with_columns(pl.lit("u").alias("__mmon_event_id"))
    frame.write_csv(tmp_path / "train.csv")
    code, out, err = _cli(["baseline", tmp_path / "train.csv", "-o", tmp_path / "b", "--json"], capsys)
    assert code == 0, err
    assert "'__mmon_event_id'" in err and "reserved" in err
    names = [f["name"] for f in json.loads((tmp_path / "b" / "statistics.json").read_text())["features"]]
    assert "__mmon_event_id" not in names and "age" in names  # baseline and run agree: left out
    # A baseline made elsewhere (SageMaker, an older mmon) that has such a feature: the run says so.
    cons = json.loads((tmp_path / "b" / "constraints.json").read_text())
    cons["features"].append({"name": "__mmon_event_id", "inferred_type": "String", "completeness": 1.0})
    (tmp_path / "c.json").write_text(json.dumps(cons))
    code, out, err = _cli(["run", tmp_path / "train.csv", "--baseline-statistics", tmp_path / "b" / "statistics.json",
                           "--baseline-constraints", tmp_path / "c.json", "-o", tmp_path / "r", "--json"], capsys)  # fmt: skip
    assert code in (0, 1), err
    assert any("baseline feature(s) '__mmon_event_id'" in w and "reserved" in w for w in json.loads(out)["warnings"])


# -- 13. the file of the wrong kind is the one named -------------------------------------------------


def test_13_wrong_kind_names_the_right_file(day: Path, dq_base: Path, mq_base: Path, tmp_path: Path, capsys) -> None:
    pl.read_csv(day / "train.csv").head(300).write_csv(tmp_path / "cur.csv")
    code, _, err = _cli(["run", tmp_path / "cur.csv", "--baseline-statistics", mq_base / "statistics.json",
                         "--baseline-constraints", dq_base / "constraints.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code == 2
    assert f"{mq_base / 'statistics.json'}: a model-quality statistics file, not data-quality statistics" in err
    assert str(dq_base / "constraints.json") not in err
    code, _, err = _cli(["run", tmp_path / "cur.csv", "--baseline-statistics", dq_base / "statistics.json",
                         "--baseline-constraints", mq_base / "constraints.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code == 2
    assert f"{mq_base / 'constraints.json'}: a model-quality constraints file, not data-quality constraints" in err
    assert str(dq_base / "statistics.json") not in err
    # And the other way round: a model-quality run given data-quality files names each.
    code, _, err = _cli(["run", tmp_path / "cur.csv", *MQ, "--baseline-constraints", mq_base / "constraints.json",
                         "--baseline-statistics", dq_base / "statistics.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code == 2 and str(dq_base / "statistics.json") in err and str(mq_base / "constraints.json") not in err


def test_4_reserved_names_match_capture_merge() -> None:
    from mmon.capture.flat import META_COLUMNS, META_PREFIX
    from mmon.own_files import MERGE_COLUMNS, RESERVED_PREFIX

    assert (RESERVED_PREFIX, MERGE_COLUMNS) == (META_PREFIX, META_COLUMNS)


def test_4_baseline_on_a_capture_merge_output_is_quiet(day: Path, tmp_path: Path, capsys) -> None:
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    code, _, err = _cli(["capture-merge", "--capture", capture, "-o", tmp_path / "m", "--start-time", "2024-01-01T00:00Z",
                         "--end-time", "2024-01-01T04:00Z", "--header-from", day / "train.csv", "-q"], capsys)  # fmt: skip
    assert code == 0, err
    code, _, err = _cli(["baseline", tmp_path / "m", "-o", tmp_path / "b"], capsys)
    assert code == 0, err
    assert "reserved" not in err
    names = [f["name"] for f in json.loads((tmp_path / "b" / "statistics.json").read_text())["features"]]
    assert not [n for n in names if n.startswith("__mmon_")] and "age" in names


# -- 12. user scripts' prints go to stderr, never into --json stdout --------------------------------


def test_12_postprocessor_prints_go_to_stderr(day: Path, dq_base: Path, tmp_path: Path, capsys) -> None:
    script = tmp_path / "post.py"
    script.write_text('print("loading my postprocessor")\n\ndef postprocess_handler():\n    print("posting to slack")\n')
    pl.read_csv(day / "train.csv").head(300).write_csv(tmp_path / "cur.csv")
    code, out, err = _cli(["run", tmp_path / "cur.csv", *_dq(dq_base), "-o", tmp_path / "r", "--json",
                           "--postprocessor", script], capsys)  # fmt: skip
    assert code in (0, 1), err
    assert json.loads(out)["postprocessor_error"] is None  # stdout is exactly one JSON document
    assert "loading my postprocessor" in err and "posting to slack" in err


def test_12_preprocessor_prints_go_to_stderr(day: Path, tmp_path: Path, capsys) -> None:
    script = tmp_path / "pre.py"
    script.write_text(
        'print("loading my preprocessor")\n\n'
        "def preprocess_handler(inference_record):\n"
        '    print("seen", inference_record.event_metadata.event_id)\n'
        '    return {"x": inference_record.endpoint_output.data}\n'
    )
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    code, out, err = _cli(["capture-merge", "--capture", capture, "-o", tmp_path / "m", "--scheduled-time", "2024-01-01T02:00Z",
                           "--preprocessor", script, "--json"], capsys)  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["output"]["rows"] == 60
    assert "loading my preprocessor" in err and err.count("seen ") == 60


def test_12_model_script_prints_go_to_stderr(tmp_path: Path, capsys) -> None:
    model = tmp_path / "model.py"
    model.write_text(
        "import numpy as np\nprint('model loaded')\n\n"
        "def predict(rows):\n    print('scoring', len(rows))\n"
        "    x = np.asarray(rows, dtype=float)\n    return x[:, 0] * 0.5 + x[:, 1] * 0.25\n"
    )
    rng = np.random.default_rng(0)
    pl.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)}).write_csv(tmp_path / "d.csv")
    cfg = {"headers": ["a", "b"], "methods": {"shap": {"num_samples": 20, "agg_method": "mean_abs",
           "baseline": [[0.0, 0.0]]}}}  # fmt: skip
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    fa = ["--type", "feature-attribution", "--model", f"{model}:predict", "--config", tmp_path / "cfg.json"]
    code, out, err = _cli(["baseline", tmp_path / "d.csv", *fa, "-o", tmp_path / "b", "--json"], capsys)
    assert code == 0, err + out
    assert json.loads(out)["type"] == "feature-attribution" and "model loaded" in err
    code, out, err = _cli(["run", tmp_path / "d.csv", *fa, "--baseline-constraints", tmp_path / "b" / "analysis.json",
                           "-o", tmp_path / "r", "--json"], capsys)  # fmt: skip
    assert code in (0, 1), err
    assert json.loads(out)["type"] == "feature-attribution"
    assert "scoring" in err


# -- 6. two monitors printed without --name share nothing -------------------------------------------


def _monitor(output: str, *extra: str) -> list[str]:
    return ["--", "run", "--capture", "s3://b/capture/churn/AllTraffic", "--baseline-statistics", "s3://b/base/statistics.json",
            "--baseline-constraints", "s3://b/base/constraints.json", "--output", output, *extra]  # fmt: skip


def test_6_two_monitors_get_distinct_names(capsys) -> None:
    import shlex

    entries = {}
    for key, args in {
        "hourly": _monitor("s3://b/reports/churn/hourly"),
        "daily": _monitor("s3://b/reports/churn/daily"),
        "other-bucket": _monitor("s3://c/reports/churn/hourly"),
    }.items():
        code, out, err = _cli(["schedule-print", "hourly", "--as", "json", "--workdir", "/srv", *args], capsys)
        assert code == 0, err
        entries[key] = json.loads(out)
    locks, logs = set(), set()
    for doc in entries.values():
        words = shlex.split(doc["crontab"].split(None, 5)[5].split(";", 1)[0])
        locks.add(words[words.index("-E") + 2])
        logs.add(words[words.index(">>") + 1])
    assert len(locks) == 3 and len(logs) == 3 and "/tmp/mmon.lock" not in locks and "mmon.log" not in logs
    names = set()
    for fmt in ("kubernetes", "systemd"):
        for args in (_monitor("s3://b/reports/churn/hourly"), _monitor("s3://b/reports/churn/daily")):
            code, out, err = _cli(["schedule-print", "hourly", "--as", fmt, "-q", *args], capsys)
            assert code == 0, err
            line = next(ln for ln in out.splitlines() if ln.startswith(("  name:", "# ---- ")))
            names.add(line)
    assert len(names) == 4 and not any('"mmon"' in n or "mmon.service" in n for n in names)


# -- 9. the crontab on stdout installs as is; the entries and --help examples run -------------------


def test_9_crontab_stdout_is_only_the_crontab(tmp_path: Path, capsys) -> None:
    from croniter import croniter

    code, out, err = _cli(["schedule-print", "hourly", "--workdir", "/srv", *_monitor("s3://b/reports/churn")], capsys)
    assert code == 0, err
    assert "scheduled time" in err and "window start" in err  # the table, for the eye, on stderr
    lines = [ln for ln in out.splitlines() if ln.strip()]
    cron_lines = [ln for ln in lines if not ln.startswith("#") and not ln.startswith("CRON_TZ=")]
    assert "CRON_TZ=UTC" in lines and len(cron_lines) == 1
    assert croniter.is_valid(" ".join(cron_lines[0].split()[:5]))
    assert all(ln.startswith(("#", "CRON_TZ=")) or ln in cron_lines for ln in lines)


def test_9_an_entry_that_would_always_fail_is_refused(capsys) -> None:
    code, out, err = _cli(["schedule-print", "hourly", "--", "run", "--capture", "cap/", "-o", "out/"], capsys)
    assert code == 2 and out == ""
    assert "every scheduled run would fail: the data-quality run needs --baseline-statistics, --baseline-constraints" in err
    code, _, err = _cli(["schedule-print", "hourly", "--", "run", "--capture", "cap/", "-o", "out/", "--type", "model-quality",
                         "--baseline-constraints", "mq/constraints.json"], capsys)  # fmt: skip
    assert code == 2 and "needs --problem-type" in err
    code, _, err = _cli(["schedule-print", "hourly", "--", "run", "--capture", "cap/", "--baseline-statistics", "s",
                         "--baseline-constraints", "c"], capsys)  # fmt: skip
    assert code == 2 and "Missing option '--output'" in err
    code, _, err = _cli(["schedule-print", "hourly", "--", "run", "--capture", "cap/", "-o", "o", "--baseline-statistics", "s",
                         "--baseline-constraints", "c", "--drift-tset", "ks"], capsys)  # fmt: skip
    assert code == 2 and "--drift-tset" in err


def test_6_readme_shows_the_name_mmon_gives() -> None:
    from mmon.schedule.emit import default_name

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    name = default_name(["--capture", "s3://bucket/capture/churn/AllTraffic",
                         "--baseline-statistics", "s3://bucket/baseline/statistics.json",
                         "--baseline-constraints", "s3://bucket/baseline/constraints.json",
                         "--output", "s3://bucket/reports/churn/hourly"])  # fmt: skip
    assert f"/tmp/{name}.lock" in readme and f"(`{name}`)" in readme


@pytest.mark.slow
def test_1_capture_root_on_s3(day: Path, dq_base: Path, s3_store, s3_bucket: str, s3_options: dict[str, str], capsys) -> None:
    """On S3 a prefix exists when an object lies below it: a typo is exit 2, an empty hour is no traffic."""
    opts = [x for k, v in s3_options.items() for x in ("-s", f"{k}={v}")]
    for p in (day / "datacapture").rglob("*.jsonl"):
        rel = p.relative_to(day).as_posix()
        if "/2024/01/01/01/" in rel:
            s3_store.write_bytes(f"{s3_bucket}/{rel}", p.read_bytes())
    common = ["--scheduled-time", "2024-01-01T02:00:00Z", *_dq(dq_base), "-o", f"{s3_bucket}/reports", "--json", *opts]
    typo = f"{s3_bucket}/datacapture/demo-endpoint/AllTrafic"
    code, _, err = _cli(["run", "--capture", typo, *common], capsys)
    assert code == 2 and f"--capture {typo}: no such folder (no object under this prefix)" in err
    code, out, err = _cli(["run", "--capture", f"{s3_bucket}/datacapture/demo-endpoint/AllTraffic", *common], capsys)
    assert code in (0, 1), err
    assert json.loads(out)["item_count"] == 60
    common[1] = "2024-01-01T05:00:00Z"  # an hour without traffic under an existing prefix
    code, out, err = _cli(["run", "--capture", f"{s3_bucket}/datacapture/demo-endpoint/AllTraffic", *common], capsys)
    assert code == 0, err
    assert json.loads(out)["item_count"] == 0 and "no capture files in the window" in err


def test_7_scheduled_bias_and_attribution_empty_windows_complete(day: Path, tmp_path: Path, capsys) -> None:
    """Bias with no label matched yet, feature attribution over an hour without traffic: Completed, not Failed."""
    cfg = {"label": "approved", "label_values_or_threshold": [1],
           "facet": [{"name_or_index": "group", "value_or_threshold": ["a"]}], "probability_threshold": 0.5,
           "headers": ["x", "y"],
           "methods": {"pre_training_bias": {"methods": ["CI"]}, "shap": {"baseline": [[0.0, 0.0]], "num_samples": 10}}}  # fmt: skip
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    rng = np.random.default_rng(0)
    pl.DataFrame({"group": rng.choice(["a", "b"], 300), "approved": rng.integers(0, 2, 300)}).write_csv(tmp_path / "train.csv")
    code, _, err = _cli(["baseline", tmp_path / "train.csv", "--type", "bias", "--config", tmp_path / "cfg.json", "-o", tmp_path / "b", "-q"], capsys)
    assert code == 0, err
    model = tmp_path / "m.py"
    model.write_text("import numpy as np\n\ndef predict(rows):\n    return np.asarray(rows, dtype=float).sum(axis=1)\n")
    pl.DataFrame({"x": rng.normal(size=50), "y": rng.normal(size=50)}).write_csv(tmp_path / "fa.csv")
    fa = ["--type", "feature-attribution", "--model", f"{model}:predict", "--config", tmp_path / "cfg.json"]
    code, _, err = _cli(["baseline", tmp_path / "fa.csv", *fa, "-o", tmp_path / "fa", "-q"], capsys)
    assert code == 0, err
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    runs = {
        "bias": ["--ground-truth", day / "groundtruth", "--type", "bias", "--config", tmp_path / "cfg.json",
                 "--baseline-constraints", tmp_path / "b" / "analysis.json", "--scheduled-time", "2024-01-01T02:00:00Z"],
        "fa": [*fa, "--baseline-constraints", tmp_path / "fa" / "analysis.json", "--scheduled-time", "2024-02-01T02:00:00Z"],
    }  # fmt: skip
    for name, args in runs.items():
        code, out, err = _cli(["run", "--capture", capture, *args, "-o", tmp_path / f"r-{name}", "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)["status"] == "NotJudged"
        (record,) = (tmp_path / f"r-{name}").glob("20*/*/*/*/execution.json")
        doc = json.loads(record.read_text())
        assert doc["status"] == "Completed" and "nothing judged" in doc["message"], doc


def test_5_data_quality_options_on_another_type_are_an_error(mq_base: Path, tmp_path: Path, capsys) -> None:
    for extra in (["--disable", "age:data_type_check"], ["--drift-test", "psi=0.2"], ["--postprocessor", "p.py"]):
        code, _, err = _cli(["run", tmp_path, *MQ, "--baseline-constraints", mq_base / "constraints.json", "-o", tmp_path / "r", *extra], capsys)
        assert code == 2 and f"{extra[0]}: data-quality options, not for --type model-quality" in err


def test_5_schedule_options_without_a_scheduled_time_are_an_error(dq_base: Path, tmp_path: Path, capsys) -> None:
    for extra, message in (
        (["--schedule-expression", "hourly"], "--schedule-expression need --scheduled-time"),
        (["--start-offset", "-PT2H", "--end-offset", "-PT1H"], "--start-offset, --end-offset need --scheduled-time"),
        (["--scheduled-time", "2024-01-01T02:00:00Z", "--metric-time", "2024-01-01T02:00:00Z"], "--metric-time does not go"),
    ):
        code, _, err = _cli(["run", tmp_path, *_dq(dq_base), "-o", tmp_path / "r", *extra], capsys)
        assert code == 2 and message in err
