"""Size and build time of `mmon report` for a wide data-quality run; prints a table.

    python bench/report.py                      # 500 features (400 numeric, 100 strings)
    python bench/report.py --features 1000 --repeat 5

Baseline 20 000 rows, window 5 000 rows (half the numeric features shifted). The build is timed
in-process (``mmon.report.write_report``: reading and schema-checking the two statistics files,
the panels, the HTML), best of ``--repeat``, wall and CPU; then the whole command once.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def frame(n: int, numeric: int, strings: int, shift: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {f"n{i:04d}": rng.normal(shift if i % 2 else 0.0, 1.0, n) for i in range(numeric)}
    cats = np.array([f"c{k}" for k in range(12)])
    cols |= {f"s{i:04d}": cats[rng.integers(0, 12 if shift == 0 else 10, n)] for i in range(strings)}
    return pl.DataFrame(cols)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    numeric = args.features * 4 // 5
    strings = args.features - numeric
    mmon = [sys.executable, "-m", "mmon"]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        frame(20_000, numeric, strings, 0.0, 1).write_parquet(t / "base.parquet")
        frame(5_000, numeric, strings, 0.3, 2).write_parquet(t / "cur.parquet")
        subprocess.run([*mmon, "baseline", str(t / "base.parquet"), "-o", str(t / "base"), "-q"], check=True)
        subprocess.run([*mmon, "run", str(t / "cur.parquet"), "--baseline-statistics", str(t / "base/statistics.json"),
                        "--baseline-constraints", str(t / "base/constraints.json"), "-o", str(t / "out"), "-q",
                        "--no-fail-on-violations"], check=True)  # fmt: skip
        from mmon.report import write_report
        from mmon.store import Store

        walls, cpus = [], []
        for _ in range(args.repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            result = write_report(Store({}), str(t / "out"), str(t / "base/statistics.json"), str(t / "base/constraints.json"))
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        size = (t / "out" / "report.html").stat().st_size
        w0 = time.perf_counter()
        subprocess.run([*mmon, "report", str(t / "out"), "--baseline-statistics", str(t / "base/statistics.json"),
                        "--baseline-constraints", str(t / "base/constraints.json")], check=True, capture_output=True)  # fmt: skip
        cmd_wall = time.perf_counter() - w0
        stats_mb = (os.path.getsize(t / "base/statistics.json") + os.path.getsize(t / "out/statistics.json")) / 1e6
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{args.features} features ({numeric} numeric, {strings} strings), statistics files {stats_mb:.1f} MB, "
          f"{result.violations} violations, {result.panels} panels; load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| measure | value |\n|---|---:|")
    print(f"| report.html size | {size / 1e6:.2f} MB ({size:,} bytes) |")
    print(f"| build (write_report), best of {args.repeat}: wall | {min(walls):.2f} s |")
    print(f"| build (write_report), best of {args.repeat}: CPU | {min(cpus):.2f} s |")
    print(f"| whole `mmon report` command (start-up and imports included): wall | {cmd_wall:.2f} s |")
    print(f"| peak RSS of the bench process | {peak:.0f} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
