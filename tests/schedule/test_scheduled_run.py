"""mmon run --capture --scheduled-time: 24 hourly executions over a day of capture, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmon.capture.synth import demo
from mmon.demo import make_frame
from tests.clihelp import run_cli


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("day")
    demo(str(root), hours=24, records_per_hour=120)
    make_frame(5000, seed=7).write_csv(root / "train.csv")
    return root


def test_a_day_of_hourly_executions(day: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["baseline", day / "train.csv", "-o", tmp_path / "base", "-q"], capsys)
    assert code == 0, err
    capture = day / "datacapture" / "demo-endpoint" / "AllTraffic"
    expected = {}
    for hour in range(1, 25):
        t = f"2024-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z"
        code, out, err = run_cli(
            ["run", "--capture", capture, "--scheduled-time", t, "--schedule-expression", "hourly",
             "--baseline-statistics", tmp_path / "base" / "statistics.json",
             "--baseline-constraints", tmp_path / "base" / "constraints.json",
             "-o", tmp_path / "reports", "--endpoint", "demo-endpoint", "--json", "-q"],
            capsys,
        )  # fmt: skip
        assert code in (0, 1), err
        doc = json.loads(out)
        assert doc["item_count"] == 120
        assert doc["execution"]["scheduled_time"] == t
        expected[t] = doc["violation_count"]
    folders = sorted(p.relative_to(tmp_path / "reports") for p in (tmp_path / "reports").glob("2024/*/*/*"))
    assert len(folders) == 24
    for f in folders:
        assert (tmp_path / "reports" / f / "constraint_violations.json").exists()
    # The drift starts at hour 12 (window 12:00-13:00, scheduled at 13:00): clean before, violations after.
    assert all(expected[t] == 0 for t in expected if t < "2024-01-01T13")
    assert all(expected[t] > 0 for t in expected if t >= "2024-01-01T13")
    code, out, _ = run_cli(["executions", tmp_path / "reports", "--json"], capsys)
    assert code == 0
    listing = json.loads(out)
    rows = listing["executions"] if isinstance(listing, dict) else listing
    assert {r["scheduled_time"]: r["violations"] for r in rows} == expected
    assert {r["status"] for r in rows} == {"Completed", "CompletedWithViolations"}
    # A rerun of one hour replaces only that hour.
    before = (tmp_path / "reports" / "2024" / "01" / "01" / "05" / "statistics.json").stat().st_mtime_ns
    code, _, err = run_cli(
        ["run", "--capture", capture, "--scheduled-time", "2024-01-01T20:00:00Z",
         "--baseline-statistics", tmp_path / "base" / "statistics.json",
         "--baseline-constraints", tmp_path / "base" / "constraints.json", "-o", tmp_path / "reports", "-q"],
        capsys,
    )  # fmt: skip
    assert code == 1, err
    assert (tmp_path / "reports" / "2024" / "01" / "01" / "05" / "statistics.json").stat().st_mtime_ns == before


def test_scheduled_run_on_s3(day: Path, s3_store, s3_bucket: str, s3_options: dict[str, str], tmp_path: Path, capsys) -> None:
    opts = [x for k, v in s3_options.items() for x in ("-s", f"{k}={v}")]
    for p in (day / "datacapture").rglob("*.jsonl"):
        rel = p.relative_to(day).as_posix()
        if "/2024/01/01/17/" in rel:
            s3_store.write_bytes(f"{s3_bucket}/{rel}", p.read_bytes())
    code, _, err = run_cli(["baseline", day / "train.csv", "-o", f"{s3_bucket}/base", "-q", *opts], capsys)
    assert code == 0, err
    code, out, err = run_cli(
        ["run", "--capture", f"{s3_bucket}/datacapture/demo-endpoint/AllTraffic", "--scheduled-time",
         "2024-01-01T18:00:00Z", "--baseline-statistics", f"{s3_bucket}/base/statistics.json",
         "--baseline-constraints", f"{s3_bucket}/base/constraints.json", "-o", f"{s3_bucket}/reports", "--json", *opts],
        capsys,
    )  # fmt: skip
    assert code == 1, err
    assert {v["feature_name"] for v in json.loads(out)["violations"]} >= {"age"}
    assert s3_store.exists(f"{s3_bucket}/reports/2024/01/01/18/constraint_violations.json")
    assert s3_store.exists(f"{s3_bucket}/reports/2024/01/01/18/execution.json")


def test_capture_needs_a_scheduled_time(day: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(
        ["run", "--capture", day / "datacapture", "--baseline-statistics", "s.json", "--baseline-constraints", "c.json", "-o", tmp_path],
        capsys,
    )
    assert code == 2 and "--scheduled-time" in err
