"""Numbers too large for a double in a dataset's text (issue 15 item 6): '1e999' or 400 digits are
Deequ numbers that cast to infinity. They are refused naming the input file and the exact line of
the first one (blank lines and quoted line breaks before it counted), in any batch of a file and
any file of a dataset, however files are grouped for reading; with --allow-non-finite they are
missing values, so the statistics are those of the same data with the cell empty."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mmon.engine import FileProfile
from mmon.stats.profile import profile_batches
from tests.clihelp import run_cli
from tests.spark_fixtures import spark  # noqa: F401 - the session-wide Spark fixture


def _baseline(capsys: pytest.CaptureFixture[str], data: Path, out: Path, *extra: str) -> tuple[int, str]:
    code, _, err = run_cli(["baseline", data, "-o", out, "-q", *extra], capsys)
    return code, err


def _error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mmon: error: "), err
    return lines[0]


def _same_as_empty_cells(tmp: Path, capsys: pytest.CaptureFixture[str], bad: dict[str, bytes], empty: dict[str, bytes]) -> None:
    """--allow-non-finite on ``bad`` writes the statistics of ``empty`` (the same files with the
    overflowing cells left empty), byte for byte."""
    outs = []
    for tag, files in (("bad", bad), ("empty", empty)):
        folder = tmp / tag
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        code, err = _baseline(capsys, folder, tmp / f"out-{tag}", "--allow-non-finite")
        assert code == 0, err
        outs.append((tmp / f"out-{tag}" / "statistics.json").read_bytes())
    assert outs[0] == outs[1]


def test_line_counts_blank_lines_and_quoted_line_breaks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_bytes(b'a,b,c\n1,"x\ny",2\n\n3,z,4\n5,"p\nq",1e999\n7,w,8\n')
    code, err = _baseline(capsys, data, tmp_path / "out")
    assert code == 2 and not (tmp_path / "out").exists()
    # line 6 opens the record, its third field is on line 7 (the second field spans two lines)
    assert _error(err) == (
        f"mmon: error: {data}: column 'c' has 1 NaN or infinite values, first at line 7; "
        "fix the data or pass --allow-non-finite to count them as missing"
    )


def test_inf_words_and_overflows_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = b"k,c\n0,1\n1,2\n2,inf\n3,3\n4,-1e999\n5,2.5E+400\n"
    data = tmp_path / "d.csv"
    data.write_bytes(bad)
    code, err = _baseline(capsys, data, tmp_path / "out")
    assert code == 2
    assert "column 'c' has 3 NaN or infinite values, first at line 4;" in _error(err)
    _same_as_empty_cells(tmp_path, capsys, {"d.csv": bad}, {"d.csv": b"k,c\n0,1\n1,2\n2,\n3,3\n4,\n5,\n"})


def test_small_files_read_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Three small files are measured in one batch (LocalEngine): the count and line are the file's own.
    files = {f"p{i}.csv": b"a,b\n" + b"".join(b"%d,%d.5\n" % (i * 10 + r, r) for r in range(8)) for i in range(3)}
    bad = dict(files)
    bad["p1.csv"] = files["p1.csv"].replace(b"\n13,3.5\n", b"\n\n13,1" + b"0" * 400 + b"\n")
    empty = dict(files)
    empty["p1.csv"] = files["p1.csv"].replace(b"\n13,3.5\n", b"\n\n13,\n")
    folder = tmp_path / "d"
    folder.mkdir()
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    code, err = _baseline(capsys, folder, tmp_path / "out")
    assert code == 2
    assert f"{folder / 'p1.csv'}: column 'b' has 1 NaN or infinite values, first at line 6;" in _error(err)
    _same_as_empty_cells(tmp_path, capsys, bad, empty)


def test_later_batch_of_a_large_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 120 000 rows: two batches; the second classifies the few-valued column from its distinct
    # values, which must not take '1e999' for a finite number.
    n = 120_000
    rows = [b"%d,%d" % (r % 7, r % 5) for r in range(n)]
    bad, empty = list(rows), list(rows)
    bad[110_000] = b"1e999,3"
    empty[110_000] = b",3"
    body = {"bad": b"x,y\n" + b"\n".join(bad) + b"\n", "empty": b"x,y\n" + b"\n".join(empty) + b"\n"}
    data = tmp_path / "big.csv"
    data.write_bytes(body["bad"])
    code, err = _baseline(capsys, data, tmp_path / "out")
    assert code == 2
    assert f"{data}: column 'x' has 1 NaN or infinite values, first at line 110002;" in _error(err)
    _same_as_empty_cells(tmp_path, capsys, {"big.csv": body["bad"]}, {"big.csv": body["empty"]})


@pytest.mark.parametrize("threads", [1, 2])
def test_state_across_batches_is_the_state_with_the_cells_empty(threads: int) -> None:
    batches = [["1", "2", "3", "2"], ["4", "1e999", "5", "- 1e999"], ["6", "7.5", "9" * 400, "8"]]
    blank = [[None if v in ("1e999", "- 1e999", "9" * 400) else v for v in b] for b in batches]
    got = profile_batches((pl.DataFrame({"a": b}) for b in batches), threads=threads)
    want = profile_batches((pl.DataFrame({"a": pl.Series(b, dtype=pl.String)}) for b in blank), threads=threads)
    col = got.columns["a"]
    assert (col.n_nonfinite, col.first_nonfinite_row) == (3, 5)
    assert (col.n_integral, col.n_fractional, col.nulls, col.num_n, col.num_sum) == (8, 1, 3, 9, 38.5)
    col.n_nonfinite, col.first_nonfinite_row = 0, None
    assert FileProfile("f", got).to_bytes() == FileProfile("f", want).to_bytes()


def test_jsonl_strings_and_parquet_strings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.jsonl"
    data.write_bytes(b'{"a": "1"}\n\n{"a": "2"}\n   \n{"a": "1e999"}\n')
    code, err = _baseline(capsys, data, tmp_path / "out")
    assert code == 2
    assert f"{data}: column 'a' has 1 NaN or infinite values, first at line 5;" in _error(err)
    pq = tmp_path / "d.parquet"
    pl.DataFrame({"a": ["1", "2", "1e999", "3"]}).write_parquet(pq)
    code, err = _baseline(capsys, pq, tmp_path / "out")
    assert code == 2
    assert f"{pq}: column 'a' has 1 NaN or infinite values, first at row 2;" in _error(err)


def test_ordinary_numbers_near_the_limit_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_bytes(b"a\n1.7976931348623157e308\n-1e308\n1e-999\n- 4\n")
    code, err = _baseline(capsys, data, tmp_path / "out")
    assert code == 0, err
    stats = json.loads((tmp_path / "out" / "statistics.json").read_text())
    num = stats["features"][0]["numerical_statistics"]
    assert num["common"]["num_present"] == 4 and num["common"]["num_missing"] == 0
    assert num["max"] == 1.7976931348623157e308 and num["min"] == -1e308


def test_warnings_name_each_columns_line_in_a_gzipped_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    data = tmp_path / "d.csv.gz"
    data.write_bytes(gzip.compress(b'a,b,c\n1,2,"t\n"\n\n3,NaN,u\n4,5,v\n1e999,6,w\n'))
    code, _, err = run_cli(["baseline", data, "-o", tmp_path / "out", "--allow-non-finite"], capsys)
    assert code == 0, err
    warnings = [ln for ln in err.splitlines() if "NaN or infinite" in ln]
    assert warnings == [
        f"mmon: warning: {data}: column 'a' has 1 NaN or infinite values, first at line 7, counted as missing",
        f"mmon: warning: {data}: column 'b' has 1 NaN or infinite values, first at line 5, counted as missing",
    ], err


@pytest.mark.slow
@pytest.mark.spark
def test_spark_engine_refuses_with_the_same_line(spark: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    folder = tmp_path / "d"
    folder.mkdir()
    for i in range(6):
        body = b"a,b\n" + b"".join(b"%d,%d\n" % (r, r % 3) for r in range(50))
        if i == 4:
            body = body.replace(b"\n20,2\n", b'\n\n"2\n0",2e400\n')  # line 23 opens the record, b is on line 24
        (folder / f"part-{i}.csv").write_bytes(body)
    errors = {}
    for engine in ("local", "spark"):
        extra = ["--engine", "spark"] if engine == "spark" else []
        code, _, err = run_cli(["baseline", folder, "-o", tmp_path / engine, *extra], capsys)
        assert code == 2 and not (tmp_path / engine).exists(), err
        errors[engine] = _error(err)
    assert errors["spark"] == errors["local"]
    assert f"{folder / 'part-4.csv'}: column 'b' has 1 NaN or infinite values, first at line 24;" in errors["local"]
