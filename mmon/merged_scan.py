"""JSON Lines records read by template: the string fields a reader needs, taken out of the lines
without a JSON parse of each one, equal to what ``pl.read_ndjson(schema=...)`` gives.

Why: the readers of merged capture records need a handful of string fields (a payload's
``data``, ``encoding``, ``observedContentType``, an event id), and polars' JSON parse of whole
records was most of their cost (about 3.5 CPU s per million records). The lines of a capture
file share one layout: the same keys in the same order, only the string values differ.

How, per block of lines, with numpy over the bytes:

* The quotes that delimit strings are found. A quote right after a backslash is part of a
  string (``\\"`` is how a JSON payload sits in the record); a line with any other backslash
  (``\\\\``, ``\\n``, ``\\u00e9`` ...) or any control character is left to polars.
* The first line left is a *template*: checked with the strict JSON parser and its tokens walked
  to learn which string is which field. A line *matches* it when it has as many delimiting
  quotes and the same bytes outside its value strings (keys, punctuation, numbers, whitespace).
  Such a line is the template with other value strings, whose contents hold no quote, backslash
  (but ``\\"``) or control character -- so it is valid JSON, and its fields are those strings with
  ``\\"`` read as ``"``.
* Lines of up to :data:`MAX_TEMPLATES` templates are read so; the others (another layout, escapes,
  a field that is not a string) by ``pl.read_ndjson`` as before, and the rows are put back in
  line order. Anything unsure goes to polars: a template with a duplicate key, a number
  ``1e999``, ``NaN``, a field that is a number or an object (polars turns those into text).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from mmon.jsonfmt import strict_loads

MAX_TEMPLATES = 8
_QUOTE, _BACKSLASH, _NEWLINE = 34, 92, 10
_PAD = 256  # spare bytes after a block: the widest string copied as a fixed-width row
# What may stand between strings in a template line: punctuation, null/true/false and plain
# numbers (no exponent, few digits: polars and Python agree on every one of them).
_NUMBER = r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?"
_WORD = rf"(?:null|true|false|{_NUMBER})(?![0-9A-Za-z.+-])"  # a whole word: ``1e9`` is not ``1``
_TOKEN = re.compile(rf"[{{}}\[\]:,]|{_WORD}")
_BETWEEN = re.compile(rf"(?: *(?:[{{}}\[\]:,]|{_WORD}))* *")

Path = tuple[str, ...]


def leaves(schema: dict[str, Any], prefix: Path = ()) -> list[Path] | None:
    """The string fields of a nested struct schema; None when it has other types."""
    out: list[Path] = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Struct):
            sub = leaves({f.name: f.dtype for f in dtype.fields}, (*prefix, name))
            if sub is None:
                return None
            out.extend(sub)
        elif dtype == pl.String:
            out.append((*prefix, name))
        else:
            return None
    return out


@dataclass
class _Template:
    quotes: int  # delimiting quotes of a line
    values: np.ndarray  # numbers of the strings that are values (their text varies by line)
    skeleton: np.ndarray  # the line's bytes without the value strings' contents
    sizes: np.ndarray  # the skeleton's pieces: bytes before the first value string, between, after the last
    fields: dict[Path, int | None]  # a wanted string field → its string's number (None: null)
    present: dict[Path, bool]  # a wanted struct → whether it is an object (else null)


def _walk(between: list[str], strings: list[str]) -> dict[Path, tuple[str, int]] | None:
    """What sits at each path of a template line: ``("str", n)`` (the n-th string), ``("obj", 0)``,
    ``("null", 0)`` or ``("other", 0)``; None when a key repeats or the line is not an object."""
    found: dict[Path, tuple[str, int]] = {}
    stack: list[list[Any]] = []  # [is_object, key or index, expecting a key, keys seen]

    def put(kind: str, n: int = 0) -> bool:
        if not stack and kind != "obj":
            return False
        found[tuple(str(f[1]) for f in stack)] = (kind, n)
        return True

    for i, seg in enumerate(between):
        for tok in _TOKEN.findall(seg):
            top = stack[-1] if stack else None
            if tok in "{[":
                if not put("obj" if tok == "{" else "other"):
                    return None
                stack.append([tok == "{", None if tok == "{" else 0, tok == "{", set()])
            elif tok in "}]":
                stack.pop()
            elif tok == ",":
                if top is None:
                    return None
                if top[0]:
                    top[2] = True
                else:
                    top[1] += 1
            elif tok != ":":
                put("null" if tok == "null" else "other")
        if i == len(strings):
            break
        top = stack[-1] if stack else None
        if top is None:
            return None
        if top[0] and top[2]:
            key = json.loads(f'"{strings[i]}"')
            if key in top[3]:
                return None  # polars keeps the first of two equal keys, Python the last: leave it
            top[3].add(key)
            top[1], top[2] = key, False
        else:
            put("str", i)
    return found if not stack else None


def _template(line: bytes, quotes: np.ndarray, wanted: list[Path]) -> _Template | None:
    """The template of one line (``quotes``: its delimiting quotes' offsets), or None."""
    text = line.decode("utf-8")
    cuts = [-1, *quotes.tolist(), len(line)]
    pieces = [line[cuts[k] + 1 : cuts[k + 1]].decode("utf-8") for k in range(len(cuts) - 1)]
    between, strings = pieces[0::2], pieces[1::2]
    if not all(_BETWEEN.fullmatch(s) for s in between):
        return None
    try:
        doc = strict_loads(text)
    except (ValueError, RecursionError):
        return None
    found = _walk(between, strings)
    if found is None or not isinstance(doc, dict):
        return None
    fields: dict[Path, int | None] = {}
    present: dict[Path, bool] = {}
    for path in wanted:
        value: Any = doc
        for k in range(1, len(path)):
            kind = found.get(path[:k], ("null", 0))[0]
            if kind == "other" or kind == "str":
                return None  # polars refuses a struct that is not an object
            present[path[:k]] = present.get(path[:k], True) and kind == "obj"
            value = value.get(path[k - 1]) if isinstance(value, dict) else None
        kind, n = found.get(path, ("null", 0))
        if kind not in ("str", "null"):
            return None  # polars writes a number or an object as its text: leave it to polars
        got = value.get(path[-1]) if isinstance(value, dict) else None
        if got != (json.loads(f'"{strings[n]}"') if kind == "str" else None):
            return None  # the walk and the parser disagree: trust neither
        fields[path] = n if kind == "str" else None
    value_strings = sorted(n for kind, n in found.values() if kind == "str")
    keep = np.ones(len(line), dtype=bool)
    for n in value_strings:
        keep[quotes[2 * n] + 1 : quotes[2 * n + 1]] = False
    skeleton = np.frombuffer(line, dtype=np.uint8)[keep]
    bounds = [0, *(int(q) for n in value_strings for q in (quotes[2 * n] + 1, quotes[2 * n + 1])), len(line)]
    sizes = np.diff(np.array(bounds, dtype=np.int64))[0::2]  # the pieces between value strings
    return _Template(len(quotes), np.array(value_strings, dtype=np.int64), skeleton, sizes, fields, present)


def _gather(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, escaped: bool) -> pl.Series:
    """The strings ``arr[starts[i]:ends[i]]`` (``\\"`` read as ``"`` when ``escaped``); ``arr``
    ends with :data:`_PAD` spare bytes."""
    n = len(starts)
    lens = ends - starts
    width = max(int(lens.max()) if n else 0, 1)
    if width <= _PAD:
        # One row of NUL-padded bytes per string, seen by numpy as fixed-width ``bytes`` (which drop
        # the padding; no string holds a NUL): polars takes the column without a Python object per
        # string. The rows are windows of the block, the bytes past each string's end cleared.
        rows = sliding_window_view(arr, width)[starts]
        rows *= np.arange(width, dtype=np.int64) < lens[:, None]
        escaped = escaped and bool((rows == _BACKSLASH).any())
        if n > 1 and int(lens.min()) == width and bool((rows[:, 0] == rows[0, 0]).all()) and bool((rows == rows[0]).all()):
            # One text on every line (an encoding, a content type): made once, not per line.
            one = pl.Series([rows[0].tobytes().rstrip(b"\0")]).cast(pl.String)
            s = one.str.replace_all('\\"', '"', literal=True) if escaped else one
            return s.extend_constant(s[0], n - 1)
        s = pl.Series(rows.reshape(-1).view(f"S{width}")).cast(pl.String)
    else:  # long strings: each followed by a newline (no string holds one), split by polars
        total = int(lens.sum())
        out = np.full(total + n, _NEWLINE, dtype=np.uint8)
        dest = np.cumsum(lens + 1) - (lens + 1)
        within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
        out[np.repeat(dest, lens) + within] = arr[np.repeat(starts, lens) + within]
        s = pl.Series([out[:-1].tobytes().decode("utf-8")]).str.split("\n").explode()
    if escaped:
        s = s.str.replace_all('\\"', '"', literal=True)
    return s


def _struct(name: str, dtype: Any, path: Path, t: _Template, cols: dict[Path, pl.Series], n: int) -> pl.Series:
    if isinstance(dtype, pl.Struct):
        if not t.present.get(path, True):
            return pl.repeat(None, n, dtype=dtype, eager=True).alias(name)
        parts = [_struct(f.name, f.dtype, (*path, f.name), t, cols, n) for f in dtype.fields]
        return pl.DataFrame(parts).select(pl.struct(pl.all()).alias(name)).to_series()
    return cols[path].alias(name)


def read_ndjson(raw: bytes, schema: dict[str, Any]) -> pl.DataFrame:
    """``pl.read_ndjson(raw, schema=schema)`` (nested structs of strings), template lines read
    without a JSON parse. Raises polars' error when polars cannot read some line."""
    wanted = leaves(schema)
    if wanted is None or not raw or raw.isspace():
        return pl.read_ndjson(io.BytesIO(raw), schema=schema)
    if not raw.endswith(b"\n"):
        raw += b"\n"
    arr = np.frombuffer(raw + bytes(_PAD), dtype=np.uint8)
    body = arr[: len(raw)]
    if int(body.max()) >= 0x80:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return pl.read_ndjson(io.BytesIO(raw), schema=schema)
    low = np.flatnonzero(body < 0x20)
    is_end = arr[low] == _NEWLINE
    ends, control = low[is_end], low[~is_end]
    starts = np.concatenate(([0], ends[:-1] + 1))
    quotes = np.flatnonzero(body == _QUOTE)
    slashes = np.flatnonzero(body == _BACKSLASH)
    unsure = np.zeros(len(ends), dtype=bool)  # lines only polars may read
    escaped = False
    if len(slashes):
        # A backslash is fine only before a quote (and so never before another backslash).
        unsure[np.searchsorted(ends, slashes[arr[slashes + 1] != _QUOTE])] = True
        inside = arr[quotes - 1] == _BACKSLASH  # a quote in a string, not one that ends it
        escaped = bool(inside.any())
        quotes = quotes[~inside]
    unsure[np.searchsorted(ends, control)] = True
    first = np.searchsorted(quotes, starts)  # index in ``quotes`` of each line's first quote
    count = np.diff(first, append=len(quotes))  # (no quote stands at a line's end)
    blank = np.zeros(len(ends), dtype=bool)
    for i in np.flatnonzero(count == 0).tolist():
        blank[i] = not raw[starts[i] : ends[i]].strip(b" \t\r")
    todo = ~blank & ~unsure & (count % 2 == 0)
    parts: list[tuple[np.ndarray, pl.DataFrame]] = []
    for _ in range(MAX_TEMPLATES):
        left = np.flatnonzero(todo)
        if not len(left):
            break
        i = int(left[0])
        todo[i] = False
        t = _template(raw[starts[i] : ends[i]], quotes[first[i] : first[i] + count[i]] - starts[i], wanted)
        if t is None:
            continue
        lines = left[count[left] == t.quotes]
        rows, frame = _match(arr, lines, starts, ends, quotes, first, t, schema, escaped)
        todo[rows] = False
        parts.append((rows, frame))
    slow = np.flatnonzero(~blank & ~_covered(len(ends), parts))
    if len(slow):
        rest = _read_lines(arr, starts, ends, slow, schema)
        if rest is None:
            return pl.read_ndjson(io.BytesIO(raw), schema=schema)
        parts.append((slow, rest))
    if len(parts) == 1:
        return parts[0][1]
    order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
    return pl.concat([p[1] for p in parts], how="vertical")[order]


def _covered(n: int, parts: list[tuple[np.ndarray, pl.DataFrame]]) -> np.ndarray:
    done = np.zeros(n, dtype=bool)
    for rows, _ in parts:
        done[rows] = True
    return done


def _same(arr: np.ndarray, at: np.ndarray, piece: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Whether ``arr[at[i]:at[i] + len(piece)] == piece`` (only where ``mask`` is 0xFF, when given),
    compared eight bytes at a time."""
    words = -(-len(piece) // 8)
    if words * 8 > _PAD:  # (a line already refused may start its piece too near the end: kept inside)
        assert mask is None  # (windows are never wider than _PAD)
        return (sliding_window_view(arr, len(piece))[np.minimum(at, len(arr) - len(piece))] == piece).all(axis=1)
    want = np.zeros(words * 8, dtype=np.uint8)
    want[: len(piece)] = piece
    full = np.zeros(words * 8, dtype=np.uint8)
    full[: len(piece)] = 0xFF if mask is None else mask
    want &= full
    got = sliding_window_view(arr, words * 8)[at].view(np.uint64)
    differ = (got ^ want.view(np.uint64)) & full.view(np.uint64)
    return ~differ.any(axis=1) if words > 1 else differ[:, 0] == 0


def _windows(t: _Template, vlen: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
    """The skeleton's pieces as few windows as compared: (first piece, bytes, mask or None).

    Why: each comparison gathers a few bytes from every line, and the gathers' cost is per line, not
    per byte. A value string of one length on every line (an encoding, a content type, a time) puts
    the next piece at a fixed distance from this one, so both are compared in one window, the value's
    bytes masked out. ``vlen``: the value strings' lengths (one row per value, one column per line).
    """
    same_len = (vlen == vlen[:, :1]).all(axis=1) if vlen.shape[1] else np.zeros(len(vlen), dtype=bool)
    offsets = np.concatenate(([0], np.cumsum(t.sizes)))
    out: list[tuple[int, np.ndarray, np.ndarray | None]] = []
    k = 0
    while k < len(t.sizes):
        spans = [(0, int(offsets[k]), int(t.sizes[k]))]  # (at in the window, at in the skeleton, size)
        width, j = int(t.sizes[k]), k
        while j + 1 < len(t.sizes) and same_len[j] and width + int(vlen[j, 0]) + int(t.sizes[j + 1]) <= _PAD:
            spans.append((width + int(vlen[j, 0]), int(offsets[j + 1]), int(t.sizes[j + 1])))
            width = spans[-1][0] + int(t.sizes[j + 1])
            j += 1
        if len(spans) == 1:
            out.append((k, t.skeleton[offsets[k] : offsets[k + 1]], None))
        else:
            piece = np.zeros(width, dtype=np.uint8)
            mask = np.zeros(width, dtype=np.uint8)
            for w, o, size in spans:
                piece[w : w + size] = t.skeleton[o : o + size]
                mask[w : w + size] = 0xFF
            out.append((k, piece, mask))
        k = j + 1
    return out


def _match(arr: np.ndarray, lines: np.ndarray, starts: np.ndarray, ends: np.ndarray, quotes: np.ndarray,
           first: np.ndarray, t: _Template, schema: dict[str, Any], escaped: bool) -> tuple[np.ndarray, pl.DataFrame]:  # fmt: skip
    """The lines (of ``lines``) that match template ``t``, and their fields."""
    # Where each value string opens and closes, then the bytes between them (and before the
    # first, after the last) compared with the template's, one piece at a time.
    at_first = first[lines][None, :]
    opens = quotes[2 * t.values[:, None] + at_first] + 1
    closes = quotes[2 * t.values[:, None] + 1 + at_first]
    froms = np.vstack([starts[lines][None, :], closes])  # one row per piece
    tos = np.vstack([opens, ends[lines][None, :]])
    ok = (tos - froms == t.sizes[:, None]).all(axis=0)
    for k, piece, mask in _windows(t, closes - opens):
        if len(piece):
            ok &= _same(arr, froms[k], piece, mask)
    lines, first_q = lines[ok], first[lines[ok]]
    cols: dict[Path, pl.Series] = {}
    for path, n in t.fields.items():
        if n is None:
            cols[path] = pl.repeat(None, len(lines), dtype=pl.String, eager=True)
        else:
            cols[path] = _gather(arr, quotes[first_q + 2 * n] + 1, quotes[first_q + 2 * n + 1], escaped)
    frame = pl.DataFrame([_struct(k, v, (k,), t, cols, len(lines)) for k, v in schema.items()])
    return lines, frame


def _read_lines(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray,
                schema: dict[str, Any]) -> pl.DataFrame | None:  # fmt: skip
    """Some lines read by polars: one row per line, or None when polars does not give that."""
    step = np.zeros(len(arr) + 1, dtype=np.int8)
    step[starts[lines]] += 1
    step[ends[lines] + 1] -= 1
    text = arr[np.cumsum(step[:-1], dtype=np.int8) > 0].tobytes()
    frame = pl.read_ndjson(io.BytesIO(text), schema=schema)
    return frame if frame.height == len(lines) else None


def bad_line(raw: bytes, schema: dict[str, Any]) -> int | None:
    """The 1-based number of the first line of ``raw`` polars cannot read as a record of
    ``schema`` (for the error message; only called once reading failed, line by line)."""
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = strict_loads(line)
        except (ValueError, RecursionError):
            return number
        if not isinstance(doc, dict):
            return number
    for number, line in enumerate(lines, start=1):  # valid JSON, but not of the schema's shape
        try:
            pl.read_ndjson(io.BytesIO(line), schema=schema)
        except pl.exceptions.PolarsError:
            return number
    return None
