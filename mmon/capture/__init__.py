"""SageMaker data capture and ground truth: writing it (``CaptureWriter`` and middleware), windows,
parsing, merging (``mmon capture-merge``).

The writer and the middleware are imported on first use (module ``__getattr__``), so importing
this package never imports their threads' modules or any web framework.
"""

from typing import TYPE_CHECKING, Any

# Each name from the module that defines it.
from mmon.capture.flat import (
    EVENT_ID,
    INFERENCE_ID,
    INFERENCE_TIME,
    LABEL,
    META_COLUMNS,
    META_PREFIX,
    PREDICTION,
    PROBABILITY,
)
from mmon.capture.merge import MergeSummary, capture_merge
from mmon.capture.table import is_meta_column
from mmon.capture.window import Window, parse_duration, parse_time, resolve_window

if TYPE_CHECKING:
    from mmon.capture.encode import CaptureRecord
    from mmon.capture.middleware import CaptureMiddleware, WSGICaptureMiddleware
    from mmon.capture.writer import CaptureWriter

_LAZY = {
    "CaptureWriter": "mmon.capture.writer",
    "CaptureRecord": "mmon.capture.encode",
    "CaptureMiddleware": "mmon.capture.middleware",
    "WSGICaptureMiddleware": "mmon.capture.middleware",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmon.capture' has no attribute {name!r}")


__all__ = [
    "CaptureMiddleware",
    "CaptureRecord",
    "CaptureWriter",
    "WSGICaptureMiddleware",
    "EVENT_ID",
    "INFERENCE_ID",
    "INFERENCE_TIME",
    "LABEL",
    "META_COLUMNS",
    "META_PREFIX",
    "PREDICTION",
    "PROBABILITY",
    "MergeSummary",
    "Window",
    "capture_merge",
    "is_meta_column",
    "parse_duration",
    "parse_time",
    "resolve_window",
]
