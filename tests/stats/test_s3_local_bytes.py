"""A multi-file CSV baselined from local disk and from S3 (SeaweedFS on 127.0.0.1) writes the same
statistics.json bytes, for files whose moments are polars' (over REPLAY_MAX values, one batch) and
for files of several batches, not only for the small files whose moments are replayed."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mmon.store import Store
from tests.clihelp import run_cli


def _opts(s3_options: dict[str, str]) -> list[str]:
    return [a for k, v in s3_options.items() for a in ("--storage-option", f"{k}={v}")]


def test_local_and_s3_write_the_same_bytes(
    s3_store: Store, s3_bucket: str, s3_options: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(7)
    local = tmp_path / "l"
    local.mkdir()
    for i, n in enumerate([40_000, 3_000, 130_000]):
        frame = pl.DataFrame(
            {
                "x": np.round(rng.lognormal(3, 1.2, n), 4),
                "k": rng.integers(-1000, 1000, n),
                "s": rng.choice(["a", "b", "c"], n),
            }
        )
        frame.write_csv(local / f"p{i}.csv")
        s3_store.write_bytes(f"{s3_bucket}/d/p{i}.csv", (local / f"p{i}.csv").read_bytes())
    code, _, err = run_cli(["baseline", local, "-o", tmp_path / "out", "-q"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["baseline", f"{s3_bucket}/d", "-o", f"{s3_bucket}/out", "-q", *_opts(s3_options)], capsys)
    assert code == 0, err
    assert s3_store.read_bytes(f"{s3_bucket}/out/statistics.json") == (tmp_path / "out" / "statistics.json").read_bytes()


@pytest.mark.parametrize("kind", ["text", "float"])
def test_moments_do_not_depend_on_how_a_batch_is_chunked(kind: str) -> None:
    # Over REPLAY_MAX values (polars' mean and variance) and over two batches (polars' sums):
    # the same values cut into other chunks, as another reader's buffering would cut them.
    from mmon.engine import FileProfile
    from mmon.stats.profile import profile_batches

    rng = np.random.default_rng(3)
    values = np.round(rng.lognormal(3, 1.5, 60_000), 5)
    column = pl.Series("x", values.astype(str) if kind == "text" else values)
    halves = [column.slice(0, 30_000), column.slice(30_000)]

    def cut(s: pl.Series, sizes: list[int]) -> pl.DataFrame:
        starts = np.cumsum([0, *sizes]).tolist()
        return pl.DataFrame(pl.concat([s.slice(a, b - a) for a, b in itertools.pairwise(starts)], rechunk=False))

    one = [pl.DataFrame(h.rechunk()) for h in halves]
    many = [cut(halves[0], [711, 707, 14208, 14374]), cut(halves[1], [29289, 711])]
    assert many[0].get_column("x").n_chunks() == 4
    got = [FileProfile("f", profile_batches(iter(b), threads=1)).to_bytes() for b in (one, many)]
    assert got[0] == got[1]
