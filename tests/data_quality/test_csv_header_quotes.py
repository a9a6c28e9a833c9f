"""CSV header names are read as the CSV says (a doubled quote inside a quoted name is one quote),
as values are: polars keeps ``"a""b"`` as ``a""b`` in a header but reads it as ``a"b`` in a row."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from tests.clihelp import run_cli

HEADER = b'"a""b","""q""",c,"a""b","x,y"'


def _names(out: Path, name: str) -> list[str]:
    return [f["name"] for f in json.loads((out / name).read_text())["features"]]


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_header_names_are_the_csv_unquoted_names(tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    body = HEADER + b'\n1,2,3,4,5\n6,"x""y",8,9,10\n'
    data = tmp_path / f"d{suffix}"
    data.write_bytes(gzip.compress(body) if suffix.endswith(".gz") else body)
    code, _, err = run_cli(["baseline", data, "-o", tmp_path / "out", "-q"], capsys)
    assert code == 0, err
    header = next(csv.reader(io.StringIO(body.decode())))  # the reference: Python's RFC 4180 reader
    assert header == ['a"b', '"q"', "c", 'a"b', "x,y"]
    # the repeat is named as polars names any repeated header name
    expected = ['a"b', '"q"', "c", 'a"b_duplicated_0', "x,y"]
    assert _names(tmp_path / "out", "statistics.json") == expected
    assert _names(tmp_path / "out", "constraints.json") == expected
    stats = json.loads((tmp_path / "out" / "statistics.json").read_text())
    q = next(f for f in stats["features"] if f["name"] == '"q"')
    assert q["inferred_type"] == "String"  # the value x"y, unquoted like the header


def test_header_only_file_and_a_run_against_its_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base.csv"
    base.write_bytes(b'"a""b",c\n1,2\n3,4\n')
    assert run_cli(["baseline", base, "-o", tmp_path / "bl", "-q"], capsys)[0] == 0
    cur = tmp_path / "cur.csv"
    cur.write_bytes(b'"a""b",c\n')
    code, _, err = run_cli(
        ["run", cur, "--baseline-statistics", tmp_path / "bl" / "statistics.json",
         "--baseline-constraints", tmp_path / "bl" / "constraints.json", "-o", tmp_path / "rep", "-q"],
        capsys,
    )  # fmt: skip
    assert code in (0, 1), err
    assert _names(tmp_path / "rep", "statistics.json") == ['a"b', "c"]
