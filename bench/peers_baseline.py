"""Peer profilers for bench/baseline.py: whylogs and Evidently profiling one file.

Runs in the peers' own venv (bench/.venv-peers, made by bench/baseline.py), never in mmon's: both
tools pin older numpy/pandas than mmon uses. Each call profiles one file in this process, so the
caller's measurement of this process is the tool's own wall time and peak memory, reading
included: both tools profile pandas DataFrames, so the file is read with pandas (pyarrow).

    python bench/peers_baseline.py whylogs FILE      # prints one JSON line: timings, rows, version
    python bench/peers_baseline.py evidently FILE
    python bench/peers_baseline.py --smoke TOOL      # a 1,000-row run: does the install work?

Only the standard library, pandas and the tool are imported here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from typing import Any

TOOLS = ("whylogs", "evidently")


def read_frame(path: str) -> Any:
    import pandas as pd

    if path.endswith((".parquet", ".pq")):
        return pd.read_parquet(path, engine="pyarrow")
    # The pyarrow CSV engine reads with both cores; the result is an ordinary numpy-backed frame.
    return pd.read_csv(path, engine="pyarrow")


def smoke_frame() -> Any:
    """A 1,000-row frame, round-tripped through Parquet and CSV so the readers are checked too."""
    import os
    import tempfile

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 1000
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 100, n),
            "s": rng.choice(["a", "b", "c"], n).astype(object),
        }
    )
    df.loc[::50, "x"] = None
    df.loc[::40, "s"] = None
    with tempfile.TemporaryDirectory() as tmp:
        pq, csv = os.path.join(tmp, "s.parquet"), os.path.join(tmp, "s.csv")
        df.to_parquet(pq)
        df.to_csv(csv, index=False)
        read_frame(csv)
        return read_frame(pq)


# -- the tools ------------------------------------------------------------------------------------


def run_whylogs(df: Any) -> dict[str, Any]:
    """``why.log(df)``: whylogs' standard profile (counts, types, KLL quantiles, HLL distinct,
    frequent items) of every column; the profile view is summarised to a frame as a user would."""
    import whylogs as why

    results = why.log(df)
    view = results.view()
    summary = view.to_pandas()
    return {"columns": int(summary.shape[0]), "version": version("whylogs")}


def run_evidently(df: Any) -> dict[str, Any]:
    """Evidently's data summary of the frame (per column count, missing, min/max/mean/std, quantiles,
    unique and most common values): the preset closest to a profile. Uses the 0.7+ API
    (``evidently.presets.DataSummaryPreset``), else the legacy ``DataQualityPreset`` report."""
    try:
        from evidently import Report
        from evidently.presets import DataSummaryPreset

        snapshot = Report([DataSummaryPreset()]).run(current_data=df)
        body = snapshot.dict()
        preset = "DataSummaryPreset"
        metrics = len(body.get("metrics", []))
    except ImportError:
        try:
            from evidently.metric_preset import DataQualityPreset  # type: ignore[import-not-found]
            from evidently.report import Report as LegacyReport  # type: ignore[import-not-found]
        except ImportError:
            from evidently.legacy.metric_preset import DataQualityPreset  # type: ignore[import-not-found]
            from evidently.legacy.report import Report as LegacyReport  # type: ignore[import-not-found]
        report = LegacyReport(metrics=[DataQualityPreset()])
        report.run(reference_data=None, current_data=df)
        body = report.as_dict()
        preset = "DataQualityPreset (legacy API)"
        metrics = len(body.get("metrics", []))
    return {"metrics": metrics, "preset": preset, "version": version("evidently")}


RUNNERS = {"whylogs": run_whylogs, "evidently": run_evidently}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tool", choices=TOOLS)
    ap.add_argument("file", nargs="?", help="Parquet or CSV file to profile")
    ap.add_argument("--smoke", action="store_true", help="profile a small in-memory frame instead of a file")
    args = ap.parse_args(argv)
    if not args.smoke and not args.file:
        ap.error("FILE is required unless --smoke")

    t0 = time.perf_counter()
    df = smoke_frame() if args.smoke else read_frame(args.file)
    t1 = time.perf_counter()
    info = RUNNERS[args.tool](df)
    t2 = time.perf_counter()
    info.update(tool=args.tool, rows=int(len(df)), read_s=round(t1 - t0, 3), profile_s=round(t2 - t1, 3))
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
