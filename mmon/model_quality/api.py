"""``mmon baseline --type model-quality`` and ``mmon run --type model-quality`` as library calls.

baseline: rows -> metrics (statistics.json) -> suggested constraints (constraints.json).
run: rows of the window -> metrics (statistics.json) -> check against the baseline constraints ->
constraint_violations.json, CloudWatch records (cloudwatch_metrics.jsonl) and Prometheus text
(metrics.prom), written as one report with ``constraint_violations.json`` last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Unpack

import polars as pl

from mmon.documents import document_body, load_document, write_report
from mmon.errors import InputError
from mmon.filenames import (
    CLOUDWATCH_FILE,
    CONSTRAINTS_FILE,
    PROMETHEUS_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
)
from mmon.metrics import cloudwatch_jsonl, metric_time_or_now, value_records
from mmon.model_quality import compute
from mmon.model_quality.constraints import SECTIONS, check, suggest_constraints
from mmon.model_quality.data import Attributes, class_text
from mmon.model_quality.metrics import prometheus_text, scalar_metrics
from mmon.model_quality.table import read_table
from mmon.monitors.place import Where
from mmon.readers import dataset_files
from mmon.store import Store

PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")


@dataclass
class MQConfig:
    """What to evaluate and where the values are (SageMaker's environment of the analyzer, §4.1).

    ``inference_attribute`` may be None (or empty) for BinaryClassification when a
    ``probability_attribute`` is given: the prediction is then ``positive`` when the probability
    is greater than ``probability_threshold``; the same happens when both attributes name the same
    field (a CSV endpoint that returns one probability, ``--inference-attribute 0
    --probability-attribute 0``).
    """

    problem_type: str  # BinaryClassification | MulticlassClassification | Regression
    inference_attribute: str | None  # column (flat table) or attribute of the endpoint output (merged)
    ground_truth_attribute: str | None = None
    probability_attribute: str | None = None
    probability_threshold: float = 0.5
    positive_label: str | None = None
    min_labelled: int = 1  # refuse to judge below this many labelled rows (run only)
    seed: int = 0


@dataclass
class MQResult:
    statistics: dict[str, Any]
    constraints: dict[str, Any] | None  # baseline: suggested; run: the baseline constraints used
    violations: list[dict[str, Any]]
    outputs: dict[str, str]
    labelled: int  # predictions with a ground-truth label (= rows evaluated, item_count)
    rows: int  # predictions read
    warnings: list[str]
    problem_type: str = ""
    files: list[str] = field(default_factory=list)


class NotEnoughLabels(InputError):
    """Fewer labelled predictions than ``min_labelled``: the run refuses to judge (exit 2)."""

    def __init__(self, message: str, labelled: int, rows: int, minimum: int) -> None:
        super().__init__(message)
        self.labelled = labelled
        self.rows = rows
        self.minimum = minimum


@dataclass
class Prepared:
    frame: pl.DataFrame  # evaluated rows: actual, predicted (+ score for binary)
    rows: int
    labelled: int
    positive: str | None
    files: list[str]
    warnings: list[str]


# -- configuration --------------------------------------------------------------------------


def _derives_prediction(config: MQConfig) -> bool:
    return (
        config.problem_type == "BinaryClassification"
        and bool(config.probability_attribute)
        and (not config.inference_attribute or config.inference_attribute == config.probability_attribute)
    )


def canonical_class(value: str) -> str:
    """A class label as :func:`mmon.model_quality.data.class_text` writes it (``"1.0"`` → ``"1"``)."""
    out = pl.select(class_text(pl.lit(value, dtype=pl.String), pl.String())).item()
    if out is None:
        raise InputError(f"--positive-label {value!r} is not a class label")
    return str(out)


def validate_config(config: MQConfig) -> None:
    if config.problem_type not in PROBLEM_TYPES:
        raise InputError(f"--problem-type {config.problem_type!r}: expected one of {', '.join(PROBLEM_TYPES)}")
    if not config.inference_attribute and not _derives_prediction(config):
        if config.problem_type == "BinaryClassification":
            raise InputError("model quality needs --inference-attribute (or --probability-attribute for BinaryClassification)")
        raise InputError(f"{config.problem_type} needs --inference-attribute (the predicted value)")
    t = config.probability_threshold
    if not isinstance(t, (int, float)) or not math.isfinite(t):
        raise InputError(f"--probability-threshold {t!r}: expected a number")
    if config.min_labelled < 0:
        raise InputError(f"--min-labelled {config.min_labelled}: expected 0 or more")


def _attributes(config: MQConfig) -> Attributes:
    binary = config.problem_type == "BinaryClassification"
    index = -1
    if binary and config.positive_label is not None:
        pos = canonical_class(config.positive_label)
        if pos.isdigit():
            index = int(pos)
    return Attributes(
        inference=None if _derives_prediction(config) else config.inference_attribute,
        probability=config.probability_attribute if binary else None,
        ground_truth=config.ground_truth_attribute,
        probability_index=index,
        numeric=config.problem_type == "Regression",
    )


def choose_positive(config: MQConfig, classes: set[str], warnings: list[str]) -> str:
    """The positive class of a binary problem.

    ``--positive-label`` when given; else ``1`` (any spelling of the number) or ``true`` when
    present; else, with only ``0`` / ``false`` seen, ``1`` / ``true``; else, with two other
    classes, the last in class order (with a warning). One unknown class, or more than two
    classes, is an input error.
    """
    if config.positive_label is not None:
        pos = canonical_class(config.positive_label)
    elif "1" in classes or not classes:
        pos = "1"
    elif "true" in classes:
        pos = "true"
    elif classes <= {"0"}:
        pos = "1"
    elif classes <= {"false"}:
        pos = "true"
    elif len(classes) == 2:
        pos = compute.sort_classes(classes)[-1]
        warnings.append(f"positive class taken to be {pos!r} (the last of {sorted(classes)}); set --positive-label to choose")
    elif len(classes) == 1:
        raise InputError(f"BinaryClassification: cannot tell the positive class from the only class {next(iter(classes))!r}; pass --positive-label")
    else:
        pos = ""
    found = classes | ({pos} if pos else set())
    if len(found) > 2:
        shown = ", ".join(repr(c) for c in compute.sort_classes(found)[:10])
        raise InputError(
            f"BinaryClassification: {len(found)} classes found ({shown}); a binary problem has two "
            "-- check --inference-attribute (a probability column needs --probability-attribute) or use MulticlassClassification"
        )
    return pos


def _negative(positive: str, label_classes: set[str]) -> str:
    if positive == "1":
        return "0"
    if positive == "true":
        return "false"
    others = label_classes - {positive}
    return next(iter(others)) if len(others) == 1 else "0"


# -- reading and preparing rows -------------------------------------------------------------------


def unify_booleans(frame: pl.DataFrame) -> pl.DataFrame:
    """``true`` / ``false`` become ``1`` / ``0`` when the other classes are ``0`` / ``1``.

    A model that answers ``true`` (JSON) for labels written ``1`` (CSV) is right: Spark casts a
    boolean to the double 1.0. Only when every class is one of those four spellings.
    """
    # Distinct classes in polars: a prediction read as text (a probability) has millions of them.
    distinct = pl.concat([frame["actual"].drop_nulls().unique(), frame["predicted"].drop_nulls().unique()]).unique()
    if distinct.len() > 4:
        return frame
    classes = set(distinct.to_list())
    if classes & {"true", "false"} and classes & {"0", "1"} and classes <= {"0", "1", "true", "false"}:
        mapping = {"true": "1", "false": "0"}
        frame = frame.with_columns(
            pl.col("actual").replace(mapping),
            pl.col("predicted").replace(mapping),
        )
    return frame


def baseline_classes(statistics: dict[str, Any] | None, problem_type: str) -> set[str]:
    """The classes of a baseline's confusion matrix (keys of both levels)."""
    if not statistics or problem_type == "Regression":
        return set()
    cm = statistics.get(SECTIONS[problem_type][0], {}).get("confusion_matrix", {})
    out: set[str] = set()
    if isinstance(cm, dict):
        for actual, row in cm.items():
            out.add(str(actual))
            if isinstance(row, dict):
                out.update(str(k) for k in row)
    return out


def prepare(
    store: Store, inputs: list[str], config: MQConfig, fmt: str | None, header: bool, known_classes: set[str] | None = None
) -> Prepared:
    """Read the inputs and keep the rows that have both a prediction and a label.

    ``known_classes`` (the baseline's) help choose the positive class of a binary window that
    shows only one class.
    """
    validate_config(config)
    files = dataset_files(store, inputs, fmt, header)
    table = read_table(store, files, _attributes(config))
    if not table.files:
        raise InputError(f"{', '.join(inputs)}: no data file among the inputs")
    frame = table.frame
    warnings = list(table.warnings)
    if config.probability_attribute and config.problem_type != "BinaryClassification":
        warnings.append(f"--probability-attribute is not used for {config.problem_type}")
    rows = frame.height + table.unlabelled_elsewhere
    positive: str | None = None
    binary = config.problem_type == "BinaryClassification"

    if config.problem_type != "Regression":
        frame = unify_booleans(frame)
    if binary:
        label_classes = set(frame["actual"].drop_nulls().unique().to_list())
        pred_classes = set() if _derives_prediction(config) else set(frame["predicted"].drop_nulls().unique().to_list())
        seen = label_classes | pred_classes
        known = {canonical_class(c) for c in (known_classes or set()) if c.strip()}
        if config.positive_label is None and len(seen) < 2 and len(known | seen) == 2:
            seen = known | seen  # the baseline's two classes decide, as they did for the baseline
        positive = choose_positive(config, seen, warnings)
    derived = binary and _derives_prediction(config)
    if derived:
        assert positive is not None
        negative = _negative(positive, label_classes)
        t = float(config.probability_threshold)
        # The prediction is not materialised as text (10 M strings): it is the score's side of the
        # threshold, made an Enum below; it is missing exactly where the score is.
        above = pl.col("score") > t
        has_pred = pl.col("score").is_not_null()
    else:
        has_pred = pl.col("predicted").is_not_null()
    usable_rows = pl.col("actual").is_not_null() & has_pred
    counts = frame.select(labelled=pl.col("actual").is_not_null().sum(), usable=usable_rows.sum()).row(0, named=True)
    with_label, usable = int(counts["labelled"]), int(counts["usable"])
    if rows - with_label:
        warnings.append(f"{rows - with_label} of {rows} predictions have no ground-truth label and are not evaluated")
    if with_label - usable:
        warnings.append(f"{with_label - usable} labelled rows have no prediction and are not evaluated")
    keep: list[pl.Expr] = [pl.col("actual"), pl.col("predicted")]
    if config.problem_type != "Regression":
        # Classes as an Enum: 4 bytes a row instead of a string, the same comparisons and texts.
        # The classes are those of the evaluated rows; the casts come before the filter, so that
        # only the small columns are copied by it (and nothing when every row is evaluated).
        classes = set(frame.select(pl.col("actual").filter(usable_rows).unique())["actual"].to_list())
        if derived:
            sides = frame.select(above.filter(usable_rows).unique().alias("a"))["a"].to_list()
            classes |= {positive if a else negative for a in sides}
        else:
            classes |= set(frame.select(pl.col("predicted").filter(usable_rows).unique())["predicted"].to_list())
        if positive:
            classes.add(positive)
        enum = pl.Enum(compute.sort_classes(classes))
        # Not strict: a class seen only in rows that are not evaluated becomes null, and the
        # filter drops those rows anyway.
        predicted = pl.col("predicted").cast(enum, strict=False)
        if derived:

            def side(c: str | None) -> pl.Expr:  # a class no evaluated row has: only rows the filter drops
                return pl.lit(c if c in classes else None, dtype=enum)

            predicted = (
                pl.when(~has_pred).then(pl.lit(None, dtype=enum))
                .when(above).then(side(positive))
                .otherwise(side(negative)).alias("predicted")
            )  # fmt: skip
        keep = [pl.col("actual").cast(enum, strict=False), predicted]
    if binary and "score" in frame.columns:
        keep.append(pl.col("score"))
    lazy = frame.lazy().select(keep)
    if usable < frame.height:
        lazy = lazy.filter(pl.col("actual").is_not_null() & pl.col("predicted").is_not_null())
    frame = lazy.collect()
    if binary and "score" in frame.columns:
        missing = frame["score"].null_count()
        if missing == frame.height and frame.height:
            warnings.append("no row has a readable probability: auc, au_prc and the curves are left out")
        elif missing:
            warnings.append(f"{missing} evaluated rows have no probability: auc, au_prc and the curves use the other {frame.height - missing}")
    return Prepared(frame, rows, usable, positive, table.files, warnings)


def _now_ms() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def statistics_document(prepared: Prepared, config: MQConfig) -> dict[str, Any]:
    """The model-quality ``statistics.json`` of the prepared rows (§4.2)."""
    frame, pt = prepared.frame, config.problem_type
    if pt == "BinaryClassification":
        assert prepared.positive is not None
        section = compute.binary_metrics(frame, prepared.positive, config.seed)
    elif pt == "MulticlassClassification":
        section = compute.multiclass_metrics(frame, config.seed)
    else:
        section = compute.regression_metrics(frame, config.seed)
    return {
        "version": 0.0,
        "dataset": {"item_count": frame.height, "evaluation_time": _now_ms()},
        SECTIONS[pt][0]: section,
    }


# -- the two commands -------------------------------------------------------------------------


def baseline_model_quality(
    store: Store,
    inputs: list[str],
    output: str,
    config: MQConfig,
    fmt: str | None = None,
    header: bool = True,
) -> MQResult:
    """Write ``statistics.json`` and suggested ``constraints.json`` of a labelled dataset."""
    validate_config(config)
    store.check_writable(output)
    prepared = prepare(store, inputs, config, fmt, header)
    if prepared.labelled == 0:
        raise InputError(
            f"no row has both a prediction and a ground-truth label ({prepared.rows} rows read): "
            "nothing to baseline -- check --inference-attribute / --ground-truth-attribute"
        )
    stats = statistics_document(prepared, config)
    constraints = suggest_constraints(stats, config.problem_type)
    urls = write_report(store, output, {
        "constraints": (CONSTRAINTS_FILE, document_body(constraints, "constraints")),
        "statistics": (STATISTICS_FILE, document_body(stats, "statistics")),
    })  # fmt: skip
    return MQResult(stats, constraints, [], urls, prepared.labelled, prepared.rows, prepared.warnings, config.problem_type, prepared.files)


def load_baseline(
    store: Store, config: MQConfig, constraints_url: str, statistics_url: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Read and validate the baseline files; they must be model-quality files of the problem type."""
    metrics_key, constraints_key = SECTIONS[config.problem_type]
    constraints = load_document(store, constraints_url, "constraints")
    if constraints_key not in constraints:
        present = [k for k in constraints if k.endswith("_constraints")]
        if "features" in constraints and not present:
            raise InputError(f"{constraints_url}: a data-quality constraints file (no {constraints_key!r}); use --type data-quality")
        raise InputError(
            f"{constraints_url}: no {constraints_key!r} for --problem-type {config.problem_type}"
            + (f" (the file has {', '.join(present)})" if present else "")
        )
    stats = None
    if statistics_url:
        stats = load_document(store, statistics_url, "statistics")
        if metrics_key not in stats:
            raise InputError(f"{statistics_url}: no {metrics_key!r} for --problem-type {config.problem_type}")
    return constraints, stats


def run_model_quality(
    store: Store,
    inputs: list[str],
    output: str,
    config: MQConfig,
    constraints_url: str,
    statistics_url: str | None = None,
    **where: Unpack[Where],
) -> MQResult:
    """Evaluate the window's predictions against the baseline constraints and write the report.

    Raises :class:`NotEnoughLabels` (exit 2, nothing written) when fewer than
    ``config.min_labelled`` (at least 1) predictions have a label. ``where``: the data's format and
    where metrics go (``mmon.monitors.place``).
    """
    validate_config(config)
    store.check_writable(output)
    constraints, baseline_stats = load_baseline(store, config, constraints_url, statistics_url)
    classes = baseline_classes(baseline_stats, config.problem_type)
    prepared = prepare(store, inputs, config, where.get("fmt"), where.get("header", True), classes)
    minimum = max(1, config.min_labelled)
    if prepared.labelled < minimum:
        raise NotEnoughLabels(
            f"only {prepared.labelled} of {prepared.rows} predictions in the window have a ground-truth label; "
            f"at least {minimum} are needed to judge the model (--min-labelled): no report written",
            prepared.labelled,
            prepared.rows,
            minimum,
        )
    stats = statistics_document(prepared, config)
    violations, check_warnings = check(stats, constraints, config.problem_type)
    warnings = prepared.warnings + check_warnings
    mt = metric_time_or_now(where.get("metric_time"))
    endpoint, schedule = where.get("endpoint"), where.get("schedule")
    records = value_records(((n, m["value"]) for n, m in scalar_metrics(stats, config.problem_type)), endpoint, schedule, mt)
    prom = prometheus_text(stats, config.problem_type, violations, prepared.rows, prepared.labelled, endpoint, schedule)
    urls = write_report(store, output, {
        "constraint_violations": (VIOLATIONS_FILE, document_body({"violations": violations}, "constraint_violations")),
        "statistics": (STATISTICS_FILE, document_body(stats, "statistics")),
        "cloudwatch_metrics": (CLOUDWATCH_FILE, cloudwatch_jsonl(records)),
        "prometheus": (PROMETHEUS_FILE, prom.encode()),
    }, where.get("before_publish"))  # fmt: skip
    return MQResult(stats, constraints, violations, urls, prepared.labelled, prepared.rows, warnings, config.problem_type, prepared.files)
