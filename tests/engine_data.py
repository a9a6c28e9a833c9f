"""Deterministic datasets for the engine tests (shared by test_engine*.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from mmon.demo import make_frame


def with_nulls(df: pl.DataFrame, every: int, seed: int) -> pl.DataFrame:
    """Some values of every column set to null (a different pattern per column)."""
    rng = np.random.default_rng(seed)
    return df.with_columns(
        pl.when(pl.Series(rng.integers(0, every, df.height) == 0)).then(None).otherwise(pl.col(c)).alias(c)
        for c in df.columns
    )


def large_files(folder: Path) -> list[Path]:
    """Three CSV files, each larger than one reading batch (100 000 rows), with nulls: files the
    local engine never reads together."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rows in enumerate((130_000, 104_000, 101_000)):
        path = folder / f"part-{i}.csv"
        with_nulls(make_frame(rows, seed=40 + i, drift=i == 2), 23, i).write_csv(path)
        paths.append(path)
    return paths
