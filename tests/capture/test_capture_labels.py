"""The ground-truth join past its memory budget: labels and captures partitioned by key hash on local
disk, joined partition by partition. Its output must be the in-memory join's, byte for byte, with
the same duplicate rules (a repeated capture eventId keeps its first record, a relabelled key its
last label) and the same counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from mmon.capture import merge
from mmon.capture.labels import ENV_BUDGET, LabelSpill, label_budget
from mmon.capture.merge import capture_merge
from mmon.capture.synth import write_capture
from mmon.capture.window import Window, parse_time
from mmon.errors import InputError
from mmon.store import Store
from tests.capture_parts import parts

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "capture"
HOUR0 = Window(parse_time("2022-04-18T00:00Z"), parse_time("2022-04-18T01:00Z"))
DAY = Window(parse_time("2024-01-01T10:00Z"), parse_time("2024-01-01T14:00Z"))
KINDS = [("jsonl", False), ("jsonl", True), ("parquet", True)]  # merged records, flat table, flat parquet


def _out(folder: Path, fmt: str) -> tuple[dict[str, bytes], dict]:
    summary = json.loads((folder / "merge_summary.json").read_text())
    for drop in ("path",):
        summary["output"].pop(drop)
    return {p.name: p.read_bytes() for p in parts(folder, fmt)}, summary


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many capture chunks went through the spill (proves the partitioned path ran)."""
    calls: list[int] = []
    real = LabelSpill.add_captures

    def add(self: LabelSpill, recs: pl.DataFrame) -> None:
        calls.append(recs.height)
        real(self, recs)

    monkeypatch.setattr(LabelSpill, "add_captures", add)
    return calls


@pytest.mark.parametrize(("fmt", "flat"), KINDS)
def test_fixture_spilled_join_is_the_in_memory_join(fmt: str, flat: bool, tmp_path: Path, spied: list[int]) -> None:
    kw = dict(ground_truth=str(FIX / "groundtruth"), ground_truth_lookahead=timedelta(hours=1), fmt=fmt, flat=flat)
    mem = capture_merge(Store(), str(FIX / "endpoint-csv"), str(tmp_path / "mem"), HOUR0, **kw)  # type: ignore[arg-type]
    assert not spied
    spill = capture_merge(Store(), str(FIX / "endpoint-csv"), str(tmp_path / "spill"), HOUR0, label_memory=0, **kw)  # type: ignore[arg-type]
    assert spied == [5]  # the window's 5 kept records went through the partitions
    assert _out(tmp_path / "spill", fmt) == _out(tmp_path / "mem", fmt)
    # The duplicate rules, on the spilled path: first capture of an eventId, last label of a key.
    assert (spill.duplicates, spill.duplicate_labels, spill.labels) == (1, 1, 4) == (mem.duplicates, mem.duplicate_labels, mem.labels)
    assert (spill.matched, spill.captured_without_label, spill.labels_without_capture) == (3, 2, 1)
    if not flat:
        merged = [json.loads(x) for x in (tmp_path / "spill" / spill.part_names[0]).read_text().splitlines()]
        labels = {m["eventMetadata"]["eventId"]: m["groundTruthData"]["data"] for m in merged}
        assert labels["f04a8538-696c-4648-8064-8b680b2e3318"] == "1"  # the later relabel wins


def _synth_with_relabels(root: Path) -> None:
    n = 300
    inputs = pl.DataFrame({"age": [float(20 + i % 50) for i in range(n)], "city": [["Oslo", "Rome", "Lima"][i % 3] for i in range(n)]})
    write_capture(
        Store(), str(root / "cap" / "ep" / "AllTraffic"), inputs, [round((i % 100) / 100, 2) for i in range(n)],
        datetime(2024, 1, 1, 10, tzinfo=UTC), n // 4, ground_truth=str(root / "gt"), labels=[i % 2 for i in range(n)],
        label_fraction=0.7, label_delay=timedelta(minutes=20), files_per_hour=3, seed=7,
    )  # fmt: skip
    # A correction filed later: every third label of the first hour flipped (the last label wins).
    first = sorted((root / "gt" / "2024" / "01" / "01" / "10").glob("*.jsonl"))[0].read_text().splitlines()
    fixed = [json.loads(x) for x in first[::3]]
    for doc in fixed:
        doc["groundTruthData"]["data"] = str(1 - int(doc["groundTruthData"]["data"]))
    later = root / "gt" / "2024" / "01" / "01" / "14"
    later.mkdir(parents=True, exist_ok=True)
    stray = {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "no-such-capture"}, "eventVersion": "0"}
    (later / "zz-relabel.jsonl").write_text("".join(json.dumps(d) + "\n" for d in [*fixed, stray]))
    # A capture file repeated under another name: every eventId in it is a duplicate.
    hour = sorted((root / "cap" / "ep" / "AllTraffic" / "2024" / "01" / "01" / "12").glob("*.jsonl"))
    (hour[0].parent / ("zz-" + hour[0].name)).write_bytes(hour[0].read_bytes())


@pytest.mark.parametrize(("fmt", "flat"), KINDS)
def test_many_chunks_spilled_by_env_budget_is_byte_identical(
    fmt: str, flat: bool, tmp_path: Path, spied: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _synth_with_relabels(tmp_path)
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 2)  # several chunks, so several parts
    kw = dict(ground_truth=str(tmp_path / "gt"), ground_truth_lookahead=timedelta(hours=1), fmt=fmt, flat=flat, chunk_records=60)
    mem = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "mem"), DAY, **kw)  # type: ignore[arg-type]
    monkeypatch.setenv(ENV_BUDGET, "1000")  # a few labels' worth: spilled after the first file
    spill = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "spill"), DAY, **kw)  # type: ignore[arg-type]
    assert len(spied) >= 3 and len(spill.part_names) >= 2
    assert mem.duplicates > 0 and mem.duplicate_labels > 0 and mem.labels_without_capture > 0
    assert _out(tmp_path / "spill", fmt) == _out(tmp_path / "mem", fmt)


def test_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_BUDGET, raising=False)
    assert label_budget() == 64 * 2**20 and label_budget(5) == 5
    monkeypatch.setenv(ENV_BUDGET, "many")
    with pytest.raises(InputError, match=ENV_BUDGET):
        label_budget()


@pytest.mark.parametrize(("fmt", "flat"), [("jsonl", False), ("parquet", True)])
def test_spill_files_under_a_temp_path_with_glob_characters(
    fmt: str, flat: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The label partitions, the kept-eventId files and the flat table's chunks are read back by
    exact path: a TMPDIR such as ``/scratch/job[1]`` must not be taken for a glob pattern."""
    import tempfile

    _synth_with_relabels(tmp_path)
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 2)
    kw = dict(ground_truth=str(tmp_path / "gt"), ground_truth_lookahead=timedelta(hours=1), fmt=fmt, flat=flat, chunk_records=60)
    plain = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "plain"), DAY, **kw)  # type: ignore[arg-type]
    odd = tmp_path / "job[1]*?"
    odd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(odd))
    monkeypatch.setenv(ENV_BUDGET, "1000")
    spilled = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "odd"), DAY, **kw)  # type: ignore[arg-type]
    assert plain.duplicates > 0 and spilled.duplicates == plain.duplicates
    assert _out(tmp_path / "odd", fmt) == _out(tmp_path / "plain", fmt)
    assert list(odd.iterdir()) == []  # the spill folder is removed afterwards


def test_partitions_are_about_half_the_budget_each() -> None:
    from mmon.capture.labels import MAX_PARTITIONS, partitions_for

    mib = 2**20
    assert partitions_for(260 * mib, 256 * mib) == 3  # the 10M-record day's 7M labels
    assert partitions_for(100 * mib, 256 * mib) == 2  # (never one: the budget was crossed)
    assert partitions_for(10_000 * mib, 256 * mib) == MAX_PARTITIONS
    assert partitions_for(5_000, 0) == MAX_PARTITIONS  # label_memory=0: spill everything, finely


@pytest.mark.parametrize("partitions", [2, 3, 64])
@pytest.mark.parametrize(("fmt", "flat"), KINDS)
def test_any_partition_count_gives_the_in_memory_bytes(
    fmt: str, flat: bool, partitions: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmon.capture import labels

    _synth_with_relabels(tmp_path)
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 2)
    kw = dict(ground_truth=str(tmp_path / "gt"), ground_truth_lookahead=timedelta(hours=1), fmt=fmt, flat=flat, chunk_records=60)
    mem = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "mem"), DAY, **kw)  # type: ignore[arg-type]
    made: list[int] = []
    real = LabelSpill.__init__

    def init(self: LabelSpill, folder: str, n: int = labels.MAX_PARTITIONS) -> None:
        made.append(n)
        real(self, folder, n)

    monkeypatch.setattr(labels, "partitions_for", lambda estimate, budget: partitions)
    monkeypatch.setattr(LabelSpill, "__init__", init)
    spill = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "spill"), DAY, label_memory=1000, **kw)  # type: ignore[arg-type]
    assert made == [partitions]
    assert _out(tmp_path / "spill", fmt) == _out(tmp_path / "mem", fmt)
    assert (spill.matched, spill.labels, spill.duplicate_labels) == (mem.matched, mem.labels, mem.duplicate_labels)


def test_kept_id_hashes_are_freed_before_the_partitioned_join(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dedup's hashes (8 bytes a kept record) are not needed once every capture is read: they go
    before the spilled join starts (on the 10M-record day they were 80 MiB of the join's peak)."""
    from mmon.capture.dedup import SeenIds

    _synth_with_relabels(tmp_path)
    monkeypatch.setattr(merge, "FILES_PER_BATCH", 2)
    held: list[int] = []
    real_join = LabelSpill.join
    seen: list[SeenIds] = []
    real_first = SeenIds.first

    def first(self: SeenIds, ids: pl.Series) -> pl.Series:
        seen.append(self)
        return real_first(self, ids)

    def join(self: LabelSpill, summary: object):  # type: ignore[no-untyped-def]
        held.append(sum(len(level) for level in seen[-1].levels))
        yield from real_join(self, summary)  # type: ignore[arg-type]

    monkeypatch.setattr(SeenIds, "first", first)
    monkeypatch.setattr(LabelSpill, "join", join)
    monkeypatch.setenv(ENV_BUDGET, "1000")
    kw = dict(ground_truth=str(tmp_path / "gt"), ground_truth_lookahead=timedelta(hours=1), chunk_records=60)
    s = capture_merge(Store(), str(tmp_path / "cap"), str(tmp_path / "o"), DAY, **kw)  # type: ignore[arg-type]
    assert s.matched > 0 and held == [0]
