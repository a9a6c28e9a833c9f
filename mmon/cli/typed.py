"""The ``--type`` options of ``mmon baseline`` and ``mmon run`` and how a typed result is shown.

The monitor types and their dispatch live in the library's registry (``mmon.monitors``); this
module only turns command-line options into ``MonitorOptions`` and a result into the same human
table / JSON conventions as data quality.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Annotated, Any

import typer
from rich.table import Table

from mmon.cli.console import file_progress, line, out, print_json, styled
from mmon.monitors import TYPES, MonitorOptions, NotJudged, RunRequest, check_type, need, not_judged
from mmon.monitors import baseline as _baseline
from mmon.monitors import run as _run
from mmon.monitors import view as _view
from mmon.store import Store

__all__ = ["TYPES", "NotJudged", "TypedOptions", "baseline_typed", "check_type", "not_judged", "run_typed", "show"]
TypedOptions = MonitorOptions

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


# The options of baseline and run that make a MonitorOptions, declared once: (field = parameter
# name, option, the command line's default). A command lists them in --help where its ``opts``
# parameter stands, followed by the extra ones it passes to ``with_monitor_options``.
MONITOR_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("run_type", TypeOpt, "data-quality"),
    ("config", ConfigOpt, None),
    ("model", ModelOpt, None),
    ("problem_type", ProblemTypeOpt, None),
    ("inference_attribute", InferenceOpt, None),
    ("probability_attribute", ProbabilityOpt, None),
    ("probability_threshold", ThresholdOpt, None),
    ("ground_truth_attribute", GroundTruthOpt, None),
    ("positive_label", PositiveOpt, None),
    ("max_records", MaxRecordsOpt, 1000),
    ("timeout", TimeoutOpt, 60.0),
    ("seed", SeedOpt, 0),
    ("estimator", EstimatorOpt, "none"),
)
REFERENCE_CHUNK_SIZE = ("reference_chunk_size", ReferenceChunkOpt, None)
MIN_LABELLED = ("min_labelled", MinLabelledOpt, 1)
# The default of a command's ``opts`` parameter, never used: with_monitor_options always passes it.
DECLARED = MonitorOptions("data-quality")


def with_monitor_options(*extra: tuple[str, Any, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command whose ``opts: MonitorOptions`` parameter typer shows as the MONITOR_OPTIONS (and
    ``extra``) options, in that place; the command is called with their values in one MonitorOptions,
    checked (``check_type``)."""
    declared = [*MONITOR_OPTIONS, *extra]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        params = list(inspect.signature(command, eval_str=True).parameters.values())
        at = [p.name for p in params].index("opts")
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        options = [inspect.Parameter(name, kind, annotation=option, default=default) for name, option, default in declared]

        @functools.wraps(command)
        def with_options(**values: Any) -> Any:
            opts = MonitorOptions(**{name: values.pop(name) for name, _, _ in declared})
            check_type(opts.run_type, opts.estimator)  # a wrong --type or --estimator, before any work
            return command(**values, opts=opts)

        with_options.__signature__ = inspect.Signature([*params[:at], *options, *params[at + 1 :]])  # type: ignore[attr-defined]
        with_options.__annotations__ = {}  # typer reads the types from the signature above
        return with_options

    return decorate


@contextmanager
def work_progress(run_type: str, quiet: bool) -> Iterator[Any]:
    """The progress bar of a typed baseline or run, with stdout sent to stderr meanwhile: a model
    script may print, and stdout is for mmon's result only."""
    label = "Model calls" if run_type == "feature-attribution" else "Reading"
    with file_progress(label, quiet) as progress, redirect_stdout(sys.stderr):
        yield progress


def baseline_typed(
    store: Store, dataset: list[str], output: str, o: MonitorOptions, fmt: str | None, header: bool, progress: Any
) -> Any:
    return _baseline(store, dataset, output, o, fmt, header, progress)


def run_typed(
    store: Store,
    data: list[str],
    output: str,
    o: MonitorOptions,
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
    cons = need(constraints, "--baseline-constraints", o.run_type)
    req = RunRequest(cons, statistics, fmt, header, endpoint, schedule, metric_time, progress, before_publish)
    return _run(store, data, output, o, req)


def show(run_type: str, result: Any, json_output: bool, extra: dict[str, Any] | None = None) -> None:
    """The result of a typed baseline or run: JSON on stdout, or a rich table."""
    summary, title, headers, rows = _view(run_type, result)
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
