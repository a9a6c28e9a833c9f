"""The local engine: files profiled on this machine, one after the other.

Consecutive small files (one batch, under ``DEFAULT_BATCH_ROWS`` rows, the same columns) are read
and measured together, up to a batch's worth of rows: a folder of a thousand small part files then
costs about what one file of the same rows costs, instead of a thousand times the fixed cost of a
profile. Each file still gets its own state, measured on its own rows only
(:func:`mmon.stats.profile.profile_small_files`), identical to :func:`mmon.engine.profile_file`.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import polars as pl

from mmon.engine import FileProfile, ProfilePolicy, check_file_state
from mmon.readers import DEFAULT_BATCH_ROWS, DatasetFile, iter_batches
from mmon.stats.profile import profile_batches, profile_small_files
from mmon.store import Store


class LocalEngine:
    """Profiles files in this process (reading overlaps sketching inside a file)."""

    def __init__(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        # How many rows of consecutive small files are measured together (reading only: the
        # per-file states do not depend on it).
        self.batch_rows = batch_rows

    def map_files(self, store: Store, files: list[DatasetFile], policy: ProfilePolicy) -> Iterator[FileProfile]:
        group: list[tuple[DatasetFile, pl.DataFrame]] = []
        rows = 0

        def flush() -> Iterator[FileProfile]:
            nonlocal rows
            rows = 0
            if group:
                states = profile_small_files([frame for _, frame in group], threads=policy.threads)
                members = [f for f, _ in group]
                group.clear()
                for f, state in zip(members, states, strict=True):
                    yield check_file_state(f, state, policy, store)

        for f in files:
            batches = iter_batches(store, f)
            first = next(batches, None)
            # A file is small when it is one batch of rows (iter_batches cuts at DEFAULT_BATCH_ROWS).
            second = next(batches, None) if first is not None and first.height < DEFAULT_BATCH_ROWS else None
            if first is not None and second is None and 0 < first.height < DEFAULT_BATCH_ROWS:
                if group and (group[0][1].schema != first.schema or rows + first.height > self.batch_rows):
                    yield from flush()
                group.append((f, first))
                rows += first.height
                continue
            yield from flush()
            head = [b for b in (first, second) if b is not None]
            state = profile_batches(chain(head, batches), threads=policy.threads)
            yield check_file_state(f, state, policy, store)
        yield from flush()
