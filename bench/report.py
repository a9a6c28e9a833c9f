"""Size and build time of `mmon report` for wide data-quality runs; prints a table.

    python bench/report.py                          # 500 features (400 numeric, 100 strings)
    python bench/report.py --features 100 500 1000 --repeat 5

Baseline 20 000 rows, window 5 000 rows (half the numeric features shifted). The build is timed
in-process (``mmon.report.write_report``: reading and schema-checking the two statistics files and
the constraints, the panels, the HTML, the write), best of ``--repeat``, CPU (user + sys of this
process) and wall; then the whole ``mmon report`` command once (start-up and imports included).
Issue 18 asks for a 500-feature report built in <= 2 s and <= 2 MB. The machine's load average
is printed beside each row: on a loaded machine wall times (and, less, CPU times) are inflated.
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


def measure(features: int, repeat: int, tmp: Path) -> dict[str, float]:
    numeric = features * 4 // 5
    strings = features - numeric
    mmon = [sys.executable, "-m", "mmon"]
    t = tmp / str(features)
    t.mkdir()
    frame(20_000, numeric, strings, 0.0, 1).write_parquet(t / "base.parquet")
    frame(5_000, numeric, strings, 0.3, 2).write_parquet(t / "cur.parquet")
    subprocess.run([*mmon, "baseline", str(t / "base.parquet"), "-o", str(t / "base"), "-q"], stdout=subprocess.DEVNULL, check=True)
    subprocess.run([*mmon, "run", str(t / "cur.parquet"), "--baseline-statistics", str(t / "base/statistics.json"),
                    "--baseline-constraints", str(t / "base/constraints.json"), "-o", str(t / "out"), "-q",
                    "--no-fail-on-violations"], stdout=subprocess.DEVNULL, check=True)  # fmt: skip
    from mmon.report import Sources, write_report
    from mmon.store import Store

    store, folder = Store({}), str(t / "out")
    base: Sources = {"baseline_statistics": str(t / "base/statistics.json"), "baseline_constraints": str(t / "base/constraints.json")}
    write_report(store, folder, **base)  # once untimed: templates compiled, modules imported (as in any later build)
    walls, cpus = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        result = write_report(store, folder, **base)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    load = os.getloadavg()[0]
    w0 = time.perf_counter()
    subprocess.run([*mmon, "report", str(t / "out"), "--baseline-statistics", str(t / "base/statistics.json"),
                    "--baseline-constraints", str(t / "base/constraints.json")], check=True, capture_output=True)  # fmt: skip
    return {
        "features": features,
        "cpu": min(cpus),
        "wall": min(walls),
        "command": time.perf_counter() - w0,
        "page": (t / "out" / "report.html").stat().st_size,
        "stats": os.path.getsize(t / "base/statistics.json") + os.path.getsize(t / "out/statistics.json"),
        "load": load,
        "violations": result.violations or 0,
        "panels": result.panels,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=int, nargs="+", default=[500])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(f, args.repeat, Path(tmp)) for f in args.features]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n`mmon report` of a data-quality run (baseline 20 000 rows, window 5 000; 4/5 numeric), best of {args.repeat}\n")
    print("| features | build CPU s | build wall s | `mmon report` wall s | page bytes | statistics bytes (both files) | panels | violations | load avg (1 min) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['features']} | {r['cpu']:.2f} | {r['wall']:.2f} | {r['command']:.2f} | {r['page']:,} | {r['stats']:,} | "
              f"{r['panels']} | {r['violations']} | {r['load']:.1f} |")  # fmt: skip
    print(f"\npeak RSS of the bench process: {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
