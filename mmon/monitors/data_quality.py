"""Data quality as a monitor type (``mmon.monitors``): ``mmon.baseline`` profiles and suggests,
``mmon.run`` profiles the window and runs the checks of ``mmon.checks``. It has no ``check_baseline``:
an empty window is judged by ``run_data_quality`` itself (its own message), as ``mmon run`` always did."""

from __future__ import annotations

from typing import Any

from mmon.monitors import MonitorOptions, RunRequest
from mmon.store import Store


def baseline(
    store: Store, dataset: list[str], output: str, o: MonitorOptions, fmt: str | None, header: bool, progress: Any
) -> Any:
    from mmon.baseline import run_baseline

    return run_baseline(store, dataset, output, fmt=fmt, header=header, progress=progress)


def run(store: Store, data: list[str], output: str, o: MonitorOptions, req: RunRequest) -> Any:
    from mmon.monitors import need
    from mmon.run import run_data_quality

    return run_data_quality(
        store, data, need(req.statistics, "--baseline-statistics", o.run_type), req.constraints, output,
        options=o.check_options, postprocessor=o.postprocessor, progress=req.progress, **req.where(),
    )  # fmt: skip
