"""Bad input never crashes: one clear line naming the file, a documented exit code, nothing half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.clihelp import run_cli


def _one_line_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("mmon: error:"), err
    return lines[0]


def _nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


CASES = {
    "empty.csv": (b"", "empty"),
    "ragged.csv": (b"a,b\n1,2\n3,4,5\n6,7\n", "line 3: 3 fields, the first row has 2"),
    "latin1.csv": (b"a,b\n1,2\n3,caf\xe9\n", "line 3: not valid UTF-8"),
    "bad.jsonl": (b'{"a": 1}\n{"a": 2}\n{"a": \n', "line 3: not valid JSON"),
    "inf.csv": (b"a,b\n1,2.0\n2,inf\n3,-Infinity\n", "column 'b' has 2 NaN or infinite values, first at line 3"),
    # Parse errors name the line (issue 15 item 7).
    "unclosed.csv": (b'a,b\n1,2\n3,"x\n4,5\n', "line 3: a quoted field is never closed"),
    "stray.csv": (b'a,b\n1,2\n3,x"y\n4,5\n', "line 3: a stray quote"),
    "nan.jsonl": (b'{"a": 1}\n{"a": NaN}\n', "line 2: not valid JSON (NaN is not a JSON number)"),
    "inf.jsonl": (b'{"a": 1}\n\n{"a": 1e400}\n', "line 3: not valid JSON (the number 1e400 is too large"),
    "bom.jsonl": (b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n', "line 1: starts with a byte order mark"),
    "truncated.json": (b'[{"a": 1},\n {"a": 2', "line 2, column 9: not valid JSON"),
    "huge.csv": (b'a,b\n1,2\n3,"' + b"y" * 140_000 + b"\n4,5\n", "line 3: a quoted field is never closed"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_files(name: str, tmp_path: Path, capsys) -> None:
    data, expected = CASES[name]
    (tmp_path / name).write_bytes(data)
    code, out, err = run_cli(["baseline", tmp_path / name, "-o", tmp_path / "out"], capsys)
    assert code == 2
    line = _one_line_error(err)
    assert "internal error" not in line
    assert name in line and expected in line, line
    _nothing_written(tmp_path / "out")


def test_nonfinite_in_parquet(tmp_path: Path, capsys) -> None:
    import polars as pl

    pl.DataFrame({"x": [1.0, float("nan"), float("inf"), 2.0]}).write_parquet(tmp_path / "d.parquet")
    code, _, err = run_cli(["baseline", tmp_path / "d.parquet", "-o", tmp_path / "out"], capsys)
    assert code == 2
    assert "column 'x' has 2 NaN or infinite values, first at row 1" in _one_line_error(err)
    code, out, err = run_cli(["baseline", tmp_path / "d.parquet", "-o", tmp_path / "out", "--allow-non-finite"], capsys)
    assert code == 0, err
    assert "counted as missing" in err


def test_all_null_column_is_unknown_with_a_warning(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,\n2,\n")
    code, out, err = run_cli(["baseline", tmp_path / "d.csv", "-o", tmp_path / "out", "--json"], capsys)
    assert code == 0
    assert "column 'b' is empty in every row" in err
    import json

    feats = {f["name"]: f for f in json.loads((tmp_path / "out" / "statistics.json").read_text())["features"]}
    assert feats["b"]["inferred_type"] == "Unknown"
    assert feats["b"]["string_statistics"]["common"] == {"num_present": 0, "num_missing": 2}


def test_header_only_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.csv").write_text("a,b\n")
    code, _, err = run_cli(["baseline", tmp_path / "d.csv", "-o", tmp_path / "out"], capsys)
    assert code == 2
    assert "no data rows" in _one_line_error(err)


def test_missing_input_and_empty_folder(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["baseline", tmp_path / "nope.csv", "-o", tmp_path / "out"], capsys)
    assert code == 2 and "no such file" in _one_line_error(err)
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["baseline", tmp_path / "empty", "-o", tmp_path / "out"], capsys)
    assert code == 2 and "holds no" in _one_line_error(err)
    code, _, err = run_cli(["baseline", str(tmp_path / "*.csv"), "-o", tmp_path / "out"], capsys)
    assert code == 2 and "matches no file" in _one_line_error(err)


def test_usage_errors_exit_2(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["baseline", tmp_path / "d.csv"], capsys)
    assert code == 2 and "--output" in err
    code, _, err = run_cli(["baseline", "x.csv", "-o", tmp_path, "--format", "xml"], capsys)
    assert code == 2
    code, _, err = run_cli(["baseline", "x.csv", "-o", tmp_path, "--storage-option", "novalue"], capsys)
    assert code == 2 and "key=value" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_non_root(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.csv").write_text("a\n1\n")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    code, _, err = run_cli(["baseline", tmp_path / "d.csv", "-o", ro / "out"], capsys)
    assert code == 3 and "permission denied" in _one_line_error(err)


def test_output_under_a_file_is_a_storage_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "d.csv").write_text("a\n1\n")
    (tmp_path / "blocker").write_text("x")
    code, _, err = run_cli(["baseline", tmp_path / "d.csv", "-o", tmp_path / "blocker" / "out"], capsys)
    assert code == 3
    assert "is a file" in _one_line_error(err)


def test_failed_write_leaves_previous_report_whole(tmp_path: Path, capsys, monkeypatch) -> None:
    """A write that dies half-way leaves the old files untouched and no temp files behind."""
    (tmp_path / "d.csv").write_text("a\n1\n2\n")
    assert run_cli(["baseline", tmp_path / "d.csv", "-o", tmp_path / "out", "-q"], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    (tmp_path / "d.csv").write_text("a\n5\n6\n7\n")

    import mmon.store as store_mod

    real_fdopen = os.fdopen
    calls = {"n": 0}

    def failing_fdopen(fd, mode="r", *a, **k):
        f = real_fdopen(fd, mode, *a, **k)
        calls["n"] += 1
        if calls["n"] == 2:
            f.close()
            raise OSError(28, "No space left on device")
        return f

    monkeypatch.setattr(store_mod.os, "fdopen", failing_fdopen)
    code, _, err = run_cli(["baseline", tmp_path / "d.csv", "-o", tmp_path / "out"], capsys)
    assert code == 3 and "No space left" in _one_line_error(err)
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    # Both files are still the old pair and no temp file is left behind.
    assert after == before


def test_nonfinite_in_one_of_many_small_files_names_that_file(tmp_path: Path, capsys) -> None:
    # Small files are profiled together; a bad value is still reported with its own file and line.
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(5):
        rows = [f"{i * 10 + j},{j}.5" for j in range(10)]
        if i == 3:
            rows[6] = "36,NaN"
        (parts / f"p{i}.csv").write_text("a,b\n" + "\n".join(rows) + "\n")
    code, _, err = run_cli(["baseline", parts, "-o", tmp_path / "out"], capsys)
    assert code == 2
    line = _one_line_error(err)
    assert "p3.csv: column 'b' has 1 NaN or infinite values, first at line 8" in line, line
    _nothing_written(tmp_path / "out")
    code, _, err = run_cli(["baseline", parts, "-o", tmp_path / "out", "--allow-non-finite"], capsys)
    assert code == 0
    assert "p3.csv: column 'b' has 1 NaN or infinite values, first at line 8, counted as missing" in err
