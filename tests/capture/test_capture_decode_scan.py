"""mmon.merged_scan: merged records read by template equal polars' JSON reader and Python's json.

Every case compares :func:`mmon.merged_scan.read_ndjson` with ``pl.read_ndjson`` (the reader it
replaces: same frame, or the same refusal) and the string fields with ``json.loads`` (the JSON
reference), and checks which lines took the template path, so that a fast path which silently
stopped matching fails here too.
"""

from __future__ import annotations

import io
import json
import random
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mmon import merged_rows, merged_scan
from mmon.errors import InputError
from mmon.model_quality.merged import MERGED_SCHEMA

SCHEMA = merged_rows.RECORD_SCHEMA


def _side(data: Any, enc: str = "CSV", ct: str = "text/csv", mode: str = "INPUT") -> dict[str, Any]:
    return {"observedContentType": ct, "mode": mode, "data": data, "encoding": enc}


def _record(i: int, data: Any = None, label: Any = "1", **meta: Any) -> dict[str, Any]:
    return {
        "captureData": {
            "endpointInput": _side(f"{i},2,3"),
            "endpointOutput": _side(data if data is not None else f"0.{i}", mode="OUTPUT"),
        },
        "eventMetadata": {"eventId": f"e-{i}", "inferenceTime": "2024-01-19T20:06:08Z", **meta},
        "eventVersion": "0",
        "groundTruthData": {"data": label, "encoding": "CSV"},
    }


def _compact(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _sorted_spaced(doc: Any) -> str:
    """SageMaker's merge job writes records with Spark: keys sorted, ``", "`` and ``": "``."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def _read(raw: bytes, schema: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[pl.DataFrame, int]:
    """Both readers' frames must be equal; returns the frame and how many lines polars read."""
    slow = [0]
    real = merged_scan._read_lines

    def spy(*args: Any) -> Any:
        slow[0] += len(args[3])
        return real(*args)

    monkeypatch.setattr(merged_scan, "_read_lines", spy)
    got = merged_scan.read_ndjson(raw, schema)
    assert_frame_equal(got, pl.read_ndjson(io.BytesIO(raw), schema=schema))
    return got, slow[0]


def _fields_of(doc: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """The schema's fields of a record as json.loads reads them (null where absent)."""
    out: dict[str, Any] = {}
    for name, dtype in schema.items():
        value = doc.get(name) if isinstance(doc, dict) else None
        if isinstance(dtype, pl.Struct):
            sub = {f.name: f.dtype for f in dtype.fields}
            out[name] = None if value is None else _fields_of(value, sub)
        else:
            out[name] = value
    return out


def _check_json(frame: pl.DataFrame, lines: list[str], schema: dict[str, Any]) -> None:
    docs = [json.loads(x) for x in lines if x.strip()]
    assert frame.to_dicts() == [_fields_of(d, schema) for d in docs]


@pytest.mark.parametrize("layout", [_compact, _sorted_spaced])
def test_usual_records_take_the_template_path(layout: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [layout(_record(i)) for i in range(50)]
    raw = ("\n".join(lines) + "\n").encode()
    for schema in (SCHEMA, MERGED_SCHEMA):
        frame, slow = _read(raw, schema, monkeypatch)
        assert slow == 0
        _check_json(frame, lines, schema)


ESCAPES = {
    "quote": 'say "hi"',
    "backslash": "C:\\temp\\x",
    "slash": "a/b",  # json.dumps leaves "/" alone; the escaped form is below
    "controls": "tab\tnew\nline\rback\bfeed\f",
    "latin": "café",
    "emoji": "😀 ok",
    "nul": "a\x00b",
    "quote_last": 'ends with "',
    "backslash_last": "ends with \\",
    "json_payload": json.dumps({"instances": [{"features": [1, "a\"b", 2.5]}]}),
    "empty": "",
}


@pytest.mark.parametrize("ascii_only", [False, True])
@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_every_escape_class_reads_as_json_does(name: str, ascii_only: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    text = ESCAPES[name]
    docs = [_record(i, data=text if i % 2 else f"0.{i}") for i in range(6)]
    lines = [json.dumps(d, separators=(",", ":"), ensure_ascii=ascii_only) for d in docs]
    raw = ("\n".join(lines) + "\n").encode()
    frame, slow = _read(raw, SCHEMA, monkeypatch)
    _check_json(frame, lines, SCHEMA)
    out = frame["captureData"].struct.field("endpointOutput").struct.field("data").to_list()
    assert out[1] == text
    plain = all(c not in text for c in '\\\n\r\t\b\f\x00') and (text.isascii() or not ascii_only)
    if plain:
        assert slow == 0  # only quotes (as \") and raw UTF-8: every line by template
    else:
        assert slow == 3  # the lines holding other escapes, and only those, went to polars


def test_written_escapes_polars_and_python_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    # Escapes json.dumps never writes: \/, \u0041, upper-case hex, a surrogate pair.
    written = [r"a\/b", r"\u0041\u00E9", r"\ud83d\ude00", r"\"\\\"", r"x\\"]
    lines = ['{"captureData":{"endpointOutput":{"data":"' + w + '","encoding":"CSV"}},"eventVersion":"0"}' for w in written]
    lines += [_compact(_record(1))]
    raw = ("\n".join(lines) + "\n").encode()
    frame, slow = _read(raw, SCHEMA, monkeypatch)
    _check_json(frame, lines, SCHEMA)
    assert slow == len(written)  # each has a backslash before something else than a quote


def test_keys_in_other_orders_and_several_layouts(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)

    def shuffled(doc: Any) -> Any:
        if not isinstance(doc, dict):
            return doc
        keys = list(doc)
        rng.shuffle(keys)
        return {k: shuffled(doc[k]) for k in keys}

    lines = []
    for i in range(40):
        doc = _record(i) if i % 4 else shuffled(_record(i))
        lines.append(_sorted_spaced(doc) if i % 3 == 0 else _compact(doc))
    raw = ("\n".join(lines) + "\n").encode()
    for schema in (SCHEMA, MERGED_SCHEMA):
        frame, slow = _read(raw, schema, monkeypatch)
        _check_json(frame, lines, schema)
        assert slow < len(lines)  # the first layouts by template, the rest (past MAX_TEMPLATES) by polars


SHAPES = {
    "nested data object": '{"captureData":{"endpointOutput":{"data":{"a":1},"encoding":"JSON"}}}',
    "number data": '{"captureData":{"endpointOutput":{"data":1e-07,"encoding":"CSV"}}}',
    "number one point oh": '{"captureData":{"endpointOutput":{"data":1.0,"encoding":"CSV"}}}',
    "bool data": '{"captureData":{"endpointOutput":{"data":true,"encoding":"CSV"}}}',
    "list data": '{"captureData":{"endpointOutput":{"data":[1, 2],"encoding":"CSV"}}}',
    "null data": '{"captureData":{"endpointOutput":{"data":null,"encoding":"CSV"}}}',
    "no output": '{"captureData":{"endpointInput":{"data":"1","encoding":"CSV"}}}',
    "null struct": '{"captureData":null,"groundTruthData":{"data":"1"}}',
    "empty struct": '{"captureData":{},"eventMetadata":{}}',
    "duplicate key": '{"captureData":{"endpointOutput":{"data":"a","data":"b"}}}',
    "big int": '{"eventVersion":12345678901234567890,"groundTruthData":{"data":"1"}}',
    "float version": '{"eventVersion":1.50,"groundTruthData":{"data":"1"}}',
    "exponent": '{"x":1E+2,"groundTruthData":{"data":"1"}}',
    "spaces": '  { "groundTruthData" : { "data" : "1" , "encoding" : "CSV" } }  ',
    "tabs": '{\t"groundTruthData":{"data":"1"}}',
    "raw utf-8": '{"groundTruthData":{"data":"naïve ☃","encoding":"CSV"}}',
    "unknown keys": '{"extra":{"deep":[{"x":"y"}]},"groundTruthData":{"data":"1"}}',
    "quoted key": '{"a\\"b":"x","groundTruthData":{"data":"1"}}',
    "wanted names deeper": '{"x":{"captureData":{"endpointOutput":{"data":"no"}}},"groundTruthData":{"data":"1"}}',
    "braces in strings": '{"groundTruthData":{"data":"{\\"a\\": \\"}\\"}","encoding":"JSON"}}',
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shapes_read_as_polars_reads_them(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    line = SHAPES[name]
    raw = ("\n".join([line] * 3 + [_compact(_record(1)), line]) + "\n").encode()
    frame, _ = _read(raw, SCHEMA, monkeypatch)
    assert frame.height == 5


@pytest.mark.parametrize(
    "raw",
    [
        b'{"groundTruthData":{"data":"1"}}\n\n   \n{"groundTruthData":{"data":"2"}}\n',  # blank lines
        b'{"groundTruthData":{"data":"1"}}\r\n{"groundTruthData":{"data":"2"}}\r\n',  # CRLF
        b'{"groundTruthData":{"data":"1"}}\n{"groundTruthData":{"data":"2"}}',  # no final newline
        b"",
        b"  \n\n",
    ],
)
def test_line_structure(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    _read(raw, SCHEMA, monkeypatch)


@pytest.mark.parametrize(
    "bad",
    [
        '{"groundTruthData":{"data":"1"}',  # truncated
        '{"groundTruthData":{"data":"1"}} x',  # trailing text
        '{"groundTruthData":{"data":"a\tb"}}',  # raw control character in a string
        '{"groundTruthData":{"data":NaN}}',
        '{"groundTruthData":{"data":"1"},"x":1e999}',
        "[1, 2]",
        '{"groundTruthData":"1"}',  # a struct that is not an object
    ],
)
def test_bad_lines_are_refused_like_polars(bad: str) -> None:
    good = _compact(_record(1))
    raw = ("\n".join([good, good, bad, good]) + "\n").encode()
    with pytest.raises(pl.exceptions.PolarsError):
        pl.read_ndjson(io.BytesIO(raw), schema=SCHEMA)
    with pytest.raises(pl.exceptions.PolarsError):
        merged_scan.read_ndjson(raw, SCHEMA)
    with pytest.raises(InputError, match=r"^f\.jsonl: line 3: cannot read merged records: "):
        merged_rows.read_records(raw, "f.jsonl")


def test_invalid_utf8_is_refused_like_polars() -> None:
    raw = b'{"groundTruthData":{"data":"\xff"}}\n'
    with pytest.raises(pl.exceptions.PolarsError):
        pl.read_ndjson(io.BytesIO(raw), schema=SCHEMA)
    with pytest.raises(pl.exceptions.PolarsError):
        merged_scan.read_ndjson(raw, SCHEMA)


def test_bad_line_number_counts_across_blocks(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmon.store import Store

    good = _compact(_record(1))
    lines = [good] * 30 + [""] * 3 + [good] * 10 + ['{"captureData":'] + [good] * 5
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(merged_rows, "BLOCK_BYTES", 700)  # a few records per block
    with pytest.raises(InputError, match=r"m\.jsonl: line 44: cannot read merged records"):
        merged_rows.read_file(Store(), str(path))


def test_random_records_equal_polars_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded fuzz: strings from an alphabet of quotes, backslashes, controls, braces and
    non-ASCII text; fields dropped, nulled, typed otherwise; two layouts."""
    rng = random.Random(11)
    alphabet = ['"', "\\", "\n", "\t", "{", "}", ":", ",", "[", "é", "😀", "a", "1", " ", "/", "\x01"]

    def text() -> str:
        return "".join(rng.choice(alphabet) if rng.random() < 0.3 else "x" for _ in range(rng.randint(0, 12)))

    lines = []
    for i in range(300):
        doc = _record(i, data=text(), label=rng.choice([text(), "1", None, 0, 1.5]))
        if rng.random() < 0.1:
            del doc["groundTruthData"]
        if rng.random() < 0.1:
            doc["captureData"]["endpointOutput"]["encoding"] = None
        lines.append((_sorted_spaced if rng.random() < 0.3 else _compact)(doc))
    raw = ("\n".join(lines) + "\n").encode()
    for schema in (SCHEMA, MERGED_SCHEMA):
        frame, slow = _read(raw, schema, monkeypatch)
        assert 0 < slow < len(lines)
    # json.loads agrees on the records whose label is text (polars writes 1.5 as its own text)
    texts = [x for x in lines if isinstance(json.loads(x).get("groundTruthData", {}).get("data", ""), str)]
    frame, _ = _read(("\n".join(texts) + "\n").encode(), SCHEMA, monkeypatch)
    _check_json(frame, texts, SCHEMA)


def test_long_pieces_between_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    # A key longer than the spare bytes after a block, and a last line as short as can be with as
    # many quotes: its piece would start within the spare bytes' reach.
    long = '{"' + "k" * 400 + '":"v","groundTruthData":{"data":"1"}}'
    raw = ("\n".join([long, long, '{"a":"b","groundTruthData":{"data":"2"}}']) + "\n").encode()
    frame, slow = _read(raw, SCHEMA, monkeypatch)
    assert slow == 0  # two templates
    assert frame["groundTruthData"].struct.field("data").to_list() == ["1", "1", "2"]


def test_pieces_compared_in_windows_still_refuse_a_changed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values of one length on every line (encoding, content type, time) let the pieces around them be
    compared as one window with the value's bytes masked out: a key changed by one byte anywhere in
    such a window (first byte, last byte, beside a masked value) must still keep its line off the
    first template (it is a layout of its own, read by polars' rules), and a masked value that
    differs must still be read as its own text."""
    base = [_compact(_record(i)) for i in range(40)]
    # (each keeps the quote count and the line's length, so only the byte comparison can catch it)
    changed = {
        3: base[3].replace('"mode":"INPUT"', '"modx":"INPUT"', 1),  # inside a window
        7: base[7].replace('{"captureData"', '{"captureDatx"', 1),  # the line's first piece
        11: base[11].replace('"encoding":"CSV"}}', '"encodinh":"CSV"}}', 1),  # the last piece
        15: base[15].replace('"encoding":"CSV"', '"encoding";"CSV"', 1),  # not JSON: polars refuses
        19: base[19].replace('"INPUT"', '"OUTPT"', 1),  # a masked value of the same length: template
    }
    lines = [changed.get(i, line) for i, line in enumerate(base)]
    assert all(len(changed[i]) == len(base[i]) for i in changed)
    with pytest.raises(pl.exceptions.ComputeError):
        pl.read_ndjson(io.BytesIO(("\n".join(lines) + "\n").encode()), schema=SCHEMA)
    with pytest.raises(pl.exceptions.ComputeError):
        merged_scan.read_ndjson(("\n".join(lines) + "\n").encode(), SCHEMA)
    del lines[15]
    raw = ("\n".join(lines) + "\n").encode()
    made = []
    real = merged_scan._template
    monkeypatch.setattr(merged_scan, "_template", lambda *a: made.append(real(*a)) or made[-1])
    for schema in (SCHEMA, MERGED_SCHEMA):
        made.clear()
        frame, slow = _read(raw, schema, monkeypatch)
        # the changed keys are layouts of their own (a template each), the changed value is not
        assert slow == 0 and len(made) == 4
        _check_json(frame, lines, schema)


def test_windows_join_pieces_around_values_of_one_length() -> None:
    line = _compact(_record(1)).encode()
    raw = np.frombuffer(line, dtype=np.uint8)
    quotes = np.flatnonzero(raw == 34)
    t = merged_scan._template(line, quotes, merged_scan.leaves(SCHEMA) or [])
    assert t is not None
    pieces = len(t.sizes)
    one_length = np.repeat((quotes[2 * t.values + 1] - quotes[2 * t.values] - 1)[:, None], 5, axis=1)
    windows = merged_scan._windows(t, one_length)
    assert len(windows) < pieces / 3  # joined, never wider than the spare bytes
    assert all(len(piece) <= merged_scan._PAD for _, piece, _ in windows)
    # the skeleton, window by window, is the template's: every byte compared once
    assert sum(int((mask == 0xFF).sum()) if mask is not None else len(piece) for _, piece, mask in windows) == len(t.skeleton)
    varying = one_length.copy()
    varying[:, 0] += 1
    assert len(merged_scan._windows(t, varying)) == pieces  # no value of one length: piece by piece
