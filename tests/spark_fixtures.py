"""A real Spark for the tests: one ``local[2]`` session for the whole test run, bound to 127.0.0.1.

Started through mmon's own ``spark_session`` (the code path of ``--engine spark``): workers run this
Python (PYSPARK_PYTHON), everything binds to the loopback (SPARK_LOCAL_IP, spark.driver.host and
bindAddress), no UI, and the JVM's log goes to a file instead of the test output.
Import the fixture into a test module: ``from tests.spark_fixtures import spark``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="the Spark tests need the spark extra: pip install -e '.[test,spark]'")
    from mmon.engine.spark import spark_session

    session, owned = spark_session("local[2]")
    assert session.sparkContext.master == "local[2]"
    yield session
    if owned:
        session.stop()
