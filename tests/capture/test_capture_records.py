"""Parsing capture and ground-truth lines, and decoding payloads (CSV, JSON, BASE64)."""

import base64
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from mmon.capture.payload import flatten, label_rows
from mmon.capture.records import label_json, parse_capture, parse_ground_truth

START = datetime(2022, 4, 18, 0, tzinfo=UTC)
END = datetime(2022, 4, 18, 1, tzinfo=UTC)


def test_real_sagemaker_capture_lines(shared_dir: Path) -> None:
    data = (shared_dir / "capture-endpoint-csv.jsonl").read_bytes()
    pf = parse_capture(data, "real.jsonl", 0, START, END, keep_raw=True)
    assert (pf.lines, pf.malformed, pf.outside, pf.shadow) == (3, 0, 0, 0)
    df = pf.frame
    assert df["event_id"].to_list() == [
        "f04a8538-696c-4648-8064-8b680b2e3318",
        "4f301857-49c9-44d1-b275-ba0ab7767033",
        "9827355a-ac22-40f4-9748-539e03db6c2a",
    ]
    assert df["inference_id"].to_list() == [None, None, None]
    assert df["inference_time"].to_list() == ["2022-04-18T00:21:48Z", "2022-04-18T00:21:49Z", "2022-04-18T00:21:50Z"]
    assert df["out_data"][0] == "0.036397725343704224"
    assert df["in_enc"].unique().to_list() == ["CSV"]
    assert df["out_ctype"][0] == "text/csv; charset=utf-8"
    # The raw line is kept exactly, for merged records.
    assert df["_raw"].to_list() == data.decode().splitlines()
    rows, bad = flatten(df.with_row_index("_rec").with_columns(pl.col("_rec").cast(pl.UInt32)))
    assert bad.height == 0
    assert rows.height == 3
    assert rows.width == 2 + 1 + 69  # _rec, _row, 1 output, 69 inputs
    assert rows.row(0)[2:6] == ("0.036397725343704224", "132", "10", "182.9")


def test_real_ground_truth_line(shared_dir: Path) -> None:
    pf = parse_ground_truth((shared_dir / "ground-truth.csv-label.jsonl").read_bytes(), "gt.jsonl", 0)
    assert (pf.lines, pf.malformed) == (1, 0)
    assert pf.frame.select("key", "gt_data", "gt_enc").row(0) == ("01d3c1a8-aa99-4149-9d5e-78bea047a788", "0", "CSV")
    assert json.loads(pf.frame.select(label_json()).item(0, 0)) == {"data": "0", "encoding": "CSV"}


def _record(eid: str = "e1", t: str = "2022-04-18T00:10:00Z", **kw: object) -> dict:
    r = {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2", "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.5", "encoding": "CSV"},
        },
        "eventMetadata": {"eventId": eid, "inferenceTime": t},
        "eventVersion": "0",
    }
    for k, v in kw.items():
        side = "endpointInput" if k.startswith("in_") else "endpointOutput"
        r["captureData"][side][k[3:] if k.startswith("in_") else k[4:]] = v
    return r


def _lines(*records: object) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n").encode()


def test_malformed_lines_are_counted_with_line_numbers() -> None:
    data = _lines(
        _record("a"),
        "{broken",
        "   ",
        json.dumps({"captureData": "text", "eventMetadata": {"eventId": "x", "inferenceTime": "2022-04-18T00:00:00Z"}}),
        json.dumps({"captureData": {}, "eventMetadata": {"eventId": "y", "inferenceTime": "2022-04-18T00:00:00Z"}}),
        _record(None),  # type: ignore[arg-type]
        json.dumps({k: v for k, v in _record("z").items() if k != "eventMetadata"}),
        _record("b"),
    )
    pf = parse_capture(data, "f.jsonl", 0, START, END)
    assert pf.lines == 7
    assert pf.malformed == 5
    assert [(p.line, p.reason.split(" (")[0]) for p in pf.problems] == [
        (2, "not valid JSON"),
        (4, "captureData is not an object"),
        (5, "no captureData.endpointInput or endpointOutput"),
        (6, "no eventMetadata.eventId"),
        (7, "no eventMetadata.eventId"),
    ]
    assert pf.frame["event_id"].to_list() == ["a", "b"]


def test_invalid_utf8_is_one_malformed_line() -> None:
    data = _lines(_record("a")) + b'{"x": "\xff"}\n' + _lines(_record("b"))
    pf = parse_capture(data, "f.jsonl", 0, START, END)
    assert pf.malformed == 1 and pf.problems[0].line == 2 and "UTF-8" in pf.problems[0].reason
    assert pf.frame["event_id"].to_list() == ["a", "b"]


def test_window_shadow_and_time_forms() -> None:
    shadow = _record("s")
    shadow["eventMetadata"]["invocationSource"] = "ShadowExperiment"
    data = _lines(
        _record("in1", "2022-04-18T00:00:00Z"),
        _record("in2", "2022-04-18T00:59:59.999Z"),
        _record("in3", "2022-04-18T02:30:00+02:00"),
        _record("out1", "2022-04-18T01:00:00Z"),
        _record("out2", "2022-04-17T23:59:59Z"),
        shadow,
    )
    pf = parse_capture(data, "f.jsonl", 0, START, END)
    assert pf.frame["event_id"].to_list() == ["in1", "in2", "in3"]
    assert (pf.outside, pf.shadow, pf.malformed) == (2, 1, 0)


def test_batch_transform_output_is_the_output_side() -> None:
    r = _record("bt")
    r["captureData"]["batchTransformOutput"] = r["captureData"].pop("endpointOutput")
    pf = parse_capture(_lines(r), "f.jsonl", 0, START, END)
    assert pf.frame.select("out_data", "in_data").row(0) == ("0.5", "1,2")


def test_unknown_keys_and_key_order_do_not_matter() -> None:
    r = _record("k")
    r["eventMetadata"]["customAttributes"] = "x"
    line = json.dumps({"eventVersion": "0", "extra": [1, 2], "eventMetadata": r["eventMetadata"], "captureData": r["captureData"]})
    pf = parse_capture((line + "\n").encode(), "f.jsonl", 0, START, END)
    assert pf.malformed == 0 and pf.frame["event_id"].to_list() == ["k"]


def test_gzip_capture_file() -> None:
    pf = parse_capture(gzip.compress(_lines(_record("g"))), "f.jsonl.gz", 0, START, END)
    assert pf.frame["event_id"].to_list() == ["g"]
    bad = parse_capture(b"not gzip", "f.jsonl.gz", 0, START, END)
    assert bad.malformed == 1 and "gzip" in bad.problems[0].reason


def _flat(records: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    pf = parse_capture(_lines(*records), "f.jsonl", 0, START, END)
    return flatten(pf.frame.with_row_index("_rec").with_columns(pl.col("_rec").cast(pl.UInt32)))


def test_csv_payloads_several_rows_quotes_and_empty_fields() -> None:
    rows, bad = _flat(
        [
            _record("a", in_data="1,2,3\n4,5,6\n", out_data="0.1\n0.2\n"),
            _record("b", in_data='7,"8,9",', out_data="0.3,0.7"),  # quoted comma, empty last field; two outputs
            _record("c", in_data="37.0,x", out_data="1\r\n"),
        ]
    )
    assert bad.height == 0
    got = rows.select(pl.exclude("_rec", "_row")).rows()
    cols = rows.select(pl.exclude("_rec", "_row")).columns
    assert cols == ["o#0", "o#1", "i#0", "i#1", "i#2"]
    assert got == [
        ("0.1", None, "1", "2", "3"),
        ("0.2", None, "4", "5", "6"),
        ("0.3", "0.7", "7", "8,9", None),
        ("1", None, "37.0", "x", None),  # values stay text: 37.0 is not 37
    ]


def test_row_count_mismatch_is_reported() -> None:
    rows, bad = _flat([_record("a", in_data="1\n2\n", out_data="0.1"), _record("b")])
    assert rows["_rec"].unique().to_list() == [1]
    assert bad.row(0) == (0, "endpointInput has 2 rows but endpointOutput has 1")


def test_json_payloads() -> None:
    js = {"in_observedContentType": "application/json", "in_encoding": "JSON", "out_observedContentType": "application/json", "out_encoding": "JSON"}
    rows, bad = _flat(
        [
            _record(
                "inst",
                in_data=json.dumps({"instances": [{"features": [1, 2]}, {"features": [3, 4]}]}),
                out_data=json.dumps({"predictions": [{"score": 0.1, "predicted_label": 0}, {"score": 0.9, "predicted_label": 1}]}),
                **js,
            ),
            _record("flat", in_data=json.dumps({"age": 30, "city": "Oslo"}), out_data="[0.2, 0.8]", **js),
            _record("bad", in_data="{nope", out_data="0.5", **js),
        ]
    )
    assert bad.to_dicts() == [{"_rec": 2, "_reason": "endpointInput: payload is not valid JSON (Expecting property name enclosed in double quotes)"}]
    d = {(r["_rec"], r["_row"]): r for r in rows.to_dicts()}
    assert d[(0, 0)]["i#0"] == 1 and d[(0, 1)]["i#1"] == 4
    assert d[(0, 1)]["o:score"] == 0.9 and d[(0, 1)]["o:predicted_label"] == 1
    assert d[(1, 0)]["i:age"] == 30 and d[(1, 0)]["i:city"] == "Oslo"
    assert (d[(1, 0)]["o#0"], d[(1, 0)]["o#1"]) == (0.2, 0.8)  # a multi-output response is one row


def test_jsonlines_and_base64_payloads() -> None:
    b64 = base64.b64encode(b"5,6").decode()
    rows, bad = _flat(
        [
            _record("jl", in_data='{"a": 1}\n{"a": 2}\n', in_observedContentType="application/jsonlines", in_encoding="JSON",
                    out_data="0.1\n0.2"),
            _record("b64", in_data=b64, in_encoding="BASE64", out_data="0.3"),
            _record("bin", in_data=base64.b64encode(b"\x89PNG").decode(), in_encoding="BASE64",
                    in_observedContentType="image/png", out_data="0.4"),
            _record("junk", in_data="%%%", in_encoding="BASE64", out_data="0.5"),
        ]
    )  # fmt: skip
    d = {(r["_rec"], r["_row"]): r for r in rows.to_dicts()}
    assert d[(0, 1)]["i:a"] == 2 and d[(0, 1)]["o#0"] == "0.2"
    assert (d[(1, 0)]["i#0"], d[(1, 0)]["i#1"]) == ("5", "6")
    reasons = dict(bad.rows())
    assert "image/png is not CSV or JSON" in reasons[2]
    assert "not valid base64" in reasons[3]


def test_input_only_capture() -> None:
    r = _record("in-only")
    del r["captureData"]["endpointOutput"]
    rows, bad = _flat([r])
    assert bad.height == 0 and rows.select(pl.exclude("_rec", "_row")).columns == ["i#0", "i#1"]


def test_label_rows_csv_and_json() -> None:
    labels = pl.DataFrame(
        {
            "_rec": pl.Series([0, 1, 2, 3], dtype=pl.UInt32),
            "gt_enc": ["CSV", "JSON", "CSV", "JSON"],
            "gt_data": ["1", json.dumps({"instances": [{"label": 0}, {"label": 1}]}), "  ", json.dumps({"a": 1, "b": 2})],
        }
    )
    rows, bad = label_rows(labels)
    assert rows.rows() == [(0, 0, "1"), (1, 0, "0"), (1, 1, "1")]
    assert sorted(bad["_rec"].to_list()) == [2, 3]


def test_a_large_label_file_parsed_in_slices_is_the_file_parsed_whole(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Slices cut at line ends: the same labels, line numbers, counts and problems as one parse,
    with malformed lines, blank lines and a JSON array line (several labels on one line) inside."""
    from mmon.capture import records

    lines = []
    for i in range(300):
        if i % 37 == 5:
            lines.append('{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": ')  # cut off
        elif i % 41 == 7:
            lines.append("")
        elif i % 53 == 11:
            lines.append(json.dumps([{"groundTruthData": {"data": str(k), "encoding": "CSV"},
                                      "eventMetadata": {"eventId": f"arr-{i}-{k}"}, "eventVersion": "0"} for k in range(3)]))  # fmt: skip
        else:
            lines.append(json.dumps({"groundTruthData": {"data": str(i % 2), "encoding": "CSV"},
                                     "eventMetadata": {"eventId": f"e-{i}"}, "eventVersion": "0"}))  # fmt: skip
    data = ("\n".join(lines) + "\n").encode()
    whole = parse_ground_truth(data, "s3://b/gt.jsonl", 3)
    monkeypatch.setattr(records, "LABEL_SLICE", 700)  # ~8 lines a slice: ~40 slices
    sliced = parse_ground_truth(data, "s3://b/gt.jsonl", 3)
    assert whole.malformed == sliced.malformed == 8
    assert (whole.lines, [str(p) for p in whole.problems]) == (sliced.lines, [str(p) for p in sliced.problems])
    assert sliced.frame.equals(whole.frame) and sliced.frame.height == whole.frame.height > 280
    assert sliced.frame.filter(pl.col("key") == "arr-11-2")["_line"].to_list() == [12]
