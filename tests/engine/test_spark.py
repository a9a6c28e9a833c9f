"""`--engine spark` on a real local Spark (the test run's one local[2,2] session, bound to 127.0.0.1).

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
from tests.spark_fixtures import spark, spark_connect_url  # noqa: F401 - the session-wide Spark

pytestmark = [pytest.mark.slow, pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One dataset for the module: training and (drifted) current files, as CSV and as Parquet."""
    root = tmp_path_factory.mktemp("spark-data")
    return {
        f"{kind}-{fmt}": _write(root / f"{kind}-{fmt}", fmt, drift=0.7 if kind == "current" else 0.0)
        for kind in ("train", "current")
        for fmt in ("csv", "parquet")
    }


@pytest.fixture()
def spark_engines(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The SparkEngine objects the CLI makes (to look at how it ran: tasks, workers, attempts)."""
    from mmon.cli import baseline_cmd, engine_opts, run_cmd

    made: list[Any] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        engine = engine_opts.make_engine(*args, **kwargs)
        made.append(engine)
        return engine

    monkeypatch.setattr(baseline_cmd, "make_engine", recording)
    monkeypatch.setattr(run_cmd, "make_engine", recording)
    return made  # None for --engine local


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_spark_and_local_engines_write_the_same_bytes(
    spark: Any, data: dict[str, Path], fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
    spark_engines: list[Any],
) -> None:  # fmt: skip
    train, current = data[f"train-{fmt}"], data[f"current-{fmt}"]
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

    # How the baseline ran: several tasks of consecutive files, each file once and in order,
    # workers with polars and mmon's own threads sized to the task's one core, and polars not
    # imported before the task set POLARS_MAX_THREADS.
    engine = next(e for e in spark_engines if e is not None)
    n_files = len(ROWS)
    assert len(engine.tasks) >= 2 and any(len(t) > 1 for t in engine.tasks)
    assert [i for t in engine.tasks for i in t] == list(range(n_files))
    assert [info["file"] for info in engine.task_info] == list(range(n_files))
    for info in engine.task_info:
        assert info["polars_preloaded"] is False, info
        assert info["polars_threads"] == info["profile_threads"] == info["cpus"] == 1, info
        assert info["attempt"] == 0, info


def _fail_in_task(task: int, attempts: tuple[int, ...]) -> Any:
    """A stand-in for ``task_function`` whose task ``task`` dies after its first file on the given
    attempts (Spark's own attempt number, so the failure is deterministic): what a lost executor or
    a worker killed mid-task looks like to Spark. Everything else runs the real task."""
    from mmon.engine import spark as sp

    real = sp.task_function

    def make(spec: dict[str, Any]) -> Any:
        inner = real(spec)  # shipped by value, like the real one

        def run(batches: Any) -> Any:
            from pyspark import TaskContext

            ctx = TaskContext.get()
            for n, out in enumerate(inner(batches)):
                if n == 1 and ctx.partitionId() == task and ctx.attemptNumber() in attempts:
                    raise RuntimeError(f"injected failure in task {task}, attempt {ctx.attemptNumber()}")
                yield out

        return run

    return make


def test_a_task_that_fails_once_is_retried_and_the_bytes_hold(
    spark: Any, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, spark_engines: list[Any],
) -> None:  # fmt: skip
    """Task 1 dies after yielding its first file's state on its first attempt; Spark (local[2,2]:
    two attempts) runs it again. The failed attempt's rows are dropped, every file is folded once,
    in order, and the bytes are the local engine's."""
    from mmon.engine import spark as sp

    train = data["train-csv"]
    _baseline(str(train), str(tmp_path / "b-local"), "local", capsys)
    monkeypatch.setattr(sp, "task_function", _fail_in_task(1, attempts=(0,)))
    _baseline(str(train), str(tmp_path / "b-spark"), "spark", capsys)
    for name in OUTPUTS:
        assert (tmp_path / "b-spark" / name).read_bytes() == (tmp_path / "b-local" / name).read_bytes(), name
    engine = next(e for e in spark_engines if e is not None)
    assert len(engine.tasks[1]) > 1  # so that the first attempt did yield a file before dying
    assert [info["file"] for info in engine.task_info] == list(range(len(ROWS)))
    attempts = {info["task"]: info["attempt"] for info in engine.task_info}
    assert attempts == {t: int(t == 1) for t in range(len(engine.tasks))}

    # A task that fails on every attempt: one line with the worker's error (its last attempt's),
    # exit 2 like any unexpected error of the local engine, and no output.
    monkeypatch.setattr(sp, "task_function", _fail_in_task(1, attempts=(0, 1)))
    code, out, err = run_cli(["baseline", str(train), "-o", str(tmp_path / "b-fail"), "--engine", "spark"], capsys)
    assert code == 2, err
    assert err.strip().splitlines() == [
        "mmon: error: a Spark task failed on every attempt: RuntimeError: injected failure in task 1, attempt 1"
    ], err
    assert not (tmp_path / "b-fail").exists()


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
    spark: Any, data: dict[str, Path], s3_env: dict[str, str], s3_bucket: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The workers read S3 themselves, with the driver's standard AWS variables; no secret is printed.

    Compared with the local engine on the same S3 files (not with local disk: polars cuts a CSV read
    from S3 into other batches than one read from disk, and std_dev's last digit follows the batches).
    """
    from mmon.store import Store

    store = Store({})
    for fmt in ("csv", "parquet"):
        local = data[f"train-{fmt}"]
        for p in sorted(local.iterdir()):
            store.write_bytes(f"{s3_bucket}/{fmt}/{p.name}", p.read_bytes())
        _baseline(f"{s3_bucket}/{fmt}/", f"{s3_bucket}/l-{fmt}", "local", capsys)
        code, out, err = run_cli(["baseline", f"{s3_bucket}/{fmt}/", "-o", f"{s3_bucket}/b-{fmt}", "--engine", "spark"], capsys)
        assert code == 0, err
        for name in OUTPUTS:
            assert store.read_bytes(f"{s3_bucket}/b-{fmt}/{name}") == store.read_bytes(f"{s3_bucket}/l-{fmt}/{name}"), name
        assert s3_env["AWS_SECRET_ACCESS_KEY"] not in out + err


def test_local1_subprocess_same_bytes_and_a_quiet_terminal(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A separate `mmon baseline --engine spark --spark-master local[1]` (its own JVM, started by
    mmon): the same bytes as the local engine, and nothing from Spark on stdout/stderr."""
    pytest.importorskip("pyspark")
    train = data["train-csv"]
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


def test_spark_connect_same_bytes(
    spark_connect_url: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """Spark Connect: `--spark-master sc://…` makes mmon a Connect client (gRPC to the shared
    session's Connect server); the DataFrame-only plan runs there and gives the same bytes. Run
    from another directory with a relative path: the workers read it as the client meant it."""
    train = data["train-parquet"]
    _baseline(str(train), str(tmp_path / "b-local"), "local", capsys)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MMON_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "mmon", "baseline", train.name, "-o", str(tmp_path / "b-connect"), "--engine", "spark",
         "--spark-master", spark_connect_url, "-q"],  # fmt: skip
        capture_output=True, text=True, env=env, timeout=300, cwd=train.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for name in OUTPUTS:
        assert (tmp_path / "b-connect" / name).read_bytes() == (tmp_path / "b-local" / name).read_bytes(), name
