"""Checks of one capture or ground-truth line: what the fast polars path could misread, and why a
line is malformed (not UTF-8, not JSON, NaN/Infinity/overflowing numbers, nested too deep, a
record field of the wrong JSON type)."""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from mmon.jsonfmt import strict_loads

# Keys whose values the record schemas read as text. polars turns any JSON value into text for a
# String field (``"data": [1, 2]`` becomes ``"[1, 2]"``), so a line where one of them holds a
# number, list, object or boolean is sent to the line-by-line check, which refuses it with a reason.
_TEXT_KEYS = (
    "data", "encoding", "observedContentType", "mode", "eventId", "inferenceId", "inferenceTime",
    "invocationSource", "eventVersion",
)  # fmt: skip
_NON_TEXT_VALUE = r'"(?:' + "|".join(_TEXT_KEYS) + r')"\s*:\s*[^"\sn]'
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_PARTS = {
    "captureData": ("endpointInput", "endpointOutput", "batchTransformOutput"),
    "eventMetadata": (),
    "groundTruthData": (),
}
_SIDE_KEYS = ("observedContentType", "mode", "data", "encoding")
_META_KEYS = ("eventId", "inferenceId", "inferenceTime", "invocationSource")
# Deeper lines are refused before any parser sees them (Python's json recurses per level).
MAX_DEPTH = 500


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _too_deep(text: str) -> bool:
    """Whether arrays/objects nest deeper than MAX_DEPTH (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for ch in _JSON_STRING.sub("", text):
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _text_field(obj: dict[str, Any], key: str, where: str) -> str | None:
    v = obj.get(key)
    if v is not None and not isinstance(v, str):
        return f"{where}{key} is a JSON {_json_type(v)}, expected a string"
    return None


def _json_type(v: object) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    return names.get(type(v), type(v).__name__)


def _structure_problem(obj: object, kind: str) -> str | None:
    """Why a parsed JSON line cannot be a record of this kind: wrong JSON types included."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, found {type(obj).__name__}"
    for key in ("captureData", "eventMetadata", "groundTruthData"):
        v = obj.get(key)
        if v is not None and not isinstance(v, dict):
            return f"{key} is not an object"
    if (r := _text_field(obj, "eventVersion", "")) is not None:
        return r
    cd = obj.get("captureData")
    if isinstance(cd, dict):
        for side in _PARTS["captureData"]:
            v = cd.get(side)
            if v is None:
                continue
            if not isinstance(v, dict):
                return f"captureData.{side} is not an object"
            for key in _SIDE_KEYS:
                if (r := _text_field(v, key, f"captureData.{side}.")) is not None:
                    return r
    em = obj.get("eventMetadata")
    if isinstance(em, dict):
        for key in _META_KEYS:
            if (r := _text_field(em, key, "eventMetadata.")) is not None:
                return r
    gt = obj.get("groundTruthData")
    if isinstance(gt, dict):
        for key in ("data", "encoding", "observedContentType"):
            if (r := _text_field(gt, key, "groundTruthData.")) is not None:
                return r
    return None


def line_problem(raw: bytes, kind: str) -> tuple[str | None, str]:
    """(reason or None, stripped text) for one non-blank line."""
    try:
        # JSON's whitespace only: Python's strip() would also take control bytes such as 0x1F.
        text = raw.decode("utf-8").strip(" \t\r\n")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte {exc.start} of the line)", ""
    if _too_deep(text):
        return f"not valid JSON (nested deeper than {MAX_DEPTH} levels)", text
    try:
        obj = strict_loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at column {exc.colno})", text
    except (ValueError, RecursionError) as exc:
        return f"not valid JSON ({str(exc)[:120] or type(exc).__name__})", text
    return _structure_problem(obj, kind), text


def suspect(raw: pl.Series) -> bool:
    """Lines the fast path could misread: a text field holding a non-string (polars stops at
    nesting deeper than 1024 by itself, which sends the file to the line-by-line check)."""
    # A raw control byte (JSON allows none, outside strings or in them) is refused by the
    # line-by-line check; polars' reader takes some as whitespace, so such a line must not be
    # judged by which path its file happens to take.
    return bool(raw.str.contains(_NON_TEXT_VALUE + "|" + _CONTROL).any())  # one regex pass
