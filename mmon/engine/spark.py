"""The Spark engine: profile files on a Spark cluster, fold their states on the driver in file order.

Plan: the files are cut into tasks of consecutive files (about 128 MB each, as Spark's own file
split does), one DataFrame row and one partition per task: ``(task, first, paths)``. ``mapInArrow``
runs mmon's own readers and ``profile_file`` in each task (Deequ-exact typing needs the raw text,
so not Spark's CSV reader) and returns one row per file: its ``FileProfile`` as versioned bytes,
or the one-line error of a file it could not read. The result is persisted, materialised once
(every task in parallel) and read back partition by partition with ``toLocalIterator``, so the
driver holds one task's states at a time and yields them strictly in file order; ``fold`` merges
them left to right. Never ``treeReduce``/``reduceByKey`` (their order depends on shuffle fetches)
and no ``orderBy`` after the UDF (it would run it again): the order comes from the plan.
DataFrame API only, so Spark Connect (``SPARK_REMOTE`` / ``sc://``) works as well.

This module is the driver's part: it submits the job and collects the states in file order. Its
helpers: :mod:`mmon.engine.spark_plan` (the files cut into tasks), :mod:`mmon.engine.spark_task`
(the function each task runs, on the workers) and :mod:`mmon.engine.spark_session` (starting
Spark, keeping its logs quiet, its errors as one line).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mmon.engine.spark_plan import file_sizes, plan_tasks
from mmon.engine.spark_session import debug, default_parallelism, quiet_stderr, spark_message, spark_session
from mmon.engine.spark_task import RESULT_SCHEMA, task_function, task_spec
from mmon.errors import InputError, MmonError, StorageError

if TYPE_CHECKING:  # pragma: no cover - types only; importing them at run time would import polars
    from mmon.engine import FileProfile, ProfilePolicy
    from mmon.readers import DatasetFile
    from mmon.store import Store

__all__ = ["SparkEngine", "SparkTaskError", "spark_session"]


class SparkEngine:
    """``Engine`` on Spark: one task per group of consecutive files, states folded in file order."""

    def __init__(self, master: str | None = None) -> None:
        self.master = master
        self.task_info: list[dict[str, Any]] = []  # per file: the worker that profiled it (for tests/bench)
        self.tasks: list[list[int]] = []
        # The driver's wall and CPU seconds per phase (plan, compute, fetch), for bench/engine.py.
        self.phases: dict[str, dict[str, float]] = {}

    def map_files(self, store: Store, files: list[DatasetFile], policy: ProfilePolicy) -> Iterator[FileProfile]:
        from mmon.engine import FileProfile

        if not files:
            return
        spark, owned = spark_session(self.master)
        try:
            self.phases = {}
            with self._phase("plan"):
                self.tasks = plan_tasks(file_sizes(store, files), default_parallelism(spark))
            yield from self._run(spark, store, files, policy, FileProfile)
        finally:
            if owned:
                with quiet_stderr(), contextlib.suppress(Exception):
                    spark.stop()

    def _run(self, spark: Any, store: Store, files: list[DatasetFile], policy: ProfilePolicy, profile_cls: Any) -> Iterator[FileProfile]:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        spec = task_spec(store, files, policy)
        setup = self._phase("setup")
        setup.__enter__()
        n = len(self.tasks)
        # One partition per task, in task order: spark.range cuts 0..n-1 into n slices of one id.
        paths = F.lit([[files[i].url for i in t] for t in self.tasks])
        firsts = F.lit([t[0] for t in self.tasks])
        position = (F.col("id") + 1).cast("int")
        tasks_df = spark.range(0, n, 1, n).select(
            F.col("id").alias("task"),
            F.element_at(firsts, position).cast("long").alias("first"),
            F.element_at(paths, position).alias("paths"),
        )
        with quiet_stderr():  # pyspark warns about pandas versions when the UDF is defined
            results = tasks_df.mapInArrow(task_function(spec), RESULT_SCHEMA)
        cached = results.persist(StorageLevel.MEMORY_AND_DISK)
        setup.__exit__(None, None, None)
        try:
            task_files = [[files[i].url for i in t] for t in self.tasks]
            with _spark_errors(task_files), self._phase("compute"):
                cached.count()  # every task in parallel, once; the rows stay on the executors
            # prefetch: the next task's states are fetched while the caller folds this one's.
            rows = _spark_rows(cached.toLocalIterator(prefetchPartitions=True), task_files)
            profiles = self._in_file_order(rows, files, profile_cls)
            while True:  # "fetch": the driver's time getting and decoding states (not the caller's fold)
                with self._phase("fetch"):
                    profile = next(profiles, None)
                if profile is None:
                    return
                yield profile
        finally:
            with contextlib.suppress(Exception), self._phase("cleanup"):
                cached.unpersist()

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            got = self.phases.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0})
            got["wall_s"] += time.perf_counter() - wall
            got["cpu_s"] += time.process_time() - cpu

    def _in_file_order(self, rows: Iterator[Any], files: list[DatasetFile], profile_cls: Any) -> Iterator[FileProfile]:
        """Yield profiles by file index; rows that arrive early wait (they come in order from Spark)."""
        pending: dict[int, Any] = {}
        expected = 0
        self.task_info = []
        for r in rows:
            pending[int(r["file"])] = r
            while expected in pending:
                got = pending.pop(expected)
                if got["error_kind"]:
                    cls = StorageError if got["error_kind"] == "storage" else InputError
                    raise cls(got["error"])
                self.task_info.append(dict(json.loads(got["info"]), task=int(got["task"]), file=expected))
                yield profile_cls.from_bytes(bytes(got["profile"]))
                expected += 1
        if expected != len(files):
            raise StorageError(f"Spark returned profiles of {expected} of {len(files)} files (first missing: {files[expected].url})")


class SparkTaskError(MmonError):
    """A task whose Python code failed on every attempt Spark gave it (exit 2, like an unexpected
    error of the local engine: the worker's error, not the cluster's)."""


# Spark's summary of an aborted stage: "Task 1 in stage 3.0 failed 2 times, most recent failure: ..."
_TASK_FAILED = re.compile(r"Task (\d+) in stage [\d.]+ failed (\d+) times?")


@contextlib.contextmanager
def _spark_errors(task_files: list[list[str]] | None = None) -> Iterator[None]:
    """Spark's exceptions as one line: a task whose Python code kept failing names the task, its
    files and the worker's error (exit 2); anything else is Spark's failure (exit 3)."""
    try:
        with warnings.catch_warnings():
            if not debug():
                warnings.simplefilter("ignore")
            yield
    except MmonError:
        raise
    except Exception as exc:  # noqa: BLE001 - a Spark failure: one line (MMON_DEBUG=1 shows it all)
        if debug():
            raise
        text = str(exc)
        if "PythonException" in type(exc).__name__ or "Traceback (most recent call last)" in text:
            # pyspark hands over the worker's exception, not the job's "Task 1 in stage 3.0 failed
            # 4 times" (older versions and some paths keep it: then the task's files are named).
            failed = _TASK_FAILED.search(text)
            which = "a Spark task"
            if failed and task_files and int(failed.group(1)) < len(task_files):
                urls = task_files[int(failed.group(1))]
                more = f" and {len(urls) - 1} more files" if len(urls) > 1 else ""
                which = f"Spark task {failed.group(1)} ({urls[0]}{more})"
            raise SparkTaskError(f"{which} failed on every attempt: {spark_message(exc)}") from exc
        raise StorageError(f"the Spark job failed: {spark_message(exc)}") from exc


def _spark_rows(it: Iterator[Any], task_files: list[list[str]] | None = None) -> Iterator[Any]:
    while True:
        with _spark_errors(task_files):
            r = next(it, None)
        if r is None:
            return
        yield r
