"""The fields every Clarify-style result (bias, feature attribution) starts with, in this order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class AnalysisResult:
    analysis: dict[str, Any]  # the analysis.json document written (or that a baseline wrote)
    violations: list[dict[str, Any]]
    outputs: dict[str, str]  # report key -> URL written
    warnings: list[str]
    rows: int  # rows of the data read
