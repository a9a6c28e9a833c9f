"""The flat table of a merged window: its columns, their public names, and its parts.

The window's rows wait on local temporary disk chunk by chunk (:class:`ChunkSpill`): the table's
columns and types are known only once the whole window is read, then each chunk becomes a part
with every column of the window.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import polars as pl

from mmon.capture.flat import LABEL, META_COLUMNS, META_PREFIX, PREDICTION, PROBABILITY
from mmon.errors import InputError

if TYPE_CHECKING:
    from mmon.capture.summary import MergeSummary


def is_meta_column(name: str) -> bool:
    return name.startswith(META_PREFIX)


class ChunkSpill:
    """The flat rows of a window, chunk by chunk, on local temporary disk (memory holds one chunk).

    The table's columns and their types are known only once the whole window is read (a later
    record may add a JSON key, or widen a column's type), so the chunks wait on disk and are
    written as parts at the end, each cast to the window's column set. Frames are gathered until
    ``chunk_rows`` rows: a chunk is a part, its boundary set by record counts and input files.
    """

    def __init__(self, folder: str, chunk_rows: int) -> None:
        self.folder = folder
        self.chunk_rows = chunk_rows
        self.paths: list[str] = []
        self.schemas: list[pl.Schema] = []
        self.heights: list[int] = []
        self._pending: list[pl.DataFrame] = []
        self._rows = 0
        # Called with each chunk as it is spilled (its number and rows): parts can be made while
        # the window is read, and kept when the window's columns turn out the chunk's already.
        self.on_flush: Callable[[int, pl.DataFrame], None] | None = None

    def append(self, frame: pl.DataFrame) -> None:
        if not frame.width:
            return
        self._pending.append(frame)
        self._rows += frame.height
        if self._rows >= self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        frame = self._pending[0] if len(self._pending) == 1 else pl.concat(self._pending, how="diagonal_relaxed")
        self._pending, self._rows = [], 0
        path = os.path.join(self.folder, f"chunk-{len(self.paths):06d}.parquet")
        frame.write_parquet(path, compression="lz4", statistics=False)
        self.paths.append(path)
        self.schemas.append(frame.schema)
        self.heights.append(frame.height)
        if self.on_flush is not None:
            self.on_flush(len(self.paths) - 1, frame)

    def union(self) -> pl.DataFrame:
        """An empty frame with the window's columns (first-appearance order) and common types."""
        return pl.concat([pl.DataFrame(schema=sc) for sc in self.schemas], how="diagonal_relaxed")

    def read(self, i: int, union: pl.DataFrame) -> pl.DataFrame:
        """Chunk ``i`` with every column of the window, typed as a concatenation of all would type it."""
        return pl.concat([union, pl.read_parquet(self.paths[i], glob=False)], how="diagonal_relaxed")


def column_order(columns: Iterable[str]) -> tuple[list[str], list[str]]:
    """Internal output and input column keys in table order: positional by index, then named."""
    def order(side: str) -> list[str]:
        pos = sorted((c for c in columns if c.startswith(f"{side}#")), key=lambda c: int(c.split("#", 1)[1]))
        named = [c for c in columns if c.startswith(f"{side}:")]
        return pos + named

    columns = list(columns)
    return order("o"), order("i")


def final_names(keys: list[str], names: list[str] | None, summary: MergeSummary, n_out: int) -> list[str]:
    """Public column names: the baseline's when it has exactly as many, else ``_c{k}`` / JSON keys."""
    default = [f"_c{k}" if "#" in key else key.split(":", 1)[1] for k, key in enumerate(keys)]
    if names is not None:
        if len(names) == len(keys):
            return list(names)
        if keys:
            summary.warnings.append(
                f"--header-from has {len(names)} names but the capture has {len(keys)} columns "
                f"({n_out} output + {len(keys) - n_out} input): the first {min(len(names), len(keys))} "
                "columns take its names, in order"
            )
        default = list(names[: len(keys)]) + default[len(names):]
    seen: dict[str, int] = {}
    out = []
    for n in default:
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        seen.setdefault(n, 0)
        out.append(n)
    return out


def pick(attr: str | None, out_keys: list[str], out_names: list[str], what: str) -> str | None:
    """The internal key of the output column an attribute (index or name) points at."""
    if not out_keys:
        return None
    if attr is None:
        return out_keys[0]
    if attr.strip().lstrip("-").isdigit():
        i = int(attr)
        if not 0 <= i < len(out_keys):
            raise InputError(f"{what} {attr}: the output has {len(out_keys)} column(s) (0 to {len(out_keys) - 1})")
        return out_keys[i]
    if f"o:{attr}" in out_keys:
        return f"o:{attr}"
    if attr in out_names:
        return out_keys[out_names.index(attr)]
    shown = ", ".join(out_names[:10])
    raise InputError(f"{what} {attr!r}: no such output field (output columns: {shown})")


def serialise(table: pl.DataFrame, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "parquet":
        table.write_parquet(buf, compression="zstd", statistics=True)
        return buf.getvalue()
    if not table.height:
        return b""
    table.write_ndjson(buf)
    return buf.getvalue()


def text_lines(column: pl.DataFrame) -> bytes:
    """A one-column text frame as lines of UTF-8, each value as it is: the CSV writer never quoting
    makes the bytes straight from polars (no Python string of the whole part, then its encoding)."""
    buf = io.BytesIO()
    column.write_csv(buf, include_header=False, quote_style="never")
    return buf.getvalue()


def table_exprs(
    table: pl.DataFrame,
    with_labels: bool,
    names: list[str] | None,
    kind: str,
    s: MergeSummary,
    inference_attribute: str | None,
    probability_attribute: str | None,
) -> list[pl.Expr]:
    """The output table's columns, from the window's column set (``table`` may have no rows)."""
    if kind == "preprocessed":
        feature_cols = sorted(c for c in table.columns if not is_meta_column(c))
        return [pl.col(c) for c in feature_cols + [c for c in META_COLUMNS if c in table.columns]] if table.width else []
    out_keys, in_keys = column_order(table.columns)
    keys = out_keys + in_keys
    public = final_names(keys, names, s, len(out_keys))
    if not keys and names:
        public = list(names)  # an empty window still has the baseline's columns
    model_cols: list[pl.Expr] = []
    if with_labels:
        reserved = {PREDICTION, LABEL} | ({PROBABILITY} if probability_attribute else set())
        clash = sorted(reserved & set(public))
        if clash:
            raise InputError(f"feature column(s) {', '.join(clash)} clash with the model-quality columns of --flat")
        out_names = public[: len(out_keys)]
        pk = pick(inference_attribute, out_keys, out_names, "--inference-attribute")
        model_cols.append((pl.col(pk) if pk else pl.lit(None, pl.String)).alias(PREDICTION))
        if probability_attribute is not None:
            qk = pick(probability_attribute, out_keys, out_names, "--probability-attribute")
            model_cols.append((pl.col(qk) if qk else pl.lit(None, pl.String)).alias(PROBABILITY))
        model_cols.append(pl.col(LABEL) if LABEL in table.columns else pl.lit(None, pl.String).alias(LABEL))
    exprs = model_cols + [
        (pl.col(k) if k in table.columns else pl.lit(None, pl.String)).alias(n) for k, n in zip(keys, public, strict=False)
    ]
    exprs += [pl.lit(None, pl.String).alias(n) for n in public[len(keys):]]
    exprs += [pl.col(c) for c in META_COLUMNS]
    return exprs
