"""Model quality as a monitor type (``mmon.monitors``); ``--estimator cbpe`` routes to ``mmon.cbpe``."""

from __future__ import annotations

from typing import Any

from mmon.monitors import MonitorOptions, RunRequest, need
from mmon.store import Store


def config(o: MonitorOptions) -> Any:
    from mmon.model_quality import MQConfig

    return MQConfig(
        problem_type=need(o.problem_type, "--problem-type", o.run_type),
        inference_attribute=o.inference_attribute,
        ground_truth_attribute=o.ground_truth_attribute,
        probability_attribute=o.probability_attribute,
        probability_threshold=0.5 if o.probability_threshold is None else o.probability_threshold,
        positive_label=o.positive_label,
        min_labelled=o.min_labelled,
        seed=o.seed,
    )


def baseline(
    store: Store, dataset: list[str], output: str, o: MonitorOptions, fmt: str | None, header: bool, progress: Any
) -> Any:
    if o.estimator == "cbpe":
        from mmon.cbpe.api import baseline_cbpe

        return baseline_cbpe(store, dataset, output, config(o), fmt=fmt, header=header, chunk_size=o.reference_chunk_size)
    from mmon.model_quality import baseline_model_quality

    return baseline_model_quality(store, dataset, output, config(o), fmt=fmt, header=header)


def check_baseline(store: Store, o: MonitorOptions, req: RunRequest) -> None:
    if o.estimator == "cbpe":
        from mmon.cbpe.api import check_baseline as check_cbpe

        check_cbpe(store, config(o), req.constraints, req.statistics)
        return
    from mmon.model_quality.api import load_baseline, validate_config

    mq = config(o)
    validate_config(mq)
    load_baseline(store, mq, req.constraints, req.statistics)


def run(store: Store, data: list[str], output: str, o: MonitorOptions, req: RunRequest) -> Any:
    if o.estimator == "cbpe":
        from mmon.cbpe.api import run_cbpe

        return run_cbpe(store, data, output, config(o), req)
    from mmon.model_quality import run_model_quality

    return run_model_quality(store, data, output, config(o), req.constraints, req.statistics, **req.where())


def view(result: Any) -> tuple[dict[str, Any], str, list[str], list[list[str]]]:
    from mmon.model_quality import mq_rows, mq_summary

    rows = mq_rows(result)
    headers = list(rows[0].keys()) if rows else ["metric", "value"]
    title = f"Model quality ({result.problem_type}) of {result.labelled} labelled of {result.rows} predictions"
    return mq_summary(result), title, headers, [[r[h] for h in headers] for r in rows]
