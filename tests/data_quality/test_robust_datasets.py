"""Datasets: blank lines, numbers too large for a double, parse errors that name the line, .json
read like .jsonl, header names that are not what they seem (issue 15 items 5-7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clihelp import run_cli


def baseline(tmp_path: Path, name: str, data: bytes, capsys, *extra: str) -> tuple[int, str, str, dict | None]:  # type: ignore[no-untyped-def]
    (tmp_path / name).write_bytes(data)
    out = tmp_path / "out"
    code, stdout, err = run_cli(["baseline", tmp_path / name, "-o", out, *extra], capsys)
    stats = json.loads((out / "statistics.json").read_text()) if (out / "statistics.json").exists() else None
    return code, stdout, err, stats


def one_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mmon: error:"), err
    return lines[0]


def feature(stats: dict, name: str) -> dict:
    return next(f for f in stats["features"] if f["name"] == name)


# -- item 5: blank lines are not rows ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"a,b\n1,2\n\n3,4\n", b"a,b\n1,2\n3,4\n\n", b"a,b\r\n1,2\r\n\r\n3,4\r\n\r\n", b"a\n1\n\n3\n\n"],
)
def test_blank_lines_are_not_rows(tmp_path: Path, capsys, data: bytes) -> None:
    code, _, _, stats = baseline(tmp_path, "d.csv", data, capsys)
    assert code == 0 and stats is not None
    assert stats["dataset"]["item_count"] == 2  # before: 3 or 4 (blank lines as all-null rows)
    assert feature(stats, "a")["numerical_statistics"]["common"]["num_missing"] == 0


def test_a_written_row_of_empty_fields_is_still_a_row(tmp_path: Path, capsys) -> None:
    code, _, _, stats = baseline(tmp_path, "d.csv", b"a,b\n1,2\n,\n3,4\n\n", capsys)
    assert code == 0 and stats is not None
    assert stats["dataset"]["item_count"] == 3
    assert feature(stats, "a")["numerical_statistics"]["common"]["num_missing"] == 1


# -- item 6: numbers too large for a double are non-finite ------------------------------------------


@pytest.mark.parametrize("big", [b"1e999", b"-1e999", b"1" + b"0" * 400, b"2.5E+400"])
def test_overflowing_number_text_is_refused(tmp_path: Path, capsys, big: bytes) -> None:
    code, _, err, _ = baseline(tmp_path, "d.csv", b"a,b\n1,2.5\n2," + big + b"\n3,4\n", capsys)
    assert code == 2  # before: exit 0 with an infinite sum and mean
    assert "column 'b' has 1 NaN or infinite values, first at line 3" in one_error(err)


def test_overflowing_number_counted_as_missing_when_allowed(tmp_path: Path, capsys) -> None:
    code, _, err, stats = baseline(tmp_path, "d.csv", b"a,b\n1,2.5\n2,1e999\n3,4\n", capsys, "--allow-non-finite")
    assert code == 0 and stats is not None and "counted as missing" in err
    b = feature(stats, "b")["numerical_statistics"]
    assert b["common"]["num_present"] == 2 and b["common"]["num_missing"] == 1
    assert b["sum"] == 6.5 and b["mean"] == 3.25 and b["max"] == 4.0


# -- item 7: parse errors name the line -------------------------------------------------------------
# The bad files themselves are cases of tests/data_quality/test_baseline_errors.py's test_bad_files.


@pytest.mark.parametrize("word", ["-0.403", "Forbidden", "credentials", "timed out"])
def test_data_quoted_in_a_parse_error_is_not_a_storage_failure(tmp_path: Path, capsys, word: str) -> None:
    # Found by the fuzz run (seed 1515, case 5288): polars quotes the unparsed rest of the file,
    # and its '-0.403' matched the storage failures' '403' (exit 3, "cannot read from the store").
    data = b'a\n0.5\n"open\n0.28\n' + word.encode() + b"\n1\n"
    code, _, err, _ = baseline(tmp_path, "d.csv", data, capsys)
    assert code == 2, err
    assert one_error(err).endswith("d.csv: line 3: a quoted field is never closed")


def test_json_document_with_a_late_nested_value_reads_like_jsonl(tmp_path: Path, capsys) -> None:
    rows = [{"a": i, "n": None} for i in range(150)] + [{"a": 150, "n": {"x": [1, 2]}}]
    code, _, err, from_json = baseline(tmp_path, "d.json", json.dumps(rows).encode(), capsys)
    assert code == 0, err  # before: refused (types guessed from the first 100 rows)
    code, _, err, from_jsonl = baseline(tmp_path, "d.jsonl", "\n".join(map(json.dumps, rows)).encode(), capsys)
    assert code == 0, err
    assert from_json == from_jsonl and from_json is not None and from_json["dataset"]["item_count"] == 151


def test_duplicate_and_empty_header_names_are_warned(tmp_path: Path, capsys) -> None:
    code, _, err, stats = baseline(tmp_path, "d.csv", b"x,x,,y\n1,2,3,4\n", capsys)
    assert code == 0 and stats is not None
    assert [f["name"] for f in stats["features"]] == ["x", "x_duplicated_0", "", "y"]
    warnings = [ln for ln in err.splitlines() if ln.startswith("mmon: warning:")]
    assert any("repeats the column name 'x'" in w and "x_duplicated_0" in w for w in warnings), err
    assert any("column 3 has an empty name" in w for w in warnings), err


def test_a_real_column_named_like_a_duplicate_is_not_warned(tmp_path: Path, capsys) -> None:
    code, _, err, _ = baseline(tmp_path, "d.csv", b"a_duplicated_0,b\n1,2\n", capsys)
    assert code == 0 and "warning" not in err
