"""Model quality: reading SageMaker merged records (the ``Merged records`` of :mod:`.data`).

The usual file (one row per record) is read with polars expressions in blocks of lines; a file
where some request carries several rows is read row by row with :mod:`mmon.merged_rows`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from mmon import memory, merged_rows, merged_scan
from mmon.errors import InputError
from mmon.model_quality.data import _INDEX, Attributes, _raw
from mmon.readers import DatasetFile
from mmon.store import Store

S = pl.String
MERGED_SCHEMA = {
    "captureData": pl.Struct(
        {"endpointOutput": pl.Struct({"data": S, "encoding": S, "observedContentType": S})}
    ),
    "groundTruthData": pl.Struct({"data": S, "encoding": S, "observedContentType": S}),
    "eventMetadata": pl.Struct({"invocationSource": S}),
}



def _json_path(attr: str) -> str:
    if attr.startswith("$"):
        return attr
    return "$." + attr if not attr.startswith("[") else "$" + attr


@dataclass(frozen=True)
class _Kinds:
    """Which payload encodings occur on one side of a file's records (pruned expressions)."""

    csv: bool
    json: bool
    base64: bool
    multiline: bool


def _kinds(raw: pl.DataFrame, side: str) -> _Kinds:
    enc = raw[f"{side}_enc"].cast(pl.String)
    b64 = (enc == "BASE64").fill_null(False)
    json_like = ((enc == "JSON") | (b64 & raw[f"{side}_json"])).fill_null(False)
    return _Kinds(
        csv=bool((~json_like).any()),
        json=bool(json_like.any()),
        base64=bool(b64.any()),
        multiline=bool(b64.any()) or bool(raw[f"{side}_data"].str.contains("\n", literal=True).fill_null(False).any()),
    )


def _payload(side: str, k: _Kinds) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(first row of the decoded payload text, is-JSON flag, has-more-rows flag) of one side."""
    data = pl.col(f"{side}_data")
    enc = pl.col(f"{side}_enc").cast(pl.String)
    text = data
    if k.base64:
        text = pl.when(enc == "BASE64").then(data.str.decode("base64", strict=False).cast(pl.String)).otherwise(data)
    if k.json and k.csv:
        is_json = ((enc == "JSON") | ((enc == "BASE64") & pl.col(f"{side}_json"))).fill_null(False)
    else:
        is_json = pl.lit(k.json)
    if not k.multiline:
        return text, is_json, pl.lit(False)
    # JSON documents may span lines; only CSV / JSON Lines payloads are cut at the first row.
    text = text.str.strip_chars()
    whole = is_json & ~pl.col(f"{side}_jsonlines")
    first = pl.when(whole).then(text).otherwise(text.str.split("\n").list.first())
    more = pl.when(whole).then(False).otherwise(text.str.contains("\n", literal=True)).fill_null(False)
    return first, is_json, more


def _field(text: pl.Expr, is_json: pl.Expr, k: _Kinds, attr: str | None, has_comma: bool) -> pl.Expr:
    """The attribute's value in a payload, as text (null when absent)."""
    none = pl.lit(None, dtype=pl.String)
    if attr is None or attr == "":
        # The whole payload: CSV text, or a JSON scalar.
        csv_value, json_value = text, text.str.json_path_match("$")
    elif _INDEX.match(attr):
        i = int(attr)
        if i == 0 and not has_comma:
            csv_value = text  # one field per payload (a CSV endpoint returning one number)
        else:
            csv_value = text.str.split(",").list.get(i, null_on_oob=True).str.strip_chars().str.strip_chars('"')
        json_value = text.str.json_path_match(f"$[{i}]")
        if i == 0:  # a JSON scalar is its own first field
            json_value = pl.coalesce(json_value, text.str.json_path_match("$"))
    else:
        # A name: a JSON path; in a CSV payload there are no names.
        csv_value, json_value = none, text.str.json_path_match(_json_path(attr))
    if not k.json:
        return csv_value
    if not k.csv:
        return json_value
    return pl.when(is_json).then(json_value).otherwise(csv_value)


def _side_columns(side: pl.Expr, prefix: str) -> list[pl.Expr]:
    """Encoding (upper case, categorical) and content-type flags of one side: small columns."""
    ctype = side.struct.field("observedContentType").fill_null("").str.to_lowercase()
    return [
        side.struct.field("encoding").str.to_uppercase().cast(pl.Categorical).alias(f"{prefix}_enc"),
        ctype.str.contains("json", literal=True).alias(f"{prefix}_json"),
        ctype.str.contains("jsonlines", literal=True).alias(f"{prefix}_jsonlines"),
    ]


# Merged JSON Lines are parsed in blocks of about this many bytes (cut at line ends), two at a
# time: memory stays bounded by a few blocks instead of the whole file (polars' own scan of a
# JSON Lines file holds all of it).
MERGED_BLOCK_BYTES = merged_rows.BLOCK_BYTES
_line_blocks = merged_rows.line_blocks


def _parse_block(block: bytes) -> pl.DataFrame:
    out = pl.col("captureData").struct.field("endpointOutput")
    gt = pl.col("groundTruthData")
    return (
        merged_scan.read_ndjson(block, MERGED_SCHEMA)
        .lazy()
        .filter(pl.col("eventMetadata").struct.field("invocationSource").fill_null("") != "ShadowExperiment")
        .select(
            out.struct.field("data").alias("o_data"),
            *_side_columns(out, "o"),
            gt.struct.field("data").alias("g_data"),
            *_side_columns(gt, "g"),
        )
        .collect()
    )


@dataclass
class _Block:
    """One block of lines, reduced in its worker: the canonical rows (None when a value is not
    readable: the whole file is read again so that the error counts the whole file) and the
    file-level facts it contributes."""

    frame: pl.DataFrame | None
    decisions: tuple[object, ...]  # which expressions the block's payloads chose (must agree)
    more: bool  # some record carries several rows
    out_null: bool  # every record has no endpoint output
    gt_any: bool  # some record has a label


def _rows_of(raw: pl.DataFrame, attrs: Attributes, url: str) -> tuple[pl.DataFrame, tuple[object, ...]]:
    """``actual`` / ``predicted`` / ``score`` texts and ``more`` of parsed records, with the
    decisions (payload kinds, commas) the expressions were chosen by."""
    ok, gk = _kinds(raw, "o"), _kinds(raw, "g")
    o_comma = bool(raw["o_data"].str.contains(",", literal=True).any())
    g_comma = bool(raw["g_data"].str.contains(",", literal=True).any())
    out_text, out_json, out_more = _payload("o", ok)
    gt_text, gt_json, gt_more = _payload("g", gk)
    if attrs.ground_truth and not _INDEX.match(attrs.ground_truth):
        # A name: a JSON path in JSON labels (else the JSON scalar); CSV labels are the whole payload.
        label = _field(gt_text, gt_json, gk, None, g_comma)
        if gk.json:
            label = pl.coalesce(_field(gt_text, gt_json, gk, attrs.ground_truth, g_comma), label)
    else:
        label = _field(gt_text, gt_json, gk, attrs.ground_truth, g_comma)
    named: dict[str, pl.Expr] = {"actual": label}
    if attrs.inference:
        _check_attr(attrs.inference, "inference")
        named["predicted"] = _field(out_text, out_json, ok, attrs.inference, o_comma)
    if attrs.probability:
        _check_attr(attrs.probability, "probability")
        named["score"] = _field(out_text, out_json, ok, attrs.probability, o_comma)
    named["more"] = out_more | gt_more
    try:
        # Lazy, so that a field wanted twice (the same attribute) is computed once.
        df = raw.lazy().select(**named).collect()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{url}: cannot read merged records: {str(exc).strip().splitlines()[0]}") from exc
    return df, (ok, gk, o_comma, g_comma)


def _reduce_block(block: bytes, attrs: Attributes, url: str) -> _Block:
    """Parse one block and reduce it at once to its canonical columns (numbers as Float64, class
    texts canonical): only those stay in memory, not the payload texts."""
    from mmon.model_quality.data import _canonical  # data imports this module lazily

    raw = _parse_block(block)
    df, decisions = _rows_of(raw, attrs, url)
    more = bool(df["more"].any()) or (raw.height > 0 and _second_row(raw))
    frame = None
    if not more:
        try:
            frame = _canonical(df.drop("more"), attrs, url)
        except InputError:
            frame = None  # counted over the whole file by the whole-file reading
    out_null = bool(raw["o_data"].is_null().all())
    return _Block(frame, decisions, more, out_null, bool(raw["g_data"].is_not_null().any()))


def merged_frame(store: Store, f: DatasetFile, attrs: Attributes) -> tuple[pl.DataFrame, list[str], bool]:
    """The ``actual`` / ``predicted`` / ``score`` columns of merged records, and whether they are
    canonical already (:func:`mmon.model_quality.data._canonical`).

    Each block of lines is parsed and reduced to canonical columns in a worker, so memory holds
    the result and a few blocks, not the payload texts. The expressions depend on facts about the
    whole file (which encodings occur, whether a CSV payload has a comma): when the blocks'
    facts differ, or a value is unreadable, the file is read again whole, as one block, so the
    result never depends on where blocks are cut."""
    if any("[*]" in (a or "") for a in (attrs.inference, attrs.probability, attrs.ground_truth)):
        return _merged_rows(store, f, attrs), [], False
    blocks: list[_Block] = []
    try:
        with memory.reading_blocks(), ThreadPoolExecutor(max_workers=2) as pool:
            pending: list[Future[_Block]] = []
            for block in _line_blocks(store, f.url, MERGED_BLOCK_BYTES):
                pending.append(pool.submit(_reduce_block, block, attrs, f.url))
                if len(pending) >= 2:
                    blocks.append(pending.pop(0).result())
            blocks.extend(p.result() for p in pending)
    except pl.exceptions.PolarsError as exc:
        # (blocks are awaited in order: the first that failed is the one after those read)
        where = merged_rows.bad_record_in_block(store, f.url, len(blocks), MERGED_BLOCK_BYTES, MERGED_SCHEMA)
        raise InputError(f"{where}: cannot read merged records: {str(exc).strip().splitlines()[0]}") from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"{f.url}: cannot read: {exc}") from exc
    if not blocks:
        blocks = [_reduce_block(b"", attrs, f.url)]
    if any(b.more for b in blocks) or (all(b.out_null for b in blocks) and any(b.gt_any for b in blocks)):
        # Some request carries several rows (or batch-transform records): read every one of them.
        return _merged_rows(store, f, attrs), [], False
    if len({b.decisions for b in blocks}) == 1 and all(b.frame is not None for b in blocks):
        return pl.concat([b.frame for b in blocks if b.frame is not None], rechunk=False), [], True
    # The blocks chose different expressions: the whole file as one block.
    whole = _raw(store, f.url)
    try:
        raw = _parse_block(whole)
    except pl.exceptions.PolarsError as exc:
        where = merged_rows.bad_record_at(whole, MERGED_SCHEMA, f.url)
        raise InputError(f"{where}: cannot read merged records: {str(exc).strip().splitlines()[0]}") from exc
    df, _ = _rows_of(raw, attrs, f.url)
    return df.drop("more"), [], False


def _second_row(raw: pl.DataFrame) -> bool:
    """Whether some JSON output has a second prediction or some JSON label a second instance (only
    JSON objects naming those keys are parsed: CSV payloads, the usual case, cost a scan)."""
    for col, key in (("o_data", "predictions"), ("g_data", "instances")):
        js = raw.select(pl.col(col)).filter(pl.col(col).str.contains(f'"{key}"', literal=True).fill_null(False))
        if js.height and bool(js.select(pl.col(col).str.json_path_match(f"$.{key}[1]").is_not_null().any()).item()):
            return True
    return False


def _merged_rows(store: Store, f: DatasetFile, attrs: Attributes) -> pl.DataFrame:
    """``actual`` / ``predicted`` / ``score`` texts with every instance of a request a row
    (:mod:`mmon.merged_rows`); a record whose output and label give different row counts is an
    input error. Records without ``groundTruthData`` are unlabelled predictions."""
    recs = merged_rows.read_file(store, f.url)
    labelled = recs.filter(pl.col("gt_text").is_not_null())
    unlabelled = recs.filter(pl.col("gt_text").is_null())
    parts = []
    for part, with_label in ((labelled, True), (unlabelled, False)):
        if not part.height:
            continue
        sides: dict[str, pl.DataFrame] = {}
        if with_label:
            sides["gt"] = merged_rows.values(part, "gt", attrs.ground_truth, f.url).rename({"v": "actual"})
        if attrs.inference:
            sides["out"] = merged_rows.values(part, "out", attrs.inference, f.url).rename({"v": "predicted"})
        if attrs.probability:
            sides["out_p"] = merged_rows.values(part, "out", attrs.probability, f.url).rename({"v": "score"})
        rows = merged_rows.assemble(part, sides, f.url).drop("_rec", "_row")
        if not with_label:
            rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias("actual"))
        parts.append(rows)
    if not parts:
        return pl.DataFrame(schema={"actual": pl.String, "predicted": pl.String})
    return pl.concat(parts, how="diagonal_relaxed")


def _check_attr(attr: str, what: str) -> None:
    if not attr.strip():
        raise InputError(f"--{what}-attribute is empty")
