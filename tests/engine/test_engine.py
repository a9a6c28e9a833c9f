"""The profiling seam (mmon.engine): per-file profiles folded in file order.

The contract every engine must meet: the statistics depend only on the ordered list of files.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.demo import make_frame
from mmon.documents import encode_document
from mmon.engine import FileProfile, LocalEngine, ProfilePolicy, fold, profile_file, profile_files
from mmon.engine.state_codec import MAGIC, VERSION
from mmon.errors import InputError
from mmon.readers import dataset_files
from mmon.stats.statistics import to_statistics
from mmon.store import Store
from tests.engine_data import large_files, with_nulls

ROOT = Path(__file__).resolve().parents[2]
TODAY = ROOT / "tests" / "golden" / "multifile" / "statistics.json"


def _statistics_bytes(state) -> bytes:  # type: ignore[no-untyped-def]
    return encode_document(to_statistics(state), "statistics", "statistics.json")


def test_folding_per_file_states_in_file_order_gives_todays_statistics(tmp_path: Path) -> None:
    """Three CSV files, each over one reading batch, with nulls: profile_file per file, folded in
    file order, writes the statistics.json that mmon wrote before the seam (recorded with main's
    `mmon baseline` on the same files), byte for byte."""
    large_files(tmp_path / "data")
    store = Store()
    files = dataset_files(store, [str(tmp_path / "data")], None, True)
    assert len(files) == 3
    policy = ProfilePolicy()
    profiled = fold(profile_file(store, f, policy) for f in files)
    assert _statistics_bytes(profiled.state) == TODAY.read_bytes()
    # ... and so does the local engine, and the baseline command.
    assert _statistics_bytes(profile_files(store, files, policy).state) == TODAY.read_bytes()


def _small_files(folder: Path) -> None:
    """Many small CSV files of uneven sizes: nulls, a high-cardinality file, non-finite text, an
    empty file, a file with other columns in the middle (it breaks a reading group), a file of
    12 000 rows read together with others."""
    folder.mkdir()
    rng = np.random.default_rng(5)
    base = with_nulls(make_frame(80_000, seed=9), 13, 1)
    offset = 0
    for i in range(140):
        # uneven sizes; every 37th file has 2600 rows, file 60 has 12 000 (over the moment replay's
        # 10 000 values: polars' variance over the file's own chunks)
        n = 12_000 if i == 60 else int(rng.integers(1, 700)) if i % 37 else 2600
        part = base.slice(offset, n)
        offset += n
        if i == 30:
            part = part.with_columns(pl.lit("NaN").alias("income"))
        if i == 31:
            part = part.with_columns(pl.format("id-{}", pl.int_range(pl.len())).alias("region"))
        if i == 50:
            part = part.head(0)
        if i == 70:
            part = part.drop("product").with_columns(pl.lit(True).alias("flag"))
        if i == 90:
            part = part.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("inf")).otherwise(pl.col("income").cast(pl.String)).alias("income"))
        part.write_csv(folder / f"part-{i:04d}.csv")


def _parquet_files(folder: Path) -> None:
    folder.mkdir()
    rng = np.random.default_rng(6)
    base = with_nulls(make_frame(30_000, seed=3), 11, 2)
    offset = 0
    for i in range(60):
        n = int(rng.integers(1, 900))
        part = base.slice(offset, n)
        offset += n
        if i == 10:
            part = part.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(float("nan")).otherwise(pl.col("balance")).alias("balance"))
        part.write_parquet(folder / f"part-{i:04d}.parquet")


@pytest.mark.parametrize("make", [_small_files, _parquet_files], ids=["csv", "parquet"])
def test_local_engine_equals_profile_file_then_fold(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    """Reading consecutive small files together changes nothing: every per-file profile the local
    engine yields is byte-identical (binary form) to profile_file's, so the fold is too."""
    make(tmp_path / "data")
    store = Store()
    files = dataset_files(store, [str(tmp_path / "data")], None, True)
    policy = ProfilePolicy(allow_non_finite=True)
    alone = [profile_file(store, f, policy) for f in files]
    grouped = list(LocalEngine().map_files(store, files, policy))
    assert [p.url for p in grouped] == [f.url for f in files]
    for a, g in zip(alone, grouped, strict=True):
        assert g.to_bytes() == a.to_bytes(), a.url
    # Group sizes are a reading detail: tiny groups give the same bytes as well.
    few = list(LocalEngine(batch_rows=700).map_files(store, files, policy))
    assert [p.to_bytes() for p in few] == [p.to_bytes() for p in alone]
    by_fold = fold(alone, len(files))
    engine = profile_files(store, files, policy)
    assert _statistics_bytes(engine.state) == _statistics_bytes(by_fold.state)
    assert engine.warnings == by_fold.warnings
    assert any("NaN or infinite" in w for w in engine.warnings)


def test_non_finite_refused_with_file_and_line_from_a_group(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(5):
        frame = pl.DataFrame({"x": [str(float(j)) for j in range(10)], "y": list(range(10))})
        if i == 3:
            frame = frame.with_columns(pl.when(pl.col("y") == 6).then(pl.lit("inf")).otherwise(pl.col("x")).alias("x"))
        frame.write_csv(folder / f"f{i}.csv")
    store = Store()
    files = dataset_files(store, [str(folder)], None, True)
    with pytest.raises(InputError, match=r"f3\.csv: column 'x' has 1 NaN or infinite values, first at line 8"):
        profile_files(store, files, ProfilePolicy(allow_non_finite=False))


def test_binary_form_round_trip_and_versions(tmp_path: Path) -> None:
    _small_files(tmp_path / "data")
    store = Store()
    files = dataset_files(store, [str(tmp_path / "data")], None, True)
    profiles = list(LocalEngine().map_files(store, files, ProfilePolicy()))
    decoded = [FileProfile.from_bytes(p.to_bytes()) for p in profiles]
    for p, d in zip(profiles, decoded, strict=True):
        assert d.url == p.url and d.warnings == p.warnings
        assert d.to_bytes() == p.to_bytes()
    # Decoded states fold to the same statistics, and keep folding identically (KLL counters,
    # HyperLogLog registers and category order survive the round trip).
    assert _statistics_bytes(fold(decoded).state) == _statistics_bytes(fold(profiles).state)
    data = profiles[31].to_bytes()
    assert b"pickle" not in data and data.startswith(MAGIC)
    newer = data[:8] + struct.pack("<H", VERSION + 1) + data[10:]
    with pytest.raises(InputError, match=rf"format version {VERSION + 1}, newer than this mmon reads \({VERSION}\)"):
        FileProfile.from_bytes(newer)
    with pytest.raises(InputError, match="not an mmon profile state"):
        FileProfile.from_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(InputError, match="corrupt"):
        FileProfile.from_bytes(data[: len(data) // 2])


def test_fold_warns_about_columns_missing_from_files(tmp_path: Path) -> None:
    _small_files(tmp_path / "data")
    store = Store()
    files = dataset_files(store, [str(tmp_path / "data")], None, True)
    profiled = profile_files(store, files)
    assert f"column 'product' is in {len(files) - 1} of {len(files)} files; counted as missing in the others" in profiled.warnings
    assert f"column 'flag' is in 1 of {len(files)} files; counted as missing in the others" in profiled.warnings
    stats = json.loads(_statistics_bytes(profiled.state))
    assert stats["dataset"]["item_count"] == profiled.state.rows


def _grouped_cases(folder: Path, fmt: str) -> None:
    """Small files built to cross every order-dependent rule inside one reading group: a column
    whose categories pass the cap mid-group, one that stays exact (files of at most four values in
    first-seen order, others in value order), files over 1 200 values (the cheap estimate), a
    column null in whole files, numbers as text mixed with words, KLL compactions during the
    group's merges, a file of more than 2 050 numbers (its own sketch compacts) and one of more
    than 10 000 (polars' mean and variance over the file's rows, not the moment replay)."""
    folder.mkdir()
    rng = np.random.default_rng(11)
    sizes = [int(x) for x in rng.integers(1, 400, 60)]
    sizes[7], sizes[20], sizes[33] = 2600, 1500, 10_500
    for i, n in enumerate(sizes):
        frame = pl.DataFrame(
            {
                "grows": [f"v{int(x)}" for x in rng.integers(0, 30 * (i + 1), n)],
                "few": [["d", "b", "a", "c", "e", "f"][int(x)] for x in rng.integers(0, 6 if i % 2 else 3, n)],
                "num": rng.normal(0, 1, n).round(3) + 0.0,  # no -0.0 (its own path)
                "ints": rng.integers(-5, 5, n),
                "mixed": [str(int(x)) if x % 3 else "word" for x in rng.integers(0, 50, n)],
                "holes": [None] * n if i % 4 == 0 else [f"h{int(x)}" for x in rng.integers(0, 3, n)],
            },
            schema_overrides={"holes": pl.String},
        )
        if fmt == "csv":
            frame.write_csv(folder / f"p{i:03d}.csv")
        else:
            frame.write_parquet(folder / f"p{i:03d}.parquet")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_grouped_fold_equals_per_file_fold(tmp_path: Path, fmt: str) -> None:
    """The local engine measures runs of small files as one group (no state per file) and folds
    it into the same bytes as folding profile_file's per-file states in file order: statistics,
    and the binary form of the folded state (sums, M2, KLL levels and counters, categories)."""
    from mmon.engine.batched import FileGroup
    from mmon.engine.state_codec import encode_profile

    _grouped_cases(tmp_path / "data", fmt)
    store = Store()
    files = dataset_files(store, [str(tmp_path / "data")], None, True)
    policy = ProfilePolicy()
    alone = fold(profile_file(store, f, policy) for f in files)
    for batch_rows in (100_000, 3_000, 700):
        engine = LocalEngine(batch_rows=batch_rows)
        mapped = list(engine.map_groups(store, files, policy))
        assert any(isinstance(m, FileGroup) for m in mapped)  # the grouped path is the one tested
        if batch_rows == 100_000:  # ... for the file over the moment replay's 10 000 values too
            assert any(isinstance(m, FileGroup) and max(m.rows) > 10_000 for m in mapped)
        grouped = fold(iter(mapped), len(files))
        assert grouped.files == alone.files and grouped.warnings == alone.warnings
        assert _statistics_bytes(grouped.state) == _statistics_bytes(alone.state)
        assert encode_profile("x", grouped.state, []) == encode_profile("x", alone.state, [])
    cols = alone.state.columns
    assert cols["grows"].categories is None and cols["few"].categories is not None
    assert cols["num"].kll.num_levels > 1  # compactions happened while folding


@pytest.mark.parametrize(("rows", "row_group", "batch_rows"), [(250_000, 60_000, 100_000), (95, 10, 7), (40, 50, 7)])
def test_parquet_read_in_slices_gives_the_streamed_batches(tmp_path: Path, rows: int, row_group: int, batch_rows: int) -> None:
    """Parquet is read a few batches at a time (bounded memory with 1M-row row groups): the same
    batches as polars' streamed ones, row for row and chunk for chunk (polars' sums and variance
    depend on the chunks, so the statistics stay byte-identical)."""
    from mmon.readers import DatasetFile, iter_batches

    path = tmp_path / "f.parquet"
    frame = with_nulls(make_frame(rows, seed=4), 9, 3)
    frame.write_parquet(path, row_group_size=row_group)
    streamed = list(pl.scan_parquet(path).collect_batches(chunk_size=batch_rows))
    sliced = list(iter_batches(Store(), DatasetFile(str(path), "parquet"), batch_rows=batch_rows))
    assert [b.height for b in sliced] == [b.height for b in streamed]
    for a, b in zip(sliced, streamed, strict=True):
        assert a.equals(b)
        assert [c.chunk_lengths() for c in a.get_columns()] == [c.chunk_lengths() for c in b.get_columns()]
