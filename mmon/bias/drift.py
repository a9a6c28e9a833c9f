"""Bias drift: the current analysis against the baseline analysis.json (format study §7.4).

SageMaker's rule (DG ``clarify-model-monitor-bias-drift-violations``): a metric is violated when its
current value is *worse* than the baseline's, i.e. farther from 0: ``|current| > |baseline|`` (with
a 1e-12 relative tolerance so identical data never flags on rounding). SageMaker's real reports
(``external/amazon-sagemaker-examples/clarify-adult/violations.*.json``) settle the two open
points: disparate impact is compared the same way (DI 0.083 against a baseline of 0.178 is not a
violation, although DI's ideal is 1), and an infinite value (a division by zero, e.g. TE with no
false positive in facet *d*) is a violation against a finite baseline, printed ``Infinity``.

Never a violation -- reported in ``not_judged`` with the reason instead:

* the facet value is absent from the window (no row of facet *d*), or the stage was not computed;
* too few rows: facet *d* or facet *a* has fewer than ``min_rows`` rows in the window;
* the current value is undefined (Clarify's ``error``, e.g. "No positive labels in set") or NaN,
  or the baseline's is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mmon.bias.compute import Analysis, Entry, facet_value_key
from mmon.errors import InputError

STAGES = ("pre_training_bias_metrics", "post_training_bias_metrics")
STAGE_NAMES = {"pre_training_bias_metrics": "Pre-training", "post_training_bias_metrics": "Post-Training"}
CHECK = "bias_drift_check"
TOLERANCE = 1e-12


def metric_value(v: Any) -> float | None:
    """A metric value as written by Clarify: number, null, or the strings Infinity / -Infinity / NaN."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.replace("Infinity", "inf"))
        except ValueError:
            return None
    return None


def value_text(v: Any) -> str:
    """A value in a description, as Clarify (Python) prints it: ``0.1``, ``-0.3``, ``Infinity``."""
    x = metric_value(v)
    if x is None:
        return "null"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return repr(x)


def check_analysis(doc: Any, source: str) -> dict[str, Any]:
    """Check the shape of a Clarify analysis.json used as the bias constraints (InputError, exit 2)."""
    if not isinstance(doc, dict):
        raise InputError(f"{source}: expected a JSON object at /")
    if not any(s in doc for s in STAGES):
        raise InputError(
            f"{source}: not a Clarify bias analysis (no pre_training_bias_metrics / post_training_bias_metrics) at /"
        )
    for stage in STAGES:
        if stage not in doc:
            continue
        sec = doc[stage]
        if not isinstance(sec, dict) or not isinstance(sec.get("facets"), dict):
            raise InputError(f"{source}: expected an object with 'facets' at /{stage}")
        for facet, entries in sec["facets"].items():
            if not isinstance(entries, list):
                raise InputError(f"{source}: expected a list at /{stage}/facets/{facet}")
            for i, e in enumerate(entries):
                where = f"/{stage}/facets/{facet}/{i}"
                if (
                    not isinstance(e, dict)
                    or "value_or_threshold" not in e
                    or not isinstance(e.get("metrics"), list)
                ):
                    raise InputError(f"{source}: expected value_or_threshold and metrics at {where}")
                for j, m in enumerate(e["metrics"]):
                    if not isinstance(m, dict) or not isinstance(m.get("name"), str) or "value" not in m:
                        raise InputError(
                            f"{source}: expected a metric with name and value at {where}/metrics/{j}"
                        )
    return doc


def pinned_facets(baseline: dict[str, Any]) -> dict[str, bool]:
    """Facet name → continuous, as the baseline decided (an interval value means continuous)."""
    out: dict[str, bool] = {}
    for stage in STAGES:
        for facet, entries in baseline.get(stage, {}).get("facets", {}).items():
            for e in entries:
                v = str(e.get("value_or_threshold", ""))
                out[facet] = v.startswith("(") and v.endswith("]") and "," in v
    return out


@dataclass
class Judgement:
    violations: list[dict[str, Any]]
    not_judged: list[dict[str, Any]]
    compared: int


def _nj(stage: str, facet: str, value: str, metric: str | None, reason: str) -> dict[str, Any]:
    return {
        "stage": STAGE_NAMES[stage],
        "facet": facet,
        "facet_value": value,
        "metric_name": metric,
        "reason": reason,
    }


def compare(baseline: dict[str, Any], current: Analysis, min_rows: int) -> Judgement:
    violations: list[dict[str, Any]] = []
    not_judged: list[dict[str, Any]] = []
    compared = 0
    by_key: dict[tuple[str, str], Entry] = {(e.facet, e.key): e for e in current.entries}
    for stage in STAGES:
        if stage not in baseline:
            continue
        cur_sec = current.doc.get(stage)
        seen: set[tuple[str, str]] = set()
        for facet, entries in baseline[stage]["facets"].items():
            for be in entries:
                bvalue = str(be["value_or_threshold"])
                key = facet_value_key(bvalue)
                seen.add((facet, key))
                e = by_key.get((facet, key))
                if cur_sec is None:
                    not_judged.append(_nj(stage, facet, bvalue, None, "stage not computed in this run"))
                    continue
                pre = stage.startswith("pre")
                n_d, n_a = (e.n_d, e.n_a) if e and pre else (e.n_d_post, e.n_a_post) if e else (0, 0)
                if e is None or n_d == 0:
                    not_judged.append(_nj(stage, facet, bvalue, None, "facet value absent from the window"))
                    continue
                if n_a == 0:
                    not_judged.append(
                        _nj(stage, facet, bvalue, None, "no row outside the facet value in the window")
                    )
                    continue
                if n_d < min_rows or n_a < min_rows:
                    not_judged.append(
                        _nj(
                            stage,
                            facet,
                            bvalue,
                            None,
                            f"too few rows to judge: {n_d} in the facet value, {n_a} outside (minimum {min_rows})",
                        )
                    )
                    continue
                cur_metrics = {m["name"]: m for m in (e.pre if pre else e.post)}
                for bm in be["metrics"]:
                    name = bm["name"]
                    cm = cur_metrics.get(name)
                    if cm is None:
                        not_judged.append(_nj(stage, facet, bvalue, name, "not computed in this run"))
                        continue
                    b = metric_value(bm.get("value"))
                    c = metric_value(cm.get("value"))
                    if b is None:
                        why = bm.get("error") or "no value"
                        not_judged.append(
                            _nj(stage, facet, bvalue, name, f"the baseline has no value ({why})")
                        )
                        continue
                    if c is None:
                        not_judged.append(
                            _nj(
                                stage,
                                facet,
                                bvalue,
                                name,
                                f"no value in this window ({cm.get('error') or 'undefined'})",
                            )
                        )
                        continue
                    if math.isnan(c) or math.isnan(b):
                        not_judged.append(
                            _nj(stage, facet, bvalue, name, "the value is not a number in this window or the baseline")
                        )
                        continue
                    compared += 1
                    db, dc = abs(b), abs(c)
                    if dc > db + (0.0 if math.isinf(db) else TOLERANCE * max(1.0, db)):
                        violations.append(
                            {
                                "constraint_check_type": CHECK,
                                "description": f"Metric value {value_text(cm['value'])} doesn't meet the baseline "
                                f"constraint requirement {value_text(bm['value'])}",
                                "facet": facet,
                                "facet_value": bvalue,
                                "metric_name": name,
                            }
                        )
        for e in current.entries:
            if (e.facet, e.key) not in seen and stage in current.doc:
                not_judged.append(_nj(stage, e.facet, e.value, None, "facet value not in the baseline"))
    return Judgement(violations, not_judged, compared)
