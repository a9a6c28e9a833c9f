"""Bias (Clarify's post-training bias drift) as a monitor type (``mmon.monitors``)."""

from __future__ import annotations

from typing import Any

from mmon.monitors import MonitorOptions, RunRequest, need
from mmon.store import Store


def _options(o: MonitorOptions) -> Any:
    from mmon.bias import BiasOptions

    return BiasOptions(
        inference_attribute=o.inference_attribute,
        probability_attribute=o.probability_attribute,
        probability_threshold=o.probability_threshold,
    )


def _config(store: Store, o: MonitorOptions) -> Any:
    from mmon.bias import load_analysis_config

    return load_analysis_config(store, need(o.config, "--config", o.run_type))


def baseline(
    store: Store, dataset: list[str], output: str, o: MonitorOptions, fmt: str | None, header: bool, progress: Any
) -> Any:
    from mmon.bias import baseline_bias

    return baseline_bias(store, dataset, output, _config(store, o), _options(o), fmt=fmt, header=header)


def check_baseline(store: Store, o: MonitorOptions, req: RunRequest) -> None:
    from mmon.bias.api import load_bias_constraints

    _config(store, o)
    load_bias_constraints(store, req.constraints)


def run(store: Store, data: list[str], output: str, o: MonitorOptions, req: RunRequest) -> Any:
    from mmon.bias import run_bias

    return run_bias(store, data, output, _config(store, o), req.constraints, _options(o), **req.where())
