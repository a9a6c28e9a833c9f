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
import os
import posixpath
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from mmon import own_files
from mmon.errors import InputError, MmonError
from mmon.file_lines import blank_rows, explain, raw_bytes
from mmon.store import Store, is_local, local_path, polars_path

FORMATS = ("csv", "json", "jsonl", "parquet")
DATA_SUFFIXES = (".csv", ".csv.gz", ".json", ".jsonl", ".ndjson", ".jsonl.gz", ".parquet", ".pq")
# Rows per batch: about 2 million cells for a 20-column table keeps peak memory near half a GiB
# while each batch is still large enough for polars to work at full speed.
DEFAULT_BATCH_ROWS = 100_000
# Parquet is read this many batches at a time (see _batches).
PARQUET_SLICE_BATCHES = 4


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
            # A capture-merge window in parts: exactly its published generation, or an error.
            from mmon.capture.parts import published_data  # (not at import: mmon.capture is large)

            found = published_data(store, found)
        urls.extend(u for u in found if u not in urls)
    return [DatasetFile(u, fmt or infer_format(u), header) for u in urls]


def column_warnings(f: DatasetFile, columns: list[str]) -> list[str]:
    """Header names that are not what the file says: repeated names (polars renames the later
    ones ``{name}_duplicated_{k}``) and empty names. Said, never silent."""
    out = []
    present = set(columns)
    for name in columns:
        m = re.fullmatch(r"(.*)_duplicated_(\d+)", name)
        if m and m.group(1) in present:
            out.append(f"{f.url}: the header repeats the column name {m.group(1)!r}: the repeat is read as {name!r}")
    for k, name in enumerate(columns):
        if name == "" or name.strip() == "":
            out.append(f"{f.url}: column {k + 1} has an empty name in the header: read as {name!r}")
    return out


# -- scanning -----------------------------------------------------------------------------------


def _scan(store: Store, f: DatasetFile) -> pl.LazyFrame:
    url = f.url
    gz = url.lower().endswith(".gz")
    native = store.polars_native(url) and not gz
    so = store.polars_options(url)
    src: object = polars_path(local_path(url) if native and so is None else url)  # a path, not a glob
    if not native:
        # Compressed or non-S3 remote files: bytes through fsspec, then polars parses in memory.
        src = raw_bytes(store, url)
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
        # Types from every row, as for JSON Lines (polars' default looks at the first 100 only).
        return pl.read_json(io.BytesIO(raw), infer_schema_length=None).lazy()
    raise InputError(f"{url}: unknown format {f.format!r}")


def _header_names(store: Store, f: DatasetFile, columns: list[str]) -> dict[str, str]:
    """Renames for header names polars left CSV-quoted: it keeps a doubled quote doubled in the
    header (``"a""b"`` is read as ``a""b``) while it undoes it in values (``a"b``). The header
    record is read again with the csv module (only when a name holds ``""``); repeats are named
    as polars names them (``x``, ``x_duplicated_0``, ...)."""
    if not any('""' in c for c in columns):
        return {}
    try:
        with store.open(f.url, "rb") as raw:
            stream = gzip.GzipFile(fileobj=raw) if f.url.lower().endswith(".gz") else raw
            csv.field_size_limit(2**31 - 1)
            text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="\n")
            header = next(csv.reader(text), [])
    except (MmonError, OSError, EOFError, csv.Error):
        return {}
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_duplicated_{seen[name] - 2}")
    if len(names) != len(columns) or len(set(names)) != len(names):
        return {}
    return {old: new for old, new in zip(columns, names, strict=True) if old != new}


def _normalise(df: pl.DataFrame, f: DatasetFile, renames: dict[str, str] | None = None) -> pl.DataFrame:
    if f.format == "csv" and not f.header:
        df = df.rename(dict(zip(df.columns, positional_names(df.width), strict=True)))
    if renames:
        df = df.rename(renames)
    # Nested JSON values have no SageMaker type but String; keep them as their JSON text.
    nested = [c for c, t in df.schema.items() if isinstance(t, (pl.Struct, pl.List, pl.Array))]
    if nested:
        df = df.with_columns(pl.col(c).map_elements(_to_json, return_dtype=pl.String) for c in nested)
    return df


def _to_json(v: object) -> str:
    if isinstance(v, pl.Series):
        v = v.to_list()
    return json.dumps(v, separators=(",", ":"), default=str)


def iter_batches(
    store: Store, f: DatasetFile, batch_rows: int = DEFAULT_BATCH_ROWS, check_first: bool = True
) -> Iterator[pl.DataFrame]:
    """Yield the file as DataFrames of at most ``batch_rows`` rows, in file order.

    ``check_first=False``: the first batch keeps a CSV file's blank lines (rows of nulls); the
    caller drops them with :func:`drop_blank_lines` (the local engine checks many small files'
    first batches in one pass).

    Raises InputError naming the file (and the line where it can be found) for unreadable input.
    """
    try:
        lf = _scan(store, f)
        empty = True
        offset = 0
        blank: set[int] | None = None
        renames: dict[str, str] | None = None
        for batch in _batches(lf, f, batch_rows):
            if renames is None:
                renames = _header_names(store, f, batch.columns) if f.format == "csv" and f.header else {}
            empty = False
            height = batch.height
            if offset or check_first:
                batch, blank = _drop_blank(store, f, batch, offset, blank)
            offset += height
            yield _normalise(batch, f, renames)
        if empty:
            # A file with a header and no rows: yield the empty frame so its columns are known.
            frame = lf.head(0).collect()
            renames = _header_names(store, f, frame.columns) if f.format == "csv" and f.header else {}
            yield _normalise(frame, f, renames)
    except MmonError:
        raise
    except pl.exceptions.NoDataError as exc:
        raise InputError(f"{f.url}: the file is empty") from exc
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(f"{f.url}: no such file") from exc
        if is_storage_failure(exc):
            from mmon.errors import StorageError

            raise StorageError(f"{f.url}: cannot read from the store: {str(exc).strip().splitlines()[0]}") from exc
        if f.format == "jsonl" and store.size(f.url) < 2**20 and not raw_bytes(store, f.url).strip():
            yield pl.DataFrame()  # an empty JSON Lines file (an empty window): no rows, no columns
            return
        raise explain(store, f, exc) from exc


def _batches(lf: pl.LazyFrame, f: DatasetFile, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The scan's rows in batches of ``batch_rows`` (the last one shorter).

    Parquet is read a few batches at a time (polars decodes only the pages a slice needs): its
    streamed batches hold on to whole row groups, and a file written with 1M-row row groups took
    a baseline to 1.7 GiB where slices stay near 0.3 GiB. Slices of one batch cost a third more
    decoding; of ``PARQUET_SLICE_BATCHES`` batches, about what streaming costs. The batches are
    the same rows in the same chunks either way (cutting a frame keeps its chunk boundaries).
    """
    if f.format != "parquet":
        yield from lf.collect_batches(chunk_size=batch_rows)
        return
    step = batch_rows * PARQUET_SLICE_BATCHES
    # The next slice is decoded while the caller works on this one (polars releases the GIL), as
    # polars' own streaming overlaps decoding with the consumer: at most two slices are held.
    with ThreadPoolExecutor(max_workers=1) as pool:
        offset = 0
        pending = pool.submit(lf.slice(offset, step).collect)
        while True:
            piece = pending.result()
            more = piece.height == step
            if more:
                offset += step
                pending = pool.submit(lf.slice(offset, step).collect)
            for start in range(0, piece.height, batch_rows):
                yield piece.slice(start, batch_rows)
            if not more:
                return


def _drop_blank(
    store: Store, f: DatasetFile, batch: pl.DataFrame, offset: int, blank: set[int] | None
) -> tuple[pl.DataFrame, set[int] | None]:
    """``batch`` (rows ``offset`` ... of ``f``) without the CSV file's blank lines; the blank line
    numbers, looked up once per file and only when the batch has an all-null row."""
    if f.format != "csv" or not batch.height or not batch.width:
        return batch, blank
    all_null = batch.select(pl.all_horizontal(pl.all().is_null())).to_series()
    if all_null.any():
        blank = blank_rows(store, f) if blank is None else blank
        if blank:
            index = pl.int_range(offset, offset + batch.height, eager=True)
            batch = batch.filter(~(all_null & index.is_in(list(blank))))
    return batch, blank


def drop_blank_lines(store: Store, f: DatasetFile, first: pl.DataFrame) -> pl.DataFrame:
    """The first batch of :func:`iter_batches` ``(check_first=False)`` without blank lines."""
    return _drop_blank(store, f, first, 0, None)[0]


# Consecutive small local CSV files are read in one scan (read_csv_run): polars' fixed cost per
# scan (~1 ms: planning, threads) is most of what reading a file of a few hundred rows costs. A
# file takes part up to SMALL_CSV_BYTES; one scan reads up to RUN_BYTES of files (memory bound).
SMALL_CSV_BYTES = 8 * 2**20
RUN_BYTES = 8 * 2**20
_FILE = "\0file"


def small_csv(store: Store, f: DatasetFile) -> tuple[int, bytes] | None:
    """``(size, first line)`` of ``f`` when :func:`read_csv_run` may read it with others (a local,
    uncompressed CSV file of at most ``SMALL_CSV_BYTES``), else None. Files read in one scan must
    have the same header, which their first lines tell (polars refuses a run whose headers differ,
    and the run is then read file by file)."""
    if f.format != "csv" or not is_local(f.url) or f.url.lower().endswith(".gz"):
        return None
    try:
        with open(local_path(f.url), "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            first = raw.readline(2**16) if f.header else b""
    except OSError:
        return None  # read on its own, which says what is wrong
    return (size, first) if size <= SMALL_CSV_BYTES else None


def read_csv_run(store: Store, files: list[DatasetFile]) -> list[pl.DataFrame | None] | None:
    """Consecutive small local CSV files (:func:`small_csv`, one header setting) read in one scan:
    per file, the rows :func:`iter_batches` ``(check_first=False)`` gives as its first and only
    batch, or None for a file to read on its own (no rows, or a batch's worth or more); None for
    them all when the scan fails (their headers differ, bad input: each file read on its own then
    says what is wrong) or a header needs :func:`_header_names`' renames."""
    try:
        frame = pl.scan_csv(
            [polars_path(local_path(f.url)) for f in files],
            has_header=files[0].header,
            infer_schema=False,
            raise_if_empty=True,
            include_file_paths=_FILE,
        ).collect()
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None
    if files[0].header and any('""' in c for c in frame.columns):
        return None
    runs = frame.get_column(_FILE).rle().struct.unnest()
    index = {local_path(f.url): k for k, f in enumerate(files)}
    out: list[pl.DataFrame | None] = [None] * len(files)
    data = _normalise(frame.drop(_FILE), files[0])
    offset, last = 0, -1
    for n, path in runs.iter_rows():
        k = index.get(path, -1)
        if k <= last:  # not a path as given, or out of order: the files cannot be told apart
            return None
        last = k
        if n < DEFAULT_BATCH_ROWS:
            out[k] = data.slice(offset, n)
        offset += n
    return out


def is_storage_failure(exc: Exception) -> bool:
    """Whether a reader's error is the store failing (exit 3) rather than the data (exit 2)."""
    # polars quotes the data it could not parse in backticks (a CSV field running to the end of
    # the file: "could not parse `\"open\n-0.403...`"); the data is not the error, so a value
    # like -0.403 or 'Forbidden' must not make bad input a storage failure (exit 3 for exit 2).
    text = str(exc).split("`", 1)[0].lower()
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
