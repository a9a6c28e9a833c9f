"""``--engine`` and ``--spark-master``: where `baseline` and the data-quality `run` profile their files.

Defined once here so both commands show the same names and help. ``--engine spark`` imports the
Spark engine (and pyspark, the optional extra ``mmon[spark]``) only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mmon.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from mmon.engine import Engine

ENGINES = ("local", "spark")

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where files are profiled: local (this machine) or spark (a Spark cluster; needs pip install "
        "'mmon[spark]'). Both give byte-identical statistics.",
        metavar="local|spark",
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master for --engine spark: local[N], spark://HOST:7077, yarn, k8s://…, or sc://HOST:15002 "
        "(Spark Connect). Default: the running session (spark-submit), SPARK_REMOTE, else Spark's default.",
        metavar="URL",
    ),
]


def make_engine(engine: str, spark_master: str | None, run_type: str = "data-quality") -> Engine | None:
    """The engine the options ask for; None means the default local engine."""
    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r}: expected local or spark")
    if engine == "local":
        if spark_master:
            raise InputError("--spark-master needs --engine spark")
        return None
    if run_type != "data-quality":
        # Model quality joins each prediction with its ground truth (by event id, across files):
        # a join, not the per-file map and ordered fold the Spark engine runs. It stays local.
        raise InputError(f"--engine spark runs data-quality baselines and runs only; --type {run_type} runs locally "
                         "(drop --engine spark)")  # fmt: skip
    from mmon.engine.spark import SparkEngine

    return SparkEngine(spark_master)
