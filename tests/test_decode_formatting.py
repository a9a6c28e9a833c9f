"""Payload decoding at scale keeps the values exactly as before (issue 16, item 3).

The faster paths -- merged-record payloads decoded once per distinct text (``mmon.merged_rows``),
model-quality merged records reduced block by block (``mmon.model_quality.merged``) -- are
compared with the paths they replace on the cases that make number formatting hard: a facet value
``1e-07`` (polars prints ``1e-7``), ``1`` next to ``1.0`` (one column: ``1.0`` in a float column,
``1`` in a column mixed with text), integers past 64 bits, booleans, nulls, nested values.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import polars as pl
import pytest

from mmon import merged_rows as mr
from mmon.errors import InputError
from mmon.model_quality import merged as mq_merged
from mmon.model_quality.data import Attributes
from mmon.model_quality.table import read_table
from mmon.readers import DatasetFile
from mmon.store import Store


def record(inp: object, out: object, gt: object, event: str = "e") -> str:
    def side(v: object) -> dict[str, str]:
        return {"data": v if isinstance(v, str) else json.dumps(v), "encoding": "JSON",
                "observedContentType": "application/json"}  # fmt: skip

    return json.dumps({"captureData": {"endpointInput": side(inp), "endpointOutput": side(out)},
                       "groundTruthData": side(gt), "eventMetadata": {"eventId": event}})  # fmt: skip


def rows(lines: list[str], features: str | None = "instances[*].features") -> pl.DataFrame:
    recs = mr.read_records(("\n".join(lines) + "\n").encode(), "f.jsonl")
    sides = {"in": mr.features(recs, "f.jsonl", features),
             "gt": mr.values(recs, "gt", "instances[*].label", "f.jsonl").rename({"v": "label"}),
             "out": mr.values(recs, "out", "predictions[*].predicted_label", "f.jsonl").rename({"v": "pred"})}  # fmt: skip
    return mr.assemble(recs, sides, "f.jsonl")


def both(lines: list[str], monkeypatch: pytest.MonkeyPatch, **kw: str | None) -> pl.DataFrame:
    """The rows read with distinct-text decoding, asserted equal (values and types) to the rows
    read decoding every payload (the path before it)."""
    fast = rows(lines, **kw)  # type: ignore[arg-type]
    with monkeypatch.context() as m:
        m.setattr(mr, "_DISTINCT_SHARE", -1.0, raising=False)  # never take the distinct-text path
        slow = rows(lines, **kw)  # type: ignore[arg-type]
    assert fast.schema == slow.schema
    assert fast.rows() == slow.rows()
    return fast


def many(inp: list[object], out: list[object], gt: list[object], repeat: int = 3) -> list[str]:
    """Records repeating each payload (so that the distinct-text path is taken)."""
    return [record({"instances": [{"features": f}]}, {"predictions": [{"predicted_label": p}]},
                   {"instances": [{"label": g}]}, f"e{k}-{i}")
            for k in range(repeat) for i, (f, p, g) in enumerate(zip(inp, out, gt, strict=True))]  # fmt: skip


def test_distinct_path_is_taken_for_repeated_payloads() -> None:
    recs = mr.read_records(("\n".join(many([[1]], [1], [1], repeat=4)) + "\n").encode(), "f")
    text = recs.select("_rec", pl.col("gt_text").alias("text"))
    assert text["text"].n_unique() <= mr._DISTINCT_SHARE * text.height
    assert mr._decode(text, "f", "gt")["v"].to_list() == [{"instances": [{"label": 1}]}] * 4


def test_small_exponent_and_one_point_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    # A float column: 1e-07 prints as polars prints it (1e-7), 1 next to 1.0 is 1.0 everywhere.
    r = both(many([[1e-07, 1], [1.0, 2.5], [3, 4]], [1e-07, 1, 1.0], [1, 1.0, 0]), monkeypatch)
    assert r.select("#0", "#1", "label", "pred").head(3).rows() == [
        ("1e-7", "1.0", "1.0", "1e-7"), ("1.0", "2.5", "1.0", "1.0"), ("3.0", "4.0", "0.0", "1.0"),
    ]  # fmt: skip


def test_mixed_text_and_number_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    # A column mixing text and numbers is text: polars writes 1.0 as "1" and 1e-07 as "0.0000001".
    r = both(many([["a", 1e-07], [1.0, "b"], [1, 2]], ["x", 1.0, 1e-07], ["no", 1, 1.0]), monkeypatch)
    assert r.select("#0", "#1", "label", "pred").head(3).rows() == [
        ("a", "0.0000001", "no", "x"), ("1", "b", "1", "1"), ("1", "2", "1", "0.0000001"),
    ]  # fmt: skip


def test_big_ints_booleans_nulls(monkeypatch: pytest.MonkeyPatch) -> None:
    big = 12345678901234567890  # past Int64: polars keeps every digit (Int128)
    r = both(many([[big, True, None], [1, False, 2]], [True, None], [big, 0]), monkeypatch)
    assert r.select("#0", "#1", "#2", "label", "pred").head(2).rows() == [
        (str(big), "true", None, str(big), "true"), ("1", "false", "2", "0", None),
    ]  # fmt: skip


def test_nested_values_keep_python_json_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nested values are their JSON text, numbers as Python writes them (1e-07), text escaped.
    lines = many([[[1e-07, 1.0], [1]], [[2, 3], [4]]], [{"k": "é", "p": [0.1, 0.9]}, {"k": "x", "p": [0.5, 0.5]}], [1, 0])
    r = both(lines, monkeypatch)
    assert r.select("#0", "#1", "pred").head(2).rows() == [
        ("[1e-07,1.0]", "[1.0]", '{"k":"\\u00e9","p":[0.1,0.9]}'), ("[2.0,3.0]", "[4.0]", '{"k":"x","p":[0.5,0.5]}'),
    ]  # fmt: skip


def test_many_instances_and_jsonlines_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    inp = {"instances": [{"features": [1, 0.5]}, {"features": [2, 1e-07]}]}
    out = {"predictions": [{"predicted_label": 1}, {"predicted_label": 0}]}
    gt = {"instances": [{"label": 1}, {"label": 0}]}
    r = both([record(inp, out, gt, f"e{i}") for i in range(5)], monkeypatch)
    assert r.height == 10
    assert r.select("#0", "#1", "label", "pred").head(2).rows() == [("1.0", "0.5", "1", "1"), ("2.0", "1e-7", "0", "0")]


def test_base64_payloads_decode_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    def b64(v: object) -> dict[str, str]:
        return {"data": base64.b64encode(json.dumps(v).encode()).decode(), "encoding": "BASE64",
                "observedContentType": "application/json"}  # fmt: skip

    plain = many([[1e-07, 1]], [1], [1.0], repeat=2)
    coded = json.dumps({"captureData": {"endpointInput": b64({"instances": [{"features": [1e-07, 1]}]}),
                                        "endpointOutput": b64({"predictions": [{"predicted_label": 1}]})},
                        "groundTruthData": b64({"instances": [{"label": 1.0}]}), "eventMetadata": {"eventId": "b"}})  # fmt: skip
    r = both([*plain, coded], monkeypatch)
    assert r.select("#0", "#1", "label", "pred").rows() == [("1e-7", "1.0", "1.0", "1")] * 3


def test_read_file_in_blocks_equals_the_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = many([[1e-07, 1], [1.0, "b"]], [1, 0], [1, 0], repeat=10)
    shadow = json.loads(lines[3])
    shadow["eventMetadata"]["invocationSource"] = "ShadowExperiment"
    lines[3] = json.dumps(shadow)
    raw = ("\n".join(lines) + "\n").encode()
    path = tmp_path / "m.jsonl"
    path.write_bytes(raw)
    monkeypatch.setattr(mr, "BLOCK_BYTES", 500)  # a few records per block
    blocks = mr.read_file(Store(), str(path))
    whole = mr.read_records(raw, str(path))
    assert blocks.schema == whole.schema
    assert blocks.rows() == whole.rows()
    assert blocks["_rec"].to_list() == [r for r in range(1, 21) if r != 4]


# -- model quality: merged records reduced block by block -------------------------------------------


def mq_record(out: str, gt: str, enc: str = "CSV", i: int = 0) -> str:
    ctype = "text/csv" if enc == "CSV" else "application/json"
    return json.dumps({"captureData": {"endpointOutput": {"data": out, "encoding": enc, "observedContentType": ctype}},
                       "groundTruthData": {"data": gt, "encoding": enc}, "eventMetadata": {"eventId": f"e{i}"}})  # fmt: skip


def mq_read(path: Path, attrs: Attributes, block: int | None, monkeypatch: pytest.MonkeyPatch) -> pl.DataFrame:
    with monkeypatch.context() as m:
        if block is not None:
            m.setattr(mq_merged, "MERGED_BLOCK_BYTES", block)
        return read_table(Store(), [DatasetFile(str(path), "jsonl")], attrs).frame


def mq_both(tmp_path: Path, lines: list[str], attrs: Attributes, monkeypatch: pytest.MonkeyPatch) -> pl.DataFrame:
    """The table read in blocks of ~300 bytes (many blocks), equal to the table read as one block."""
    path = tmp_path / "merged.jsonl"
    path.write_text("\n".join(lines) + "\n")
    small = mq_read(path, attrs, 300, monkeypatch)
    whole = mq_read(path, attrs, None, monkeypatch)
    assert small.schema == whole.schema
    assert small.rows() == whole.rows()
    return small


@pytest.mark.parametrize("block", [None, 300])
def test_mq_unreadable_record_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int | None) -> None:
    """An unreadable record is named by file and line, whichever block it falls in (blank lines
    counted): the model-quality reader named only the file."""
    lines = [mq_record("0.5", "1", i=i) for i in range(30)]
    lines[12:12] = ["", "   "]
    lines.insert(25, '{"captureData": {"endpointOutput": 5}}')  # line 26: a struct that is not an object
    path = tmp_path / "merged.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"^{path}: line 26: cannot read merged records"):
        mq_read(path, Attributes("0", "0", None), block, monkeypatch)


def test_mq_unreadable_record_line_counts_whitespace_only_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of nothing but blank lines are skipped by the reader, yet their lines count."""
    lines = [mq_record("0.5", "1", i=i) for i in range(10)] + ["   "] * 200 + [mq_record("0.5", "1", i=10)]
    lines.append('{"captureData": {"endpointOutput": 5}}')  # line 212
    path = tmp_path / "merged.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"^{path}: line 212: cannot read merged records"):
        mq_read(path, Attributes("0", "0", None), 300, monkeypatch)


def test_mq_blocks_csv_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = ["0.9", "1e-07", "1", "1.0", " 0.25 ", "NaN", "", "12345678901234567890", "0.000001"]
    labels = ["1", "1.0", "0", "true", "False", "1", "0", "1", "0"]
    lines = [mq_record(v, g, i=i) for i, (v, g) in enumerate(zip(values * 4, labels * 4, strict=True))]
    t = mq_both(tmp_path, lines, Attributes("0", "0", None), monkeypatch)
    assert t.height == 36
    assert t["actual"].head(9).to_list() == ["1", "1", "0", "true", "false", "1", "0", "1", "0"]
    assert t["predicted"].head(9).to_list() == ["0.9", "1e-7", "1", "1", "0.25", None, None, "1.2345678901234567e+19", "1e-6"]  # fmt: skip
    assert t["score"].head(3).to_list() == [0.9, 1e-07, 1.0]


def test_mq_blocks_json_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outs = [{"predicted_label": 1, "score": 1e-07}, {"predicted_label": 0, "score": 1}, {"predicted_label": True, "score": 0.5}]
    lines = [mq_record(json.dumps(o), json.dumps(g), enc="JSON", i=i)
             for i, (o, g) in enumerate(zip(outs * 5, [1, 0.0, True] * 5, strict=True))]  # fmt: skip
    t = mq_both(tmp_path, lines, Attributes("predicted_label", "score", None), monkeypatch)
    assert t.select("actual", "predicted", "score").head(3).rows() == [("1", "1", 1e-07), ("0", "0", 1.0), ("true", "true", 0.5)]


def test_mq_blocks_that_decide_differently_read_the_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # First records: one quoted field, no comma (the value is the whole payload); later ones have a
    # comma (fields are split and unquoted). One block sees no comma, another does: the file is read
    # as one block, so '"1"' is unquoted everywhere, as it is when the file is one block.
    lines = [mq_record('"1"', "1", i=i) for i in range(10)] + [mq_record('"0",x', "0", i=10 + i) for i in range(10)]
    t = mq_both(tmp_path, lines, Attributes("0", None, None), monkeypatch)
    assert t["predicted"].to_list() == ["1"] * 10 + ["0"] * 10
    # BASE64 in some blocks only: the same values.
    b = [mq_record(base64.b64encode(b"0.75").decode(), "1", enc="BASE64", i=i) for i in range(5)]
    t = mq_both(tmp_path, [*b, *(mq_record("0.75", "1", i=i) for i in range(5))], Attributes("0", "0", None), monkeypatch)
    assert t["score"].to_list() == [0.75] * 10


def test_mq_unreadable_value_counts_the_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [mq_record("0.5", "1", i=i) for i in range(10)] + [mq_record("oops", "1", i=10 + i) for i in range(3)]
    path = tmp_path / "merged.jsonl"
    path.write_text("\n".join(lines) + "\n")
    messages = []
    for block in (300, None):
        with pytest.raises(InputError) as exc:
            mq_read(path, Attributes(None, "0", "0"), block, monkeypatch)
        messages.append(str(exc.value))
    assert messages[0] == messages[1]
    assert "3 probability value(s) are not numbers" in messages[0]


def test_mq_many_rows_in_a_late_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A multi-row record far from the first block still sends the file to the row-by-row reader.
    lines = [mq_record("0.5", "1", i=i) for i in range(20)] + [mq_record("0.1\n0.9", "0\n1", i=99)]
    t = mq_both(tmp_path, lines, Attributes("0", "0", None), monkeypatch)
    assert t.height == 22
    assert t["score"].tail(2).to_list() == [0.1, 0.9]


def test_assemble_side_by_side_equals_the_join(monkeypatch: pytest.MonkeyPatch) -> None:
    csv = json.dumps({"captureData": {"endpointInput": {"data": "1,2\n3,4", "encoding": "CSV", "observedContentType": "text/csv"},
                                      "endpointOutput": {"data": "1\n0", "encoding": "CSV", "observedContentType": "text/csv"}},
                      "groundTruthData": {"data": "0\n1", "encoding": "CSV"}, "eventMetadata": {"eventId": "c"}})  # fmt: skip
    inp = {"instances": [{"features": [5, 6]}, {"features": [7, 8]}]}
    js = record(inp, {"predictions": [{"predicted_label": 1}, {"predicted_label": 0}]}, {"instances": [{"label": 1}, {"label": 0}]})
    cases = [many([[1, 2], [3, 4]], [1, 0], [0, 1]), [js, csv, js], [csv, csv], [js]]
    for lines in cases:
        recs = mr.read_records(("\n".join(lines) + "\n").encode(), "f")
        sides = {"in": mr.features(recs, "f", "instances[*].features"),
                 "gt": mr.values(recs, "gt", "instances[*].label", "f").rename({"v": "label"}),
                 "out": mr.values(recs, "out", None, "f").rename({"v": "pred"})}  # fmt: skip
        fast = mr.assemble(recs, sides, "f")
        with monkeypatch.context() as m:
            m.setattr(mr, "_aligned", lambda frames: None)
            joined = mr.assemble(recs, sides, "f")
        assert fast.schema == joined.schema
        assert fast.rows() == joined.rows()
    # A value column on two sides: the join's suffix, not a side-by-side frame.
    a = pl.DataFrame({"_rec": [1], "_row": [0], "v": ["x"]}, schema_overrides={"_rec": pl.UInt32, "_row": pl.UInt32})
    assert mr._aligned([a, a]) is None


def test_decode_in_slices_equals_one_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Slices that infer one type are that type; slices whose types differ (integers, then text
    # and floats) are decoded together, so every value prints as the one decode prints it.
    same = [json.dumps({"instances": [{"features": [i, i / 2]}]}) for i in range(40)]
    mixed = same + [json.dumps({"instances": [{"features": ["a", 1e-07]}]})] + same
    for texts in (same, mixed):
        whole = pl.Series(texts).str.json_decode(infer_schema_length=None)
        monkeypatch.setattr(mr, "DECODE_ROWS", 7)
        sliced = mr._json_decode(pl.Series(texts))
        monkeypatch.undo()
        assert sliced.dtype == whole.dtype
        assert sliced.to_list() == whole.to_list()
    assert pl.Series(mixed[:7]).str.json_decode(infer_schema_length=None).dtype != whole.dtype  # the fallback ran
