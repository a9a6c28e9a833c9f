"""Reading a ``constraint_violations.json`` report: SageMaker's or mmon's, any generation."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from mmon.publish import load_report_document
from mmon.store import Store, join

VIOLATIONS_FILE = "constraint_violations.json"


@dataclass(frozen=True)
class Violation:
    feature: str
    check: str
    description: str
    raw: dict[str, Any]


def report_url(store: Store, report: str) -> str:
    """A report file, or a folder that holds ``constraint_violations.json``."""
    if posixpath.basename(report.rstrip("/")) != VIOLATIONS_FILE and store.isdir(report):
        return join(report, VIOLATIONS_FILE)
    return report


def read_violations(store: Store, report: str) -> tuple[str, list[Violation]]:
    url = report_url(store, report)
    doc = load_report_document(store, url, "constraint_violations")  # trusts only a complete report
    out = []
    for v in doc.get("violations", []):
        # Model-quality and bias reports name a metric instead of a feature; bias adds its facet,
        # feature attribution its label.
        feature = v.get("feature_name") or v.get("metric_name") or ""
        if "facet" in v:
            feature = f"{feature} ({v['facet']}={v.get('facet_value', '')})"
        elif "label" in v and v.get("constraint_check_type") == "feature_attribution_drift_check":
            feature = f"{feature} (label {v['label']})"
        out.append(Violation(feature, v.get("constraint_check_type", ""), v.get("description", ""), v))
    return url, out


def select(violations: list[Violation], check_types: list[str] | None, features: list[str] | None) -> list[Violation]:
    return [
        v
        for v in violations
        if (not check_types or v.check in check_types) and (not features or v.feature in features)
    ]
