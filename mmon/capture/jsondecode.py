"""JSON payloads decoded by polars as if each were alone.

polars decodes a batch of JSON texts at once, with one type for all of them, and fits what does
not match: ``1.5`` beside ``[]`` becomes ``[1.5]``, ``[1, 2]`` beside ``[[1, 2], [3]]`` becomes
``[[1], [2]]``. :func:`decode_json` decodes the batch, compares each value's bracket shape with its
text's, and decodes again, apart, the payloads whose shape changed; invalid payloads (including
``NaN``, ``Infinity``, ``1e999`` and over-deep nesting) are bad with a reason. A malformed payload
therefore never changes how its neighbours are read.
"""

from __future__ import annotations

import json

import polars as pl

from mmon.jsonfmt import strict_loads

_NO_BAD = {"_rec": pl.UInt32, "_reason": pl.String}
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'


def _skeleton(expr: pl.Expr) -> pl.Expr:
    """The bracket shape of JSON text: ``{"a": [[1, 2], [3]]}`` → ``{:[[][]]}``.

    Strings, scalars and commas go; keys leave their ``:``; a key whose value is null goes whole,
    because a decoded object has every key of its batch (null where a record lacks it).
    Comparing the shape of a payload with the shape of its decoded value finds what polars'
    batch decoding did to fit a neighbour: it only ever adds brackets (``1.5`` read as ``[1.5]``
    beside ``[]``, ``[1, 2]`` as ``[[1], [2]]`` beside ``[[1, 2], [3]]``). Scalar types may still
    be unified per column (``1`` and ``1.5`` are both doubles; a number beside a string is its
    text), as in any table. Three regex passes with few matches each: cheap beside the decoding.
    """
    return (
        expr.str.replace_all(_STRING, "")
        .str.replace_all(r",\s*:\s*null|:\s*null\s*,?", "")
        .str.replace_all(r"[^\[\]{}:]+", "")
    )


def _faithful(group: pl.DataFrame, texts: pl.DataFrame) -> pl.Series:
    """Per row of ``group`` (``_rec``, ``doc``): whether the decoded value has its text's shape."""
    enc = group.select("_rec", pl.struct(pl.col("doc")).struct.json_encode().alias("_enc"))
    both = enc.join(texts.select("_rec", "text"), on="_rec", how="left", maintain_order="left")
    same = _skeleton(pl.col("_enc")) == pl.lit("{:") + _skeleton(pl.col("text")) + pl.lit("}")
    return both.select(same.fill_null(False)).to_series()


def _python_kind(text: str | None) -> tuple[str | None, str | None]:
    """(``object``/``list``/``scalar``, None) or (None, reason) for one payload."""
    try:
        v = strict_loads(text or "")
    except json.JSONDecodeError as exc:
        return None, f"payload is not valid JSON ({exc.msg})"
    except RecursionError:
        return None, "payload is not valid JSON (nested too deep)"
    except (ValueError, TypeError) as exc:
        return None, f"payload is not valid JSON ({exc})"
    return ("object" if isinstance(v, dict) else "list" if isinstance(v, list) else "scalar"), None


def _one_by_one(part: pl.DataFrame) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """Each payload decoded alone (the last resort), grouped by dtype; shapes polars cannot hold are bad."""
    by_dtype: dict[str, tuple[list[int], list[pl.Series]]] = {}
    bad_recs: list[int] = []
    reasons: list[str] = []
    for rec, text in part.select("_rec", "text").iter_rows():
        try:
            one = pl.Series("doc", [text]).str.json_decode(infer_schema_length=None)
        except Exception as exc:  # noqa: BLE001 - polars' reason, first line
            bad_recs.append(rec)
            reasons.append(f"payload cannot be decoded ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})")
            continue
        recs, docs = by_dtype.setdefault(str(one.dtype), ([], []))
        recs.append(rec)
        docs.append(one)
    groups = []
    bad = [pl.DataFrame({"_rec": bad_recs, "_reason": reasons}, schema=_NO_BAD)]
    for recs, docs in by_dtype.values():
        g = pl.DataFrame({"_rec": pl.Series(recs, dtype=pl.UInt32)}).with_columns(pl.concat(docs))
        ok = _faithful(g, part)
        groups.append(g.filter(ok))
        bad.append(
            g.filter(~ok).select(
                "_rec",
                pl.lit("payload mixes arrays or objects with plain values where a table needs one shape "
                       "(e.g. [[1, 2], 3])").alias("_reason"),
            )
        )  # fmt: skip
    return groups, bad


def decode_json(texts: pl.DataFrame) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """``_rec``, ``text`` → (groups of ``_rec``, ``doc`` with one dtype each, bad ``_rec``/``_reason``).

    Every payload is decoded as if alone: a batch is decoded at once, then any payload whose
    value lost its shape to a neighbour is decoded again without the payloads that kept theirs
    (and, if that does not settle it, one by one). A malformed payload is bad with its reason
    and never changes how the others are read.
    """
    groups: list[pl.DataFrame] = []
    bad: list[pl.DataFrame] = [pl.DataFrame(schema=_NO_BAD)]
    pending = texts.select(pl.col("_rec").cast(pl.UInt32), "text")
    while pending.height:
        try:
            doc = pending["text"].str.json_decode(infer_schema_length=None).alias("doc")
        except Exception:  # noqa: BLE001 - some payload is not JSON, or shapes clash: sort them out
            kinds, kind_bad = _by_kind(pending)
            groups.extend(kinds)
            bad.extend(kind_bad)
            break
        g = pending.select("_rec").with_columns(doc)
        ok = _faithful(g, pending)
        groups.append(g.filter(ok))
        rest = pending.filter(~ok)
        if rest.height == pending.height:
            g2, b2 = _one_by_one(rest)
            groups.extend(g2)
            bad.extend(b2)
            break
        pending = rest
    return [g for g in groups if g.height], pl.concat(bad)


def _by_kind(texts: pl.DataFrame) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """Payloads polars refused as a batch: invalid ones found with Python's parser (NaN, 1e999
    and over-deep nesting refused), the rest decoded per JSON kind."""
    kinds: list[str | None] = []
    reasons: list[str | None] = []
    for t in texts["text"].to_list():
        kind, reason = _python_kind(t)
        kinds.append(kind)
        reasons.append(reason)
    tagged = texts.with_columns(pl.Series("_kind", kinds, pl.String), pl.Series("_reason", reasons, pl.String))
    bad = [tagged.filter(pl.col("_reason").is_not_null()).select("_rec", "_reason")]
    groups: list[pl.DataFrame] = []
    for kind in ("object", "list", "scalar"):
        part = tagged.filter(pl.col("_kind") == kind).select("_rec", "text")
        if part.height == 0:
            continue
        try:
            part["text"].str.json_decode(infer_schema_length=None)
        except Exception:  # noqa: BLE001 - shapes differ within the kind: one by one
            g, b = _one_by_one(part)
            groups.extend(g)
            bad.extend(b)
            continue
        g3, bad3 = decode_json(part)
        groups.extend(g3)
        bad.append(bad3)
    return groups, bad
