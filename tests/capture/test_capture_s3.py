"""``capture-merge`` against a real S3 server (SeaweedFS, started by tests/conftest.py)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from mmon.capture import layout
from mmon.capture.flat import META_COLUMNS
from mmon.capture.merge import capture_merge
from mmon.capture.synth import write_capture
from mmon.capture.window import Window, parse_time
from mmon.errors import InputError
from mmon.store import Store
from tests.capture.capture_merge_cli import capture_merge_cli

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "capture"
HOUR0 = Window(parse_time("2022-04-18T00:00Z"), parse_time("2022-04-18T01:00Z"))


def upload_fixtures(store: Store, bucket: str) -> str:
    for p in sorted(FIX.rglob("*.jsonl")):
        store.write_bytes(f"{bucket}/fx/{p.relative_to(FIX).as_posix()}", p.read_bytes())
    return f"{bucket}/fx"


def test_fixture_counts_on_s3(s3_store: Store, s3_bucket: str) -> None:
    fx = upload_fixtures(s3_store, s3_bucket)
    s = capture_merge(s3_store, f"{fx}/endpoint-csv", f"{s3_bucket}/out", HOUR0, ground_truth=f"{fx}/groundtruth",
                      ground_truth_lookahead=timedelta(hours=1))  # fmt: skip
    assert (s.files, s.records, s.malformed_lines, s.in_window, s.duplicates, s.kept) == (2, 12, 4, 6, 1, 5)
    assert (s.labels, s.matched, s.captured_without_label, s.labels_without_capture) == (4, 3, 2, 1)
    assert s.problems[0].file.startswith("s3://") and s.problems[0].line == 4  # the ground-truth file's bad line
    merged = [json.loads(x) for x in s3_store.read_text(f"{s3_bucket}/out/{s.part_names[0]}").splitlines()]
    assert len(merged) == 3 and all("groundTruthData" in m for m in merged)
    summary = json.loads(s3_store.read_text(f"{s3_bucket}/out/merge_summary.json"))
    assert summary["ground_truth"]["matched"] == 3


def test_synthetic_day_on_s3_parquet_and_rerun(s3_store: Store, s3_bucket: str) -> None:
    n, per_hour = 240, 40
    inputs = pl.DataFrame({"x": [str(i) for i in range(n)], "y": [f"{i / 7:.3f}" for i in range(n)]})
    r = write_capture(
        s3_store, f"{s3_bucket}/datacapture/ep/AllTraffic", inputs, [i % 2 for i in range(n)],
        datetime(2024, 2, 1, 0, tzinfo=UTC), per_hour, ground_truth=f"{s3_bucket}/gt", labels=[1] * n,
        label_fraction=1.0, label_delay=timedelta(minutes=30), files_per_hour=2, seed=3,
    )  # fmt: skip
    assert (r.files, r.hours) == (12, 6)
    w = Window(parse_time("2024-02-01T02:00Z"), parse_time("2024-02-01T03:00Z"))
    out = f"{s3_bucket}/merged/h2"
    s = capture_merge(s3_store, f"{s3_bucket}/datacapture", out, w, fmt="parquet")
    assert (s.hour_folders, s.files, s.rows) == (1, 2, 40)
    df = pl.read_parquet(io.BytesIO(s3_store.read_bytes(f"{out}/{s.part_names[0]}")))
    assert df.columns == ["_c0", "_c1", "_c2", *META_COLUMNS]
    assert df["_c1"].to_list() == [str(i) for i in range(80, 120)]
    first = s3_store.read_bytes(f"{out}/{s.part_names[0]}")
    s = capture_merge(s3_store, f"{s3_bucket}/datacapture", out, w, fmt="parquet")
    assert s3_store.read_bytes(f"{out}/{s.part_names[0]}") == first
    # Labels filed 30 min after their predictions: half of them land in the next hour's folder.
    s = capture_merge(s3_store, f"{s3_bucket}/datacapture", f"{s3_bucket}/mq", w, ground_truth=f"{s3_bucket}/gt",
                      flat=True, fmt="parquet")  # fmt: skip
    assert s.matched < 40 and s.matched + s.captured_without_label == 40
    s = capture_merge(s3_store, f"{s3_bucket}/datacapture", f"{s3_bucket}/mq", w, ground_truth=f"{s3_bucket}/gt",
                      flat=True, fmt="parquet", ground_truth_lookahead=timedelta(hours=1))  # fmt: skip
    assert (s.matched, s.captured_without_label) == (40, 0)


def test_only_window_folders_are_listed_on_s3(s3_store: Store, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = pl.DataFrame({"x": [str(i) for i in range(60)]})
    write_capture(s3_store, f"{s3_bucket}/cap/ep/v", inputs, [0.5] * 60, datetime(2024, 3, 1, tzinfo=UTC), 10, seed=1)
    listed: list[str] = []
    real = layout._list_files
    monkeypatch.setattr(layout, "_list_files", lambda store, folder: listed.append(folder) or real(store, folder))
    w = Window(parse_time("2024-03-01T04:00Z"), parse_time("2024-03-01T05:00Z"))
    s = capture_merge(s3_store, f"{s3_bucket}/cap/ep/v", f"{s3_bucket}/o", w)
    assert s.rows == 10 and listed == [f"{s3_bucket}/cap/ep/v/2024/03/01/04"]


def test_malformed_file_on_s3_and_strict(s3_store: Store, s3_bucket: str) -> None:
    s3_store.write_bytes(f"{s3_bucket}/cap/2022/04/18/00/bad.jsonl", b"\x00\x01garbage\n{\"eventVersion\": \"0\"}\n")
    s = capture_merge(s3_store, f"{s3_bucket}/cap", f"{s3_bucket}/o", HOUR0)
    assert (s.records, s.malformed_lines, s.rows) == (2, 2, 0)
    with pytest.raises(InputError, match=r"bad\.jsonl:1"):
        capture_merge(s3_store, f"{s3_bucket}/cap", f"{s3_bucket}/o2", HOUR0, strict=True)


def test_cli_on_s3_with_storage_options(s3_options: dict[str, str], s3_store: Store, s3_bucket: str) -> None:
    fx = upload_fixtures(s3_store, s3_bucket)
    opts = [x for k, v in s3_options.items() for x in ("--storage-option", f"{k}={v}")]
    code, out, err = capture_merge_cli("--capture", f"{fx}/endpoint-csv/AllTraffic", "--output", f"{s3_bucket}/cli",
                                       "--scheduled-time", "2022-04-18T01:00:00Z", "--json", *opts)  # fmt: skip
    assert code == 0, out + err
    assert json.loads(out)["capture"]["kept"] == 5
    assert s3_store.exists(f"{s3_bucket}/cli/{json.loads(out)['output']['parts'][0]}")
