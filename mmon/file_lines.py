"""Where in a file: the lines behind the readers' errors, and the lines of data rows.

polars names what it could not read but seldom where; these helpers read the file again (only
when something is wrong, or a message needs a line) and find the line: a quote never closed, a
row with more fields than the header, invalid UTF-8 or JSON, a blank CSV line (a row of nulls to
polars, no row to Spark), the line of a given data row's field.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from mmon.errors import InputError, MmonError
from mmon.jsonfmt import strict_loads
from mmon.store import Store

if TYPE_CHECKING:
    from mmon.readers import DatasetFile


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def readline(self, size: int = -1, /) -> bytes: ...


def line_blocks_of(stream: _Readable, size: int, blank: bool = False) -> Iterator[bytes]:
    """A stream's bytes in blocks of whole lines, about ``size`` bytes each; blocks of nothing but
    whitespace too when ``blank`` (so that lines can be counted).

    Each block is one read and, when it ends mid-line, one short readline (buffered files: local,
    gzip, fsspec, ``io.BytesIO``): a block is copied once at most, not cut and joined again.
    """
    while True:
        buf = stream.read(size)
        if not buf:
            break
        if not buf.endswith(b"\n"):
            buf += stream.readline()  # the rest of the block's last line
        if blank or not buf.isspace():
            yield buf


def _quote_problem(text: str) -> str:
    """The line of a quote the CSV reader cannot pair: a field never closed, or a stray quote
    inside an unquoted field or after a closing quote. Walks only the lines that hold a quote."""
    open_at = 0
    in_quotes = False
    for n, line in enumerate(text.split("\n"), start=1):
        if not in_quotes and '"' not in line:
            continue
        line = line.rstrip("\r")
        i, field_start = 0, True
        while i < len(line):
            ch = line[i]
            if in_quotes:
                if ch == '"':
                    if i + 1 < len(line) and line[i + 1] == '"':
                        i += 2
                        continue
                    in_quotes = False
                    if i + 1 < len(line) and line[i + 1] != ",":
                        return f"line {n}: a character after the closing quote of a field (column {i + 2})"
            elif ch == '"':
                if not field_start:
                    return f"line {n}: a stray quote inside an unquoted field (column {i + 1}); quote the field and double the quote"
                in_quotes, open_at = True, n
            field_start = ch == "," and not in_quotes
            i += 1
    if in_quotes:
        return f"line {open_at}: a quoted field is never closed"
    return ""


def _first_bad_csv_line(raw: bytes, header: bool) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return f"line {line}: not valid UTF-8 (byte offset {exc.start})"
    quote = _quote_problem(text)
    if quote:
        return quote
    csv.field_size_limit(2**31 - 1)  # a long field is not an error here; polars said what it refused
    reader = csv.reader(io.StringIO(text))
    width = None
    try:
        for row in reader:
            if width is None:
                width = len(row)
                continue
            if row and len(row) > width:
                return f"line {reader.line_num}: {len(row)} fields, the first row has {width}"
    except csv.Error as exc:
        return f"line {reader.line_num}: {exc}"
    return ""


def _json_value(text: bytes | str) -> object:
    """Python's parser with the rules polars applies: no NaN/Infinity, no overflowing numbers."""
    return strict_loads(text)


def _first_bad_json_line(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return "line 1: starts with a byte order mark (BOM); save the file as UTF-8 without a BOM"
    for i, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = _json_value(line)
        except json.JSONDecodeError as exc:
            return f"line {i}: not valid JSON ({exc.msg} at column {exc.colno})"
        except UnicodeDecodeError as exc:
            return f"line {i}: not valid UTF-8 (byte {exc.start} of the line)"
        except RecursionError:
            return f"line {i}: not valid JSON (nested too deep)"
        except ValueError as exc:
            return f"line {i}: not valid JSON ({exc})"
        if not isinstance(value, dict):
            return f"line {i}: expected a JSON object, found {type(value).__name__}"
    return ""


_NON_FINITE_TOKEN = re.compile(rb"NaN|-?Infinity|[0-9][eE][+]?[0-9]{3,}|[0-9]{309,}")


def _token_line(raw: bytes) -> int:
    """Line of the first NaN, Infinity or overflowing number (a rough search: strings not skipped)."""
    m = _NON_FINITE_TOKEN.search(raw)
    return raw[: m.start()].count(b"\n") + 1 if m else 1


def _deep_line(raw: bytes) -> int:
    """Line where arrays/objects first nest deeper than Python's parser goes (strings skipped)."""
    depth, line, in_string, escape = 0, 1, False, False
    for b in raw:
        if in_string:
            escape = not escape and b == 0x5C
            if b == 0x22 and not escape:
                in_string = False
            continue
        if b == 0x22:
            in_string, escape = True, False
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > 500:
                return line
        elif b in (0x5D, 0x7D):
            depth -= 1
        elif b == 0x0A:
            line += 1
    return line


def _bad_json_document(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return "line 1: starts with a byte order mark (BOM); save the file as UTF-8 without a BOM"
    try:
        value = _json_value(raw)
    except json.JSONDecodeError as exc:
        return f"line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return f"line {line}: not valid UTF-8 (byte offset {exc.start})"
    except RecursionError:
        return f"line {_deep_line(raw)}: not valid JSON (nested too deep)"
    except ValueError as exc:
        return f"line {_token_line(raw)}: not valid JSON ({exc})"
    rows = value if isinstance(value, list) else [value]
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            return f"not a table: the value at /{i} is a JSON {type(row).__name__}, expected an object (a row)"
    return ""


def explain(store: Store, f: DatasetFile, exc: Exception) -> InputError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = ""
    try:
        if store.size(f.url) <= 2_000_000_000:
            raw = raw_bytes(store, f.url)
            if f.format == "csv":
                where = _first_bad_csv_line(raw, f.header)
            elif f.format == "jsonl":
                where = _first_bad_json_line(raw)
            elif f.format == "json":
                where = _bad_json_document(raw)
    except MmonError:
        pass
    if where:
        return InputError(f"{f.url}: {where}")
    if "utf-8" in msg.lower() or "utf8" in msg.lower():
        return InputError(f"{f.url}: not valid UTF-8 ({msg})")
    return InputError(f"{f.url}: cannot read as {f.format}: {msg}")


def blank_rows(store: Store, f: DatasetFile) -> set[int]:
    """Data-row numbers (0-based) that are blank lines of a CSV file.

    polars reads a blank line as a row of nulls; Spark's CSV reader (SageMaker's) skips it. Only
    looked up when a batch has an all-null row, which a written ``,,`` row also gives.
    """
    text = raw_bytes(store, f.url).decode("utf-8", errors="replace")
    csv.field_size_limit(2**31 - 1)
    rows: set[int] = set()
    i = 0
    reader = csv.reader(io.StringIO(text))
    if f.header:
        next(reader, None)
    try:
        for row in reader:
            if not row:
                rows.add(i)
            i += 1
    except csv.Error:
        pass
    return rows


def data_lines(store: Store, f: DatasetFile, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """The lines (1-based) where data rows hold fields: ``(row, field)`` -> line, rows 0-based as
    the batches count them (blank lines skipped), for CSV and JSON Lines; nothing for other
    formats or when the file cannot be walked again. A quoted CSV value may span lines, so the
    line is the field's own, not the record's first. For messages only: the file is read again,
    streamed, once for all of ``wanted``, up to the last row asked for."""
    found: dict[tuple[int, int], int] = {}
    if f.format not in ("csv", "jsonl") or not wanted:
        return found
    fields: dict[int, list[int]] = {}
    for row, field in wanted:
        fields.setdefault(row, []).append(field)
    last = max(fields)
    try:
        with store.open(f.url, "rb") as raw:
            stream = gzip.GzipFile(fileobj=raw) if f.url.lower().endswith(".gz") else raw
            k = 0
            if f.format == "jsonl":
                for n, line in enumerate(stream, start=1):
                    if line.strip():  # polars skips blank lines
                        found.update(((k, j), n) for j in fields.get(k, ()))
                        if k == last:
                            break
                        k += 1
                return found
            # Lines end at "\n" only, as the other line numbers here count them.
            text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="\n")
            csv.field_size_limit(2**31 - 1)
            reader = csv.reader(text)
            if f.header:
                next(reader, None)
            start = reader.line_num + 1
            for values in reader:
                if values:  # a blank line is not a row (see blank_rows)
                    found.update(((k, j), start + sum(v.count("\n") for v in values[:j])) for j in fields.get(k, ()))
                    if k == last:
                        break
                    k += 1
                start = reader.line_num + 1
    except (MmonError, OSError, EOFError, csv.Error):
        pass
    return found


def raw_bytes(store: Store, url: str) -> bytes:
    raw = store.read_bytes(url)
    if url.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{url}: not a valid gzip file ({exc})") from exc
    return raw
