"""``statistics.json`` (data quality) from profile states, and back.

Writing follows what SageMaker's current analyzer writes (format study §1.2–1.3): key order,
which numbers are doubles and which longs, ``approximate_num_distinct_values`` and
``completeness``, 10 KLL buckets computed from the sketch, the sketch itself, and categorical
buckets for strings with at most 120 distinct values, in Scala HashMap order.

Reading accepts both the 2020 and the current generation and rebuilds each feature's sketch, so a
SageMaker-made baseline serves exactly like an mmon-made one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mmon.stats import dtypes
from mmon.stats.kll import KLLSketch
from mmon.stats.profile import ColumnState, ProfileState
from mmon.stats.scala_order import scala_hashmap_order

# Deequ's ColumnProfiler.DEFAULT_CARDINALITY_THRESHOLD: strings get categorical buckets (and
# suggested domains) only up to this many distinct values.
CATEGORICAL_THRESHOLD = 120
KLL_BUCKETS = 10


def _feature(col: ColumnState, item_count: int) -> dict[str, Any]:
    kind = col.inferred_type
    present = col.present
    common = {"num_present": present, "num_missing": col.nulls}
    completeness = present / item_count if item_count else 0.0
    if kind in (dtypes.INTEGRAL, dtypes.FRACTIONAL):
        mean = col.num_sum / col.num_n if col.num_n else 0.0
        return {
            "name": col.name,
            "inferred_type": kind,
            "numerical_statistics": {
                "common": common,
                "mean": float(mean),
                "sum": float(col.num_sum),
                "std_dev": float(col.std_dev()),
                "min": float(col.num_min),
                "max": float(col.num_max),
                "approximate_num_distinct_values": int(round(col.distinct())),
                "completeness": float(completeness),
                "distribution": {
                    "kll": {
                        "buckets": col.kll.buckets(col.num_min, col.num_max, KLL_BUCKETS),
                        "sketch": {
                            "parameters": {"c": float(col.kll.c), "k": float(col.kll.k)},
                            "data": col.kll.to_data(),
                        },
                    }
                },
            },
        }
    stats: dict[str, Any] = {
        "common": common,
        "distinct_count": float(round(col.distinct())),
        "completeness": float(completeness),
    }
    if col.categories is not None and 0 < len(col.categories) <= CATEGORICAL_THRESHOLD:
        order = scala_hashmap_order(list(col.categories))
        stats["distribution"] = {
            "categorical": {"buckets": [{"value": v, "count": int(col.categories[v])} for v in order]}
        }
    # SageMaker knows Integral, Fractional, String and Unknown; a pure true/false column is
    # reported as String (its values are then String-compatible in the data-type check).
    inferred = dtypes.STRING if kind == dtypes.BOOLEAN else kind
    return {"name": col.name, "inferred_type": inferred, "string_statistics": stats}


def to_statistics(state: ProfileState) -> dict[str, Any]:
    """The statistics.json document of a profiled dataset."""
    return {
        "version": 0.0,
        "dataset": {"item_count": int(state.rows)},
        "features": [_feature(col, state.rows) for col in state.columns.values()],
    }


# -- reading ----------------------------------------------------------------------------------


def _num(x: Any) -> float:
    """A number from a SageMaker file, where Jackson may have written NaN/Infinity as strings."""
    if isinstance(x, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(x, math.nan)
    return float(x) if x is not None else math.nan


@dataclass
class FeatureStatistics:
    """One feature of a statistics.json, as the checks need it."""

    name: str
    inferred_type: str
    num_present: int
    num_missing: int
    completeness: float | None = None
    mean: float | None = None
    sum: float | None = None
    std_dev: float | None = None
    min: float | None = None
    max: float | None = None
    distinct: float | None = None
    sketch: KLLSketch | None = None
    buckets: list[dict[str, Any]] = field(default_factory=list)
    categories: dict[str, int] | None = None

    @property
    def is_numeric(self) -> bool:
        return self.inferred_type in (dtypes.INTEGRAL, dtypes.FRACTIONAL)


@dataclass
class DatasetStatistics:
    item_count: int
    features: dict[str, FeatureStatistics]


def read_statistics(doc: dict[str, Any]) -> DatasetStatistics:
    """Parse a (validated) data-quality statistics.json, rebuilding sketches for quantiles and CDFs."""
    item_count = int(_num(doc.get("dataset", {}).get("item_count", 0)))
    out: dict[str, FeatureStatistics] = {}
    for f in doc.get("features", []):
        ns = f.get("numerical_statistics")
        ss = f.get("string_statistics")
        body = ns if ns is not None else (ss or {})
        common = body.get("common", {})
        present = int(_num(common.get("num_present", 0)))
        missing = int(_num(common.get("num_missing", 0)))
        fs = FeatureStatistics(
            name=f["name"],
            inferred_type=f.get("inferred_type", dtypes.UNKNOWN),
            num_present=present,
            num_missing=missing,
        )
        total = present + missing
        fs.completeness = _num(body["completeness"]) if "completeness" in body else (present / total if total else None)
        if ns is not None:
            fs.mean, fs.sum, fs.std_dev = _num(ns.get("mean")), _num(ns.get("sum")), _num(ns.get("std_dev"))
            fs.min, fs.max = _num(ns.get("min")), _num(ns.get("max"))
            if "approximate_num_distinct_values" in ns:
                fs.distinct = _num(ns["approximate_num_distinct_values"])
            kll = ns.get("distribution", {}).get("kll", {})
            fs.buckets = list(kll.get("buckets", []))
            sk = kll.get("sketch")
            if sk and sk.get("data") is not None:
                params = sk.get("parameters", {})
                fs.sketch = KLLSketch.from_data(
                    [[_num(x) for x in level] for level in sk["data"]],
                    k=int(_num(params.get("k", 2048))),
                    c=_num(params.get("c", 0.64)),
                )
        elif ss is not None:
            if "distinct_count" in ss:
                fs.distinct = _num(ss["distinct_count"])
            cat = ss.get("distribution", {}).get("categorical", {})
            if "buckets" in cat:
                fs.categories = {str(b["value"]): int(_num(b["count"])) for b in cat["buckets"]}
        out[fs.name] = fs
    return DatasetStatistics(item_count=item_count, features=out)
