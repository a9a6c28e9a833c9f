"""Benchmark of ``capture_merge``: 1M captured records over 24 hour folders, 70 % labelled.

    python bench/capture_merge.py [--records 1000000] [--hours 24] [--files-per-hour 100] [--dir DIR]

Writes the synthetic capture (SageMaker's exact format, the demo model's 7 inputs + 1 output per
record) and ground truth to DIR (a temporary folder by default), then times each merge in a fresh
process and reports its wall time and peak RSS (``wait4``'s ru_maxrss of that process alone):
a 1-hour and a 24-hour window, for the data-quality table and for the merge with ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta


def generate(root: str, records: int, hours: int, files_per_hour: int) -> None:
    import polars as pl

    from mmon.capture.synth import write_capture
    from mmon.demo import make_frame
    from mmon.store import Store

    frame = make_frame(records, seed=3)
    labels = (pl.Series(range(records)) % 3 == 0).cast(pl.Int8).to_list()
    t = time.perf_counter()
    r = write_capture(
        Store(), os.path.join(root, "datacapture", "bench-endpoint", "AllTraffic"), frame.drop("approved_probability"),
        frame["approved_probability"], datetime(2024, 1, 1, tzinfo=UTC), -(-records // hours),
        ground_truth=os.path.join(root, "groundtruth"), labels=labels, label_fraction=0.7,
        label_delay=timedelta(minutes=20), files_per_hour=files_per_hour, seed=3,
    )  # fmt: skip
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
    print(
        f"generated {r.records:,} records in {r.files:,} files over {r.hours} hour folders, {r.labels:,} labels "
        f"in {r.label_files} files, {size / 2**20:,.0f} MiB, in {time.perf_counter() - t:.1f} s",
        flush=True,
    )


def run_one(argv: list[str]) -> None:
    """Child process: one merge, prints its summary counts as JSON."""
    from mmon.capture.merge import capture_merge
    from mmon.capture.window import Window, parse_time
    from mmon.store import Store

    capture, gt, out, start, end, fmt, flat = argv
    s = capture_merge(
        Store(), capture, out, Window(parse_time(start), parse_time(end)),
        ground_truth=None if gt == "-" else gt, fmt=fmt, flat=flat == "1",
        ground_truth_lookahead=timedelta(hours=1) if gt != "-" else timedelta(0),
    )  # fmt: skip
    print(json.dumps({"files": s.files, "records": s.records, "rows": s.rows, "matched": s.matched}))


def measure(args: list[str]) -> tuple[float, float, dict]:
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--run", *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"merge failed: {args}")
    return wall, usage.ru_maxrss / 1024, json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--files-per-hour", type=int, default=100)
    ap.add_argument("--dir", help="where to write the data (kept); default: a temporary folder (removed)")
    ap.add_argument("--run", nargs=7, help=argparse.SUPPRESS)
    ap.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:
        run_one(a.run)
        return
    if a.generate:
        generate(a.generate[0], int(a.generate[1]), int(a.generate[2]), int(a.generate[3]))
        return
    root = a.dir or tempfile.mkdtemp(prefix="mmon-bench-capture-")
    try:
        if not os.path.isdir(os.path.join(root, "datacapture")):
            # In a child process: this process stays small, so the children it times do not
            # inherit a large peak RSS (Linux carries ru_maxrss across fork and exec).
            subprocess.run([sys.executable, __file__, "--generate", root, str(a.records), str(a.hours),
                            str(a.files_per_hour)], check=True)  # fmt: skip
        cap = os.path.join(root, "datacapture", "bench-endpoint", "AllTraffic")
        gt = os.path.join(root, "groundtruth")
        one = ("2024-01-01T12:00:00Z", "2024-01-01T13:00:00Z")
        day = ("2024-01-01T00:00:00Z", f"{(datetime(2024, 1, 1) + timedelta(hours=a.hours)):%Y-%m-%dT%H:%M:%S}Z")
        cases = [
            ("1 hour, data quality (jsonl)", [cap, "-", os.path.join(root, "o1"), *one, "jsonl", "0"]),
            ("1 hour, data quality (parquet)", [cap, "-", os.path.join(root, "o2"), *one, "parquet", "0"]),
            ("1 hour, ground truth merged records", [cap, gt, os.path.join(root, "o3"), *one, "jsonl", "0"]),
            (f"{a.hours} hours, data quality (jsonl)", [cap, "-", os.path.join(root, "o4"), *day, "jsonl", "0"]),
            (f"{a.hours} hours, data quality (parquet)", [cap, "-", os.path.join(root, "o5"), *day, "parquet", "0"]),
            (f"{a.hours} hours, ground truth merged records", [cap, gt, os.path.join(root, "o6"), *day, "jsonl", "0"]),
            (f"{a.hours} hours, ground truth flat (parquet)", [cap, gt, os.path.join(root, "o7"), *day, "parquet", "1"]),
        ]
        print(f"{'window':<40} {'files':>6} {'records':>10} {'rows out':>10} {'matched':>9} {'wall s':>8} {'peak RSS MiB':>13}")
        for name, args in cases:
            wall, rss, c = measure(args)
            print(f"{name:<40} {c['files']:>6,} {c['records']:>10,} {c['rows']:>10,} {c['matched']:>9,} {wall:>8.2f} {rss:>13,.0f}", flush=True)
    finally:
        if not a.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
