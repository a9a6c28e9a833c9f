"""Tests for mmon.jsonfmt: SageMaker's Jackson byte format (format study §1.4)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from mmon.jsonfmt import dumps, java_double_str, loads

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "sagemaker"

# Files SageMaker (Jackson) wrote, kept verbatim (shared/reference/sagemaker/README.md).
JACKSON_FILES = [
    "data/aai540-statistics.2024-10.json.gz",  # REAL-2024, full, 391 835 bytes
    "dq-statistics.2020-05.from-log.json",  # REAL-2020
    "dq-constraints.2020-05.from-log.json",  # REAL-2020
    "dq-constraints.2024-10.json",  # REAL-2024
    "dq-statistics.2024-10.trimmed.json",  # trimmed copy, re-serialised in Jackson style
    "mq-statistics-regression.sdk-test.json",  # SDK test data, Jackson style
]


def _read_bytes(name: str) -> bytes:
    path = REF / name
    if not path.exists():
        pytest.skip(f"reference file {path} not available")
    data = path.read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


@pytest.mark.parametrize("name", JACKSON_FILES)
def test_real_files_round_trip_byte_identical(name: str) -> None:
    raw = _read_bytes(name)
    out = dumps(loads(raw.decode("utf-8")))
    assert out.encode("utf-8") == raw


def test_old_sdk_violations_round_trip_except_trailing_newline() -> None:
    # The SDK test file is Jackson output with a newline added at the end (git convention).
    raw = _read_bytes("dq-constraint_violations.old-format.sdk-test.json").decode("utf-8")
    assert dumps(loads(raw)) == raw.rstrip("\n")


def test_real_2024_statistics_keeps_long_vs_double() -> None:
    doc = loads(_read_bytes(JACKSON_FILES[0]).decode("utf-8"))
    assert isinstance(doc["version"], float)
    assert isinstance(doc["dataset"]["item_count"], int)
    price = next(f for f in doc["features"] if f["name"] == "price")["numerical_statistics"]
    assert isinstance(price["approximate_num_distinct_values"], int)
    assert isinstance(price["distribution"]["kll"]["buckets"][0]["count"], float)
    assert price["sum"] == 1.4402689218907343e10


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (3.0, "3.0"),
        (-2.5, "-2.5"),
        (1e-3, "0.001"),
        (9.99e-4, "9.99E-4"),
        (1e-4, "1.0E-4"),
        (0.0012345, "0.0012345"),
        (1e7, "1.0E7"),
        (9999999.0, "9999999.0"),
        (9999999.999999998, "9999999.999999998"),
        (3.8e7, "3.8E7"),
        (1.14e7, "1.14E7"),
        (1.4402689218907343e10, "1.4402689218907343E10"),
        (974816.9090171932, "974816.9090171932"),
        (60.379999999999995, "60.379999999999995"),
        (1e21, "1.0E21"),
        (1e22, "1.0E22"),
        (1e23, "1.0E23"),
        (0.1 + 0.2, "0.30000000000000004"),
        (99.64592817400101, "99.64592817400101"),
        (100.0, "100.0"),
        (96.875, "96.875"),
        (-1.5e-7, "-1.5E-7"),
        (1.7976931348623157e308, "1.7976931348623157E308"),
        (2.2250738585072014e-308, "2.2250738585072014E-308"),
        # Subnormals: Java's spec admits 2-digit decimals when the shortest has 1 digit.
        (5e-324, "4.9E-324"),
        (1e-323, "9.9E-324"),
        (1.5e-323, "1.5E-323"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_java_double_str(value: float, text: str) -> None:
    assert java_double_str(value) == text


@pytest.mark.parametrize(
    "value", [5e-324, 1e-323, 1.23e-310, 0.1, 1e-3, 1e7, 123456789.125, 1e300, 2.0**-1074 * 7]
)
def test_java_double_str_round_trips(value: float) -> None:
    assert float(java_double_str(value)) == value
    assert float(java_double_str(-value)) == -value


def test_int_and_float_are_kept_apart() -> None:
    assert dumps({"a": 3, "b": 3.0}) == '{\n  "a" : 3,\n  "b" : 3.0\n}'
    doc = loads('{"a": 3, "b": 3.0, "c": 3E2}')
    assert type(doc["a"]) is int and type(doc["b"]) is float and type(doc["c"]) is float
    assert dumps(doc) == '{\n  "a" : 3,\n  "b" : 3.0,\n  "c" : 300.0\n}'


@pytest.mark.parametrize("value", [0, -1, 2**31, 2**63 - 1, -(2**63), 10**30])
def test_large_ints_plain(value: int) -> None:
    assert dumps([value]) == f"[ {value} ]"


def test_non_finite_written_as_strings() -> None:
    doc = {"value": 0.5, "standard_deviation": float("nan"), "hi": float("inf"), "lo": float("-inf")}
    assert dumps(doc) == (
        '{\n  "value" : 0.5,\n  "standard_deviation" : "NaN",\n  "hi" : "Infinity",\n  "lo" : "-Infinity"\n}'
    )


def test_layout_rules() -> None:
    doc = {
        "empty_list": [],
        "empty_obj": {},
        "nested": [[1.0, 2.0], [], [3]],
        "objs": [{"a": 1, "b": {"c": [{"d": None}]}}, {}],
        "flags": [True, False],
    }
    expected = (
        "{\n"
        '  "empty_list" : [ ],\n'
        '  "empty_obj" : { },\n'
        '  "nested" : [ [ 1.0, 2.0 ], [ ], [ 3 ] ],\n'
        '  "objs" : [ {\n'
        '    "a" : 1,\n'
        '    "b" : {\n'
        '      "c" : [ {\n'
        '        "d" : null\n'
        "      } ]\n"
        "    }\n"
        "  }, { } ],\n"
        '  "flags" : [ true, false ]\n'
        "}"
    )
    assert dumps(doc) == expected
    assert json.loads(expected) == doc


def test_top_level_scalars_and_containers() -> None:
    assert dumps({}) == "{ }"
    assert dumps([]) == "[ ]"
    assert dumps(1.0) == "1.0"
    assert dumps("x") == '"x"'
    assert dumps(None) == "null"
    assert dumps((1, 2)) == "[ 1, 2 ]"


def test_string_escaping_like_jackson() -> None:
    s = 'q"b\\s/é€😀\b\f\n\r\t\x00\x1f\x7f'
    out = dumps(s)
    assert out == '"q\\"b\\\\s/é€😀\\b\\f\\n\\r\\t\\u0000\\u001F\x7f"'
    assert json.loads(out) == s
    assert dumps({"ключ": "значение"}) == '{\n  "ключ" : "значение"\n}'


def test_no_trailing_newline() -> None:
    assert not dumps({"a": [1]}).endswith("\n")


def test_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    assert dumps([np.float64(3.0), np.int64(3), np.bool_(True), np.float32(0.5)]) == "[ 3.0, 3, true, 0.5 ]"


def test_unsupported_types_raise() -> None:
    with pytest.raises(TypeError):
        dumps({"a": object()})
    with pytest.raises(TypeError):
        dumps({1: "a"})


def test_loads_keeps_nonfinite_strings_and_accepts_bare_literals() -> None:
    doc = loads('{"a": "NaN", "b": NaN, "c": -Infinity}')
    assert doc["a"] == "NaN"
    assert math.isnan(doc["b"]) and doc["c"] == float("-inf")


def test_loads_rejects_invalid_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads('{"a": 1,}')


def test_fast_path_agrees_with_the_general_layout() -> None:
    # java_double_str returns repr() for 1e-3 <= |x| < 1e7; the general path must agree there.
    import struct

    import numpy as np

    from mmon.jsonfmt import _java_layout, java_double_str

    rng = np.random.default_rng(7)
    edges = [1e-3, 0.0010000000000000002, 9999999.999999998, 1234567.0, 0.5, 3.0, 1e-3 * 1.5, 6.02e6]
    bits = rng.integers(0, 2**63, 200_000, dtype=np.uint64)
    spread = [struct.unpack("<d", struct.pack("<Q", int(b)))[0] for b in bits[:20_000]]
    scaled = (rng.random(200_000) * 10.0 ** rng.uniform(-4, 8, 200_000)).tolist()
    checked = 0
    for x in edges + spread + scaled:
        for v in (x, -x):
            if v == v and 1e-3 <= abs(v) < 1e7:
                assert java_double_str(v) == _java_layout(v), v
                checked += 1
    assert checked > 100_000
    # Lists of doubles take a bulk path (polars' float text); element by element it is the same.
    from mmon.jsonfmt import dumps

    values = [v for v in edges + spread + scaled if v == v][:150_000]
    assert dumps(values) == "[ " + ", ".join(java_double_str(v) if abs(v) != float("inf") else '"' + java_double_str(v) + '"' for v in values) + " ]"
    assert java_double_str(1e7) == "1.0E7" and java_double_str(9.99e-4) == "9.99E-4"


def test_lists_of_doubles() -> None:
    from mmon.jsonfmt import dumps

    assert dumps([0.5, 1.5, 1234567.0]) == "[ 0.5, 1.5, 1234567.0 ]"
    assert dumps([0.5, 1e-5, float("nan"), 2e7, -0.0, float("-inf")]) == '[ 0.5, 1.0E-5, "NaN", 2.0E7, -0.0, "-Infinity" ]'
    assert dumps([1.0, 2]) == "[ 1.0, 2 ]"  # a long among doubles stays a long
