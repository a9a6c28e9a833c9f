"""Tabular readers: CSV, JSON, JSON Lines and Parquet from any store, as a stream of polars batches.

CSV is read with every column as text, because SageMaker (Deequ) infers a column's type from the
text of each value (``3`` Integral, ``3.0`` Fractional, ``N/A`` String) and the data-type check
needs that per-value class; typed formats (Parquet, JSON) keep their types. Local and S3 files are
scanned by polars itself with the store's settings; other fsspec URLs are read through fsspec.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from mmon import own_files
from mmon.errors import InputError, MmonError
from mmon.store import Store, local_path, polars_path

FORMATS = ("csv", "json", "jsonl", "parquet")
DATA_SUFFIXES = (".csv", ".csv.gz", ".json", ".jsonl", ".ndjson", ".jsonl.gz", ".parquet", ".pq")
# Rows per batch: about 2 million cells for a 20-column table keeps peak memory near half a GiB
# while each batch is still large enough for polars to work at full speed.
DEFAULT_BATCH_ROWS = 100_000


def infer_format(url: str) -> str:
    name = posixpath.basename(url).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise InputError(f"{url}: cannot tell the format from the file name; pass --format csv|json|jsonl|parquet")


def positional_names(n: int) -> list[str]:
    """Spark's names for headerless CSV columns, which SageMaker's statistics carry."""
    return [f"_c{i}" for i in range(n)]


@dataclass(frozen=True)
class DatasetFile:
    url: str
    format: str
    header: bool = True


def dataset_files(store: Store, inputs: list[str], fmt: str | None, header: bool) -> list[DatasetFile]:
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    suffixes = DATA_SUFFIXES if fmt is None else tuple(s for s in DATA_SUFFIXES if fmt in s) or DATA_SUFFIXES
    urls: list[str] = []
    for item in inputs:
        found = store.expand([item], suffixes)
        if len(found) > 1 or found[0] != item:
            # A folder or glob: mmon's own sidecar files (a merge summary, a report) are not data.
            found = own_files.data_only(item, found)
        urls.extend(u for u in found if u not in urls)
    return [DatasetFile(u, fmt or infer_format(u), header) for u in urls]


# -- error reporting: find the line polars did not say ------------------------------------------


def _first_bad_csv_line(raw: bytes, header: bool) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return f"line {line}: not valid UTF-8 (byte offset {exc.start})"
    reader = csv.reader(io.StringIO(text))
    width = None
    for row in reader:
        if width is None:
            width = len(row)
            continue
        if row and len(row) > width:
            return f"line {reader.line_num}: {len(row)} fields, the first row has {width}"
    return ""


def _first_bad_json_line(raw: bytes) -> str:
    for i, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return f"line {i}: not valid JSON ({exc})"
        if not isinstance(value, dict):
            return f"line {i}: expected a JSON object, found {type(value).__name__}"
    return ""


def _explain(store: Store, f: DatasetFile, exc: Exception) -> InputError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = ""
    try:
        if store.size(f.url) <= 2_000_000_000:
            raw = _raw_bytes(store, f.url)
            if f.format == "csv":
                where = _first_bad_csv_line(raw, f.header)
            elif f.format == "jsonl":
                where = _first_bad_json_line(raw)
    except MmonError:
        pass
    if where:
        return InputError(f"{f.url}: {where}")
    if "utf-8" in msg.lower() or "utf8" in msg.lower():
        return InputError(f"{f.url}: not valid UTF-8 ({msg})")
    return InputError(f"{f.url}: cannot read as {f.format}: {msg}")


def _raw_bytes(store: Store, url: str) -> bytes:
    raw = store.read_bytes(url)
    if url.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{url}: not a valid gzip file ({exc})") from exc
    return raw


# -- scanning -----------------------------------------------------------------------------------


def _scan(store: Store, f: DatasetFile) -> pl.LazyFrame:
    url = f.url
    gz = url.lower().endswith(".gz")
    native = store.polars_native(url) and not gz
    so = store.polars_options(url)
    src: object = polars_path(local_path(url) if native and so is None else url)  # a path, not a glob
    if not native:
        # Compressed or non-S3 remote files: bytes through fsspec, then polars parses in memory.
        src = _raw_bytes(store, url)
    if f.format == "csv":
        return pl.scan_csv(
            src if isinstance(src, str) else io.BytesIO(src),  # type: ignore[arg-type]
            has_header=f.header,
            infer_schema=False,
            storage_options=so if native else None,
            raise_if_empty=True,
        )
    if f.format == "parquet":
        return pl.scan_parquet(src if isinstance(src, str) else io.BytesIO(src), storage_options=so if native else None)  # type: ignore[arg-type]
    if f.format == "jsonl":
        return pl.scan_ndjson(
            src if isinstance(src, str) else io.BytesIO(src),  # type: ignore[arg-type]
            infer_schema_length=None,
            storage_options=so if native else None,
        )
    if f.format == "json":
        raw = src if isinstance(src, bytes) else store.read_bytes(url)
        return pl.read_json(io.BytesIO(raw)).lazy()
    raise InputError(f"{url}: unknown format {f.format!r}")


def _normalise(df: pl.DataFrame, f: DatasetFile) -> pl.DataFrame:
    if f.format == "csv" and not f.header:
        df = df.rename(dict(zip(df.columns, positional_names(df.width), strict=True)))
    # Nested JSON values have no SageMaker type but String; keep them as their JSON text.
    nested = [c for c, t in df.schema.items() if isinstance(t, (pl.Struct, pl.List, pl.Array))]
    if nested:
        df = df.with_columns(pl.col(c).map_elements(_to_json, return_dtype=pl.String) for c in nested)
    return df


def _to_json(v: object) -> str:
    if isinstance(v, pl.Series):
        v = v.to_list()
    return json.dumps(v, separators=(",", ":"), default=str)


def iter_batches(store: Store, f: DatasetFile, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """Yield the file as DataFrames of at most ``batch_rows`` rows, in file order.

    Raises InputError naming the file (and the line where it can be found) for unreadable input.
    """
    try:
        lf = _scan(store, f)
        empty = True
        for batch in lf.collect_batches(chunk_size=batch_rows):
            empty = False
            yield _normalise(batch, f)
        if empty:
            # A file with a header and no rows: yield the empty frame so its columns are known.
            yield _normalise(lf.head(0).collect(), f)
    except MmonError:
        raise
    except pl.exceptions.NoDataError as exc:
        raise InputError(f"{f.url}: the file is empty") from exc
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(f"{f.url}: no such file") from exc
        if _is_storage_failure(exc):
            from mmon.errors import StorageError

            raise StorageError(f"{f.url}: cannot read from the store: {str(exc).strip().splitlines()[0]}") from exc
        if f.format == "jsonl" and store.size(f.url) < 2**20 and not _raw_bytes(store, f.url).strip():
            yield pl.DataFrame()  # an empty JSON Lines file (an empty window): no rows, no columns
            return
        raise _explain(store, f, exc) from exc


def _is_storage_failure(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(
        s in text
        for s in (
            "connection refused",
            "error sending request",
            "dns error",
            "timed out",
            "invalidaccesskeyid",
            "signaturedoesnotmatch",
            "accessdenied",
            "access denied",
            "forbidden",
            "403",
            "credentials",
        )
    )
