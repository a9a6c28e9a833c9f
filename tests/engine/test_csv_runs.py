"""Consecutive small local CSV files read in one scan (readers.read_csv_run, the local engine's
reading of many small files): each file's rows are exactly its first batch read alone."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mmon.engine import LocalEngine, ProfilePolicy, profile_file
from mmon.engine.local import _first_batches
from mmon.readers import DEFAULT_BATCH_ROWS, DatasetFile, dataset_files, iter_batches, read_csv_run
from mmon.store import Store


def _write(folder: Path, files: dict[str, bytes]) -> list[DatasetFile]:
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return dataset_files(Store(), [str(folder)], None, True)


def _alone(f: DatasetFile) -> pl.DataFrame | None:
    first = next(iter_batches(Store(), f, check_first=False), None)
    return first if first is not None and 0 < first.height < DEFAULT_BATCH_ROWS else None


ODD = {
    "a0.csv": b"x,y\n1,2\n3,4\n",
    "a1.csv": b"x,y\n,\n\n5,\n",  # an empty row and a blank line: rows of nulls, as read alone
    "a2.csv": b"x,y\n6,7",  # no line break at the end
    "a3.csv": b'x,y\r\n"8\n9",10\r\n',  # CRLF and a quoted line break
    "a4.csv": b"x,y\n",  # a header and no rows: read on its own
    "a5.csv": b"\xef\xbb\xbfx,y\n11,12\n",  # a byte order mark
}


def test_a_run_gives_each_files_rows_as_read_alone(tmp_path: Path) -> None:
    files = _write(tmp_path / "d", ODD)
    frames = read_csv_run(Store(), files)
    assert frames is not None
    for f, frame in zip(files, frames, strict=True):
        alone = _alone(f)
        if alone is None:
            assert frame is None, f.url
        else:
            assert frame is not None, f.url
            assert_frame_equal(frame, alone)


def test_headerless_files_are_named_as_read_alone(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    for i in range(3):
        (folder / f"p{i}.csv").write_bytes(f"{i},a{i}\n{i + 1},b\n".encode())
    files = dataset_files(Store(), [str(folder)], None, False)
    frames = read_csv_run(Store(), files)
    assert frames is not None and all(f is not None for f in frames)
    for f, frame in zip(files, frames, strict=True):
        assert_frame_equal(frame, _alone(f))  # type: ignore[arg-type]
        assert frame is not None and frame.columns == ["_c0", "_c1"]


@pytest.mark.parametrize(
    "second",
    [b"y,x\n1,2\n", b"x,y,z\n1,2,3\n", b"x\n1\n", b"x,y\n1,2,\n", b'x,y\n"open,1\n', b"\xff\xfe,y\n1,2\n", b"x,y\n\xff,2\n"],
    ids=["names", "more-columns", "fewer-columns", "more-fields", "unclosed-quote", "not-utf8", "not-utf8-value"],
)
def test_a_run_that_cannot_be_one_scan_is_refused(tmp_path: Path, second: bytes) -> None:
    """Headers that differ or bad input: None, and the engine reads such files one by one (which
    names what is wrong)."""
    files = _write(tmp_path / "d", {"a.csv": b"x,y\n1,2\n", "b.csv": second})
    assert read_csv_run(Store(), files) is None


def test_quoted_header_names_are_left_to_the_per_file_reader(tmp_path: Path) -> None:
    """polars keeps a doubled quote of a header name doubled; the per-file reader renames it."""
    files = _write(tmp_path / "d", {"a.csv": b'"q""x",y\n1,2\n', "b.csv": b'"q""x",y\n3,4\n'})
    assert read_csv_run(Store(), files) is None
    assert [c for c in profile_file(Store(), files[0], ProfilePolicy()).state.columns] == ['q"x', "y"]


def test_the_engine_splits_runs_where_headers_change(tmp_path: Path) -> None:
    """Runs are cut where a file's first line differs, so one file with other columns does not
    send its neighbours to the per-file reader; every file's first batch is its own."""
    files = _write(
        tmp_path / "d",
        {"p0.csv": b"x,y\n1,2\n", "p1.csv": b"x,y\n3,4\n", "p2.csv": b"x,z\n5,6\n", "p3.csv": b"x,y\n7,8\n"} | ODD,
    )
    got = list(_first_batches(Store(), sorted(files, key=lambda f: f.url)))
    assert [f.url for f, *_ in got] == sorted(f.url for f in files)
    for f, first, second, _ in got:
        assert second is None
        alone = _alone(f)
        if alone is not None:
            assert first is not None
            assert_frame_equal(first, alone)
    # ... and the profiles are the ones of each file read alone.
    policy = ProfilePolicy()
    mapped = list(LocalEngine().map_files(Store(), files, policy))
    assert [p.to_bytes() for p in mapped] == [profile_file(Store(), f, policy).to_bytes() for f in files]
