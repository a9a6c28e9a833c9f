"""SageMaker's data-capture and ground-truth lines, byte for byte, and the names of their files.

A capture line is compact JSON with keys in SageMaker's order (``captureData`` with
``endpointInput`` / ``endpointOutput``, then ``eventMetadata``, then ``eventVersion``), as in the
real lines of ``shared/reference/sagemaker/capture-endpoint-csv.jsonl`` (tests rebuild them
exactly). A ground-truth line is written the way SageMaker's examples write it (``json.dumps``
with ``", "`` separators). Everything here runs on the writer's background thread.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

# SageMaker SDK defaults (CaptureContentTypeHeader): text/csv is captured as CSV, application/json
# as JSON; JSON Lines is JSON too (the issue and SageMaker's JSON Lines examples).
DEFAULT_CSV_TYPES = ("text/csv",)
DEFAULT_JSON_TYPES = ("application/json", "application/jsonlines", "application/x-ndjson", "application/json-lines")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(slots=True)
class CaptureRecord:
    """One inference as the writer holds it until it is written (what a redaction hook receives).

    ``input_data`` / ``output_data`` are the payload bytes (``None`` when that side is not
    captured); ``headers`` are the allow-listed request headers (lower-case names). A redaction
    hook may change any field, or return ``None`` to leave the record out.
    """

    input_data: bytes | None
    output_data: bytes | None
    input_content_type: str
    output_content_type: str
    inference_time: float  # Unix seconds at request receipt
    inference_id: str | None = None
    event_id: str = ""  # given on the background thread when empty (uuid4 costs the request path microseconds)
    status: int | None = None
    headers: dict[str, str] | None = None
    custom_attributes: str | None = None


class RecordSource(Protocol):
    """What turns a middleware's raw exchange into a record on the background thread.

    The middleware queues ``(source, exchange, raw_headers, nbytes)``: chunk references and the
    server's header list as they are, so joining bodies and decoding headers happen off the request
    path (``source.record(exchange, raw_headers)``)."""

    def record(self, exchange: Any, raw_headers: Any) -> CaptureRecord | None: ...


RawExchange = tuple[RecordSource, Any, Any, int]


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def encoding_of(content_type: str, csv_types: Sequence[str], json_types: Sequence[str]) -> str:
    mt = media_type(content_type)
    if mt in csv_types:
        return "CSV"
    if mt in json_types:
        return "JSON"
    return "BASE64"


def _payload(data: bytes, encoding: str) -> tuple[str, str]:
    """(data string, encoding); text that is not UTF-8 falls back to BASE64, as it cannot be a JSON string."""
    if encoding != "BASE64":
        try:
            return data.decode("utf-8"), encoding
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), "BASE64"


_time_text: tuple[int, str] = (-1, "")  # the last second formatted: records come in bursts of the same second


def inference_time_text(t: float) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ`` (UTC, whole seconds: SageMaker's ``inferenceTime``)."""
    global _time_text
    sec = int(t)
    cached = _time_text  # one read of one tuple: safe with several writers' threads
    if cached[0] == sec:
        return cached[1]
    text = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _time_text = (sec, text)
    return text


def event_ids(n: int) -> list[str]:
    """``n`` random UUID4 strings from one ``os.urandom`` call (``str(uuid.uuid4())`` makes a
    syscall and a UUID object per id; this is several times cheaper on the background thread)."""
    h = os.urandom(16 * n).hex()
    out = []
    for i in range(0, 32 * n, 32):
        # version nibble 4; variant bits 10xx (8, 9, a or b), as RFC 4122 section 4.4 sets them
        out.append(f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-{_VARIANT[h[i + 16]]}{h[i + 17:i + 20]}-{h[i + 20:i + 32]}")
    return out


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def capture_line(
    rec: CaptureRecord, csv_types: Sequence[str], json_types: Sequence[str], record_status: bool
) -> str:
    """One capture line (no newline)."""
    parts = []
    for mode, side, data, ctype in (
        ("INPUT", "endpointInput", rec.input_data, rec.input_content_type),
        ("OUTPUT", "endpointOutput", rec.output_data, rec.output_content_type),
    ):
        if data is None:
            continue
        text, enc = _payload(data, encoding_of(ctype, csv_types, json_types))
        parts.append(
            f'"{side}":{{"observedContentType":{_dumps(ctype)},"mode":"{mode}","data":{_dumps(text)},"encoding":"{enc}"}}'
        )
    if not rec.event_id:
        rec.event_id = event_ids(1)[0]
    meta = f'"eventId":"{rec.event_id}"'
    if rec.inference_id is not None:
        meta += f',"inferenceId":{_dumps(rec.inference_id)}'
    meta += f',"inferenceTime":"{inference_time_text(rec.inference_time)}"'
    if rec.custom_attributes is not None:
        meta += f',"customAttributes":{_dumps(rec.custom_attributes)}'
    if record_status and rec.status is not None:
        # Not one of SageMaker's keys, so opt-in (CaptureWriter(record_status=True)): see README.
        meta += f',"httpStatus":{int(rec.status)}'
    return f'{{"captureData":{{{",".join(parts)}}},"eventMetadata":{{{meta}}},"eventVersion":"0"}}'


def label_text(label: Any) -> tuple[str, str]:
    """(data, encoding) of a ground-truth label: scalars as CSV text, dicts/lists as JSON (Clarify's form)."""
    if isinstance(label, bytes):
        return label.decode("utf-8"), "CSV"
    if isinstance(label, str):
        return label, "CSV"
    if isinstance(label, bool):
        return ("1" if label else "0"), "CSV"
    if isinstance(label, (dict, list, tuple)):
        return json.dumps(label), "JSON"
    if hasattr(label, "item"):  # numpy scalar
        label = label.item()
    if isinstance(label, float) and label.is_integer():
        return repr(label), "CSV"
    return str(label), "CSV"


def ground_truth_line(event_id: str, data: str, encoding: str) -> str:
    return json.dumps(
        {"groundTruthData": {"data": data, "encoding": encoding}, "eventMetadata": {"eventId": event_id}, "eventVersion": "0"}
    )


def hour_of(t: float) -> int:
    """The inference hour as Unix seconds (the folder a record belongs in)."""
    return int(t) // 3600 * 3600


def hour_path(hour: int) -> str:
    return datetime.fromtimestamp(hour, UTC).strftime("%Y/%m/%d/%H")


def capture_file_name(first_time: float, gzip: bool) -> str:
    """``{mm-ss-SSS}-{uuid}.jsonl`` from the file's first record, SageMaker's capture file name."""
    d = datetime.fromtimestamp(first_time, UTC)
    name = f"{d.minute:02d}-{d.second:02d}-{d.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    return name + ".gz" if gzip else name


def label_file_name(gzip: bool) -> str:
    return f"{uuid.uuid4()}.jsonl" + (".gz" if gzip else "")


def to_bytes(payload: Any, content_type: str, csv_types: Sequence[str], json_types: Sequence[str]) -> bytes:
    """A payload given to ``capture()`` as bytes: str/bytes verbatim, rows as CSV, objects as JSON."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if hasattr(payload, "tolist"):  # numpy arrays and scalars, pandas/polars Series
        payload = payload.tolist()
    mt = media_type(content_type)
    if mt in csv_types:
        if isinstance(payload, (list, tuple)):
            rows = payload if payload and isinstance(payload[0], (list, tuple)) else [payload]
            return "\n".join(",".join(_csv_cell(v) for v in row) for row in rows).encode("utf-8")
        return _csv_cell(payload).encode("utf-8")
    if mt == "application/jsonlines" and isinstance(payload, (list, tuple)):
        return "\n".join(json.dumps(r) for r in payload).encode("utf-8")
    return json.dumps(payload).encode("utf-8")


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    s = str(v)
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s
