"""A versioned, pickle-free binary form of a file's profile state.

Layout (all integers little-endian)::

    b"MMONPROF"  u16 version  u32 header length  header (UTF-8 JSON)  blob

The header holds the URL, the warnings, the row count and every column's counts; floats are
written as ``float.hex()`` strings (exact, and NaN/±inf survive). Arrays (KLL levels as float64,
HyperLogLog registers as uint8) live in the blob; the header gives each one's offset and length.
Reading never executes anything from the data (no pickle), checks the magic and the lengths, and
refuses a version newer than this mmon knows with a clear InputError.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from mmon.errors import InputError
from mmon.stats.kll import KLLSketch
from mmon.stats.state import ColumnState, ProfileState

MAGIC = b"MMONPROF"
VERSION = 1
_HEAD = struct.Struct("<8sHI")

_INTS = ("rows", "nulls", "n_integral", "n_fractional", "n_boolean", "n_string", "n_nonfinite", "num_n")
_FLOATS = ("num_sum", "num_mean", "num_m2", "num_min", "num_max")


class _Blob:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, arr: np.ndarray, dtype: str) -> list[int]:
        data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
        where = [self.size, len(data)]
        self.parts.append(data)
        self.size += len(data)
        return where


def _column(col: ColumnState, blob: _Blob) -> dict[str, Any]:
    col.flush_hll()
    doc: dict[str, Any] = {"name": col.name, "kind": col.kind}
    doc.update({k: int(getattr(col, k)) for k in _INTS})
    doc.update({k: float(getattr(col, k)).hex() for k in _FLOATS})
    doc["first_nonfinite_row"] = col.first_nonfinite_row
    doc["categories"] = None if col.categories is None else [[k, int(v)] for k, v in col.categories.items()]
    doc["hll"] = None if col.hll_state is None else blob.add(col.hll_state, "<u1")
    meta, levels = col.kll.export_state()
    meta["levels"] = [blob.add(level, "<f8") for level in levels]
    doc["kll"] = meta
    return doc


def encode_profile(url: str, state: ProfileState, warnings: list[str]) -> bytes:
    """The binary form of one file's profile."""
    blob = _Blob()
    header = {
        "url": url,
        "warnings": list(warnings),
        "rows": int(state.rows),
        "columns": [_column(col, blob) for col in state.columns.values()],
    }
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    return _HEAD.pack(MAGIC, VERSION, len(head)) + head + b"".join(blob.parts)


def _array(blob: memoryview, where: list[int], dtype: str) -> np.ndarray:
    offset, length = int(where[0]), int(where[1])
    if offset < 0 or length < 0 or offset + length > len(blob):
        raise ValueError("an array lies outside the data")
    return np.frombuffer(blob[offset : offset + length], dtype=dtype).astype(dtype[1:], copy=True)


def _read_column(doc: dict[str, Any], blob: memoryview) -> ColumnState:
    col = ColumnState(name=str(doc["name"]), kind=str(doc["kind"]))
    for k in _INTS:
        setattr(col, k, int(doc[k]))
    for k in _FLOATS:
        setattr(col, k, float.fromhex(doc[k]))
    row = doc["first_nonfinite_row"]
    col.first_nonfinite_row = None if row is None else int(row)
    cats = doc["categories"]
    col.categories = None if cats is None else {str(k): int(v) for k, v in cats}
    col.hll_state = None if doc["hll"] is None else _array(blob, doc["hll"], "<u1")
    meta = doc["kll"]
    col.kll = KLLSketch.from_state(meta, [_array(blob, w, "<f8") for w in meta["levels"]])
    return col


def decode_profile(data: bytes) -> tuple[str, ProfileState, list[str]]:
    """Inverse of :func:`encode_profile`; InputError on anything that is not such a profile."""
    if len(data) < _HEAD.size or data[: len(MAGIC)] != MAGIC:
        raise InputError("not an mmon profile state (bad magic bytes)")
    _, version, head_len = _HEAD.unpack_from(data)
    if version > VERSION:
        raise InputError(
            f"this profile state has format version {version}, newer than this mmon reads ({VERSION}): "
            "upgrade mmon to read it"
        )
    if version < 1:
        raise InputError(f"unknown profile state format version {version}")
    try:
        end = _HEAD.size + head_len
        if end > len(data):
            raise ValueError("truncated header")
        header = json.loads(data[_HEAD.size : end].decode())
        blob = memoryview(data)[end:]
        state = ProfileState(rows=int(header["rows"]))
        for doc in header["columns"]:
            col = _read_column(doc, blob)
            state.columns[col.name] = col
        return str(header["url"]), state, [str(w) for w in header["warnings"]]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"a corrupt mmon profile state: {exc}") from exc
