"""Reading a model-quality window: every file (flat tables and SageMaker's merged records) into one
:class:`~mmon.model_quality.data.Table`, in file order.

Its own module because it uses both readers -- ``data`` (flat tables, the canonical columns) and
``merged`` (merged capture records, which builds on ``data``'s helpers) -- so neither imports the
other back."""

from __future__ import annotations

import polars as pl

from mmon.errors import InputError, MmonError, StorageError
from mmon.model_quality.data import (
    Attributes,
    Table,
    _canonical,
    _first_record,
    _flat_frame,
    is_merged_record,
    merge_summaries,
)
from mmon.model_quality.merged import merged_frame
from mmon.readers import DatasetFile, is_storage_failure
from mmon.store import Store


def read_table(store: Store, files: list[DatasetFile], attrs: Attributes) -> Table:
    """Read every file into one :class:`Table` (file order, rows in file order)."""
    frames: list[pl.DataFrame] = []
    files, unlabelled, warnings = merge_summaries(store, files)
    merged = 0
    for f in files:
        try:
            if f.format in ("jsonl", "json") and is_merged_record(_first_record(store, f.url)):
                merged += 1
                raw, w, canonical = merged_frame(store, f, attrs)
            else:
                raw, w, canonical = _flat_frame(store, f, attrs), [], False
            df = raw if canonical else _canonical(raw, attrs, f.url)
        except MmonError:
            raise
        except pl.exceptions.NoDataError as exc:
            raise InputError(f"{f.url}: the file is empty") from exc
        except FileNotFoundError as exc:
            raise InputError(f"{f.url}: no such file") from exc
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if is_storage_failure(exc):
                raise StorageError(f"{f.url}: cannot read from the store: {msg}") from exc
            raise InputError(f"{f.url}: cannot read as {f.format}: {msg}") from exc
        frames.append(df)
        warnings.extend(w)
    if not frames:
        frame = pl.DataFrame(schema={"actual": pl.String, "predicted": pl.String})
    else:
        frame = pl.concat(frames, how="diagonal_relaxed")
    if attrs.probability and "score" not in frame.columns:
        frame = frame.with_columns(score=pl.lit(None, dtype=pl.Float64))
    return Table(frame, [f.url for f in files], merged, warnings, unlabelled)
