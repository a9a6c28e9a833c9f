"""SageMaker data capture and ground truth: windows, parsing, merging (``mmon capture-merge``)."""

from mmon.capture.merge import (
    EVENT_ID,
    INFERENCE_ID,
    INFERENCE_TIME,
    LABEL,
    META_COLUMNS,
    META_PREFIX,
    PREDICTION,
    PROBABILITY,
    MergeSummary,
    capture_merge,
    is_meta_column,
)
from mmon.capture.window import Window, parse_duration, parse_time, resolve_window

__all__ = [
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
