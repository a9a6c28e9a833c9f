"""`--engine spark` on a real local Spark (one local[2] session for the module, bound to 127.0.0.1).

The contract: statistics depend only on the ordered list of files, so the Spark engine (any
local[N], any grouping of files into tasks) and the local engine write byte-identical
statistics.json, constraints.json and constraint_violations.json, on local disk and on S3.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.clihelp import run_cli
from tests.spark_fixtures import spark  # noqa: F401 - the session-wide Spark fixture

pytestmark = [pytest.mark.slow, pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("statistics.json", "constraints.json")
# Uneven files: tiny, empty of most rows, and a few that are bigger than the rest together.
ROWS = [3000, 7, 12000, 150, 1, 25000, 900]


def _frame(n: int, seed: int, drift: float = 0.0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(10 + drift, 0.6, n), 2)
    return pl.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": pl.Series(income).set(pl.Series(rng.random(n) < 0.05), None),
            "score": np.round(rng.normal(drift, 1, n), 6),
            "region": rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "label": rng.integers(0, 2, n),
        }
    )


def _write(folder: Path, fmt: str, drift: float = 0.0, rows: list[int] = ROWS) -> Path:
    folder.mkdir(parents=True)
    for i, n in enumerate(rows):
        df = _frame(n, seed=i + int(drift * 100), drift=drift)
        if i == 3:
            df = df.drop("score")  # a column missing from one file: a warning, counted as missing
        if fmt == "csv":
            df.write_csv(folder / f"part-{i:03d}.csv")
        else:
            df.write_parquet(folder / f"part-{i:03d}.parquet")
    return folder


def _engine_args(engine: str) -> list[str]:
    return ["--engine", "spark"] if engine == "spark" else []


def _baseline(data: str, out: str, engine: str, capsys: pytest.CaptureFixture[str], extra: list[str] = ()) -> dict[str, Any]:
    code, stdout, err = run_cli(["baseline", data, "-o", out, "--json", *extra, *_engine_args(engine)], capsys)
    assert code == 0, err
    import json

    return dict(json.loads(stdout))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_spark_and_local_engines_write_the_same_bytes(
    spark: Any, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    from mmon.engine import ProfilePolicy
    from mmon.engine.spark import SparkEngine
    from mmon.readers import dataset_files
    from mmon.store import Store

    train = _write(tmp_path / "train", fmt)
    current = _write(tmp_path / "current", fmt, drift=0.7)
    res_local = _baseline(str(train), str(tmp_path / "b-local"), "local", capsys)
    res_spark = _baseline(str(train), str(tmp_path / "b-spark"), "spark", capsys)
    for name in OUTPUTS:
        assert (tmp_path / "b-spark" / name).read_bytes() == (tmp_path / "b-local" / name).read_bytes(), name
    assert res_spark["warnings"] == res_local["warnings"]
    # ... and the engine-free shards: profile-part over an uneven split (3 parts), then merge-parts.
    for i in range(3):
        part = ["profile-part", str(train), "--shard", f"{i}/3", "-o", str(tmp_path / "parts" / f"p{i}.mmonstate"), "-q"]
        assert run_cli(part, capsys)[0] == 0
    code, _, err = run_cli(["merge-parts", str(tmp_path / "parts"), "-o", str(tmp_path / "b-parts"), "-q"], capsys)
    assert code == 0, err
    for name in OUTPUTS:
        assert (tmp_path / "b-parts" / name).read_bytes() == (tmp_path / "b-spark" / name).read_bytes(), name
    assert any("is in 6 of 7 files" in w for w in res_spark["warnings"])
    assert res_spark["item_count"] == sum(ROWS)

    # The data-quality run: the current window checked against the baseline, both engines.
    base = ["--baseline-statistics", str(tmp_path / "b-local" / "statistics.json"),
            "--baseline-constraints", str(tmp_path / "b-local" / "constraints.json"),
            "--metric-time", "2026-01-01T00:00:00Z"]  # fmt: skip
    for engine in ("local", "spark"):
        code, _, err = run_cli(["run", str(current), "-o", str(tmp_path / f"r-{engine}"), *base, *_engine_args(engine)], capsys)
        assert code == 1, err  # the drift is found
    for name in ("statistics.json", "constraint_violations.json"):
        assert (tmp_path / "r-spark" / name).read_bytes() == (tmp_path / "r-local" / name).read_bytes(), name
    assert b"baseline_drift_check" in (tmp_path / "r-spark" / "constraint_violations.json").read_bytes()

    # How it ran: several tasks of consecutive files, workers with polars sized to the task's cores
    # and polars not imported before the task set POLARS_MAX_THREADS.
    engine = SparkEngine()
    store = Store({})
    files = dataset_files(store, [str(train)], None, True)
    profiles = list(engine.map_files(store, files, ProfilePolicy()))
    assert [p.url for p in profiles] == [f.url for f in files]
    assert len(engine.tasks) >= 2 and any(len(t) > 1 for t in engine.tasks)
    assert [i for t in engine.tasks for i in t] == list(range(len(files)))
    assert [info["file"] for info in engine.task_info] == list(range(len(files)))
    for info in engine.task_info:
        assert info["polars_preloaded"] is False, info
        assert info["polars_threads"] == info["cpus"] == 1, info


def test_bad_row_on_a_worker_is_the_local_engines_error(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    data = _write(tmp_path / "d", "csv", rows=[200] * 20)
    bad = data / "part-006.csv"  # file 7 of 20
    lines = bad.read_text().splitlines()
    lines[41] = lines[41] + ",oops,extra"
    bad.write_text("\n".join(lines) + "\n")
    errors = {}
    for engine in ("local", "spark"):
        code, out, err = run_cli(["baseline", str(data), "-o", str(tmp_path / engine), *_engine_args(engine)], capsys)
        assert code == 2, err
        errors[engine] = err.strip().splitlines()
        assert not (tmp_path / engine).exists()
    assert errors["spark"] == errors["local"]
    assert len(errors["spark"]) == 1
    assert errors["spark"][0].startswith(f"mmon: error: {bad}: line 42: "), errors["spark"]


def test_spark_on_s3_matches_the_local_engine_on_s3(
    spark: Any, tmp_path: Path, s3_env: dict[str, str], s3_bucket: str, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """The workers read S3 themselves, with the driver's standard AWS variables; no secret is printed.

    Compared with the local engine on the same S3 files (not with local disk: polars cuts a CSV read
    from S3 into other batches than one read from disk, and std_dev's last digit follows the batches).
    """
    from mmon.store import Store

    store = Store({})
    for fmt in ("csv", "parquet"):
        local = _write(tmp_path / fmt, fmt)
        for p in sorted(local.iterdir()):
            store.write_bytes(f"{s3_bucket}/{fmt}/{p.name}", p.read_bytes())
        _baseline(f"{s3_bucket}/{fmt}/", f"{s3_bucket}/l-{fmt}", "local", capsys)
        code, out, err = run_cli(["baseline", f"{s3_bucket}/{fmt}/", "-o", f"{s3_bucket}/b-{fmt}", "--engine", "spark"], capsys)
        assert code == 0, err
        for name in OUTPUTS:
            assert store.read_bytes(f"{s3_bucket}/b-{fmt}/{name}") == store.read_bytes(f"{s3_bucket}/l-{fmt}/{name}"), name
        assert s3_env["AWS_SECRET_ACCESS_KEY"] not in out + err


def test_local1_subprocess_same_bytes_and_a_quiet_terminal(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """A separate `mmon baseline --engine spark --spark-master local[1]` (its own JVM, all files in
    one task): the same bytes as the local engine, and nothing from Spark on stdout/stderr."""
    train = _write(tmp_path / "train", "csv")
    _baseline(str(train), str(tmp_path / "b-local"), "local", capsys)
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    env.pop("MMON_DEBUG", None)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mmon", "baseline", str(train), "-o", str(tmp_path / "b-spark1"),
         "--engine", "spark", "--spark-master", "local[1]", "--json"],  # fmt: skip
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in OUTPUTS:
        assert (tmp_path / "b-spark1" / name).read_bytes() == (tmp_path / "b-local" / name).read_bytes(), name
    # Only mmon's own warning (the column missing from one file) reaches stderr: no JVM log, no
    # pyspark warning, no "Setting default log level".
    err_lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert err_lines and all("score" in ln and "6 of 7 files" in ln for ln in err_lines), done.stderr
    assert done.stdout.lstrip().startswith("{"), done.stdout[:500]
    assert time.monotonic() - start < 300


def test_spark_connect_same_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Spark Connect (SPARK_REMOTE=local[2]: pyspark starts a Connect server on this machine and
    the client speaks gRPC to it): the DataFrame-only plan runs there and gives the same bytes."""
    pytest.importorskip("grpc", reason="the Spark Connect client needs the spark-connect extra")
    train = _write(tmp_path / "train", "csv", rows=ROWS[:4])
    _baseline(str(train), str(tmp_path / "b-local"), "local", capsys)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SPARK_REMOTE="local[2]")
    env.pop("MMON_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "mmon", "baseline", "train", "-o", "b-connect", "--engine", "spark", "-q"],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for name in OUTPUTS:
        assert (tmp_path / "b-connect" / name).read_bytes() == (tmp_path / "b-local" / name).read_bytes(), name
