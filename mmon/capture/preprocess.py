"""SageMaker's record preprocessor contract (``record_preprocessor_script``).

The script defines ``preprocess_handler(inference_record)`` or
``preprocess_handler(inference_record, logger)`` (the logger is passed when a parameter is named
``logger``, as SageMaker's container does). ``inference_record`` is a :class:`CapturedData` with
``endpoint_input``, ``endpoint_output``, ``batch_transform_output``, ``ground_truth`` (each with
``data``, ``encoding``, ``observedContentType``, ``mode``), ``event_metadata`` (``event_id``,
``inference_id``, ``inference_time`` / ``event_time``, ``custom_attribute``,
``invocation_source``), ``event_version`` and ``as_dict()``.

It returns a flat dict (one row), a list of dicts (several rows), or ``[]`` / ``None`` to drop
the record. Columns are ordered by name, as SageMaker's Spark job orders the keys of the JSON it
reads back (which is why SageMaker's own examples name columns ``str(i).zfill(20)``).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmon.errors import InputError
from mmon.scripts import load_script
from mmon.store import Store, is_local, local_path

LOG = logging.getLogger("mmon.preprocessor")


class _Part:
    """A part of a captured record as SageMaker's container hands it over: the fields as
    attributes (set by each kind), ``as_dict()`` a copy of the JSON object, ``repr`` naming the kind."""

    _kind = ""

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    def as_dict(self) -> dict[str, Any]:
        return dict(self._d)

    def __repr__(self) -> str:
        return f"{self._kind}({self._d!r})"


class _Payload(_Part):
    """One side of a captured record (``endpointInput``, ``endpointOutput``, …)."""

    _kind = "Payload"

    def __init__(self, d: dict[str, Any]) -> None:
        super().__init__(d)
        self.data = d.get("data")
        self.encoding = d.get("encoding")
        self.observedContentType = d.get("observedContentType")
        self.observed_content_type = self.observedContentType
        self.content_type = self.observedContentType
        self.mode = d.get("mode")


class EventMetadata(_Part):
    _kind = "EventMetadata"

    def __init__(self, d: dict[str, Any]) -> None:
        super().__init__(d)
        self.event_id = d.get("eventId")
        self.inference_id = d.get("inferenceId")
        self.inference_time = d.get("inferenceTime")
        self.event_time = self.inference_time
        ca = d.get("customAttributes")
        self.custom_attribute = None if ca is None else (list(ca) if isinstance(ca, list) else [ca])
        self.invocation_source = d.get("invocationSource")


class CapturedData(_Part):
    """A captured (or merged) record as SageMaker hands it to ``preprocess_handler``."""

    _kind = "CapturedData"

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record)
        cd = record.get("captureData") or {}
        self.endpoint_input = _Payload(cd["endpointInput"]) if isinstance(cd.get("endpointInput"), dict) else None
        self.endpoint_output = _Payload(cd["endpointOutput"]) if isinstance(cd.get("endpointOutput"), dict) else None
        bto = cd.get("batchTransformOutput")
        self.batch_transform_output = _Payload(bto) if isinstance(bto, dict) else None
        gt = record.get("groundTruthData")
        self.ground_truth = _Payload(gt) if isinstance(gt, dict) else None
        self.event_metadata = EventMetadata(record.get("eventMetadata") or {})
        self.event_version = record.get("eventVersion")

    def as_dict(self) -> dict[str, Any]:
        return self._d  # the record itself, not a copy (the parts give copies)


class PreprocessorError(Exception):
    """The handler raised or returned something that is not rows."""


@dataclass
class Preprocessor:
    path: str
    handler: Callable[..., Any]
    wants_logger: bool

    def __call__(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows for one record; raises PreprocessorError on a failure of the script."""
        try:
            rec = CapturedData(record)
            result = self.handler(rec, LOG) if self.wants_logger else self.handler(rec)
        except Exception as exc:  # noqa: BLE001 - the user's code: any failure is reported
            raise PreprocessorError(f"{type(exc).__name__}: {exc}") from exc
        if result is None:
            return []
        if isinstance(result, dict):
            rows = [result]
        elif isinstance(result, (list, tuple)):
            rows = list(result)
        else:
            raise PreprocessorError(f"returned {type(result).__name__}; expected a dict, a list of dicts or []")
        for r in rows:
            if not isinstance(r, dict):
                raise PreprocessorError(f"returned a list holding {type(r).__name__}; expected dicts")
        return [{str(k): _flat_value(v) for k, v in r.items()} for r in rows]


def _flat_value(v: Any) -> Any:
    """Scalars stay; nested values become their JSON text (SageMaker needs flat rows)."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    try:
        return json.dumps(v, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return str(v)


def load_preprocessor(store: Store, url: str) -> Preprocessor:
    """Import a preprocessor script (local path or any store URL) and find its handler."""
    if is_local(url):
        path = local_path(url)
        if not os.path.isfile(path):
            raise InputError(f"--preprocessor {url}: no such file")
        with open(path, "rb") as f:
            source = f.read()
    else:
        path, source = url, store.read_bytes(url)
    try:
        module = load_script(source, path, f"mmon_preprocessor_{abs(hash(path))}")
    except Exception as exc:  # noqa: BLE001 - errors in the user's script
        raise InputError(f"--preprocessor {url}: importing it failed: {type(exc).__name__}: {exc}") from exc
    handler = getattr(module, "preprocess_handler", None)
    if not callable(handler):
        raise InputError(
            f"--preprocessor {url}: Preprocess Handler not implemented correctly in customer script "
            "(define preprocess_handler(inference_record) or preprocess_handler(inference_record, logger))"
        )
    params = inspect.signature(handler).parameters
    return Preprocessor(url, handler, wants_logger="logger" in params)
