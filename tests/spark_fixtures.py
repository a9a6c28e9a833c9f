"""A real Spark for the tests: one ``local[2,2]`` session for the whole test run, bound to 127.0.0.1.

Started through mmon's own ``spark_session`` (the code path of ``--engine spark``): workers run this
Python (PYSPARK_PYTHON), everything binds to the loopback (SPARK_LOCAL_IP, spark.driver.host and
bindAddress), no UI, and the JVM's log goes to a file instead of the test output.

``local[2,2]``: two cores and Spark's task.maxFailures of 2 (plain ``local[2]`` never retries a
task), so the retry of a failed task is tested on the same session. The same JVM also serves Spark
Connect on a free loopback port (Spark's own SparkConnectPlugin), so the Connect test needs a
client only, not a JVM of its own. Every Spark test module shares this one session (one JVM start
per test run): import the fixtures, ``from tests.spark_fixtures import spark, spark_connect_url``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MASTER = "local[2,2]"
_CONNECT_PORT: list[int] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="the Spark tests need the spark extra: pip install -e '.[test,spark]'")
    import pyspark

    from mmon.engine.spark import spark_session

    port = _free_port()
    conf = {}
    # pyspark 4 ships the Connect server's jar; 3.5's pip package does not (then the Connect test skips).
    if list((Path(pyspark.__file__).parent / "jars").glob("spark-connect_*.jar")):
        conf = {
            "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(port),
        }
        _CONNECT_PORT[:] = [port]
    session, owned = spark_session(MASTER, conf)
    assert session.sparkContext.master == MASTER
    yield session
    if owned:
        session.stop()


@pytest.fixture(scope="session")
def spark_connect_url(spark: Any) -> str:
    """``sc://127.0.0.1:PORT``: Spark Connect served by the shared session's JVM."""
    pytest.importorskip("grpc", reason="the Spark Connect client needs the spark-connect extra")
    if not _CONNECT_PORT:
        pytest.skip("this pyspark has no Spark Connect server jar")
    return f"sc://127.0.0.1:{_CONNECT_PORT[0]}"
