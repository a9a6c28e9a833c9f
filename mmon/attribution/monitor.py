"""Feature attribution (SHAP drift, Clarify's explainability monitor) as a monitor type (``mmon.monitors``)."""

from __future__ import annotations

from typing import Any

from mmon.monitors import MonitorOptions, RunRequest, need
from mmon.store import Store


def _options(o: MonitorOptions) -> Any:
    from mmon.attribution import AttributionOptions

    return AttributionOptions(max_records=o.max_records, seed=o.seed, timeout=o.timeout)


def _config(store: Store, o: MonitorOptions) -> Any:
    from mmon.attribution import load_config

    return load_config(store, need(o.config, "--config", o.run_type))


def baseline(
    store: Store, dataset: list[str], output: str, o: MonitorOptions, fmt: str | None, header: bool, progress: Any
) -> Any:
    from mmon.attribution import baseline_attribution

    config = _config(store, o)
    return baseline_attribution(
        store, dataset, output, need(o.model, "--model", o.run_type), config, _options(o),
        fmt=fmt, header=header, progress=progress,
    )  # fmt: skip


def check_baseline(store: Store, o: MonitorOptions, req: RunRequest) -> None:
    from mmon.attribution.config import load_analysis

    _config(store, o)
    need(o.model, "--model", o.run_type)
    load_analysis(store, req.constraints)


def run(store: Store, data: list[str], output: str, o: MonitorOptions, req: RunRequest) -> Any:
    from mmon.attribution import run_attribution

    config = _config(store, o)
    model = need(o.model, "--model", o.run_type)
    return run_attribution(
        store, data, output, model, config, req.constraints, _options(o), progress=req.progress, **req.where()
    )
