"""``mmon baseline``: statistics and suggested constraints of a reference dataset.

profile states (per file, streamed in batches) -> merged state -> statistics.json -> suggested
constraints.json -> both validated and written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Unpack

from mmon.documents import encode_document
from mmon.engine import Engine, Profiled, ProfilePolicy, Progress
from mmon.engine import profile_files as profile_with_engine
from mmon.engine.parts import Profiling
from mmon.errors import InputError
from mmon.own_files import drop_reserved
from mmon.readers import DatasetFile, dataset_files
from mmon.stats.statistics import to_statistics
from mmon.store import Store, join
from mmon.suggest import suggest_constraints

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"

__all__ = ["BaselineResult", "Profiled", "Progress", "profile_files", "run_baseline", "write_baseline"]


def profile_files(
    store: Store,
    files: list[DatasetFile],
    progress: Progress | None = None,
    threads: int = 2,
    allow_non_finite: bool = True,
    engine: Engine | None = None,
) -> Profiled:
    """Profile every file (each one a sequential stream, like one Spark partition) and fold them in
    file order (:func:`mmon.engine.profile_files`).

    NaN and infinite numbers are counted as missing. With ``allow_non_finite=False`` (the baseline's
    default) they are refused instead: a baseline's mean and spread must not rest on them.
    """
    policy = ProfilePolicy(allow_non_finite=allow_non_finite, threads=threads)
    return profile_with_engine(store, files, policy, engine, progress)


@dataclass
class BaselineResult:
    statistics: dict[str, Any]
    constraints: dict[str, Any]
    files: list[str]
    outputs: dict[str, str]
    warnings: list[str]

    @property
    def item_count(self) -> int:
        return int(self.statistics["dataset"]["item_count"])


def run_baseline(
    store: Store,
    inputs: list[str],
    output: str,
    categorical_drift_method: str | None = None,
    **how: Unpack[Profiling],
) -> BaselineResult:
    """Profile ``inputs`` and write statistics.json and constraints.json under ``output``."""
    store.check_writable(output)
    files = dataset_files(store, inputs, how.get("fmt"), how.get("header", True))
    non_finite, engine = how.get("allow_non_finite", False), how.get("engine")
    profiled = profile_files(store, files, how.get("progress"), allow_non_finite=non_finite, engine=engine)
    return write_baseline(store, profiled, output, categorical_drift_method)


def write_baseline(
    store: Store, profiled: Profiled, output: str, categorical_drift_method: str | None = None
) -> BaselineResult:
    """statistics.json and the suggested constraints.json of a folded profile, written under ``output``."""
    profiled.state = drop_reserved(profiled.state, profiled.warnings)  # mmon run leaves them out too
    if profiled.state.rows == 0:
        raise InputError(f"{', '.join(profiled.files)}: no data rows to baseline")
    statistics = to_statistics(profiled.state)
    constraints = suggest_constraints(statistics, categorical_drift_method)
    stats_url, cons_url = join(output, STATISTICS_FILE), join(output, CONSTRAINTS_FILE)
    # Both bodies are validated and serialised before anything is written; constraints.json is
    # written last because a baseline is usable only with both files present.
    store.write_many(
        {
            cons_url: encode_document(constraints, "constraints", cons_url),
            stats_url: encode_document(statistics, "statistics", stats_url),
        }
    )
    return BaselineResult(statistics, constraints, profiled.files, {"statistics": stats_url, "constraints": cons_url}, profiled.warnings)
