"""mmon violations: reads SageMaker's reports of every generation; exit code from the report."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clihelp import run_cli


def test_sagemaker_data_quality_report(shared_dir: Path, capsys) -> None:
    report = shared_dir / "dq-constraint_violations.old-format.sdk-test.json"
    code, out, _ = run_cli(["violations", report], capsys)
    assert code == 1
    assert "fare_amount" in out and "data_type_check" in out
    code, out, _ = run_cli(["violations", report, "--json"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["count"] == doc["total"] == len(json.loads(report.read_text())["violations"])


def test_filters(shared_dir: Path, capsys) -> None:
    report = shared_dir / "dq-constraint_violations.old-format.sdk-test.json"
    code, out, _ = run_cli(["violations", report, "--json", "-c", "data_type_check"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["count"] == 5 and {v["constraint_check_type"] for v in doc["violations"]} == {"data_type_check"}
    code, out, _ = run_cli(["violations", report, "--json", "--feature", "extra", "-c", "completeness_check"], capsys)
    assert code == 0 and json.loads(out)["count"] == 0


def test_model_quality_report_names_metrics(shared_dir: Path, capsys) -> None:
    code, out, _ = run_cli(["violations", shared_dir / "mq-constraint_violations.binary.2021-05.reconstructed.json"], capsys)
    assert code == 1
    assert "LessThanThreshold" in out or "GreaterThanThreshold" in out


def test_clean_report_and_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "constraint_violations.json").write_text('{"violations": []}')
    code, out, _ = run_cli(["violations", tmp_path], capsys)
    assert code == 0 and "No violations" in out


def test_invalid_report_names_pointer(tmp_path: Path, capsys) -> None:
    (tmp_path / "constraint_violations.json").write_text('{"violations": [{"feature_name": "a"}]}')
    code, _, err = run_cli(["violations", tmp_path], capsys)
    assert code == 2
    assert "constraint_violations.json" in err and "/violations/0" in err
