"""mmon.merged_rows: every instance of a merged record is a row, or the record is an input error."""

from __future__ import annotations

import base64
import json

import pytest

from mmon import merged_rows as mr
from mmon.errors import InputError


def record(inp: str | None, out: str | None, gt: str | None, enc: str = "JSON", ctype: str = "application/json",
           gt_enc: str = "JSON", **meta: str) -> str:  # fmt: skip
    cap = {}
    if inp is not None:
        cap["endpointInput"] = {"data": inp, "encoding": enc, "observedContentType": ctype}
    if out is not None:
        cap["endpointOutput"] = {"data": out, "encoding": enc, "observedContentType": ctype}
    rec: dict = {"captureData": cap, "eventMetadata": {"eventId": "e", **meta}}
    if gt is not None:
        rec["groundTruthData"] = {"data": gt, "encoding": gt_enc}
    return json.dumps(rec)


def rows(lines: list[str], label: str | None, pred: str | None, features: str | None = None):
    recs = mr.read_records(("\n".join(lines) + "\n").encode(), "f.jsonl")
    sides = {"in": mr.features(recs, "f.jsonl", features), "gt": mr.values(recs, "gt", label, "f.jsonl")
             .rename({"v": "label"}), "out": mr.values(recs, "out", pred, "f.jsonl").rename({"v": "pred"})}  # fmt: skip
    return mr.assemble(recs, sides, "f.jsonl")


def test_json_instances_predictions_and_clarify_labels() -> None:
    inp = json.dumps({"instances": [{"features": [1, 2.5]}, {"features": [3, 4.0]}]})
    out = json.dumps({"predictions": [{"score": 0.9, "predicted_label": 1}, {"score": 0.1, "predicted_label": 0}]})
    gt = json.dumps({"instances": [{"label": 1}, {"label": 0}]})
    other = record(json.dumps({"instances": [{"features": [5, 6]}]}), json.dumps({"predictions": [{"score": 0.5, "predicted_label": 0}]}),
                   json.dumps({"instances": [{"label": 1}]}))  # fmt: skip
    for pred in ("predictions[*].predicted_label", "predicted_label", "$.predictions[*].predicted_label"):
        r = rows([record(inp, out, gt), other], "instances[*].label", pred, "instances[*].features")
        assert r.select("_rec", "_row", "#0", "#1", "label", "pred").rows() == [
            (1, 0, "1.0", "2.5", "1", "1"), (1, 1, "3.0", "4.0", "0", "0"), (2, 0, "5.0", "6.0", "1", "0"),
        ]  # fmt: skip
    # Without a features path: {"instances": [{"features": [...]}]} is unwrapped all the same.
    assert rows([record(inp, out, gt)], None, "score")["pred"].to_list() == ["0.9", "0.1"]


def test_csv_bodies_split_on_lines_and_base64() -> None:
    b64 = base64.b64encode(b"5,6\n7,8\n").decode()
    r = rows([
        record("1,2\n3,4", "0.9\n0.2", "1\n0", enc="CSV", ctype="text/csv", gt_enc="CSV"),
        record(b64, base64.b64encode(b"0.3\n0.4").decode(), "0\n1", enc="BASE64", ctype="text/csv", gt_enc="CSV"),
    ], None, "0")  # fmt: skip
    assert r.select("#0", "#1", "label", "pred").rows() == [
        ("1", "2", "1", "0.9"), ("3", "4", "0", "0.2"), ("5", "6", "0", "0.3"), ("7", "8", "1", "0.4"),
    ]  # fmt: skip


def test_jsonlines_payloads_one_row_per_line() -> None:
    inp = '{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}'
    out = '{"score": 0.2}\n{"score": 0.7}'
    line = record(inp, out, "0\n1", ctype="application/jsonlines", gt_enc="CSV")
    r = rows([line], None, "score")
    assert r.select("a", "b", "label", "pred").rows() == [("1", "x", "0", "0.2"), ("2", "y", "1", "0.7")]


def test_batch_transform_record_is_input_and_output() -> None:
    data = json.dumps({"SageMakerOutput": {"predictions": [{"predicted_label": 1}, {"predicted_label": 0}]},
                       "instances": [{"features": [1, 2]}, {"features": [3, 4]}], "SageMakerInferenceId": "i"})  # fmt: skip
    rec = {"captureData": {"batchTransformOutput": {"data": data, "encoding": "JSON"}},
           "groundTruthData": {"data": json.dumps({"instances": [{"label": 0}, {"label": 1}]}), "encoding": "JSON"},
           "eventMetadata": {"eventId": "i"}}  # fmt: skip
    r = rows([json.dumps(rec)], "instances[*].label", "predictions[*].predicted_label")
    assert r.select("#0", "#1", "label", "pred").rows() == [("1", "2", "0", "1"), ("3", "4", "1", "0")]


def test_rows_that_cannot_be_paired_name_the_record() -> None:
    good = record("1,2", "0.5", "1", enc="CSV", ctype="text/csv", gt_enc="CSV")
    bad = record("1,2\n3,4", "0.5\n0.6", "1", enc="CSV", ctype="text/csv", gt_enc="CSV", inferenceId="inf-7")
    with pytest.raises(InputError, match=r"f\.jsonl: record 2 \(event inf-7\): .*endpointInput 2, groundTruthData 1, "
                                         r"endpointOutput 2\); they cannot be paired"):  # fmt: skip
        rows([good, bad], None, "0")


def test_ambiguous_or_missing_fields_are_clear_errors() -> None:
    out = json.dumps({"predictions": [{"score": 0.9, "predicted_label": 1}]})
    line = record(json.dumps({"instances": [[1]]}), out, json.dumps({"instances": [{"label": 1}]}))
    with pytest.raises(InputError, match="each element has the fields score, predicted_label"):
        rows([line], None, None)
    with pytest.raises(InputError, match=r"endpointOutput: 'predictions\[\*\]\.nope' is not in the payload"):
        rows([line], None, "predictions[*].nope")
    with pytest.raises(InputError, match="only one"):
        mr.parse_path("a[*].b[*]")


def test_line_blocks_cut_at_line_ends_plain_and_gzip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import gzip

    from mmon.store import Store

    lines = [record("1,2", str(i / 10), "1", enc="CSV", ctype="text/csv", gt_enc="CSV") for i in range(40)]
    raw = "\n".join(lines).encode()  # no newline after the last record
    (tmp_path / "m.jsonl").write_bytes(raw)
    (tmp_path / "m.jsonl.gz").write_bytes(gzip.compress(raw))
    for name in ("m.jsonl", "m.jsonl.gz"):
        blocks = list(mr.line_blocks(Store(), str(tmp_path / name), 300))
        assert len(blocks) > 5
        assert b"".join(blocks) == raw
        assert all(b.endswith(b"\n") for b in blocks[:-1])
        assert mr.read_file(Store(), str(tmp_path / name))["_rec"].to_list() == list(range(1, 41))
