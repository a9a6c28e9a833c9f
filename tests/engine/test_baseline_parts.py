"""mmon profile-part / merge-parts: any split of the files into parts gives the bytes of mmon
baseline; duplicate and missing parts are refused."""

from __future__ import annotations

import json
import re
import shlex
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.demo import make_frame
from mmon.engine.parts import PART_VERSION, shard_bounds
from tests.clihelp import run_cli
from tests.engine_data import with_nulls

SIZES = [700, 3, 4100, 41, 2600, 1, 900]  # uneven, one file of 1 row
BIG = 120_500  # a file over one reading batch (100 000 rows): in the slow S3 test
SPLITS = [[7], [1, 6], [3, 1, 3], [2, 5], [6, 1], [1, 1, 1, 1, 1, 1, 1]]


def _dataset(folder: Path, suffix: str, big: bool = False) -> list[Path]:
    folder.mkdir(parents=True)
    sizes = [*SIZES[:2], BIG, *SIZES[3:]] if big else SIZES
    base = with_nulls(make_frame(sum(sizes), seed=12), 19, 4)
    paths, offset = [], 0
    for i, n in enumerate(sizes):
        part = base.slice(offset, n)
        offset += n
        path = folder / f"part-{i:02d}.{suffix}"
        if suffix == "csv":
            part.write_csv(path)
        else:
            part.write_parquet(path)
        paths.append(path)
    return paths


def _outputs(folder: Path) -> tuple[bytes, bytes]:
    return (folder / "statistics.json").read_bytes(), (folder / "constraints.json").read_bytes()


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_every_consecutive_split_gives_the_baseline_bytes(suffix: str, tmp_path: Path, capsys) -> None:
    files = _dataset(tmp_path / "data", suffix)
    code, _, err = run_cli(["baseline", tmp_path / "data", "-o", tmp_path / "full", "-q"], capsys)
    assert code == 0, err
    want = _outputs(tmp_path / "full")
    for k, split in enumerate(SPLITS):
        parts = tmp_path / f"parts{k}"
        start = 0
        # Parts are written in reverse order and named so that their names do not sort in file
        # order: the merge orders them by the files they cover.
        for j, n in reversed(list(enumerate(split))):
            chunk = files[sum(split[:j]) : sum(split[:j]) + n]
            code, _, err = run_cli(["profile-part", *chunk, "-o", parts / f"{len(split) - j}.mmonstate", "-q"], capsys)
            assert code == 0, err
            start += n
        code, out, err = run_cli(["merge-parts", parts, "-o", tmp_path / f"merged{k}", "--json"], capsys)
        assert code == 0, err
        assert _outputs(tmp_path / f"merged{k}") == want, split
        assert json.loads(out)["files"] == [str(f) for f in files]
    # --shard I/N lists the folder itself: every N from 1 to 8 (more shards than files: empty parts).
    for count in (1, 3, 8):
        parts = tmp_path / f"shards{count}"
        for index in range(count):
            code, _, err = run_cli(
                ["profile-part", tmp_path / "data", "--shard", f"{index}/{count}", "-o", parts / f"s{index}.mmonstate", "-q"],
                capsys,
            )
            assert code == 0, err
        code, _, err = run_cli(["merge-parts", parts, "-o", tmp_path / f"sharded{count}", "-q"], capsys)
        assert code == 0, err
        assert _outputs(tmp_path / f"sharded{count}") == want, count


def test_shard_bounds_are_consecutive_and_cover_everything() -> None:
    for n in range(0, 30):
        for count in range(1, 12):
            bounds = [shard_bounds(n, i, count) for i in range(count)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
            sizes = [b - a for a, b in bounds]
            assert max(sizes) - min(sizes) <= 1


def _parts(tmp_path: Path, capsys, groups: list[list[int]], shard: str | None = None) -> Path:
    files = sorted((tmp_path / "data").iterdir())
    out = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
    for j, idx in enumerate(groups):
        code, _, err = run_cli(["profile-part", *[files[i] for i in idx], "-o", out / f"{j}.mmonstate", "-q"], capsys)
        assert code == 0, err
    return out


def test_interleaved_parts_merge_and_duplicate_missing_bad_parts_are_refused(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(4):
        pl.DataFrame({"x": np.arange(i * 10, i * 10 + 10), "s": ["a", "b"] * 5}).write_csv(folder / f"f{i}.csv")

    def merge(parts: Path) -> tuple[int, str]:
        code, _, err = run_cli(["merge-parts", parts, "-o", tmp_path / "out"], capsys)
        return code, " ".join(err.split())

    # Interleaved parts (as ShardedByS3Key may hand out objects) fold in file order all the same.
    code, _, err = run_cli(["merge-parts", _parts(tmp_path, capsys, [[3, 0], [2], [1]]), "-o", tmp_path / "inter", "-q"], capsys)
    assert code == 0, err
    assert run_cli(["baseline", folder, "-o", tmp_path / "whole", "-q"], capsys)[0] == 0
    assert _outputs(tmp_path / "inter") == _outputs(tmp_path / "whole")
    code, err = merge(_parts(tmp_path, capsys, [[0, 1], [1, 2, 3]]))
    assert code == 2 and "file 'f1.csv' is in two parts" in err
    # Shards: one missing, one twice, different counts.
    shards = tmp_path / "shards"
    for index in (0, 2):
        assert run_cli(["profile-part", folder, "--shard", f"{index}/3", "-o", shards / f"{index}.mmonstate", "-q"], capsys)[0] == 0
    code, err = merge(shards)
    assert code == 2 and "missing part(s) for shard 1/3" in err
    assert run_cli(["profile-part", folder, "--shard", "2/3", "-o", shards / "again.mmonstate", "-q"], capsys)[0] == 0
    code, err = merge(shards)
    assert code == 2 and "are both shard 2/3" in err
    (shards / "again.mmonstate").unlink()
    assert run_cli(["profile-part", folder, "--shard", "1/2", "-o", shards / "1.mmonstate", "-q"], capsys)[0] == 0
    code, err = merge(shards)
    assert code == 2 and "different datasets or shard counts" in err
    # Bad --shard, corrupt and newer parts, an empty folder; nothing was written.
    code, _, err = run_cli(["profile-part", folder, "--shard", "3/3", "-o", tmp_path / "x.mmonstate"], capsys)
    assert code == 2 and "INDEX must be in 0..COUNT-1" in err
    before = (folder / "f1.csv").read_bytes()
    code, _, err = run_cli(["profile-part", folder, "-o", folder / "f1.csv"], capsys)
    assert code == 2 and "would overwrite the input" in err and (folder / "f1.csv").read_bytes() == before
    good = _parts(tmp_path, capsys, [[0, 1, 2, 3]]) / "0.mmonstate"
    bad = tmp_path / "bad"
    bad.mkdir()
    data = good.read_bytes()
    (bad / "a.mmonstate").write_bytes(data[:8] + struct.pack("<H", PART_VERSION + 1) + data[10:])
    code, err = merge(bad)
    assert code == 2 and f"format version {PART_VERSION + 1}, newer than this mmon reads" in err
    (bad / "a.mmonstate").write_bytes(data[: len(data) - 7])
    code, err = merge(bad)
    assert code == 2 and "a.mmonstate" in err and "corrupt" in err
    (bad / "a.mmonstate").unlink()
    code, err = merge(bad)
    assert code == 2 and "holds no .mmonstate files" in err
    assert not (tmp_path / "out").exists()


def _help_examples(command: str, capsys) -> list[list[str]]:
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0
    return [shlex.split(m) for m in re.findall(r"^\s+mmon ((?:profile-part|merge-parts) .+?)\s*$", out, flags=re.M)]


def test_help_examples_run_as_shown(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("train").mkdir()
    frame = make_frame(1000, seed=2)
    for i in range(3):
        frame.slice(i * 400, 400).write_csv(f"train/part-{i}.csv")
    examples = _help_examples("profile-part", capsys) + _help_examples("merge-parts", capsys)
    ran = 0
    for args in examples:
        if any(a.startswith("s3://") for a in args):
            continue
        code, _, err = run_cli(args, capsys)
        assert code == 0, (args, err)
        ran += 1
    assert ran >= 5
    assert run_cli(["baseline", "train", "-o", "full", "-q"], capsys)[0] == 0
    assert _outputs(Path("full")) == _outputs(Path("baseline"))


@pytest.mark.slow
def test_parts_on_s3_give_the_baseline_bytes(
    tmp_path: Path, s3_store, s3_bucket: str, s3_options: dict[str, str], capsys
) -> None:
    """Data, parts and outputs on the S3 server (SeaweedFS), CSV and Parquet, uneven shards, a file
    over one reading batch."""
    opts = [a for k, v in s3_options.items() for a in ("--storage-option", f"{k}={v}")]
    for suffix in ("csv", "parquet"):
        for path in _dataset(tmp_path / suffix, suffix, big=True):
            s3_store.write_bytes(f"{s3_bucket}/{suffix}/{path.name}", path.read_bytes())
        code, _, err = run_cli(["baseline", f"{s3_bucket}/{suffix}", "-o", f"{s3_bucket}/full-{suffix}", "-q", *opts], capsys)
        assert code == 0, err
        for index in range(3):
            code, _, err = run_cli(
                ["profile-part", f"{s3_bucket}/{suffix}", "--shard", f"{index}/3",
                 "-o", f"{s3_bucket}/parts-{suffix}/part-{index}.mmonstate", "-q", *opts],
                capsys,
            )  # fmt: skip
            assert code == 0, err
        code, _, err = run_cli(["merge-parts", f"{s3_bucket}/parts-{suffix}", "-o", f"{s3_bucket}/merged-{suffix}", "-q", *opts], capsys)
        assert code == 0, err
        for name in ("statistics.json", "constraints.json"):
            assert s3_store.read_bytes(f"{s3_bucket}/merged-{suffix}/{name}") == s3_store.read_bytes(
                f"{s3_bucket}/full-{suffix}/{name}"
            )
