"""``--type`` dispatch for ``mmon baseline`` and ``mmon run``: model quality, bias, feature attribution.

Each monitoring type lives in its own library package (``mmon.model_quality``, ``mmon.bias``,
``mmon.attribution``); this module turns the shared command-line options into their calls and
their results into the same human table / JSON / exit-code conventions as data quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.table import Table

from mmon.cli.console import line, out, print_json, styled
from mmon.errors import InputError
from mmon.store import Store

TYPES = ("data-quality", "model-quality", "bias", "feature-attribution")

TypeOpt = Annotated[
    str, typer.Option("--type", help="Monitoring type: data-quality, model-quality, bias or feature-attribution.")
]
ConfigOpt = Annotated[
    str | None, typer.Option("--config", help="Clarify analysis_config.json (bias, feature-attribution).")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="How to call the model (feature-attribution): pkg.module:predict, file.py:predict, "
        "http://host:port/invocations, or columns:PREFIX when the data carries attributions.",
    ),
]
ProblemTypeOpt = Annotated[
    str | None,
    typer.Option(
        "--problem-type", help="model-quality: BinaryClassification, MulticlassClassification or Regression."
    ),
]
InferenceOpt = Annotated[
    str | None,
    typer.Option("--inference-attribute", help="Prediction column (table) or endpoint-output field/index (merged capture)."),
]
ProbabilityOpt = Annotated[
    str | None, typer.Option("--probability-attribute", help="Probability column or endpoint-output field/index.")
]
ThresholdOpt = Annotated[
    float | None, typer.Option("--probability-threshold", help="Probability above which the prediction is positive.")
]
GroundTruthOpt = Annotated[
    str | None, typer.Option("--ground-truth-attribute", help="Label column (model-quality tables).")
]
PositiveOpt = Annotated[str | None, typer.Option("--positive-label", help="The positive class (binary classification).")]
MaxRecordsOpt = Annotated[
    int | None, typer.Option("--max-records", help="feature-attribution: explain at most this many records (seeded sample).")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="feature-attribution: seconds to wait for one model call.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for sampling (standard deviations, SHAP coalitions).")]
EstimatorOpt = Annotated[
    str,
    typer.Option(
        "--estimator",
        help="model-quality: none (labels needed) or cbpe (estimate classifier metrics from calibrated scores, no "
        "labels; the baseline needs a labelled reference that is NOT the training set).",
    ),
]
ReferenceChunkOpt = Annotated[
    int | None,
    typer.Option(
        "--reference-chunk-size",
        help="model-quality --estimator cbpe baseline: rows per reference chunk for the thresholds (default: a tenth "
        "of the reference); make it about the rows of one monitored window.",
    ),
]
MinLabelledOpt = Annotated[
    int, typer.Option("--min-labelled", help="model-quality: refuse to judge a window with fewer labelled predictions.")
]


@dataclass
class TypedOptions:
    run_type: str
    config: str | None = None
    model: str | None = None
    problem_type: str | None = None
    inference_attribute: str | None = None
    probability_attribute: str | None = None
    probability_threshold: float | None = None
    ground_truth_attribute: str | None = None
    positive_label: str | None = None
    max_records: int | None = None
    timeout: float = 60.0
    seed: int = 0
    min_labelled: int = 1
    estimator: str = "none"
    reference_chunk_size: int | None = None


def check_type(run_type: str, estimator: str = "none") -> None:
    if run_type not in TYPES:
        raise InputError(f"--type {run_type!r}: expected one of {', '.join(TYPES)}")
    if estimator not in ("none", "cbpe"):
        raise InputError(f"--estimator {estimator!r}: expected none or cbpe")
    if estimator != "none" and run_type != "model-quality":
        raise InputError(f"--estimator {estimator} is for --type model-quality, not {run_type}")


def _need(value: Any, flag: str, run_type: str) -> Any:
    if value in (None, ""):
        raise InputError(f"--type {run_type} needs {flag}")
    return value


def _mq_config(o: TypedOptions) -> Any:
    from mmon.model_quality import MQConfig

    return MQConfig(
        problem_type=_need(o.problem_type, "--problem-type", o.run_type),
        inference_attribute=o.inference_attribute,
        ground_truth_attribute=o.ground_truth_attribute,
        probability_attribute=o.probability_attribute,
        probability_threshold=0.5 if o.probability_threshold is None else o.probability_threshold,
        positive_label=o.positive_label,
        min_labelled=o.min_labelled,
        seed=o.seed,
    )


def _bias_options(o: TypedOptions) -> Any:
    from mmon.bias import BiasOptions

    return BiasOptions(
        inference_attribute=o.inference_attribute,
        probability_attribute=o.probability_attribute,
        probability_threshold=o.probability_threshold,
    )


def _fa_options(o: TypedOptions) -> Any:
    from mmon.attribution import AttributionOptions

    return AttributionOptions(max_records=o.max_records, seed=o.seed, timeout=o.timeout)


def baseline_typed(
    store: Store, dataset: list[str], output: str, o: TypedOptions, fmt: str | None, header: bool, progress: Any
) -> Any:
    if o.run_type == "model-quality" and o.estimator == "cbpe":
        from mmon.cbpe.api import baseline_cbpe

        return baseline_cbpe(store, dataset, output, _mq_config(o), fmt=fmt, header=header, chunk_size=o.reference_chunk_size)
    if o.run_type == "model-quality":
        from mmon.model_quality import baseline_model_quality

        return baseline_model_quality(store, dataset, output, _mq_config(o), fmt=fmt, header=header)
    if o.run_type == "bias":
        from mmon.bias import baseline_bias, load_analysis_config

        config = load_analysis_config(store, _need(o.config, "--config", o.run_type))
        return baseline_bias(store, dataset, output, config, _bias_options(o), fmt=fmt, header=header)
    if o.run_type == "feature-attribution":
        from mmon.attribution import baseline_attribution, load_config

        config = load_config(store, _need(o.config, "--config", o.run_type))
        return baseline_attribution(
            store, dataset, output, _need(o.model, "--model", o.run_type), config, _fa_options(o),
            fmt=fmt, header=header, progress=progress,
        )  # fmt: skip
    raise InputError(f"--type {o.run_type!r} is not handled here")


def run_typed(
    store: Store,
    data: list[str],
    output: str,
    o: TypedOptions,
    constraints: str | None,
    statistics: str | None,
    fmt: str | None,
    header: bool,
    endpoint: str | None,
    schedule: str | None,
    metric_time: str | None,
    progress: Any,
    before_publish: Any = None,
) -> Any:
    cons = _need(constraints, "--baseline-constraints", o.run_type)
    if o.run_type == "model-quality" and o.estimator == "cbpe":
        from mmon.cbpe.api import run_cbpe

        return run_cbpe(
            store, data, output, _mq_config(o), cons, statistics, fmt=fmt, header=header,
            endpoint=endpoint, schedule=schedule, metric_time=metric_time, before_publish=before_publish,
        )  # fmt: skip
    if o.run_type == "model-quality":
        from mmon.model_quality import run_model_quality

        return run_model_quality(
            store, data, output, _mq_config(o), cons, statistics, fmt=fmt, header=header,
            endpoint=endpoint, schedule=schedule, metric_time=metric_time, before_publish=before_publish,
        )  # fmt: skip
    if o.run_type == "bias":
        from mmon.bias import load_analysis_config, run_bias

        config = load_analysis_config(store, _need(o.config, "--config", o.run_type))
        return run_bias(
            store, data, output, config, cons, _bias_options(o), fmt=fmt, header=header,
            endpoint=endpoint, schedule=schedule, metric_time=metric_time, before_publish=before_publish,
        )  # fmt: skip
    if o.run_type == "feature-attribution":
        from mmon.attribution import load_config, run_attribution

        config = load_config(store, _need(o.config, "--config", o.run_type))
        return run_attribution(
            store, data, output, _need(o.model, "--model", o.run_type), config, cons, _fa_options(o),
            fmt=fmt, header=header, endpoint=endpoint, schedule=schedule, metric_time=metric_time, progress=progress,
            before_publish=before_publish,
        )  # fmt: skip
    raise InputError(f"--type {o.run_type!r} is not handled here")


def _summary_and_table(run_type: str, result: Any) -> tuple[dict[str, Any], str, list[str], list[list[str]]]:
    if run_type == "model-quality":
        from mmon.model_quality import mq_rows, mq_summary

        rows = mq_rows(result)
        headers = list(rows[0].keys()) if rows else ["metric", "value"]
        title = f"Model quality ({result.problem_type}) of {result.labelled} labelled of {result.rows} predictions"
        return mq_summary(result), title, headers, [[r[h] for h in headers] for r in rows]
    title, headers, rows = result.table()
    return result.summary(), title, headers, rows


def show(run_type: str, result: Any, json_output: bool, extra: dict[str, Any] | None = None) -> None:
    """The result of a typed baseline or run: JSON on stdout, or a rich table."""
    summary, title, headers, rows = _summary_and_table(run_type, result)
    if json_output:
        print_json({"type": run_type, **summary, "violations": result.violations, "outputs": result.outputs, **(extra or {})})
        return
    table = Table(title=title)
    for h in headers:
        table.add_column(str(h))
    for r in rows:
        bad = any("VIOLATION" in str(c) or "violation" == str(c) for c in r)
        table.add_row(*[str(c) for c in r], style="red" if bad else None)
    out.print(table)
    for url in result.outputs.values():
        out.print(f"Wrote {url}", highlight=False)
    if "constraint_violations" in result.outputs:
        n = len(result.violations)
        if n:
            report = result.outputs["constraint_violations"].rsplit("/", 1)[0]
            out.print(line((f"{n} violation(s)", "red bold"), f" — see them with: mmon violations {report}"), highlight=False)
        else:
            out.print(styled("No violations", "green"), highlight=False)
