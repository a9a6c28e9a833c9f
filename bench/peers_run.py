"""Evidently's DataDriftPreset for bench/run.py: one reference file against one current file.

Runs in the peers' own venv (bench/.venv-peers, made by bench/baseline.py's ``ensure_peers``), never
in mmon's: Evidently pins older numpy/pandas than mmon uses. Both files are read with pandas
(pyarrow) inside this process, as a user of Evidently would, so the caller's measurement of this
process is Evidently's own wall time and peak memory, reading included.

    python bench/peers_run.py REFERENCE CURRENT   # prints one JSON line: timings, drifted columns
    python bench/peers_run.py --smoke             # a 2 x 2,000-row run: does the install work?

The preset is Evidently's default: ``Report([DataDriftPreset()], include_tests=True)``. Evidently
picks a test per column from its type and row count (for more than 1,000 rows: normed Wasserstein
distance for numbers, Jensen-Shannon distance for categories, both with threshold 0.1) and marks the
column drifted when its test fails. The drifted columns are read from the per-column tests
("Value Drift for column …" with status FAIL), their count from ``DriftedColumnsCount``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers_baseline import read_frame  # noqa: E402  (same reader as the baseline benchmark)


def smoke_frames() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 2000

    def frame(shift: float) -> Any:
        return pd.DataFrame(
            {
                "x": rng.normal(shift, 1.0, n),
                "k": rng.integers(0, 100, n),
                "s": rng.choice(["a", "b", "c"], n).astype(object),
            }
        )

    return frame(0.0), frame(1.0)


def run_drift(reference: Any, current: Any) -> dict[str, Any]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        reference_data=reference, current_data=current
    )
    body = snapshot.dict()
    count = None
    share = None
    methods: dict[str, dict[str, Any]] = {}
    for m in body.get("metrics", []):
        cfg = m.get("config", {})
        kind = str(cfg.get("type", ""))
        if kind.endswith("DriftedColumnsCount"):
            value = m.get("value") or {}
            count = value.get("count")
            share = value.get("share")
        elif kind.endswith("ValueDrift"):
            methods[str(cfg.get("column"))] = {
                "method": cfg.get("method"),
                "threshold": cfg.get("threshold"),
                "score": m.get("value"),
            }
    drifted = []
    for t in body.get("tests", []):
        params = (t.get("metric_config") or {}).get("params") or {}
        if str(params.get("type", "")).endswith("ValueDrift") and t.get("status") == "FAIL":
            drifted.append(str(params.get("column")))
    return {
        "drifted_count": int(count) if count is not None else len(drifted),
        "drifted_share": share,
        "drifted": sorted(drifted),
        "columns": methods,
        "version": version("evidently"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reference", nargs="?", help="reference (baseline) Parquet or CSV file")
    ap.add_argument("current", nargs="?", help="current window, Parquet or CSV")
    ap.add_argument("--smoke", action="store_true", help="two small in-memory frames instead of files")
    args = ap.parse_args(argv)
    if not args.smoke and not (args.reference and args.current):
        ap.error("REFERENCE and CURRENT are required unless --smoke")

    t0 = time.perf_counter()
    if args.smoke:
        ref, cur = smoke_frames()
    else:
        ref = read_frame(args.reference)
        cur = read_frame(args.current)
    t1 = time.perf_counter()
    info = run_drift(ref, cur)
    t2 = time.perf_counter()
    info.update(
        tool="evidently",
        preset="DataDriftPreset",
        reference_rows=int(len(ref)),
        current_rows=int(len(cur)),
        read_s=round(t1 - t0, 3),
        drift_s=round(t2 - t1, 3),
    )
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
