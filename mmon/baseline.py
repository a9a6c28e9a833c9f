"""``mmon baseline``: statistics and suggested constraints of a reference dataset.

profile states (per file, streamed in batches) -> merged state -> statistics.json -> suggested
constraints.json -> both validated and written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import polars as pl

from mmon.documents import encode_document
from mmon.errors import InputError
from mmon.readers import DEFAULT_BATCH_ROWS, DatasetFile, column_warnings, dataset_files, iter_batches
from mmon.stats.profile import ProfileState, profile_batches
from mmon.stats.statistics import to_statistics
from mmon.store import Store, join
from mmon.suggest import suggest_constraints

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"

Progress = Callable[[str, int, int], None]


@dataclass
class Profiled:
    state: ProfileState
    files: list[str]
    warnings: list[str] = field(default_factory=list)


def _row_where(f: DatasetFile, row: int | None) -> str:
    if row is None:
        return ""
    if f.format == "csv":
        return f", first at line {row + (2 if f.header else 1)}"
    if f.format == "jsonl":
        return f", first at line {row + 1}"
    return f", first at row {row}"


def profile_files(
    store: Store,
    files: list[DatasetFile],
    progress: Progress | None = None,
    threads: int = 2,
    allow_non_finite: bool = True,
) -> Profiled:
    """Profile every file (each one a sequential stream, like one Spark partition) and merge them.

    Small files (one batch, under ``DEFAULT_BATCH_ROWS`` rows) that follow each other with the same
    columns are profiled together as one stream, up to a batch's worth of rows: a folder of a
    thousand small part files then costs what one file of the same rows costs, instead of a
    thousand times the fixed cost of a profile. Counts and moments are the same either way; the
    sketches are equally valid KLL sketches (SageMaker's own partitioning of many files is not
    reproduced in either case).

    NaN and infinite numbers are counted as missing. With ``allow_non_finite=False`` (the baseline's
    default) they are refused instead: a baseline's mean and spread must not rest on them.
    """
    total = ProfileState()
    warnings: list[str] = []
    columns_seen: dict[str, int] = {}
    group: list[tuple[DatasetFile, pl.DataFrame]] = []

    def add(state: ProfileState, members: list[tuple[DatasetFile, pl.DataFrame | None]]) -> None:
        if len(members) > 1 and any(col.n_nonfinite for col in state.columns.values()):
            # Say which file and line: profile the group's files one by one.
            for f, frame in members:
                assert frame is not None
                add(profile_batches(iter([frame]), threads=1), [(f, frame)])
            return
        for name, col in state.columns.items():
            columns_seen[name] = columns_seen.get(name, 0) + len(members)
            if col.n_nonfinite:
                f = members[0][0]
                where = _row_where(f, col.first_nonfinite_row)
                msg = f"{f.url}: column {name!r} has {col.n_nonfinite} NaN or infinite values{where}"
                if not allow_non_finite:
                    raise InputError(f"{msg}; fix the data or pass --allow-non-finite to count them as missing")
                warnings.append(f"{msg}, counted as missing")
        total.merge(state)

    def flush() -> None:
        if not group:
            return
        frames = [frame for _, frame in group]
        batch = frames[0] if len(frames) == 1 else pl.concat(frames, rechunk=True)
        add(profile_batches(iter([batch]), threads=threads), [(f, frame) for f, frame in group])
        group.clear()

    for i, f in enumerate(files):
        if progress:
            progress(f.url, i, len(files))
        batches = iter_batches(store, f)
        first = next(batches, None)
        if first is not None:
            warnings.extend(column_warnings(f, first.columns))
        second = next(batches, None) if first is not None and first.height < DEFAULT_BATCH_ROWS else None
        if first is not None and second is None and first.height < DEFAULT_BATCH_ROWS:
            if group and (
                group[0][1].schema != first.schema
                or sum(frame.height for _, frame in group) + first.height > DEFAULT_BATCH_ROWS
            ):
                flush()
            group.append((f, first))
            continue
        flush()
        head = [b for b in (first, second) if b is not None]
        add(profile_batches(chain(head, batches), threads=threads), [(f, None)])
    flush()
    if progress:
        progress("", len(files), len(files))
    if len(files) > 1:
        for name, seen in columns_seen.items():
            if seen < len(files):
                warnings.append(f"column {name!r} is in {seen} of {len(files)} files; counted as missing in the others")
    for name, col in total.columns.items():
        if total.rows and col.present == 0:
            warnings.append(f"column {name!r} is empty in every row: inferred type Unknown")
        elif col.inferred_type == "String" and col.n_string and col.n_string * 100 < col.num_n:
            warnings.append(
                f"column {name!r} is String because {col.n_string} of {col.present} values are not numbers"
            )
    return Profiled(total, [f.url for f in files], warnings)


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
    fmt: str | None = None,
    header: bool = True,
    progress: Progress | None = None,
    categorical_drift_method: str | None = None,
    allow_non_finite: bool = False,
) -> BaselineResult:
    """Profile ``inputs`` and write statistics.json and constraints.json under ``output``."""
    store.check_writable(output)
    files = dataset_files(store, inputs, fmt, header)
    profiled = profile_files(store, files, progress, allow_non_finite=allow_non_finite)
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
