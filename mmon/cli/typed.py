"""``--type`` dispatch for ``mmon baseline`` and ``mmon run``: model quality, bias, feature attribution.

Each monitoring type lives in its own library package (``mmon.model_quality``, ``mmon.bias``,
``mmon.attribution``); this module turns the shared command-line options into their calls and
their results into the same human table / JSON / exit-code conventions as data quality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


# Files a typed baseline or run writes into its output folder (a superset is harmless).
_WRITES = ("statistics.json", "constraints.json", "constraint_violations.json", "analysis.json",
           "cloudwatch_metrics.jsonl", "metrics.prom", "explanations_shap/out.csv")  # fmt: skip


def _refuse_overwrite(output: str, o: TypedOptions, data: list[str], inputs: list[tuple[str, str | None]]) -> None:
    """-o at the baseline's, config's or data's folder must not replace them (exit 2)."""
    from mmon.own_files import refuse_overwrite
    from mmon.store import join

    model_file = o.model.rsplit(":", 1)[0] if o.model and o.model.rsplit(":", 1)[0].endswith(".py") else None
    named = [*inputs, ("--config", o.config), ("--model", model_file), *(("data", d) for d in data)]
    refuse_overwrite([join(output, *n.split("/")) for n in _WRITES], named)


def baseline_typed(
    store: Store, dataset: list[str], output: str, o: TypedOptions, fmt: str | None, header: bool, progress: Any
) -> Any:
    _refuse_overwrite(output, o, dataset, [])
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


@dataclass
class NotJudged:
    """A typed run over an empty window: not an error, nothing judged, no report written.

    An hour without traffic, or whose predictions have no label yet, is normal for a scheduled
    monitor; it must neither fail the execution nor pass as a judged "0 violations".
    """

    run_type: str
    reason: str
    violations: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.warnings.append(self.reason)

    def summary(self) -> dict[str, Any]:
        return {"status": "NotJudged", "judged": False, "reason": self.reason}

    def table(self) -> tuple[str, list[str], list[list[str]]]:
        return f"{self.run_type}: not judged", ["reason"], [[self.reason]]


# An empty window's file is small: a Parquet schema, a CSV header, or nothing.
_EMPTY_FILE_BYTES = 64 * 1024


def _window_is_empty(store: Store, data: list[str], fmt: str | None, header: bool) -> bool:
    """True when every data file holds no rows (read only the first row of small files)."""
    from mmon.readers import dataset_files, iter_batches

    for f in dataset_files(store, data, fmt, header):
        if store.size(f.url) > _EMPTY_FILE_BYTES:
            return False
        first = next(iter_batches(store, f, batch_rows=1), None)
        if first is not None and first.height:
            return False
    return True


def not_judged(run_type: str, labelled: int | None = None, rows: int | None = None, minimum: int | None = None) -> NotJudged:
    if labelled is None:
        reason = "the window has no rows (no traffic, or no prediction with a label yet): nothing judged, no report written"
    else:
        reason = (f"only {labelled} of {rows} predictions in the window have a ground-truth label, fewer than "
                  f"--min-labelled {minimum}: nothing judged, no report written")  # fmt: skip
    return NotJudged(run_type, reason)


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
    _refuse_overwrite(output, o, data, [("--baseline-constraints", cons), ("--baseline-statistics", statistics)])
    # The baseline and config are checked before an empty window is let through: a broken
    # monitor must fail on its first quiet hour, not on its first busy one.
    empty = bool(data) and _window_is_empty(store, data, fmt, header)
    if o.run_type == "model-quality" and o.estimator == "cbpe":
        from mmon.cbpe.api import check_baseline, run_cbpe

        if empty:
            check_baseline(store, _mq_config(o), cons, statistics)
            return not_judged(o.run_type)
        return run_cbpe(
            store, data, output, _mq_config(o), cons, statistics, fmt=fmt, header=header,
            endpoint=endpoint, schedule=schedule, metric_time=metric_time, before_publish=before_publish,
        )  # fmt: skip
    if o.run_type == "model-quality":
        from mmon.model_quality import run_model_quality
        from mmon.model_quality.api import load_baseline, validate_config

        mq = _mq_config(o)
        if empty:
            validate_config(mq)
            load_baseline(store, mq, cons, statistics)
            return not_judged(o.run_type)
        return run_model_quality(
            store, data, output, mq, cons, statistics, fmt=fmt, header=header,
            endpoint=endpoint, schedule=schedule, metric_time=metric_time, before_publish=before_publish,
        )  # fmt: skip
    if o.run_type == "bias":
        from mmon.bias import load_analysis_config, run_bias
        from mmon.bias.api import load_bias_constraints

        config = load_analysis_config(store, _need(o.config, "--config", o.run_type))
        if empty:
            load_bias_constraints(store, cons)
            return not_judged(o.run_type)
        return run_bias(
            store, data, output, config, cons, _bias_options(o), fmt=fmt, header=header,
            endpoint=endpoint, schedule=schedule, metric_time=metric_time, before_publish=before_publish,
        )  # fmt: skip
    if o.run_type == "feature-attribution":
        from mmon.attribution import load_config, run_attribution
        from mmon.attribution.config import load_analysis

        config = load_config(store, _need(o.config, "--config", o.run_type))
        model = _need(o.model, "--model", o.run_type)
        if empty:
            load_analysis(store, cons)
            return not_judged(o.run_type)
        return run_attribution(
            store, data, output, model, config, cons, _fa_options(o),
            fmt=fmt, header=header, endpoint=endpoint, schedule=schedule, metric_time=metric_time, progress=progress,
            before_publish=before_publish,
        )  # fmt: skip
    raise InputError(f"--type {o.run_type!r} is not handled here")


def _summary_and_table(run_type: str, result: Any) -> tuple[dict[str, Any], str, list[str], list[list[str]]]:
    if run_type == "model-quality" and not isinstance(result, NotJudged):
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
