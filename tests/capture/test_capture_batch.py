"""``capture_merge`` on a batch-transform capture destination (formats reference §5.3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmon.capture import batch
from mmon.capture.flat import META_COLUMNS
from mmon.capture.merge import capture_merge
from mmon.capture.window import Window, parse_time
from mmon.errors import InputError
from mmon.store import Store
from tests.capture.capture_merge_cli import capture_merge_cli as cli
from tests.capture_parts import one_part

HOUR0 = Window(parse_time("2022-08-30T00:00Z"), parse_time("2022-08-30T01:00Z"))
HOUR1 = Window(parse_time("2022-08-30T01:00Z"), parse_time("2022-08-30T02:00Z"))
FLAT_COLUMNS = ["_c0", "_c1", "_c2", "_c3", *META_COLUMNS]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_dest(
    tmp: Path,
    inputs: dict[str, str],
    outputs: dict[str, str],
    hour: str = "2022/08/30/00",
    manifest: str = "transform-job-manifest",
) -> Path:
    """A DataCaptureConfig destination: input/ and output/ manifests pointing at the data files."""
    dest = tmp / "datacapture"
    for side, files in (("input", inputs), ("output", outputs)):
        data = tmp / f"{side}-data"
        for name, text in files.items():
            write(data / name, text)
        write(dest / side / hour / manifest, json.dumps([{"prefix": f"{data}/"}, *files]))
    return dest


IN = {"dummy_0.csv": "1,a,3.5\n2,,4.0\n", "dummy_1.csv": "5,c,6.0\n"}
OUT = {
    "dummy_0.csv.out": "0.1,11111111-aaaa,2022-08-30T00:49:15Z\n0.9,22222222-bbbb,2022-08-30T00:49:16Z\n",
    "dummy_1.csv.out": "0.5,33333333-cccc,2022-08-30T00:50:00Z\n",
}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_detects_batch_capture_only(tmp_path: Path) -> None:
    dest = make_dest(tmp_path, IN, OUT)
    assert batch.is_batch_capture(Store(), str(dest))
    endpoint = Path(__file__).resolve().parents[2] / "fixtures" / "capture" / "endpoint-csv"
    assert not batch.is_batch_capture(Store(), str(endpoint))
    # year folders under input/ holding endpoint capture records are not a batch destination
    write(tmp_path / "ep" / "input" / "2022/08/30/00" / "00-00-000-x.jsonl", '{"captureData": {}}\n')
    assert not batch.is_batch_capture(Store(), str(tmp_path / "ep"))
    assert batch.parse_manifest(b'[{"prefix": "s3://b/in/"}, "dummy_0.csv"]') == (
        "s3://b/in/",
        ["dummy_0.csv"],
    )
    assert batch.parse_manifest(b'["dummy_0.csv"]') is None


def test_flat_table_with_inference_ids(tmp_path: Path) -> None:
    dest = make_dest(tmp_path, IN, OUT)
    out = tmp_path / "out"
    s = capture_merge(Store(), str(dest), str(out), HOUR0)
    assert (s.hour_folders, s.files, s.records, s.malformed_lines) == (2, 4, 3, 0)
    assert (s.outside_window, s.in_window, s.duplicates, s.kept, s.rows) == (0, 3, 0, 3, 3)
    rows = read_jsonl(one_part(out, "jsonl"))
    assert list(rows[0]) == FLAT_COLUMNS
    assert [[r[c] for c in FLAT_COLUMNS] for r in rows] == [
        ["0.1", "1", "a", "3.5", "11111111-aaaa", "11111111-aaaa", "2022-08-30T00:49:15Z"],
        ["0.9", "2", None, "4.0", "22222222-bbbb", "22222222-bbbb", "2022-08-30T00:49:16Z"],
        ["0.5", "5", "c", "6.0", "33333333-cccc", "33333333-cccc", "2022-08-30T00:50:00Z"],
    ]
    summary = json.loads((out / "merge_summary.json").read_text())
    assert summary["capture"]["files"] == 4 and summary["output"]["rows"] == 3


def test_rows_filtered_by_inference_time_and_header_from(tmp_path: Path) -> None:
    dest = make_dest(tmp_path, IN, OUT)
    header = write(tmp_path / "header.csv", "score,id,cat,x\n1,2,3,4\n")
    window = Window(parse_time("2022-08-30T00:49:16Z"), parse_time("2022-08-30T00:50:00Z"))
    s = capture_merge(Store(), str(dest), str(tmp_path / "out"), window, header_from=str(header))
    assert (s.records, s.outside_window, s.in_window, s.rows) == (3, 2, 1, 1)
    assert read_jsonl(one_part(tmp_path / "out", "jsonl")) == [
        {"score": "0.9", "id": "2", "cat": None, "x": "4.0", "__mmon_event_id": "22222222-bbbb",
         "__mmon_inference_id": "22222222-bbbb", "__mmon_inference_time": "2022-08-30T00:49:16Z"},
    ]  # fmt: skip


def test_window_outside_the_job_hour_is_empty(tmp_path: Path) -> None:
    dest = make_dest(tmp_path, IN, OUT)
    s = capture_merge(Store(), str(dest), str(tmp_path / "out"), HOUR1)
    assert (s.hour_folders, s.files, s.records, s.rows) == (2, 0, 0, 0)
    assert s.warnings and "no batch-transform manifests" in s.warnings[0]
    assert one_part(tmp_path / "out", "jsonl").read_text() == ""


def test_misaligned_output_is_malformed(tmp_path: Path) -> None:
    out_files = {
        **OUT,
        "dummy_1.csv.out": OUT["dummy_1.csv.out"] + "0.7,44444444-dddd,2022-08-30T00:50:01Z\n",
    }
    dest = make_dest(tmp_path, IN, out_files)
    s = capture_merge(Store(), str(dest), str(tmp_path / "out"), HOUR0)
    assert (s.files, s.records, s.malformed_lines, s.in_window, s.rows) == (4, 4, 2, 2, 2)
    assert len(s.problems) == 1 and s.problems[0].file.endswith("dummy_1.csv.out")
    assert "2 row(s) but its input" in s.problems[0].reason
    with pytest.raises(InputError, match="cannot be aligned"):
        capture_merge(Store(), str(dest), str(tmp_path / "out2"), HOUR0, strict=True)


def test_missing_output_file_is_malformed(tmp_path: Path) -> None:
    dest = make_dest(tmp_path, IN, {"dummy_0.csv.out": OUT["dummy_0.csv.out"]})
    s = capture_merge(Store(), str(dest), str(tmp_path / "out"), HOUR0)
    assert (s.files, s.malformed_lines, s.rows) == (3, 1, 2)
    assert "no output file dummy_1.csv.out" in s.problems[0].reason


def test_without_inference_ids_meta_is_null(tmp_path: Path) -> None:
    dest = make_dest(tmp_path, IN, {"dummy_0.csv.out": "0.1\n0.9\n", "dummy_1.csv.out": "0.5\n"})
    s = capture_merge(Store(), str(dest), str(tmp_path / "out"), HOUR0)
    rows = read_jsonl(one_part(tmp_path / "out", "jsonl"))
    assert s.rows == 3 and [r["_c0"] for r in rows] == ["0.1", "0.9", "0.5"]
    assert all(r[c] is None for r in rows for c in META_COLUMNS)


def test_json_lines_with_inference_keys(tmp_path: Path) -> None:
    inputs = {"a.jsonl": '{"age": 41, "plan": "x"}\n{"age": 30, "plan": "y"}\n'}
    outputs = {"a.jsonl.out": '{"score": 0.2, "SageMakerInferenceId": "u1", "SageMakerInferenceTime": "2022-08-30T00:10:00Z"}\n'
                              '{"score": 0.8, "SageMakerInferenceId": "u2", "SageMakerInferenceTime": "2022-08-30T00:11:00Z"}\n'}  # fmt: skip
    dest = make_dest(tmp_path, inputs, outputs)
    capture_merge(Store(), str(dest), str(tmp_path / "out"), HOUR0)
    rows = read_jsonl(one_part(tmp_path / "out", "jsonl"))
    assert list(rows[0]) == ["score", "age", "plan", *META_COLUMNS]
    assert [(r["score"], r["age"], r["plan"], r["__mmon_inference_id"]) for r in rows] == [
        (0.2, 41, "x", "u1"),
        (0.8, 30, "y", "u2"),
    ]


def test_ground_truth_joins_on_inference_id(tmp_path: Path) -> None:
    dest = make_dest(tmp_path, IN, OUT)
    gt = tmp_path / "gt"
    write(gt / "2022/08/30/00/labels.jsonl", "\n".join(
        json.dumps({"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": eid}, "eventVersion": "0"})
        for eid, label in (("11111111-aaaa", "0"), ("33333333-cccc", "1"), ("99999999-zzzz", "1"))
    ) + "\n")  # fmt: skip
    s = capture_merge(Store(), str(dest), str(tmp_path / "out"), HOUR0, ground_truth=str(gt), flat=True)
    assert (s.matched, s.captured_without_label, s.labels_without_capture) == (2, 1, 1)
    rows = read_jsonl(one_part(tmp_path / "out", "jsonl"))
    assert [(r["prediction"], r["label"], r["_c1"], r["__mmon_inference_id"]) for r in rows] == [
        ("0.1", "0", "1", "11111111-aaaa"),
        ("0.5", "1", "5", "33333333-cccc"),
    ]
    with pytest.raises(InputError, match="batch-transform capture"):
        capture_merge(Store(), str(dest), str(tmp_path / "out"), HOUR0, ground_truth=str(gt))


def test_cli(tmp_path: Path) -> None:
    out_files = {**OUT, "dummy_1.csv.out": OUT["dummy_1.csv.out"] * 2}
    dest = make_dest(tmp_path, IN, out_files)
    out = tmp_path / "out"
    code, stdout, err = cli("--capture", str(dest), "--output", str(out), "--start-time", "2022-08-30T00:00Z",
                            "--end-time", "2022-08-30T01:00Z", "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["status"] == "ok" and doc["output"]["rows"] == 2 and doc["capture"]["malformed_lines"] == 2
    assert doc["output"]["columns"] == FLAT_COLUMNS
    assert len(read_jsonl(one_part(out, "jsonl"))) == 2
    code, _, _ = cli("--capture", str(dest), "--output", str(tmp_path / "o2"), "--start-time", "2022-08-30T00:00Z",
                     "--end-time", "2022-08-30T01:00Z", "--strict", "--quiet")  # fmt: skip
    assert code == 2


def test_json_output_joined_with_input_gives_a_row_per_instance() -> None:
    out = {"SageMakerInferenceId": "id-1", "SageMakerInferenceTime": "2022-08-30T00:10:00Z",
           "SageMakerOutput": {"predictions": [{"score": 0.2}, {"score": 0.9}]},
           "instances": [{"features": [1, 2]}, {"features": [3, 4]}]}  # fmt: skip
    frame, ids, times, docs = batch.read_rows(json.dumps(out).encode(), "o")
    assert frame.to_dicts() == [{"o:score": 0.2, "i#0": 1, "i#1": 2}, {"o:score": 0.9, "i#0": 3, "i#1": 4}]
    assert ids == ["id-1", "id-1"] and times == ["2022-08-30T00:10:00Z"] * 2 and docs == [0, 0]
    out["instances"] = out["instances"][:1]
    with pytest.raises(ValueError, match="2 prediction\\(s\\) but the joined input has 1 instance"):
        batch.read_rows(json.dumps(out).encode(), "o")
    frame, *_ = batch.read_rows(b'{"instances": [[1, 2], [3, 4]]}\n{"instances": [[5, 6]]}\n', "i")
    assert frame.to_dicts() == [{"i#0": 1, "i#1": 2}, {"i#0": 3, "i#1": 4}, {"i#0": 5, "i#1": 6}]
