"""Reading a data-quality statistics.json for the report: ``read_statistics``, sketches in numpy.

``mmon.stats.statistics.read_statistics`` converts every sketch item through a Python function
(it must accept Jackson's ``"NaN"`` strings); a 500-feature baseline holds ~3 million of them,
which was most of a report's build time. Here the sketch levels are taken out first, the rest is
read by ``read_statistics`` itself, and each level is converted with one ``numpy.asarray`` call,
falling back to ``read_statistics``' own conversion for a level that is not all numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmon.schemas import kll_sketch, without_sketch_data
from mmon.stats.kll import KLLSketch
from mmon.stats.statistics import DatasetStatistics, _num, read_statistics


def _level(level: Any) -> np.ndarray | list[float]:
    try:
        return np.asarray(level, dtype=np.float64)
    except (TypeError, ValueError):
        return [_num(x) for x in level]


def read_statistics_fast(doc: dict[str, Any]) -> DatasetStatistics:
    """Same result as ``read_statistics(doc)`` (tested), several times faster on large sketches."""
    sketches: dict[str, dict[str, Any]] = {}
    features = []
    for f in doc.get("features", []):
        sketch = kll_sketch(f)
        if sketch is None or not isinstance(sketch["data"], list):
            features.append(f)
            continue
        sketches[f["name"]] = sketch
        features.append(without_sketch_data(f))
    out = read_statistics({**doc, "features": features})
    for name, sketch in sketches.items():
        params = sketch.get("parameters", {})
        out.features[name].sketch = KLLSketch.from_data(
            [_level(level) for level in sketch["data"]],  # type: ignore[misc]
            k=int(_num(params.get("k", 2048))),
            c=_num(params.get("c", 0.64)),
        )
    return out
