"""``capture_merge`` and ``mmon capture-merge`` on local disk."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from mmon.capture import layout, merge
from mmon.capture.flat import META_COLUMNS
from mmon.capture.merge import capture_merge
from mmon.capture.synth import write_capture
from mmon.capture.window import Window, parse_time
from mmon.errors import InputError
from mmon.store import Store
from tests.capture.capture_merge_cli import capture_merge_cli as cli
from tests.capture_parts import one_part, parts

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "capture"
CAPTURE = str(FIX / "endpoint-csv")
GT = str(FIX / "groundtruth")
HOUR0 = Window(parse_time("2022-04-18T00:00Z"), parse_time("2022-04-18T01:00Z"))
REAL_IDS = ["f04a8538-696c-4648-8064-8b680b2e3318", "4f301857-49c9-44d1-b275-ba0ab7767033", "9827355a-ac22-40f4-9748-539e03db6c2a"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the fixture folder: every count checkable by hand (fixtures/capture/README.md) -----------------


def test_fixture_data_quality_table(tmp_path: Path) -> None:
    s = capture_merge(Store(), CAPTURE, str(tmp_path), HOUR0)
    assert (s.hour_folders, s.files, s.records, s.malformed_lines) == (1, 2, 12, 4)
    assert (s.shadow_skipped, s.outside_window, s.in_window, s.duplicates, s.kept) == (1, 1, 6, 1, 5)
    assert s.malformed_payloads == 0 and s.rows == 5
    assert [(Path(p.file).name[:9], p.line) for p in s.problems] == [("30-00-000", n) for n in (2, 5, 8, 10)]
    rows = read_jsonl(one_part(tmp_path, "jsonl"))
    assert list(rows[0]) == [f"_c{i}" for i in range(70)] + list(META_COLUMNS)
    assert [r["__mmon_event_id"] for r in rows] == REAL_IDS + [
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
    ]
    assert rows[0]["_c0"] == "0.036397725343704224" and rows[0]["_c1"] == "132" and rows[0]["_c4"] == "54"
    assert (rows[3]["_c0"], rows[3]["_c3"], rows[3]["__mmon_inference_id"]) == ("0.5", "3.0", "inf-1")  # first of the duplicates
    assert (rows[4]["_c1"], rows[4]["_c2"], rows[4]["_c3"]) == ("4", None, "6")  # empty field = missing
    summary = json.loads((tmp_path / "merge_summary.json").read_text())
    assert summary["capture"]["kept"] == 5 and summary["output"]["rows"] == 5
    assert summary["malformed_examples"][0]["line"] == 2


def test_fixture_merged_records(tmp_path: Path) -> None:
    s = capture_merge(Store(), CAPTURE, str(tmp_path), HOUR0, ground_truth=GT)
    assert (s.label_files, s.label_lines, s.label_malformed_lines, s.labels) == (1, 4, 1, 3)
    assert (s.matched, s.captured_without_label, s.labels_without_capture) == (2, 3, 1)
    merged = read_jsonl(one_part(tmp_path, "jsonl"))
    raw = [json.loads(x) for x in (FIX / "endpoint-csv/AllTraffic/2022/04/18/00").glob("21-48*").__next__().read_text().splitlines()]
    assert merged[0] == {**raw[0], "groundTruthData": {"data": "0", "encoding": "CSV"}}
    # The captured record is kept byte for byte, groundTruthData appended.
    first_line = one_part(tmp_path, "jsonl").read_text().splitlines()[0]
    real_line = (FIX / "endpoint-csv/AllTraffic/2022/04/18/00").glob("21-48*").__next__().read_text().splitlines()[0]
    assert first_line == real_line[:-1] + ',"groundTruthData":{"data":"0","encoding":"CSV"}}'
    assert merged[1]["eventMetadata"]["inferenceId"] == "inf-1" and merged[1]["groundTruthData"]["data"] == "1"


def test_fixture_labels_arriving_an_hour_later(tmp_path: Path) -> None:
    s = capture_merge(Store(), CAPTURE, str(tmp_path), HOUR0, ground_truth=GT, ground_truth_lookahead=timedelta(hours=1))
    assert (s.label_hour_folders, s.label_files, s.label_lines, s.duplicate_labels, s.labels) == (2, 2, 6, 1, 4)
    assert (s.matched, s.captured_without_label, s.labels_without_capture) == (3, 2, 1)
    merged = read_jsonl(one_part(tmp_path, "jsonl"))
    labels = {m["eventMetadata"]["eventId"]: m["groundTruthData"]["data"] for m in merged}
    assert labels[REAL_IDS[0]] == "1"  # the later relabel wins
    assert labels[REAL_IDS[1]] == "1"


def test_fixture_flat_model_quality_table(tmp_path: Path) -> None:
    s = capture_merge(
        Store(), CAPTURE, str(tmp_path), HOUR0, ground_truth=GT, flat=True, fmt="parquet",
        probability_attribute="0", ground_truth_lookahead=timedelta(hours=1),
    )  # fmt: skip
    df = pl.read_parquet(one_part(tmp_path, "parquet"))
    assert s.rows == 3 and df.columns[:3] == ["prediction", "probability", "label"]
    assert df.select("prediction", "label", "__mmon_event_id").rows() == [
        ("0.036397725343704224", "1", REAL_IDS[0]),
        ("0.3791300654411316", "1", REAL_IDS[1]),
        ("0.5", "1", "11111111-1111-4111-8111-111111111111"),
    ]
    with pytest.raises(InputError, match="output has 1 column"):
        capture_merge(Store(), CAPTURE, str(tmp_path), HOUR0, ground_truth=GT, flat=True, inference_attribute="3")


def test_strict_stops_at_the_first_malformed_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"30-00-000-.*\.jsonl:2: not valid JSON"):
        capture_merge(Store(), CAPTURE, str(tmp_path / "out"), HOUR0, strict=True)
    assert not (tmp_path / "out").exists() or not parts(tmp_path / "out", "jsonl")


# -- synthetic capture ------------------------------------------------------------------------------


def _synth(tmp_path: Path, hours: int = 4, per_hour: int = 50, **kw: object):
    n = hours * per_hour
    inputs = pl.DataFrame({"age": [float(20 + i % 50) for i in range(n)], "city": [["Oslo", "Rome", "Lima"][i % 3] for i in range(n)]})
    probs = [round((i % 100) / 100, 2) for i in range(n)]
    labels = [int(p > 0.5) for p in probs]
    return write_capture(
        Store(), str(tmp_path / "cap" / "ep" / "AllTraffic"), inputs, probs, datetime(2024, 1, 1, 10, tzinfo=UTC), per_hour,
        ground_truth=str(tmp_path / "gt"), labels=labels, files_per_hour=3, seed=5, **kw,
    )  # fmt: skip


def test_synthetic_capture_counts(tmp_path: Path) -> None:
    r = _synth(tmp_path)
    assert (r.records, r.files, r.hours) == (200, 12, 4)
    idx = r.index
    w = Window(parse_time("2024-01-01T11:00Z"), parse_time("2024-01-01T12:00Z"))
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "dq"), w)
    assert (s.files, s.records, s.in_window, s.rows, s.malformed_lines) == (3, 50, 50, 50, 0)
    rows = read_jsonl(one_part(tmp_path / "dq", "jsonl"))
    assert [r["__mmon_inference_id"] for r in rows] == [str(i) for i in range(50, 100)]
    assert rows[0]["_c0"] == "0.5" and rows[0]["_c1"] == "20.0" and rows[0]["_c2"] == "Lima"  # 20.0 stays 20.0
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "mq"), w, ground_truth=str(tmp_path / "gt"), flat=True)
    hour1 = idx.filter(pl.col("hour") == 1)
    assert s.matched == hour1["labelled"].sum() and s.captured_without_label == 50 - s.matched
    assert s.labels_without_capture == 0
    got = pl.read_ndjson(one_part(tmp_path / "mq", "jsonl"))
    want = hour1.filter("labelled").select(pl.col("inference_id").alias("__mmon_inference_id"), "label")
    assert got.select("__mmon_inference_id", "label").equals(want)


def test_only_the_window_hour_folders_are_listed_and_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _synth(tmp_path, hours=6)
    listed: list[str] = []
    read: list[str] = []
    real_list, real_read = layout._list_files, Store.read_bytes
    monkeypatch.setattr(layout, "_list_files", lambda store, folder: listed.append(folder) or real_list(store, folder))
    monkeypatch.setattr(Store, "read_bytes", lambda self, url: read.append(url) or real_read(self, url))
    monkeypatch.setattr(Store, "find", lambda self, url: pytest.fail(f"listed a whole prefix: {url}"))
    w = Window(parse_time("2024-01-01T13:00Z"), parse_time("2024-01-01T14:00Z"))
    s = capture_merge(Store(), str(tmp_path / "cap" / "ep" / "AllTraffic"), str(tmp_path / "o"), w)
    assert s.rows == 50
    assert [Path(f).relative_to(tmp_path / "cap").as_posix() for f in listed] == ["ep/AllTraffic/2024/01/01/13"]
    read = [u for u in read if not u.startswith(str(tmp_path / "o"))]  # the output's own marker aside
    assert len(read) == 3 and all("/2024/01/01/13/" in u for u in read)


def test_window_inside_an_hour_and_lookbehind(tmp_path: Path) -> None:
    _synth(tmp_path)
    w = Window(parse_time("2024-01-01T10:30Z"), parse_time("2024-01-01T11:30Z"))
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "o"), w)
    assert (s.hour_folders, s.records, s.in_window, s.outside_window) == (2, 100, 50, 50)
    w = Window(parse_time("2024-01-01T11:00Z"), parse_time("2024-01-01T12:00Z"))
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "o"), w, capture_lookbehind=timedelta(hours=1))
    assert (s.hour_folders, s.records, s.in_window, s.outside_window) == (2, 100, 50, 50)


def test_deterministic_output_and_clean_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Part boundaries follow record counts, not threads: the same input and chunk size give the same
    files, byte for byte; the parts concatenated are the single-part output of a large chunk."""
    _synth(tmp_path)
    w = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T14:00Z"))
    out = tmp_path / "o"
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 2)  # 12 files of ~17 records: batches of ~33
    for fmt in ("jsonl", "parquet"):
        capture_merge(Store(), str(tmp_path / "cap"), str(out), w, fmt=fmt, workers=1, chunk_records=60)
        first = {p.name: p.read_bytes() for p in parts(out, fmt)}
        assert len(first) == 3, list(first)  # chunks of >= 60 records: 2 batches each
        capture_merge(Store(), str(tmp_path / "cap"), str(out), w, fmt=fmt, workers=8, chunk_records=60)
        assert {p.name: p.read_bytes() for p in parts(out, fmt)} == first
        capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "whole"), w, fmt=fmt)
        whole = one_part(tmp_path / "whole", fmt)
        if fmt == "jsonl":
            assert b"".join(first.values()) == whole.read_bytes()
        else:
            together = pl.concat([pl.read_parquet(p) for p in parts(out, fmt)])
            assert together.equals(pl.read_parquet(whole)) and together.schema == pl.read_parquet(whole).schema
    # The rerun in parquet (one part) removed the jsonl parts of the earlier run; no temporary files are left.
    capture_merge(Store(), str(tmp_path / "cap"), str(out), w, fmt="parquet")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("part-")) == [".mmon-report.json", "merge_summary.json"]
    assert [p.name for p in out.iterdir() if p.name.startswith("part-")] == [one_part(out, "parquet").name]
    assert pl.read_parquet(one_part(out, "parquet")).height == 200


def test_duplicate_event_ids_across_files_keep_the_first(tmp_path: Path) -> None:
    cap = tmp_path / "cap"
    line = (FIX / "endpoint-csv/AllTraffic/2022/04/18/00").glob("21-48*").__next__().read_text().splitlines()[0]
    later = line.replace("0.036397725343704224", "0.99")
    (cap / "2022/04/18/00").mkdir(parents=True)
    (cap / "2022/04/18/00/21-48-000-a.jsonl").write_text(line + "\n")
    (cap / "2022/04/18/00/59-00-000-b.jsonl").write_text(later + "\n" + later + "\n")
    s = capture_merge(Store(), str(cap), str(tmp_path / "o"), HOUR0)
    assert (s.in_window, s.duplicates, s.rows) == (3, 2, 1)
    assert read_jsonl(one_part(tmp_path / "o", "jsonl"))[0]["_c0"] == "0.036397725343704224"


def test_empty_window_is_not_an_error(tmp_path: Path, shared_dir: Path) -> None:
    w = Window(parse_time("2030-01-01T00:00Z"), parse_time("2030-01-01T01:00Z"))
    s = capture_merge(Store(), CAPTURE, str(tmp_path / "o"), w)
    assert (s.files, s.records, s.rows) == (0, 0, 0)
    assert s.warnings and "no capture files" in s.warnings[0]
    assert one_part(tmp_path / "o", "jsonl").read_bytes() == b""
    stats = shared_dir / "dq-statistics.2024-10.trimmed.json"
    capture_merge(Store(), CAPTURE, str(tmp_path / "p"), w, fmt="parquet", header_from=str(stats))
    df = pl.read_parquet(one_part(tmp_path / "p", "parquet"))
    names = [f["name"] for f in json.loads(stats.read_text())["features"]]
    assert df.height == 0 and df.columns == names + list(META_COLUMNS)


def test_header_from_baseline_statistics_and_dataset(tmp_path: Path) -> None:
    _synth(tmp_path, hours=1)
    (tmp_path / "train.csv").write_text("score,age,city\n0.1,30,Oslo\n")
    w = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T11:00Z"))
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "o"), w, header_from=str(tmp_path / "train.csv"))
    assert s.columns == ["score", "age", "city", *META_COLUMNS] and not s.warnings
    stats = {"version": 0.0, "dataset": {"item_count": 1}, "features": [
        {"name": n, "inferred_type": "String", "string_statistics": {"common": {"num_present": 1, "num_missing": 0}, "distinct_count": 1.0}}
        for n in ("p", "a")
    ]}  # fmt: skip
    (tmp_path / "statistics.json").write_text(json.dumps(stats))
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "o"), w, header_from=str(tmp_path / "statistics.json"))
    assert s.columns == ["p", "a", "_c2", *META_COLUMNS]
    assert "2 names but the capture has 3 columns" in s.warnings[0]


def test_json_capture_end_to_end(tmp_path: Path) -> None:
    cap = tmp_path / "cap" / "2024" / "05" / "01" / "07"
    cap.mkdir(parents=True)
    lines = []
    for i in range(4):
        rec = {
            "captureData": {
                "endpointInput": {"observedContentType": "application/json", "mode": "INPUT", "encoding": "JSON",
                                  "data": json.dumps({"instances": [{"features": [i, i + 0.5]}, {"features": [i * 2, 1.5]}]})},
                "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "encoding": "JSON",
                                   "data": json.dumps({"predictions": [{"score": 0.1 * i, "predicted_label": 0}, {"score": 0.9, "predicted_label": 1}]})},
            },
            "eventMetadata": {"eventId": f"e{i}", "inferenceId": f"i{i}", "inferenceTime": f"2024-05-01T07:0{i}:00Z"},
            "eventVersion": "0",
        }  # fmt: skip
        lines.append(json.dumps(rec))
    (cap / "00-00-000-x.jsonl").write_text("\n".join(lines) + "\n")
    gt = tmp_path / "gt" / "2024" / "05" / "01" / "07"
    gt.mkdir(parents=True)
    gt_lines = [json.dumps({"groundTruthData": {"data": json.dumps({"instances": [{"label": 1}, {"label": 0}]}), "encoding": "JSON"},
                            "eventMetadata": {"eventId": f"i{i}"}, "eventVersion": "0"}) for i in range(3)]  # fmt: skip
    (gt / "labels.jsonl").write_text("\n".join(gt_lines) + "\n")
    w = Window(parse_time("2024-05-01T07:00Z"), parse_time("2024-05-01T08:00Z"))
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "dq"), w)
    df = pl.read_ndjson(one_part(tmp_path / "dq", "jsonl"))
    assert s.rows == 8 and df.columns[:4] == ["score", "predicted_label", "_c2", "_c3"]
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "mq"), w, ground_truth=str(tmp_path / "gt"),
                      flat=True, inference_attribute="predicted_label", probability_attribute="score")  # fmt: skip
    df = pl.read_ndjson(one_part(tmp_path / "mq", "jsonl"))
    assert (s.matched, s.rows) == (3, 6)
    assert df.select("prediction", "probability", "label").rows()[:2] == [(0, 0.0, "1"), (1, 0.9, "0")]


# -- preprocessor -----------------------------------------------------------------------------------

PRE = '''
def preprocess_handler(inference_record, logger):
    eid = inference_record.event_metadata.event_id
    if eid.startswith("9827"):
        return []
    if eid.startswith("2222"):
        raise ValueError("cannot handle this one")
    out = inference_record.endpoint_output.data.rstrip("\\n")
    fields = (out + "," + inference_record.endpoint_input.data).split(",")
    row = {str(i).zfill(3): v for i, v in enumerate(fields[:3])}
    if inference_record.ground_truth is not None:
        row["label"] = inference_record.ground_truth.data
    if eid.startswith("1111"):
        return [row, dict(row)]
    return row
'''


def test_preprocessor_contract(tmp_path: Path) -> None:
    script = tmp_path / "pre.py"
    script.write_text(PRE)
    with pytest.raises(InputError, match=r"event 22222222-2222-4222-8222-222222222222 \(.*30-00-000.*:4\): ValueError"):
        capture_merge(Store(), CAPTURE, str(tmp_path / "o"), HOUR0, preprocessor=str(script))
    s = capture_merge(Store(), CAPTURE, str(tmp_path / "o"), HOUR0, preprocessor=str(script), preprocessor_errors="skip")
    assert (s.preprocessor_errors, s.preprocessor_dropped, s.rows) == (1, 1, 4)
    assert s.preprocessor_problems[0]["event_id"].startswith("2222")
    rows = read_jsonl(one_part(tmp_path / "o", "jsonl"))
    assert list(rows[0]) == ["000", "001", "002", *META_COLUMNS]
    assert [r["__mmon_event_id"][:4] for r in rows] == ["f04a", "4f30", "1111", "1111"]
    s = capture_merge(Store(), CAPTURE, str(tmp_path / "g"), HOUR0, ground_truth=GT, preprocessor=str(script))
    assert [r["label"] for r in read_jsonl(one_part(tmp_path / "g", "jsonl"))] == ["0", "1", "1"]


def test_preprocessor_without_handler(tmp_path: Path) -> None:
    script = tmp_path / "pre.py"
    script.write_text("def handler(r):\n    return r\n")
    with pytest.raises(InputError, match="Preprocess Handler not implemented"):
        capture_merge(Store(), CAPTURE, str(tmp_path / "o"), HOUR0, preprocessor=str(script))
    script.write_text("def preprocess_handler(r):\n    return 42\n")
    with pytest.raises(InputError, match="returned int"):
        capture_merge(Store(), CAPTURE, str(tmp_path / "o"), HOUR0, preprocessor=str(script))


# -- CLI --------------------------------------------------------------------------------------------


def test_cli_json_summary(tmp_path: Path) -> None:
    code, out, _ = cli("--capture", CAPTURE, "--ground-truth", GT, "--output", str(tmp_path), "--start-time", "2022-04-18T00:00:00Z",
                       "--end-time", "2022-04-18T01:00:00Z", "--json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "ok" and doc["capture"]["kept"] == 5 and doc["ground_truth"]["matched"] == 2
    assert doc == {"status": "ok", **json.loads((tmp_path / "merge_summary.json").read_text())}


def test_cli_scheduled_window_and_table(tmp_path: Path) -> None:
    code, out, _ = cli("--capture", CAPTURE, "--output", str(tmp_path), "--scheduled-time", "2022-04-18T02:00:00Z",
                       "--start-offset", "-PT2H", "--end-offset", "-PT1H")  # fmt: skip
    assert code == 0 and "records in window" in out and "Wrote" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start-offset", "-P1M"], "months"),
        (["--start-time", "2022-04-18T00:00Z"], "go together"),
        (["--start-time", "2022-04-18T00:00Z", "--end-time", "2022-04-18T01:00Z", "--strict"], ":2: not valid JSON"),
        (["--start-time", "2022-04-18T00:00Z", "--end-time", "2022-04-18T01:00Z", "--ground-truth", GT, "--format", "parquet"], "--flat"),
        (["--start-time", "2022-04-18T00:00Z", "--end-time", "2022-04-18T01:00Z", "--flat"], "need --ground-truth"),
        (["--start-time", "2022-04-18T00:00Z", "--end-time", "2022-04-18T01:00Z", "--format", "csv"], "jsonl or parquet"),
    ],
)
def test_cli_input_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = cli("--capture", CAPTURE, "--output", str(tmp_path), *args)
    assert code == 2 and message in err


def test_cli_output_under_a_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    code, _, err = cli("--capture", CAPTURE, "--output", str(tmp_path / "f" / "o"), "--start-time", "2022-04-18T00:00Z",
                       "--end-time", "2022-04-18T01:00Z")  # fmt: skip
    assert code == 3 and "is a file" in err


def test_capture_prefix_with_several_endpoints(tmp_path: Path) -> None:
    shutil.copytree(FIX / "endpoint-csv", tmp_path / "cap" / "ep-a")
    shutil.copytree(FIX / "endpoint-csv", tmp_path / "cap" / "ep-b")
    assert layout.capture_roots(Store(), str(tmp_path / "cap")) == [
        str(tmp_path / "cap" / "ep-a" / "AllTraffic"),
        str(tmp_path / "cap" / "ep-b" / "AllTraffic"),
    ]
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "o"), HOUR0)
    assert (s.files, s.in_window, s.duplicates, s.rows) == (4, 12, 7, 5)  # the copies are duplicates


def test_synth_lines_are_in_sagemakers_exact_format(tmp_path: Path, shared_dir: Path) -> None:
    r = _synth(tmp_path, hours=1)
    real = json.loads((shared_dir / "capture-endpoint-csv.jsonl").read_text().splitlines()[0])
    f = sorted((tmp_path / "cap").rglob("*.jsonl"))[0]
    assert f.parent.relative_to(tmp_path / "cap" / "ep" / "AllTraffic").as_posix() == "2024/01/01/10"
    assert f.name.startswith("00-00-000-") and len(f.name) == len("00-00-000-") + 36 + len(".jsonl")
    line = f.read_text().splitlines()[0]
    obj = json.loads(line)
    assert line == json.dumps(obj, separators=(",", ":"))  # compact, as SageMaker writes
    assert list(obj) == list(real) and list(obj["captureData"]) == list(real["captureData"])
    assert list(obj["captureData"]["endpointInput"]) == list(real["captureData"]["endpointInput"])
    assert list(obj["eventMetadata"]) == ["eventId", "inferenceId", "inferenceTime"]
    gt_line = sorted((tmp_path / "gt").rglob("*.jsonl"))[0].read_text().splitlines()[0]
    real_gt = (shared_dir / "ground-truth.csv-label.jsonl").read_text().strip()
    assert gt_line.replace(json.loads(gt_line)["eventMetadata"]["eventId"], "X") == real_gt.replace(
        "01d3c1a8-aa99-4149-9d5e-78bea047a788", "X"
    ).replace('"data": "0"', f'"data": "{json.loads(gt_line)["groundTruthData"]["data"]}"')
    assert r.index.height == 50


def test_demo_generator(tmp_path: Path) -> None:
    from mmon.capture.synth import main

    assert main([str(tmp_path)]) == 0
    cap = tmp_path / "datacapture" / "demo-endpoint" / "AllTraffic"
    w = Window(parse_time("2024-01-01T13:00Z"), parse_time("2024-01-01T14:00Z"))
    s = capture_merge(Store(), str(cap), str(tmp_path / "o"), w, ground_truth=str(tmp_path / "groundtruth"),
                      ground_truth_lookahead=timedelta(hours=1))  # fmt: skip
    assert (s.files, s.records, s.rows + s.captured_without_label) == (6, 500, 500)


def test_small_read_batches_give_the_same_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmon.capture import merge

    s1 = capture_merge(Store(), CAPTURE, str(tmp_path / "a"), HOUR0, ground_truth=GT, flat=True)
    monkeypatch.setattr(merge, "BATCH_BYTES", 10)
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 1)
    s2 = capture_merge(Store(), CAPTURE, str(tmp_path / "b"), HOUR0, ground_truth=GT, flat=True)
    assert one_part(tmp_path / "a", "jsonl").read_bytes() == one_part(tmp_path / "b", "jsonl").read_bytes()
    assert s1.to_dict()["capture"] == s2.to_dict()["capture"]
    assert [str(p) for p in s1.problems] == [str(p) for p in s2.problems]
