"""The worker side of the Spark engine: the function ``mapInArrow`` runs in each task.

Each task row ``(task, first, paths)`` becomes one output row per file (``RESULT_SCHEMA``): its
``FileProfile`` as versioned bytes, or the one-line error of a file mmon could not read. The task
runs mmon's own readers and ``profile_file`` (Deequ-exact typing needs the raw text, so not Spark's
CSV reader).

Spark's Python workers (forked from its daemon) unpickle the task function before they set
``POLARS_MAX_THREADS``: this module must not import polars (nor mmon modules that do) at module
level, and :func:`task_function` ships by value so that unpickling it imports nothing at all.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from mmon.errors import MmonError, StorageError

if TYPE_CHECKING:  # pragma: no cover - types only; importing them at run time would import polars
    from mmon.engine import ProfilePolicy
    from mmon.readers import DatasetFile
    from mmon.store import Store

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
# The rows profile_tasks yields, one per file (the same columns as its Arrow schema).
RESULT_SCHEMA = "task long, file long, url string, profile binary, error_kind string, error string, info string"


def task_spec(store: Store, files: list[DatasetFile], policy: ProfilePolicy) -> dict[str, Any]:
    """What every task needs from the driver (plain values: it is shipped inside the task function)."""
    return {
        "files": [(f.url, f.format, f.header) for f in files],
        "options": dict(store.options),
        "policy": asdict(policy),
        "aws_env": {k: os.environ[k] for k in AWS_VARIABLES if os.environ.get(k)},
        "cwd": os.getcwd(),
    }


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
        from mmon.engine.spark_task import profile_tasks

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
