"""The Spark engine's parts that need no JVM: task planning, the shipped task function, the options,
and an unreachable master (found before any JVM starts)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmon.engine.spark_plan import MAX_SPLIT_BYTES, OPEN_COST_BYTES, _pack, plan_tasks
from mmon.engine.spark_session import spark_message

MB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def _consecutive(tasks: list[list[int]], n: int) -> bool:
    return [i for t in tasks for i in t] == list(range(n)) and all(t for t in tasks)


def test_plan_follows_sparks_split_rule_then_balances() -> None:
    # Spark: split = min(128 MB, max(4 MB, sum(size + 4 MB) / parallelism)); a split closes when the
    # next file would take it past that; every file costs its size plus 4 MB.
    sizes = [1 * MB] * 10  # 10 x 5 MB of cost, 2 cores: 25 MB splits -> 5 files each
    assert plan_tasks(sizes, 2) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    # Big data: the 128 MB cap; a file bigger than a split is alone (never cut). Spark's 3 splits
    # ([0, 1], [2], [3, 4]) become 4 on 2 cores, so that no core idles in the last wave.
    assert plan_tasks([100 * MB, 20 * MB, 300 * MB, 1 * MB, 1 * MB], 2) == [[0], [1], [2], [3, 4]]
    # Tiny files on many cores: the 4 MB floor, one file per task.
    assert plan_tasks([10] * 5, 64) == [[0], [1], [2], [3], [4]]
    assert plan_tasks([], 4) == []
    # 100 small files on 2 cores: Spark packs 32 + 32 + 32 + 4 (one core does 64 files, the
    # other 36); balanced: 4 x 25.
    assert [len(t) for t in plan_tasks([100_000] * 100, 2)] == [25] * 4
    # The bench's 100 files of 3.8 MB: Spark's 7 splits of 16 (the last of 4) become 8 of 12-13.
    assert [len(t) for t in plan_tasks([3_950_000] * 100, 2)] == [12, 13] * 4


@pytest.mark.parametrize("parallelism", [1, 2, 7, 200])
def test_plan_keeps_order_and_bounds(parallelism: int) -> None:
    import random

    rng = random.Random(parallelism)
    sizes = [rng.choice([0, 1, 1000, 3 * MB, 40 * MB, 200 * MB]) for _ in range(300)]
    tasks = plan_tasks(sizes, parallelism)
    assert _consecutive(tasks, len(sizes))
    total = sum(s + OPEN_COST_BYTES for s in sizes)
    split = min(MAX_SPLIT_BYTES, max(OPEN_COST_BYTES, total // parallelism))
    for t in tasks:
        # A task only goes past the split by its single (uncut) file's own size.
        assert len(t) == 1 or sum(sizes[i] + OPEN_COST_BYTES for i in t[:-1]) + sizes[t[-1]] <= split
    # At least Spark's number of splits, at most that rounded up to full waves of the cores.
    spark_splits = len(_pack([s + OPEN_COST_BYTES for s in sizes], split + OPEN_COST_BYTES))
    assert spark_splits <= len(tasks) <= -(-spark_splits // parallelism) * parallelism
    # Files of one size: every core has a task, and the tasks come in full waves of equal cost.
    for n_files in (parallelism, 3 * parallelism + 1, 500):
        tasks = plan_tasks([3 * MB] * n_files, parallelism)
        assert _consecutive(tasks, n_files) and len(tasks) % parallelism == 0
        assert max(map(len, tasks)) - min(map(len, tasks)) <= 1


def test_task_function_unpickles_without_polars_or_mmon_engine() -> None:
    """Spark's worker unpickles the mapInArrow function before the task sets POLARS_MAX_THREADS:
    unpickling must import neither polars nor mmon.engine (whose import pulls polars in)."""
    pytest.importorskip("pyspark")
    from pyspark import cloudpickle

    from mmon.engine.spark_task import task_function

    blob = cloudpickle.dumps(task_function({"files": [], "options": {}, "policy": {}, "aws_env": {}, "cwd": "/"}))
    code = (
        "import pickle, sys; f = pickle.loads(sys.stdin.buffer.read()); "
        "bad = [m for m in ('polars', 'mmon.engine', 'mmon.readers') if m in sys.modules]; "
        "print('imported:', bad); assert callable(f) and not bad"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    assert b"imported: []" in done.stdout


def test_spark_message_is_one_line() -> None:
    worker = (
        "An exception was thrown from the Python worker. Please see the stack trace below.\n"
        "Traceback (most recent call last):\n  File \"x.py\", line 3, in f\n    raise ValueError('boom')\n"
        "ValueError: boom\n\n\tat org.apache.spark.api.python.BasePythonRunner...\n"
    )
    assert spark_message(Exception(worker)) == "ValueError: boom"
    assert spark_message(Exception("[CANNOT_CONNECT] no\n\tat a.b.C")) == "[CANNOT_CONNECT] no"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.spark
def test_unreachable_master_exits_3_quickly(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MMON_DEBUG", None)
    for master in (f"spark://127.0.0.1:{_free_port()}", f"sc://127.0.0.1:{_free_port()}"):
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "mmon", "baseline", str(tmp_path / "a.csv"), "-o", str(tmp_path / "out"),
             "--engine", "spark", "--spark-master", master],  # fmt: skip
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        took = time.monotonic() - start
        assert done.returncode == 3, done.stderr
        assert took < 60, took
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mmon: error: cannot reach the Spark master " + master), lines
        assert not (tmp_path / "out").exists()


def test_engine_option_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.clihelp import run_cli

    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    code, _, err = run_cli(["baseline", tmp_path / "a.csv", "-o", tmp_path / "o", "--engine", "dask"], capsys)
    assert code == 2 and "--engine 'dask': expected local or spark" in err
    code, _, err = run_cli(["baseline", tmp_path / "a.csv", "-o", tmp_path / "o", "--spark-master", "local[2]"], capsys)
    assert code == 2 and "--spark-master needs --engine spark" in err
    # Model quality on Spark is refused up front, before any JVM or file: one line, exit 2.
    for cmd in ("run", "baseline"):
        code, out, err = run_cli([cmd, tmp_path / "a.csv", "-o", tmp_path / "o", "--type", "model-quality",
                                  "--problem-type", "BinaryClassification", "--engine", "spark"], capsys)  # fmt: skip
        assert code == 2, err
        assert err.strip().splitlines() == [
            "mmon: error: --engine spark runs data-quality baselines and runs only; --type model-quality runs locally "
            "(drop --engine spark)"
        ], err
    assert not (tmp_path / "o").exists()


def test_driver_aws_variables_are_defaults_and_do_not_outlive_their_job(monkeypatch: pytest.MonkeyPatch) -> None:
    from mmon.engine import spark_task as sp

    monkeypatch.setattr(sp, "_AWS_SET_HERE", set())
    monkeypatch.setenv("AWS_REGION", "executor-own")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    sp._apply_aws_env({"AWS_REGION": "driver", "AWS_ACCESS_KEY_ID": "k1", "AWS_ENDPOINT_URL": "http://a"})
    assert os.environ["AWS_REGION"] == "executor-own"  # the executor's own wins
    assert os.environ["AWS_ACCESS_KEY_ID"] == "k1" and os.environ["AWS_ENDPOINT_URL"] == "http://a"
    sp._apply_aws_env({"AWS_ACCESS_KEY_ID": "k2"})  # the next job's driver: new key, no endpoint
    assert os.environ["AWS_ACCESS_KEY_ID"] == "k2"
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["AWS_REGION"] == "executor-own"
