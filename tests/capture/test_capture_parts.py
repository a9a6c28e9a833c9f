"""capture-merge's parts: streamed by chunk, published together, read back as one dataset.

A crash between two parts must never leave a folder that looks complete: a reader (``mmon run``)
reads the previous whole generation, or refuses naming the folder (exit 2 when nothing was ever
published, 3 when publishing stopped half way).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from mmon import publish
from mmon.capture import merge
from mmon.capture.merge import capture_merge
from mmon.capture.parts import PartsPublisher
from mmon.capture.synth import write_capture
from mmon.capture.window import Window, parse_time
from mmon.errors import StorageError
from mmon.readers import dataset_files
from mmon.store import Store
from tests.capture_parts import parts
from tests.clihelp import run_cli

DAY = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T14:00Z"))


class Crash(Exception):
    """The process dying between two parts."""


def _synth(store: Store, root: str, n: int = 200, seed: int = 5) -> None:
    inputs = pl.DataFrame({"age": [float(20 + i % 50) for i in range(n)], "city": [["Oslo", "Rome", "Lima"][i % 3] for i in range(n)]})
    write_capture(
        store, f"{root}/cap/ep/AllTraffic", inputs, [round((i % 100) / 100, 2) for i in range(n)],
        datetime(2024, 1, 1, 10, tzinfo=UTC), n // 4, files_per_hour=3, seed=seed,
    )  # fmt: skip


def _crash_after(monkeypatch: pytest.MonkeyPatch, n_parts: int) -> None:
    real = PartsPublisher.add

    def add(self: PartsPublisher, name: str, data: bytes) -> None:
        if name.startswith("part-") and int(name[5:10]) >= n_parts:
            raise Crash(name)
        real(self, name, data)

    monkeypatch.setattr(PartsPublisher, "add", add)


def _merge(store: Store, root: str, out: str, **kw: object) -> merge.MergeSummary:
    return capture_merge(store, f"{root}/cap", out, DAY, chunk_records=60, **kw)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 2)  # 12 files of ~17 records: parts of ~66 records


def _generation(store: Store, out: str) -> list[str]:
    return [f.url.rsplit("/", 1)[-1] for f in dataset_files(store, [out], None, True)]


def test_parts_read_as_one_dataset_in_part_order(tmp_path: Path) -> None:
    store = Store()
    _synth(store, str(tmp_path))
    s = _merge(store, str(tmp_path), str(tmp_path / "o"))
    assert len(s.part_names) == 3 and s.rows == 200
    files = dataset_files(store, [str(tmp_path / "o")], None, True)
    assert [Path(f.url).name for f in files] == s.part_names  # the summary and the marker are not data
    ids = pl.concat([pl.read_ndjson(f.url) for f in files])["__mmon_inference_id"].cast(pl.Int64).to_list()
    assert ids == list(range(200))  # capture order across parts
    summary = json.loads((tmp_path / "o" / "merge_summary.json").read_text())
    assert summary["output"]["parts"] == s.part_names and summary["output"]["rows"] == 200


@pytest.mark.parametrize("where", ["local", "s3"])
def test_crash_between_parts_keeps_the_previous_generation(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    store: Store = request.getfixturevalue("s3_store") if where == "s3" else Store()
    root = request.getfixturevalue("s3_bucket") if where == "s3" else str(tmp_path)
    out = f"{root}/o"
    _synth(store, root, n=100)
    first = _merge(store, root, out)
    assert len(first.part_names) == 2
    before = {n: store.read_bytes(f"{out}/{n}") for n in first.part_names}

    _synth(store, root, n=200, seed=6)  # more traffic: the rerun has 4 parts
    with monkeypatch.context() as m:
        _crash_after(m, 2)
        with pytest.raises(Crash):
            _merge(store, root, out)
    # Nothing of the crashed run is visible: same generation, same bytes, no staged leftovers.
    assert _generation(store, out) == first.part_names
    assert {n: store.read_bytes(f"{out}/{n}") for n in first.part_names} == before
    assert not [u for u in store.find(out) if "/.mmon-staging/" in u]

    again = _merge(store, root, out)
    assert len(again.part_names) == 4 and again.rows == 300 and _generation(store, out) == again.part_names


def test_failed_write_of_a_part_stops_the_merge_and_keeps_the_previous_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts are written in a thread of their own while the next is made: a write that fails there
    (a full disk) is raised by the merge, never lost, and nothing of that run becomes visible."""
    store, root, out = Store(), str(tmp_path), str(tmp_path / "o")
    _synth(store, root, n=100)
    first = _merge(store, root, out)
    before = {n: store.read_bytes(f"{out}/{n}") for n in first.part_names}
    _synth(store, root, n=200, seed=6)
    real = Store.stage_local

    def stage_local(self: Store, path: str, data: bytes) -> str:
        if "/.mmon-staging/" in path and Path(path).name.startswith("part-00002"):
            raise OSError(28, "No space left on device")
        return real(self, path, data)

    monkeypatch.setattr(Store, "stage_local", stage_local)
    with pytest.raises(StorageError, match="No space left"):
        _merge(store, root, out)
    assert _generation(store, out) == first.part_names
    assert {n: store.read_bytes(f"{out}/{n}") for n in first.part_names} == before
    assert not [u for u in store.find(out) if "/.mmon-staging/" in u]


def test_crash_on_first_run_leaves_no_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _synth(Store(), str(tmp_path))
    _crash_after(monkeypatch, 1)
    with pytest.raises(Crash):
        _merge(Store(), str(tmp_path), str(tmp_path / "o"))
    (tmp_path / "train.csv").write_text("_c0,_c1,_c2\n0.5,20.0,Oslo\n0.1,30.0,Rome\n")
    code, _, err = run_cli(["baseline", tmp_path / "train.csv", "-o", tmp_path / "b", "-q"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["run", tmp_path / "o", "--baseline-statistics", tmp_path / "b" / "statistics.json",
                            "--baseline-constraints", tmp_path / "b" / "constraints.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code == 2 and str(tmp_path / "o") in err, err


def test_crash_while_promoting_is_refused_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _synth(Store(), str(tmp_path))
    _merge(Store(), str(tmp_path), str(tmp_path / "o"))
    code, _, err = run_cli(["baseline", tmp_path / "o", "-o", tmp_path / "b", "-q"], capsys)
    assert code == 0, err
    real, calls = publish._promote, []

    def promote(store: Store, staged: str, final: str, size: int) -> None:
        calls.append(final)
        if len(calls) == 2:
            raise Crash(final)  # one part under its final name, the others not: a mix
        real(store, staged, final, size)

    monkeypatch.setattr(publish, "_promote", promote)
    with pytest.raises(Crash):
        _merge(Store(), str(tmp_path), str(tmp_path / "o"), fmt="parquet")
    with pytest.raises(StorageError, match="incomplete"):
        dataset_files(Store(), [str(tmp_path / "o")], None, True)
    code, _, err = run_cli(["run", tmp_path / "o", "--baseline-statistics", tmp_path / "b" / "statistics.json",
                            "--baseline-constraints", tmp_path / "b" / "constraints.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code == 3 and str(tmp_path / "o") in err and "incomplete" in err, err
    monkeypatch.setattr(publish, "_promote", real)
    _merge(Store(), str(tmp_path), str(tmp_path / "o"), fmt="parquet")  # the rerun repairs it
    assert len(parts(tmp_path / "o", "parquet")) == 3 and not parts(tmp_path / "o", "jsonl")
    code, _, err = run_cli(["run", tmp_path / "o", "--baseline-statistics", tmp_path / "b" / "statistics.json",
                            "--baseline-constraints", tmp_path / "b" / "constraints.json", "-o", tmp_path / "r"], capsys)  # fmt: skip
    assert code in (0, 1), err


def test_folder_without_marker_is_read_as_it_is(tmp_path: Path) -> None:
    """SageMaker's own merge output: parts and no mmon marker."""
    name = "part-00000-0a0b0c0d-0000-4000-8000-000000000000.c000.jsonl"
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / name).write_text('{"a":1}\n')
    assert [Path(f.url).name for f in dataset_files(Store(), [str(tmp_path / "sm")], None, True)] == [name]
