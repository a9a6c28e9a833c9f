"""Rows of SageMaker merged records: every instance of a payload is a row.

A merged record (the ground-truth merge job's output, format study §5.4) holds one request: its
``captureData.endpointInput`` may carry many instances (``{"instances": [...]}``, a multi-line
CSV body), its ``endpointOutput`` one prediction per instance (``{"predictions": [...]}``) and its
``groundTruthData`` one label per instance (Clarify's ``{"instances": [{"label": 0}, ...]}``). A
batch-transform record (``captureData.batchTransformOutput``) holds the transform's output line,
i.e. ``SageMakerOutput`` next to the input's ``instances`` (``join_source=Input``).

Each side is turned into ``_rec, _row, value…`` rows with polars (JSON payloads decoded by polars
once per file and navigated with struct / list expressions; CSV payloads split on lines and
commas), then the sides are joined on ``(_rec, _row)``. When a record's sides yield different
row counts the rows cannot be paired: :func:`assemble` raises ``InputError`` naming the file, the
record and the counts -- never a silent one-row reading of a many-row request.

Paths follow Clarify's JMESPath subset: ``instances[*].features``, ``predictions[*].score``,
``$.predictions[0].score``, ``SageMakerOutput.predictions[*].predicted_label``. ``[*]`` makes one
row per element (one ``[*]`` per path); they are followed by :mod:`mmon.merged_paths`. The
records' string fields are read by :mod:`mmon.merged_scan`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import polars as pl

from mmon import merged_scan
from mmon.errors import InputError
from mmon.file_lines import line_blocks_of
from mmon.merged_paths import (
    SIDE_NAMES,
    as_text,
    default_features,
    navigate,
    numbered,
    parse_path,
    spread,
    value_steps,
)
from mmon.store import Store

S = pl.String
_IO = pl.Struct({"data": S, "encoding": S, "observedContentType": S})
RECORD_SCHEMA = {
    "captureData": pl.Struct({"endpointInput": _IO, "endpointOutput": _IO, "batchTransformOutput": _IO}),
    "groundTruthData": _IO,
    "eventMetadata": pl.Struct({"eventId": S, "inferenceId": S, "invocationSource": S}),
}


def _schema(bt: bool, shadow: bool) -> dict[str, pl.DataType]:
    """:data:`RECORD_SCHEMA` without the batch-transform output / the shadow-traffic mark."""
    sides = {"endpointInput": _IO, "endpointOutput": _IO, **({"batchTransformOutput": _IO} if bt else {})}
    meta = {"eventId": S, "inferenceId": S, **({"invocationSource": S} if shadow else {})}
    return {"captureData": pl.Struct(sides), "groundTruthData": _IO, "eventMetadata": pl.Struct(meta)}


def _kind(side: pl.Expr) -> pl.Expr:
    enc = side.struct.field("encoding").str.to_uppercase()
    ct = side.struct.field("observedContentType").fill_null("").str.to_lowercase()
    json_like = (enc == "JSON") | ((enc == "BASE64") & ct.str.contains("json"))
    return (
        pl.when(side.struct.field("data").is_null())
        .then(None)
        .when(json_like & ct.str.contains("jsonlines"))
        .then(pl.lit("jsonlines"))
        .when(json_like)
        .then(pl.lit("json"))
        .otherwise(pl.lit("csv"))
    )


def _text(side: pl.Expr, base64: bool = True) -> pl.Expr:
    """The payload's text; ``base64=False`` when no record of the file is BASE64 (polars would
    decode every row in the unused branch)."""
    data, enc = side.struct.field("data"), side.struct.field("encoding").str.to_uppercase()
    if not base64:
        return data
    return pl.when(enc == "BASE64").then(data.str.decode("base64", strict=False).cast(S, strict=False)).otherwise(data)


def read_records(raw: bytes, url: str) -> pl.DataFrame:
    """The merged records of one file: ``_rec`` (1-based record number), ``event_id`` and the text
    and kind (csv / json / jsonlines / null) of each side (``in``, ``out``, ``gt``). Shadow traffic
    is dropped, as SageMaker's analyzer does. A batch-transform record is both input and output."""
    return _read_block(raw, url)[0]


# A file is parsed in blocks of about this many bytes (cut at line ends), two at a time: memory
# holds the parsed columns and a few blocks, not the file's bytes as well. 8 MiB: the template
# reading's index arrays take about four times a block's size while it is read (16 MiB blocks
# added 220 MiB to the peak of 10 M records), for the same CPU time.
BLOCK_BYTES = 8 << 20


def line_blocks(store: Store, url: str, size: int, blank: bool = False) -> Iterator[bytes]:
    """The file's bytes (gunzipped when its name ends in ``.gz``) in blocks of whole lines; blocks
    of nothing but whitespace too when ``blank`` (so that lines can be counted)."""
    with store.open(url, "rb") as fh:
        yield from line_blocks_of(gzip.GzipFile(fileobj=fh) if url.lower().endswith(".gz") else fh, size, blank)


def bad_record_at(raw: bytes, schema: dict[str, Any], url: str, line: int = 1) -> str:
    """``url: line N``: the first record of ``raw`` (the file's lines from ``line`` on) that polars
    cannot read as ``schema``; ``url`` alone when no line is to blame."""
    bad = merged_scan.bad_line(raw, schema)
    return f"{url}: line {line + bad - 1}" if bad else url


def bad_record_in_block(store: Store, url: str, index: int, size: int, schema: dict[str, Any]) -> str:
    """:func:`bad_record_at` of block ``index`` of ``line_blocks(store, url, size)`` (whitespace-only
    blocks not counted as blocks, their lines counted): for a reader that counts no lines on the
    way and looks only once reading failed."""
    line, k = 1, 0
    for block in line_blocks(store, url, size, blank=True):
        if not block.isspace():
            if k == index:
                return bad_record_at(block, schema, url, line)
            k += 1
        line += block.count(b"\n")
    return url


def read_file(store: Store, url: str) -> pl.DataFrame:
    """:func:`read_records` of a whole file, parsed block by block (record numbers run on)."""
    frames: list[tuple[pl.DataFrame, int]] = []
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending: list[Future[tuple[pl.DataFrame, int]]] = []
            line = 1  # the block's first line in the file, for an error message
            for block in line_blocks(store, url, BLOCK_BYTES, blank=True):
                pending.append(pool.submit(_read_block, block, url, line))
                line += block.count(b"\n")
                if len(pending) >= 2:
                    frames.append(pending.pop(0).result())
            frames.extend(p.result() for p in pending)
    except (OSError, EOFError) as exc:
        raise InputError(f"{url}: cannot read: {exc}") from exc
    if not frames:
        return _read_block(b"", url)[0]
    parts, offset = [], 0
    for frame, n in frames:
        parts.append(frame.with_columns(pl.col("_rec") + pl.lit(offset, pl.UInt32)) if offset else frame)
        offset += n
    return pl.concat(parts, how="vertical_relaxed")


def _read_block(raw: bytes, url: str, line: int = 1) -> tuple[pl.DataFrame, int]:
    """:func:`read_records` of some lines (the first is the file's line ``line``), and how many
    records they hold (shadow ones too)."""
    # Fields no record of the block can hold are not parsed (a fifth of the parse): a batch-transform
    # output or a shadow-traffic mark shows in the bytes (``\\u`` escapes could spell them: then
    # every field is read).
    plain = b"\\u" not in raw
    has_bt = not plain or b"batchTransformOutput" in raw
    has_shadow = not plain or b"ShadowExperiment" in raw
    schema = RECORD_SCHEMA if has_bt and has_shadow else _schema(has_bt, has_shadow)
    try:
        recs = merged_scan.read_ndjson(raw, schema)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{bad_record_at(raw, schema, url, line)}: cannot read merged records: {str(exc).strip().splitlines()[0]}") from exc
    cap = pl.col("captureData")
    cin, cout = cap.struct.field("endpointInput"), cap.struct.field("endpointOutput")
    bt = cap.struct.field("batchTransformOutput") if has_bt else pl.lit(None, dtype=_IO)
    is_bt = bt.struct.field("data").is_not_null() & cin.struct.field("data").is_null() if has_bt else pl.lit(False)
    gt = pl.col("groundTruthData")
    meta = pl.col("eventMetadata")
    # Which branches any record needs (the usual file has no BASE64 and no batch transform).
    sides = {"in": cin, "out": cout, "bt": bt, "gt": gt}
    flags = recs.select(
        *((s.struct.field("encoding").str.to_uppercase() == "BASE64").any().alias(k) for k, s in sides.items()),
        bt.struct.field("data").is_not_null().any().alias("any_bt"),
    ).row(0, named=True)
    b64 = {k: bool(flags[k]) for k in sides}

    def pick(side: pl.Expr, name: str) -> tuple[pl.Expr, pl.Expr]:
        text, kind = _text(side, b64[name]), _kind(side)
        if not flags["any_bt"]:
            return text, kind
        return pl.when(is_bt).then(_text(bt, b64["bt"])).otherwise(text), pl.when(is_bt).then(_kind(bt)).otherwise(kind)

    (in_text, in_kind), (out_text, out_kind) = pick(cin, "in"), pick(cout, "out")
    numbered = recs.with_row_index("_rec", offset=1)
    if has_shadow:
        numbered = numbered.filter(meta.struct.field("invocationSource").fill_null("") != "ShadowExperiment")
    out = (
        numbered.select(
            pl.col("_rec").cast(pl.UInt32),
            pl.coalesce(meta.struct.field("inferenceId"), meta.struct.field("eventId")).alias("event_id"),
            in_text.alias("in_text"),
            in_kind.alias("in_kind"),
            out_text.alias("out_text"),
            out_kind.alias("out_kind"),
            is_bt.alias("batch"),
            _text(gt, b64["gt"]).alias("gt_text"),
            _kind(gt).alias("gt_kind"),
        )
    )
    return out, recs.height


# -- JSON navigation ------------------------------------------------------------------------------


# Decode only the distinct payload texts when at most this share of the rows is distinct.
_DISTINCT_SHARE = 0.5
_PROBE = 10_000  # texts looked at first to tell whether finding the distinct ones pays


def _decode(df: pl.DataFrame, url: str, what: str) -> pl.DataFrame:
    """``_rec``, ``text`` → ``_rec``, ``v`` (decoded by polars, one unified type per file).

    Labels and outputs repeat (``{"instances": [{"label": 1}]}``): when at most half the texts are
    distinct, only those are decoded (polars' JSON decoding costs per document) and the rows take
    their value by a join. The type is the same: it is inferred over the same documents, distinct
    ones in order of first appearance, so numbers print the same (``1`` vs ``1.0``, ``1e-7``)."""
    try:
        text = df["text"]
        if text.len() > 2 * _PROBE and text.head(_PROBE).n_unique() > _DISTINCT_SHARE * _PROBE:
            # The first texts are mostly distinct (features): finding the distinct ones of millions
            # of texts would cost a hash of each and save nothing. Either way the values are equal.
            return df.select("_rec").with_columns(_json_decode(text).alias("v"))
        uniq = text.unique(maintain_order=True)
        if uniq.len() > _DISTINCT_SHARE * text.len():
            return df.select("_rec").with_columns(_json_decode(text).alias("v"))
        table = pl.DataFrame({"text": uniq, "v": _json_decode(uniq)})
        return df.select("_rec", "text").join(table, on="text", how="left", maintain_order="left").select("_rec", "v")
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{url}: {what}: cannot decode the JSON payloads together: {first}") from exc


# JSON texts are decoded in slices of this many, two at a time.
DECODE_ROWS = 1 << 17


def _json_decode(text: pl.Series) -> pl.Series:
    """``text.str.json_decode`` with the type inferred over every text, in slices.

    Polars' inference over all texts holds every parsed document at once (0.7 GiB for 1 M
    feature payloads). Slices are decoded on their own, two at a time; when every slice infers
    the same type, that is the type inferred over all of them (the inferred type of many
    documents is the common supertype of theirs), so the values are those of one decode. When
    the slices' types differ (a column that turns from integers to text half-way), the texts are
    decoded together, as before."""
    n = text.len()
    if n <= 2 * DECODE_ROWS:
        return text.str.json_decode(infer_schema_length=None)
    slices = [text.slice(i, DECODE_ROWS) for i in range(0, n, DECODE_ROWS)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(lambda s: s.str.json_decode(infer_schema_length=None), slices))
    if len({p.dtype for p in parts}) == 1:
        return pl.concat(parts, rechunk=False)
    del parts
    return text.str.json_decode(infer_schema_length=None)


# -- the sides ------------------------------------------------------------------------------------


def _side(recs: pl.DataFrame, side: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(csv, json, jsonlines) parts of one side: ``_rec``, ``text``."""
    t = recs.select("_rec", pl.col(f"{side}_text").alias("text"), pl.col(f"{side}_kind").alias("k"))
    t = t.filter(pl.col("text").is_not_null())
    kinds = t["k"].unique().to_list()
    if len(kinds) == 1:  # the usual file: one kind, no filtered copies of the texts
        empty = t.clear().drop("k")
        return tuple(t.drop("k") if kinds[0] == k else empty for k in ("csv", "json", "jsonlines"))  # type: ignore[return-value]
    return (
        t.filter(pl.col("k") == "csv").drop("k"),
        t.filter(pl.col("k") == "json").drop("k"),
        t.filter(pl.col("k") == "jsonlines").drop("k"),
    )


def _lines(df: pl.DataFrame) -> pl.DataFrame:
    """``_rec``, ``text`` → ``_rec``, ``_row``, ``text``: one row per non-blank line."""
    return numbered(
        df.with_columns(pl.col("text").str.strip_chars_end("\r\n").str.split("\n"))
        .explode("text")
        .with_columns(pl.col("text").str.strip_suffix("\r"))
        .filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    )


def _jsonlines(df: pl.DataFrame, url: str, what: str) -> pl.DataFrame:
    """JSON Lines payloads: ``_rec``, ``_row``, ``v`` (one decoded document per line)."""
    lines = _lines(df)
    dec = _decode(lines.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_k")).select(
        pl.col("_k").alias("_rec"), "text"), url, what)  # fmt: skip
    return lines.select("_rec", "_row").with_columns(dec["v"])


def _csv_fields(df: pl.DataFrame, index: int | None) -> pl.DataFrame:
    """CSV payloads → ``_rec``, ``_row`` and ``#0, #1, …`` (text, empty = missing), or only the
    field ``index`` as ``v``."""
    rows = _lines(df).with_columns(pl.col("text").str.split(",").alias("v")).drop("text")
    if index is not None:
        return rows.with_columns(pl.col("v").list.get(index, null_on_oob=True).str.strip_chars().alias("v"))
    out = spread(rows)
    return out.with_columns(pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
                            for c in out.columns if c.startswith("#"))  # fmt: skip


def features(recs: pl.DataFrame, url: str, path: str | None = None) -> pl.DataFrame:
    """Input rows: ``_rec``, ``_row``, ``#0…`` (positional) or named columns, all text.

    JSON: ``path`` (Clarify's ``features``, e.g. ``instances[*].features``), else
    ``{"instances": [...]}`` one row per instance (``{"features": [...]}`` unwrapped), a list of
    lists / objects one row per element, anything else one row."""
    csv_part, js, jl = _side(recs, "in")
    parts = []
    if csv_part.height:
        parts.append(_csv_fields(csv_part, None))
    for sub, lines in ((js, False), (jl, True)):
        if not sub.height:
            continue
        dec = _jsonlines(sub, url, "endpointInput") if lines else _decode(sub, url, "endpointInput")
        if lines:
            rows = dec
        else:
            steps = parse_path(path) if path else default_features(dec.schema["v"])
            nav = navigate(dec, steps)
            if nav is None:
                raise InputError(f"{url}: endpointInput: the features path {path!r} is not in the payload")
            rows = nav
        parts.append(spread(rows.filter(pl.col("v").is_not_null())))
    if not parts:
        return pl.DataFrame(schema={"_rec": pl.UInt32, "_row": pl.UInt32})
    return pl.concat(parts, how="diagonal_relaxed")


def values(recs: pl.DataFrame, side: str, attr: str | int | None, url: str) -> pl.DataFrame:
    """One value per row of a side: ``_rec``, ``_row``, ``v`` (text).

    CSV: one row per line; ``attr`` a 0-based field index (default: the whole line for labels,
    the first field for outputs). JSON: ``attr`` a path or a field name (see :func:`_value_steps`)."""
    csv_part, js, jl = _side(recs, side)
    parts = []
    if csv_part.height:
        if side == "gt" and (isinstance(attr, int) or (isinstance(attr, str) and attr.isdigit())):
            # A label line is usually the label alone; a dataset's column index applies to a row.
            t = pl.col("text").str.strip_chars()
            field = t.str.split(",").list.get(int(attr), null_on_oob=True).str.strip_chars()
            parts.append(_lines(csv_part).select(
                "_rec", "_row", pl.when(t.str.contains(",", literal=True)).then(field).otherwise(t).alias("v")))  # fmt: skip
        elif isinstance(attr, int) or (isinstance(attr, str) and attr.isdigit()):
            parts.append(_csv_fields(csv_part, int(attr)))
        elif side == "gt":
            parts.append(_lines(csv_part).select("_rec", "_row", pl.col("text").str.strip_chars().alias("v")))
        elif attr:
            raise InputError(f"{url}: {SIDE_NAMES[side]} is CSV: the attribute must be a field index, not {attr!r}")
        else:
            parts.append(_csv_fields(csv_part, 0))
    a = str(attr) if attr is not None else None
    for sub, lines in ((js, False), (jl, True)):
        if not sub.height:
            continue
        dec = _jsonlines(sub, url, SIDE_NAMES[side]) if lines else _decode(sub, url, SIDE_NAMES[side])
        if lines:
            # One row per line: navigate each line on its own key, then put the rows back.
            dec = dec.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_k"))
            keyed = dec.select("_k", "_rec", "_row")
            steps = [s for s in value_steps(dec.schema["v"], a, side, url) if s[0] != "all"]
            nav = navigate(dec.select(pl.col("_k").alias("_rec"), "v"), steps)
            if nav is not None:
                nav = nav.rename({"_rec": "_k"}).drop("_row").join(keyed, on="_k").select("_rec", "_row", "v")
        else:
            nav = navigate(dec, value_steps(dec.schema["v"], a, side, url))
            if nav is None and side == "gt" and a is not None and not any(c in a for c in ".[$"):
                # A label given as a column name (e.g. headers' "Target") in Clarify's JSON labels.
                nav = navigate(dec, value_steps(dec.schema["v"], None, side, url))
        if nav is None:
            raise InputError(f"{url}: {SIDE_NAMES[side]}: {a!r} is not in the payload")
        parts.append(nav.with_columns(as_text(pl.col("v"), nav.schema["v"]).alias("v")))
    if not parts:
        return pl.DataFrame(schema={"_rec": pl.UInt32, "_row": pl.UInt32, "v": S})
    return pl.concat(parts, how="diagonal_relaxed")


def assemble(recs: pl.DataFrame, sides: dict[str, pl.DataFrame], url: str) -> pl.DataFrame:
    """Join the sides' rows on ``(_rec, _row)``; every record's sides must give the same number
    of rows (else ``InputError`` naming the record: the rows cannot be paired)."""
    fast = _aligned(list(sides.values()))
    if fast is not None:
        return fast
    counts = recs.select("_rec", "event_id")
    for name, frame in sides.items():
        counts = counts.join(frame.group_by("_rec").agg(pl.len().alias(name)), on="_rec", how="left")
    names = list(sides)
    counts = counts.with_columns(pl.col(n).fill_null(0) for n in names)
    if len(names) > 1:
        bad = counts.filter(pl.any_horizontal(pl.col(n) != pl.col(names[0]) for n in names[1:]))
        if bad.height:
            r = bad.row(0, named=True)
            what = ", ".join(f"{SIDE_NAMES.get(n.split('_')[0], n)} {r[n]}" for n in names)
            raise InputError(
                f"{url}: record {r['_rec']} (event {r['event_id']}): the payloads give different numbers of rows "
                f"({what}); they cannot be paired ({bad.height} record(s) like this)"
            )
    out = None
    for frame in sides.values():
        out = frame if out is None else out.join(frame, on=["_rec", "_row"], how="inner")
    assert out is not None
    return out.sort("_rec", "_row")


def _aligned(frames: list[pl.DataFrame]) -> pl.DataFrame | None:
    """The usual case without joins: every side has the same ``(_rec, _row)`` rows in sorted order
    (and no value column twice), so the join of :func:`assemble` is a side-by-side concatenation.
    None when that does not hold."""
    first = frames[0]
    names = [c for f in frames for c in f.columns if c not in ("_rec", "_row")]
    if len(names) != len(set(names)) or any(f.height != first.height for f in frames):
        return None
    rec, row = first["_rec"], first["_row"]
    if not all(f["_rec"].equals(rec) and f["_row"].equals(row) for f in frames[1:]):
        return None
    d_rec, d_row = rec.diff(), row.diff()
    if first.height > 1 and not bool(((d_rec > 0) | ((d_rec == 0) & (d_row > 0))).slice(1).all()):
        return None
    return pl.concat([first, *(f.drop("_rec", "_row") for f in frames[1:])], how="horizontal")
