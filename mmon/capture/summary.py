"""The counts of one ``capture_merge`` run (``merge_summary.json``): what was read, kept, dropped
and why, so that nothing is dropped silently."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mmon.capture.records import MAX_EXAMPLES, Problem
from mmon.capture.window import Window, format_duration
from mmon.errors import InputError


@dataclass
class MergeSummary:
    window: Window
    capture: str
    ground_truth: str | None
    output: str
    output_format: str
    output_kind: str  # "flat" | "merged" | "preprocessed"
    hour_folders: int = 0
    files: int = 0
    records: int = 0  # non-blank lines of the capture files read
    malformed_lines: int = 0
    shadow_skipped: int = 0
    outside_window: int = 0
    in_window: int = 0
    duplicates: int = 0
    malformed_payloads: int = 0
    preprocessor_errors: int = 0
    preprocessor_dropped: int = 0
    label_hour_folders: int = 0
    label_files: int = 0
    label_lines: int = 0
    label_malformed_lines: int = 0
    labels: int = 0  # distinct labelled keys
    duplicate_labels: int = 0
    matched: int = 0
    captured_without_label: int = 0
    labels_without_capture: int = 0
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    part_names: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    preprocessor_problems: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    capture_lookbehind: timedelta = timedelta(0)
    ground_truth_lookahead: timedelta = timedelta(0)

    @property
    def kept(self) -> int:
        """Records of the window after duplicates are dropped."""
        return self.in_window - self.duplicates

    def add_problem(self, p: Problem) -> None:
        if len(self.problems) < MAX_EXAMPLES:
            self.problems.append(p)

    def add_problems(self, problems: list[Problem], malformed: int, strict: bool, where: str = "") -> None:
        """A parsed file's (or batch's) problems, the first MAX_EXAMPLES kept; with ``--strict`` a
        malformed line is an error naming the first one."""
        for p in problems:
            self.add_problem(p)
        if strict and malformed:
            raise InputError(f"{problems[0]} ({malformed} malformed line(s){where}; --strict)")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "window": self.window.to_dict(),
            "capture": {
                "uri": self.capture,
                "lookbehind": format_duration(self.capture_lookbehind),
                "hour_folders": self.hour_folders,
                "files": self.files,
                "records": self.records,
                "malformed_lines": self.malformed_lines,
                "shadow_skipped": self.shadow_skipped,
                "outside_window": self.outside_window,
                "in_window": self.in_window,
                "duplicates": self.duplicates,
                "kept": self.kept,
                "malformed_payloads": self.malformed_payloads,
                "preprocessor_errors": self.preprocessor_errors,
                "preprocessor_dropped": self.preprocessor_dropped,
            },
            "ground_truth": None,
            "output": {
                "path": self.output,
                "format": self.output_format,
                "kind": self.output_kind,
                "rows": self.rows,
                "columns": self.columns,
                "parts": self.part_names,
            },
            "malformed_examples": [p.to_dict() for p in self.problems],
            "preprocessor_error_examples": self.preprocessor_problems,
            "warnings": self.warnings,
        }
        if self.ground_truth is not None:
            d["ground_truth"] = {
                "uri": self.ground_truth,
                "lookahead": format_duration(self.ground_truth_lookahead),
                "hour_folders": self.label_hour_folders,
                "files": self.label_files,
                "records": self.label_lines,
                "malformed_lines": self.label_malformed_lines,
                "labels": self.labels,
                "duplicate_labels": self.duplicate_labels,
                "matched": self.matched,
                "captured_without_label": self.captured_without_label,
                "labels_without_capture": self.labels_without_capture,
            }
        return d
