"""The registry of monitor types: what ``mmon baseline``/``mmon run --type T``, scheduled executions
and the tests all read.

A monitor type is a module with the same face (see ``Monitor``)::

    baseline(store, dataset, output, options, fmt, header, progress) -> result
    run(store, data, output, options, request: RunRequest) -> result
    check_baseline(store, options, request)   # optional: a window without rows is then NotJudged,
                                              # after this still checked the baseline
    view(result) -> (summary, title, headers, rows)   # optional; default: result.summary()/table()

Every result has ``.violations``, ``.outputs`` and ``.warnings``. Adding a monitor type = one
package with such a module + one line in ``MONITORS``; nothing in ``cli/`` or ``schedule/`` changes.
Model quality's label-free estimator (``--estimator cbpe``) routes inside model quality.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mmon.errors import InputError
from mmon.filenames import REPORT_FILES
from mmon.monitors.place import Where
from mmon.store import Store

# --type name -> the module implementing it (imported on first use: the CLI starts fast).
MONITORS: dict[str, str] = {
    "data-quality": "mmon.monitors.data_quality",
    "model-quality": "mmon.model_quality.monitor",
    "bias": "mmon.bias.monitor",
    "feature-attribution": "mmon.attribution.monitor",
}
TYPES = tuple(MONITORS)
ESTIMATORS = ("none", "cbpe")


class Monitor(Protocol):
    def baseline(
        self, store: Store, dataset: list[str], output: str, o: MonitorOptions, fmt: str | None, header: bool, progress: Any
    ) -> Any: ...

    def run(self, store: Store, data: list[str], output: str, o: MonitorOptions, req: RunRequest) -> Any: ...


@dataclass
class MonitorOptions:
    """The options of every monitor type (each reads the ones it needs)."""

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
    # data-quality only (the CLI's data-quality path passes them directly today)
    check_options: Any = None
    postprocessor: str | None = None


@dataclass
class RunRequest:
    """What a run reads besides the data: the baseline, the data's format, and where metrics go."""

    constraints: str
    statistics: str | None
    fmt: str | None = None
    header: bool = True
    endpoint: str | None = None
    schedule: str | None = None
    metric_time: str | None = None
    progress: Any = None
    before_publish: Callable[[], None] | None = None

    def where(self) -> Where:
        """The keywords every ``run_*`` takes for where it reads and publishes (``mmon.monitors.place``)."""
        return Where(
            fmt=self.fmt, header=self.header, endpoint=self.endpoint, schedule=self.schedule,
            metric_time=self.metric_time, before_publish=self.before_publish,
        )  # fmt: skip


def monitor(run_type: str) -> Monitor:
    if run_type not in MONITORS:
        raise InputError(f"--type {run_type!r}: expected one of {', '.join(TYPES)}")
    module: Any = importlib.import_module(MONITORS[run_type])
    return module  # type: ignore[no-any-return]


def check_type(run_type: str, estimator: str = "none") -> None:
    if run_type not in MONITORS:
        raise InputError(f"--type {run_type!r}: expected one of {', '.join(TYPES)}")
    if estimator not in ESTIMATORS:
        raise InputError(f"--estimator {estimator!r}: expected none or cbpe")
    if estimator != "none" and run_type != "model-quality":
        raise InputError(f"--estimator {estimator} is for --type model-quality, not {run_type}")


def need(value: Any, flag: str, run_type: str) -> Any:
    if value in (None, ""):
        raise InputError(f"--type {run_type} needs {flag}")
    return value


def refuse_overwrite(output: str, o: MonitorOptions, data: list[str], inputs: list[tuple[str, str | None]]) -> None:
    """-o at the baseline's, config's or data's folder must not replace them (exit 2)."""
    from mmon.own_files import refuse_overwrite as refuse
    from mmon.store import join

    model_file = o.model.rsplit(":", 1)[0] if o.model and o.model.rsplit(":", 1)[0].endswith(".py") else None
    named = [*inputs, ("--config", o.config), ("--model", model_file), *(("data", d) for d in data)]
    refuse([join(output, *n.split("/")) for n in REPORT_FILES], named)


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


def not_judged(run_type: str, labelled: int | None = None, rows: int | None = None, minimum: int | None = None) -> NotJudged:
    if labelled is None:
        reason = "the window has no rows (no traffic, or no prediction with a label yet): nothing judged, no report written"
    else:
        reason = (f"only {labelled} of {rows} predictions in the window have a ground-truth label, fewer than "
                  f"--min-labelled {minimum}: nothing judged, no report written")  # fmt: skip
    return NotJudged(run_type, reason)


# An empty window's file is small: a Parquet schema, a CSV header, or nothing.
_EMPTY_FILE_BYTES = 64 * 1024


def window_is_empty(store: Store, data: list[str], fmt: str | None, header: bool) -> bool:
    """True when every data file holds no rows (read only the first row of small files)."""
    from mmon.readers import dataset_files, iter_batches

    for f in dataset_files(store, data, fmt, header):
        if store.size(f.url) > _EMPTY_FILE_BYTES:
            return False
        first = next(iter_batches(store, f, batch_rows=1), None)
        if first is not None and first.height:
            return False
    return True


def baseline(
    store: Store, dataset: list[str], output: str, o: MonitorOptions, fmt: str | None, header: bool, progress: Any
) -> Any:
    refuse_overwrite(output, o, dataset, [])
    return monitor(o.run_type).baseline(store, dataset, output, o, fmt, header, progress)


def run(store: Store, data: list[str], output: str, o: MonitorOptions, req: RunRequest) -> Any:
    mon = monitor(o.run_type)
    req.constraints = need(req.constraints, "--baseline-constraints", o.run_type)
    refuse_overwrite(output, o, data, [("--baseline-constraints", req.constraints), ("--baseline-statistics", req.statistics)])
    # The baseline and config are checked before an empty window is let through: a broken
    # monitor must fail on its first quiet hour, not on its first busy one.
    check_baseline = getattr(mon, "check_baseline", None)
    if check_baseline is not None and bool(data) and window_is_empty(store, data, req.fmt, req.header):
        check_baseline(store, o, req)
        return not_judged(o.run_type)
    return mon.run(store, data, output, o, req)


def view(run_type: str, result: Any) -> tuple[dict[str, Any], str, list[str], list[list[str]]]:
    """(what ``--json`` prints besides violations and outputs, table title, headers, rows)."""
    custom = getattr(monitor(run_type), "view", None)
    if custom is not None and not isinstance(result, NotJudged):
        return custom(result)  # type: ignore[no-any-return]
    title, headers, rows = result.table()
    return result.summary(), title, headers, rows
