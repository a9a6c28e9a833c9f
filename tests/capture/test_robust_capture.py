"""Capture lines that are malformed: counted with a reason, never lost, never changing their neighbours.

Issue 15 items 1-4, issue 13 items 4 and 6 (real files under ../shared/reference/external).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mmon.capture.merge import capture_merge
from mmon.capture.payload import label_rows
from mmon.capture.records import parse_ground_truth
from mmon.capture.window import Window, parse_time
from mmon.store import Store
from tests.capture_parts import one_part

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL = ROOT.parent / "shared" / "reference" / "external"
HOUR = Window(parse_time("2022-04-18T00:00Z"), parse_time("2022-04-18T01:00Z"))
JSON = {"enc": "JSON", "ct": "application/json"}


def record(eid: str, data_in: object = "1,2", data_out: object = "0.5", enc: str = "CSV", ct: str = "text/csv",
           t: str = "2022-04-18T00:10:00Z") -> str:  # fmt: skip
    cd: dict[str, object] = {}
    if data_in is not None:
        cd["endpointInput"] = {"observedContentType": ct, "mode": "INPUT", "data": data_in, "encoding": enc}
    if data_out is not None:
        cd["endpointOutput"] = {"observedContentType": ct, "mode": "OUTPUT", "data": data_out, "encoding": enc}
    return json.dumps({"captureData": cd, "eventMetadata": {"eventId": eid, "inferenceTime": t}, "eventVersion": "0"})


def merge(tmp: Path, lines: list[str], name: str = "run"):  # type: ignore[no-untyped-def]
    folder = tmp / name / "cap" / "AllTraffic" / "2022" / "04" / "18" / "00"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="surrogateescape"))
    summary = capture_merge(Store(), str(tmp / name / "cap"), str(tmp / name / "out"), HOUR)
    text = one_part(tmp / name / "out", "jsonl").read_text()
    return summary, [json.loads(x) for x in text.splitlines()]


def accounted(s) -> bool:  # type: ignore[no-untyped-def]
    """Every line is a malformed line, a shadow record, outside the window, or in it; every in-window
    record a duplicate, a malformed payload or a record with rows."""
    return s.records == s.malformed_lines + s.shadow_skipped + s.outside_window + s.in_window


def without(rows: list[dict], bad: set[str]) -> list[dict]:
    return [r for r in rows if r["__mmon_event_id"] not in bad]


# -- item 1: every line accounted for ------------------------------------------------------------


def test_record_without_any_data_is_a_counted_malformed_line(tmp_path: Path) -> None:
    no_data = json.loads(record("b"))
    for side in no_data["captureData"].values():
        del side["data"]
    s, rows = merge(tmp_path, [record("a"), json.dumps(no_data), record("c")])
    # Before: records 3, in_window 3, malformed 0, rows 2 -- one record in no count at all.
    assert (s.records, s.malformed_lines, s.in_window, s.rows) == (3, 1, 2, 2)
    assert accounted(s)
    assert s.problems[0].line == 2 and "data" in s.problems[0].reason


# -- item 2: a malformed record is isolated --------------------------------------------------------


def test_ragged_payload_does_not_break_good_neighbours(tmp_path: Path) -> None:
    good = [record("a", "[1,2]", "0.5", **JSON), record("c", "[3,4]", "0.7", **JSON)]
    bad = record("b", "[[1,2],[3]]", "[0.1,0.2]", **JSON)
    alone, good_rows = merge(tmp_path, good, "alone")
    s, rows = merge(tmp_path, [good[0], bad, good[1]], "mixed")
    # Before: the good payloads were read as two rows each and refused ("2 rows but ... has 1").
    assert s.malformed_payloads == 1 and s.problems[0].line == 2
    assert rows == good_rows and len(rows) == 2
    assert rows[0]["_c1"] == 1 and rows[0]["_c2"] == 2


def test_list_valued_neighbour_does_not_wrap_numbers(tmp_path: Path) -> None:
    s, rows = merge(tmp_path, [record("a", '{"f0": 1.5}', '{"p": 1}', **JSON), record("b", '{"f0": []}', '{"p": 1}', **JSON)])
    assert s.malformed_payloads == 0 and s.rows == 2
    # Before: "[1.5]". A column holding a nested value is text: the number keeps its own text.
    assert rows[0]["f0"] in (1.5, "1.5") and rows[1]["f0"] == "[]"


def test_mixed_shape_payload_is_bad_alone(tmp_path: Path) -> None:
    good = [record("a", "[1,2]", "0.5", **JSON), record("c", "[3,4]", "0.7", **JSON)]
    _, good_rows = merge(tmp_path, good, "alone")
    s, rows = merge(tmp_path, [good[0], record("b", "[[1,2],3]", "0.1", **JSON), good[1]], "mixed")
    assert s.malformed_payloads == 1 and "mixes" in s.problems[0].reason
    assert rows == good_rows


# -- item 3: no crashes -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_json_payload_is_one_bad_record(tmp_path: Path, value: str) -> None:
    good = record("a", '{"f0": 1.5}', '{"p": 1}', **JSON)
    s, rows = merge(tmp_path, [good, record("b", '{"f0": ' + value + '}', '{"p": 1}', **JSON)])
    assert s.malformed_payloads == 1 and s.problems[0].line == 2
    assert "not valid JSON" in s.problems[0].reason
    assert rows == [{"p": 1, "f0": 1.5, "__mmon_event_id": "a", "__mmon_inference_id": None,
                     "__mmon_inference_time": "2022-04-18T00:10:00Z"}]  # fmt: skip


def test_nested_objects_in_arrays_beside_plain_ones(tmp_path: Path) -> None:
    s, rows = merge(tmp_path, [record("a", '[{"a": 1}]', "0.5", **JSON), record("b", '[{"a": {"b": 1}}]', "0.6", **JSON)])
    assert s.malformed_payloads == 0 and s.rows == 2
    assert [r["a"] for r in rows] == ["1", '{"b":1}'] or [r["a"] for r in rows] == [1, '{"b":1}']


@pytest.mark.parametrize("other", ['{"f0": 1.5}', '[{"a": 1}]', '[[1, 2]]', '{"f0": {"x": [1]}}'])
def test_object_inside_a_mixed_array_is_one_bad_record(tmp_path: Path, other: str) -> None:
    good = record("a", other, "0.5", **JSON)
    _, alone = merge(tmp_path, [good], "alone")
    s, rows = merge(tmp_path, [good, record("b", '[{"a": [1, {"c": 2}]}]', "0.6", **JSON)], "mixed")
    # Before: internal error (ComputeError: error deserializing value "Object({"c": ...").
    assert s.malformed_payloads == 1 and s.problems[0].line == 2 and "payload" in s.problems[0].reason
    assert rows == alone


def test_deeply_nested_line_and_payload(tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    payload = record("p", deep, "0.5", **JSON)
    s, rows = merge(tmp_path, [record("a"), deep, payload, record("c")])
    assert (s.records, s.malformed_lines, s.malformed_payloads) == (4, 1, 1)
    assert accounted(s)
    assert [r["__mmon_event_id"] for r in rows] == ["a", "c"]


def test_unit_separator_byte_on_the_first_line(tmp_path: Path) -> None:
    s, rows = merge(tmp_path, ["\x1f" + record("a"), record("b") + "\x1f", record("c")])
    assert accounted(s) and s.records == 3
    assert "c" in [r["__mmon_event_id"] for r in rows]


# -- item 4: wrong JSON types in capture fields ---------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        (lambda r: r["captureData"]["endpointInput"].__setitem__("data", [1, 2]), "captureData.endpointInput.data is a JSON array"),
        (lambda r: r["captureData"]["endpointOutput"].__setitem__("data", 0.5), "captureData.endpointOutput.data is a JSON number"),
        (lambda r: r["captureData"]["endpointInput"].__setitem__("encoding", {"x": 1}), "encoding is a JSON object"),
        (lambda r: r["eventMetadata"].__setitem__("eventId", 7), "eventMetadata.eventId is a JSON number"),
        (lambda r: r["eventMetadata"].__setitem__("inferenceTime", True), "inferenceTime is a JSON boolean"),
    ],
)
def test_wrong_json_type_is_a_malformed_record_with_its_reason(tmp_path: Path, patch, reason: str) -> None:  # type: ignore[no-untyped-def]
    bad = json.loads(record("b"))
    patch(bad)
    s, rows = merge(tmp_path, [record("a"), json.dumps(bad), record("c")])
    assert (s.malformed_lines, s.rows) == (1, 2)
    assert s.problems[0].line == 2 and reason in s.problems[0].reason
    assert [r["__mmon_event_id"] for r in rows] == ["a", "c"]


# -- issue 13 items 4 and 6: real files -------------------------------------------------------------


def test_ground_truth_line_that_is_an_array_of_records() -> None:
    path = EXTERNAL / "amazon-sagemaker-examples" / "clarify-adult" / "batch-transform" / "ground-truth.2934.jsonl"
    raw = path.read_bytes()
    expected = json.loads(raw)  # the file: one line, a JSON array of one record
    labels = [x["label"] for x in json.loads(expected[0]["groundTruthData"]["data"])["instances"]]
    pf = parse_ground_truth(raw, str(path), 0)
    # Before: "expected a JSON object, found list", 0 labels.
    assert (pf.lines, pf.malformed) == (len(expected), 0)
    assert pf.frame["key"].to_list() == [r["eventMetadata"]["eventId"] for r in expected]
    assert pf.frame["_line"].to_list() == [1]
    rows, bad = label_rows(pf.frame.with_columns(pl.lit(0, pl.UInt32).alias("_rec")))
    assert bad.height == 0 and len(labels) == 334
    assert rows["label"].to_list() == [str(v) for v in labels]


def test_ground_truth_arrays_keep_line_numbers_of_problems() -> None:
    good = {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "k1"}, "eventVersion": "0"}
    data = "\n".join([json.dumps([good, {**good, "eventMetadata": {"eventId": "k2"}}]), "not json",
                      json.dumps([{"groundTruthData": {"data": "0"}}])]).encode()  # fmt: skip
    pf = parse_ground_truth(data, "gt.jsonl", 0)
    assert (pf.lines, pf.malformed) == (4, 2)
    assert [(p.line, p.reason[:14]) for p in pf.problems] == [(2, "not valid JSON"), (3, "no eventMetada")]
    assert pf.frame["_line"].to_list() == [1, 1]


def test_sdk_capture_with_zoneless_fractional_inference_time(tmp_path: Path) -> None:
    """The SDK's model-quality integration test fills ``{%s}`` with ``%Y-%m-%dT%H:%M:%S.%f`` (UTC, no zone)."""
    src = (EXTERNAL / "sagemaker-python-sdk" / "monitor" / "capture.jsonl").read_text()
    n = len(src.splitlines())
    lines = [line.replace("{%s}", f"2022-04-18T00:{i % 60:02d}:01.123456") for i, line in enumerate(src.splitlines())]
    s, rows = merge(tmp_path, lines)
    # Before: 44 malformed lines ("not a UTC time").
    assert (s.records, s.malformed_lines, s.in_window, s.malformed_payloads) == (n, 0, n, 0)
    assert n == 44 and len(rows) == 44
    assert rows[0]["__mmon_inference_time"] == "2022-04-18T00:00:01.123456"
    first = json.loads(src.splitlines()[0])["captureData"]
    assert rows[0]["_c0"] == first["endpointOutput"]["data"]
    assert [rows[0][f"_c{i + 1}"] for i in range(7)] == first["endpointInput"]["data"].split(",")
    # Outside the window by its zoneless time: counted as outside, not malformed.
    late = [line.replace("{%s}", "2022-04-18T01:00:00.5") for line in src.splitlines()[:3]]
    s2, _ = merge(tmp_path, late, "late")
    assert (s2.outside_window, s2.malformed_lines) == (3, 0)
