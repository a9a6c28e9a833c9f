"""Parsing SageMaker data-capture and ground-truth JSON Lines files with polars.

A capture line (``captureData.endpointInput`` / ``endpointOutput`` or, for batch transform,
``batchTransformOutput``; ``eventMetadata``; ``eventVersion``) becomes one row of a record table;
a ground-truth line (``groundTruthData``, ``eventMetadata.eventId``) one row of a label table.

Files are parsed by polars several at a time (``read_ndjson`` with a fixed schema, so unknown keys
are ignored and key order does not matter). Only a file that polars refuses is looked at line by
line, to count and locate its malformed lines; its good lines are then parsed by polars as well.
Nothing is dropped silently: each line is a record, a malformed line (with file, line and reason),
a shadow-traffic record (skipped, as SageMaker's analyzer does), or a record outside the window.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from mmon import merged_scan
from mmon.capture.linecheck import line_problem, suspect
from mmon.file_lines import line_blocks_of

MAX_EXAMPLES = 10  # malformed lines kept with file:line and reason, per file and per run
SAGEMAKER_TIME = "%Y-%m-%dT%H:%M:%SZ"  # eventMetadata.inferenceTime as SageMaker writes it

_SIDE = pl.Struct(
    {"observedContentType": pl.String, "mode": pl.String, "data": pl.String, "encoding": pl.String}
)
CAPTURE_SCHEMA: dict[str, Any] = {
    "captureData": pl.Struct({"endpointInput": _SIDE, "endpointOutput": _SIDE, "batchTransformOutput": _SIDE}),
    "eventMetadata": pl.Struct(
        {"eventId": pl.String, "inferenceId": pl.String, "inferenceTime": pl.String, "invocationSource": pl.String}
    ),
    "eventVersion": pl.String,
}
GROUND_TRUTH_SCHEMA: dict[str, Any] = {
    "groundTruthData": pl.Struct({"data": pl.String, "encoding": pl.String, "observedContentType": pl.String}),
    "eventMetadata": pl.Struct({"eventId": pl.String, "inferenceId": pl.String}),
    "eventVersion": pl.String,
}

# Columns of the record table (one row per captured inference).
RECORD_COLUMNS = [
    "_file", "_line", "event_id", "inference_id", "inference_time",
    "in_enc", "in_ctype", "in_data", "out_enc", "out_ctype", "out_data",
]  # fmt: skip
LABEL_COLUMNS = ["_file", "_line", "key", "gt_data", "gt_enc"]


def label_json() -> pl.Expr:
    """The label object as it goes into a merged record (``groundTruthData``: data and encoding).

    Made as each record is written, from ``gt_data`` and ``gt_enc``: the label index holding its
    text as well took 45 % more memory per label (7 M labels on the 10 M-record day).
    """
    return pl.struct(pl.col("gt_data").alias("data"), pl.col("gt_enc").alias("encoding")).struct.json_encode()


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ParsedFile:
    """One file's records (capture: only those inside the window) and its counts."""

    url: str
    frame: pl.DataFrame
    lines: int = 0  # non-blank lines
    malformed: int = 0
    shadow: int = 0
    outside: int = 0
    problems: list[Problem] = field(default_factory=list)


def _lines_frame(data: bytes, keep_blank: bool = False) -> pl.DataFrame:
    """Every line of a file as text with its 1-based number; blank lines left out (or null).

    Split by polars' CSV reader with the unit separator 0x1F as the field separator, so a line is
    one field; a file holding that byte (JSON allows it nowhere unescaped: such a line is
    malformed) is split by Python instead, so the byte cannot cut or shift a line.
    """
    if not data:
        return pl.DataFrame({"_line": [], "_raw": []}, schema={"_line": pl.UInt32, "_raw": pl.String})
    if b"\x1f" in data:
        text = data.decode("utf-8", errors="replace")
        if text.endswith("\n"):
            text = text[:-1]
        df = pl.DataFrame({"_raw": pl.Series([text], dtype=pl.String).str.split("\n").explode()})
    else:
        df = pl.read_csv(
            data,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"_raw": pl.String},
            encoding="utf8-lossy",
            raise_if_empty=False,
        )
    df = df.with_row_index("_line", offset=1).with_columns(pl.col("_raw").str.strip_chars())
    if keep_blank:
        return df
    return df.filter(pl.col("_raw").is_not_null() & (pl.col("_raw").str.len_bytes() > 0))


def _slow_decode(data: bytes, url: str, schema: dict[str, Any], kind: str) -> tuple[pl.DataFrame, int, list[Problem], int]:
    """Line-by-line check of a file polars refused; returns (good lines decoded, lines, problems, malformed)."""
    problems: list[Problem] = []
    malformed = 0
    good_lines: list[int] = []
    good_raw: list[str] = []
    total = 0
    for i, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        total += 1
        reason, text = line_problem(raw, kind)
        if reason is not None:
            malformed += 1
            if len(problems) < MAX_EXAMPLES:
                problems.append(Problem(url, i, reason))
            continue
        good_lines.append(i)
        good_raw.append(text)
    frame = pl.DataFrame({"_line": good_lines, "_raw": good_raw}, schema={"_line": pl.UInt32, "_raw": pl.String})
    if not good_raw:
        return frame.hstack(pl.DataFrame(schema=schema)), total, problems, malformed
    try:
        decoded = pl.read_ndjson(io.BytesIO("\n".join(good_raw).encode("utf-8")), schema=schema)
        if decoded.height != len(good_raw):
            raise ValueError("line count changed")
    except Exception:  # noqa: BLE001 - last resort: one line at a time
        parts = []
        keep = []
        for j, text in enumerate(good_raw):
            try:
                parts.append(pl.read_ndjson(io.BytesIO(text.encode("utf-8")), schema=schema))
                keep.append(j)
            except Exception as exc:  # noqa: BLE001
                malformed += 1
                if len(problems) < MAX_EXAMPLES:
                    problems.append(Problem(url, good_lines[j], f"cannot be read as a record ({str(exc).splitlines()[0][:120]})"))
        frame = frame[keep]
        decoded = pl.concat(parts) if parts else pl.DataFrame(schema=schema)
    return frame.hstack(decoded), total, problems, malformed


def _polars_ndjson(data: bytes, schema: dict[str, Any]) -> pl.DataFrame:
    return pl.read_ndjson(io.BytesIO(data), schema=schema)


def _reader(kind: str) -> Callable[[bytes, dict[str, Any]], pl.DataFrame]:
    """``pl.read_ndjson`` or its template reader (:mod:`mmon.merged_scan`, same frame, same errors).

    Label lines are short and alike: read by template they parse in half the CPU (a 29 k-line
    label file: 42 → 22 ms). Capture lines gained nothing so (measured: dq 10.01 → 10.54 CPU s).
    """
    return merged_scan.read_ndjson if kind == "ground truth" else _polars_ndjson


def decode_file(data: bytes, url: str, schema: dict[str, Any], kind: str) -> tuple[pl.DataFrame, int, list[Problem], int]:
    """(``_line``, ``_raw`` and the schema's columns for every good line, lines, problems, malformed).

    ``data`` is the file's text (already decompressed).
    """
    lines = _lines_frame(data)
    if lines.height and suspect(lines["_raw"]):
        return _slow_decode(data, url, schema, kind)
    try:
        decoded = _reader(kind)(data, schema) if lines.height else pl.DataFrame(schema=schema)
        if decoded.height != lines.height:
            raise ValueError("line count differs")
    except Exception:  # noqa: BLE001 - polars refused the file: find the bad lines
        return _slow_decode(data, url, schema, kind)
    return lines.hstack(decoded), lines.height, [], 0


def decode_batch(
    items: list[tuple[int, str, bytes]], schema: dict[str, Any], kind: str, decompress: bool = True
) -> tuple[pl.DataFrame, int, list[Problem], int]:
    """Several files at once (far fewer polars calls than file by file); falls back to one by one.

    ``items`` are ``(file_index, url, bytes)``. Returns the decoded lines with ``_file`` (the
    file index), ``_line``, ``_raw`` and the schema's columns, the non-blank line count, problems
    and the malformed count.
    """
    ready: list[tuple[int, str, bytes]] = []
    total, malformed, problems = 0, 0, []
    for fi, url, data in items:
        if decompress and url.lower().endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                total += 1
                malformed += 1
                problems.append(Problem(url, 0, f"not a valid gzip file ({exc})"))
                continue
        if data and not data.endswith(b"\n"):
            data += b"\n"
        ready.append((fi, url, data))
    if len(ready) > 1:
        big = b"".join(d for _, _, d in ready)
        counts = [d.count(b"\n") for _, _, d in ready]
        try:
            lines = _lines_frame(big, keep_blank=True)
            if lines.height != sum(counts):
                raise ValueError("line count differs")
            starts = [0]
            for c in counts[:-1]:
                starts.append(starts[-1] + c)
            idx = pl.Series(starts, dtype=pl.UInt32).search_sorted(lines["_line"] - 1, side="right") - 1
            lines = lines.with_columns(
                pl.Series("_k", idx, dtype=pl.UInt32),
                (pl.col("_line") - pl.Series(starts, dtype=pl.UInt32).gather(idx)).alias("_line"),
            )
            lines = lines.filter(pl.col("_raw").is_not_null() & (pl.col("_raw").str.len_bytes() > 0))
            if suspect(lines["_raw"]):
                raise ValueError("a line needs the line-by-line check")
            decoded = _reader(kind)(big, schema)
            if decoded.height != lines.height:
                raise ValueError("line count differs")
            fidx = pl.Series([fi for fi, _, _ in ready], dtype=pl.UInt32)
            lines = lines.with_columns(fidx.gather(lines["_k"]).alias("_file")).drop("_k")
            return lines.hstack(decoded), total + lines.height, problems, malformed
        except Exception:  # noqa: BLE001 - some file is malformed: look at each file alone
            pass
    frames = []
    for fi, url, data in ready:
        df, n, probs, bad = decode_file(data, url, schema, kind)
        total += n
        malformed += bad
        problems.extend(probs)
        if df.width and df.height:
            frames.append(df.with_columns(pl.lit(fi, pl.UInt32).alias("_file")))
    if not frames:
        return pl.DataFrame(), total, problems, malformed
    return pl.concat(frames, how="vertical_relaxed"), total, problems, malformed


def _naive_time(col: str, fmt: str) -> pl.Expr:
    return pl.col(col).str.strptime(pl.Datetime("us"), fmt, strict=False).dt.replace_time_zone("UTC")


def _time_expr(col: str) -> pl.Expr:
    """``inferenceTime`` as a UTC datetime (SageMaker writes ``yyyy-MM-ddTHH:mm:ssZ``); null if unreadable."""

    def naive(fmt: str) -> pl.Expr:
        return _naive_time(col, fmt)

    def aware(fmt: str) -> pl.Expr:
        return pl.col(col).str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False)

    # Without a zone the time is UTC, as SageMaker's analyzer reads it (the SDK's own
    # integration test writes ``%Y-%m-%dT%H:%M:%S.%f`` with no zone and expects a completed run).
    return pl.coalesce(
        naive(SAGEMAKER_TIME),
        naive("%Y-%m-%dT%H:%M:%S%.f"),
        naive("%Y-%m-%dT%H:%M:%S%.fZ"),
        aware("%Y-%m-%dT%H:%M:%S%z"),
        aware("%Y-%m-%dT%H:%M:%S%.f%z"),
    )


def _times(df: pl.DataFrame) -> pl.Series:
    """``_t`` of a batch: SageMaker's own format alone when it reads every time (5 formats cost 5
    parses of every row); else the formats in turn, as :func:`_time_expr` reads them."""
    t = df.select(_naive_time("inference_time", SAGEMAKER_TIME).alias("_t")).to_series()
    if t.null_count() > df["inference_time"].null_count():
        t = df.select(_time_expr("inference_time").alias("_t")).to_series()
    return t


def _drop_bad(pf: ParsedFile, df: pl.DataFrame, reason: pl.Expr, urls: dict[int, str]) -> pl.DataFrame:
    """The rows ``reason`` (text, or null for a good row) has nothing against; the others are counted
    as malformed in ``pf``, the first with file:line and the reason."""
    df = df.with_columns(reason.alias("_reason"))
    bad = df.filter(pl.col("_reason").is_not_null())
    if not bad.height:
        return df
    pf.malformed += bad.height
    room = MAX_EXAMPLES - len(pf.problems)
    if room > 0:
        for fi, line, why in bad.head(room).select("_file", "_line", "_reason").iter_rows():
            pf.problems.append(Problem(urls[fi], int(line), why))
    return df.filter(pl.col("_reason").is_null())


def parse_capture(
    data: bytes, url: str, file_index: int, start: datetime, end: datetime, keep_raw: bool = False
) -> ParsedFile:
    """The in-window records of one capture file, and its counts."""
    return parse_capture_batch([(file_index, url, data)], start, end, keep_raw)


def parse_capture_batch(
    items: list[tuple[int, str, bytes]], start: datetime, end: datetime, keep_raw: bool = False
) -> ParsedFile:
    """The in-window records of several capture files ``(file_index, url, bytes)``, in order."""
    urls = {fi: url for fi, url, _ in items}
    df, total, problems, malformed = decode_batch(items, CAPTURE_SCHEMA, "capture")
    pf = ParsedFile(items[-1][1] if items else "", pl.DataFrame(), lines=total, malformed=malformed, problems=problems[:MAX_EXAMPLES])
    if df.width == 0 or df.height == 0:
        pf.frame = _empty_records(keep_raw)
        return pf
    cd, em = pl.col("captureData"), pl.col("eventMetadata")
    inp = cd.struct.field("endpointInput")
    out = pl.coalesce(cd.struct.field("endpointOutput"), cd.struct.field("batchTransformOutput"))
    df = df.select(
        pl.col("_file").cast(pl.UInt32),
        pl.col("_line").cast(pl.UInt32),
        *([pl.col("_raw")] if keep_raw else []),
        em.struct.field("eventId").alias("event_id"),
        em.struct.field("inferenceId").alias("inference_id"),
        em.struct.field("inferenceTime").alias("inference_time"),
        em.struct.field("invocationSource").alias("_source"),
        inp.struct.field("encoding").alias("in_enc"),
        inp.struct.field("observedContentType").alias("in_ctype"),
        inp.struct.field("data").alias("in_data"),
        out.struct.field("encoding").alias("out_enc"),
        out.struct.field("observedContentType").alias("out_ctype"),
        out.struct.field("data").alias("out_data"),
        inp.is_null().alias("_no_in"),
        out.is_null().alias("_no_out"),
    )
    df = df.with_columns(_times(df))
    reason = (
        pl.when(pl.col("_no_in") & pl.col("_no_out"))
        .then(pl.lit("no captureData.endpointInput or endpointOutput"))
        .when(pl.col("in_data").is_null() & pl.col("out_data").is_null())
        .then(pl.lit("no captureData.endpointInput.data or endpointOutput.data"))
        .when(pl.col("event_id").is_null())
        .then(pl.lit("no eventMetadata.eventId"))
        .when(pl.col("inference_time").is_null())
        .then(pl.lit("no eventMetadata.inferenceTime"))
        .when(pl.col("_t").is_null())
        .then(pl.lit("eventMetadata.inferenceTime is not an ISO 8601 time (yyyy-MM-ddTHH:mm:ss[.fff][Z])"))
    )
    decode_malformed = pf.malformed
    df = _drop_bad(pf, df, reason, urls)
    if pf.malformed > decode_malformed:
        pf.problems.sort(key=lambda p: (p.file, p.line))
    shadow = pl.col("_source").fill_null("") == "ShadowExperiment"
    inside = (pl.col("_t") >= start) & (pl.col("_t") < end)
    pf.shadow = int(df.select(shadow.sum()).item())
    df = df.filter(~shadow)
    n = df.height
    df = df.filter(inside)
    pf.outside = n - df.height
    pf.frame = df.select([c for c in RECORD_COLUMNS[:2]] + (["_raw"] if keep_raw else []) + RECORD_COLUMNS[2:])
    return pf


def _empty_records(keep_raw: bool) -> pl.DataFrame:
    cols = RECORD_COLUMNS[:2] + (["_raw"] if keep_raw else []) + RECORD_COLUMNS[2:]
    return pl.DataFrame(schema={c: (pl.UInt32 if c in ("_file", "_line") else pl.String) for c in cols})


def _expand_arrays(data: bytes) -> tuple[bytes, list[int] | None]:
    """Ground-truth lines that are a JSON array of records, one record per line.

    AWS's Clarify batch-transform example uploads its labels as ``[{"groundTruthData": …}]`` on
    one line, and SageMaker's merge reads it. Returns the data with each such array spread over
    lines, and the original line number of every new line (None when nothing changed). A line
    that is not valid JSON is left as it is, to be reported as malformed.
    """
    # ``[`` first: a memchr pass; the regex (an alternation tried at every byte) cost 40 % of a
    # label file's parse.
    if b"[" not in data or not re.search(rb"(?:^|\n)[ \t\r]*\[", data):
        return data, None
    out: list[bytes] = []
    where: list[int] = []
    for i, raw in enumerate(data.split(b"\n"), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        items = None
        if stripped.startswith(b"["):
            try:
                value = json.loads(stripped)
            except (ValueError, RecursionError):
                value = None
            if isinstance(value, list) and value:
                items = [json.dumps(v, separators=(",", ":")).encode("utf-8") for v in value]
        for item in items or [stripped]:
            out.append(item)
            where.append(i)
    return b"\n".join(out) + b"\n", where


def parse_ground_truth(data: bytes, url: str, file_index: int) -> ParsedFile:
    """Every label of one ground-truth file (ground truth has no event time: the hour folder is the window).

    A line may hold one record or a JSON array of records (each counted as a record, located at
    the array's line).
    """
    gz = url.lower().endswith(".gz")
    if gz:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            pf = ParsedFile(url, pl.DataFrame(schema={c: (pl.UInt32 if c in ("_file", "_line") else pl.String) for c in LABEL_COLUMNS}))
            pf.lines, pf.malformed = 1, 1
            pf.problems.append(Problem(url, 0, f"not a valid gzip file ({exc})"))
            return pf
    if len(data) <= LABEL_SLICE:
        return _parse_labels(data, url, file_index)
    # A large label file (one upload a day) is parsed a slice of lines at a time: a parse holds
    # several times its text, and two run at once (the 10 M-record day's 16 MiB files: 604 MiB).
    out = ParsedFile(url, pl.DataFrame())
    frames = []
    before = 0
    for piece in line_blocks_of(io.BytesIO(data), LABEL_SLICE, blank=True):
        pf = _parse_labels(piece, url, file_index)
        frames.append(pf.frame.with_columns(pl.col("_line") + before))
        out.lines += pf.lines
        out.malformed += pf.malformed
        out.problems.extend(Problem(p.file, p.line + before, p.reason) for p in pf.problems)
        before += piece.count(b"\n")
    out.problems = out.problems[:MAX_EXAMPLES]
    out.frame = pl.concat(frames)
    return out


LABEL_SLICE = 4 * 2**20  # bytes of a label file parsed at a time (cut at a line end)


def _parse_labels(data: bytes, url: str, file_index: int) -> ParsedFile:
    data, where = _expand_arrays(data)
    df, total, problems, malformed = decode_batch([(file_index, url, data)], GROUND_TRUTH_SCHEMA, "ground truth", decompress=False)
    if where is not None:
        problems = [Problem(p.file, where[p.line - 1] if 0 < p.line <= len(where) else p.line, p.reason) for p in problems]
        if df.width and df.height:
            df = df.with_columns(pl.Series("_line", where, dtype=pl.UInt32).gather(df["_line"].cast(pl.Int64) - 1))
    pf = ParsedFile(url, pl.DataFrame(), lines=total, malformed=malformed, problems=problems)
    if df.width == 0 or df.height == 0:
        pf.frame = pl.DataFrame(schema={c: (pl.UInt32 if c in ("_file", "_line") else pl.String) for c in LABEL_COLUMNS})
        return pf
    gt = pl.col("groundTruthData")
    df = df.select(
        pl.lit(file_index, pl.UInt32).alias("_file"),
        pl.col("_line").cast(pl.UInt32),
        pl.col("eventMetadata").struct.field("eventId").alias("key"),
        gt.struct.field("data").alias("gt_data"),
        gt.struct.field("encoding").alias("gt_enc"),
        gt.is_null().alias("_no_gt"),
    )
    reason = (
        pl.when(pl.col("_no_gt"))
        .then(pl.lit("no groundTruthData"))
        .when(pl.col("gt_data").is_null())
        .then(pl.lit("no groundTruthData.data"))
        .when(pl.col("key").is_null())
        .then(pl.lit("no eventMetadata.eventId"))
    )
    df = _drop_bad(pf, df, reason, {file_index: url})
    pf.frame = df.select(LABEL_COLUMNS)
    return pf
