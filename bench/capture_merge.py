"""Benchmark of ``capture_merge``: 1M captured records over 24 hour folders, 70 % labelled.

    python bench/capture_merge.py [--records 1000000] [--hours 24] [--files-per-hour 100] [--dir DIR]

Writes the synthetic capture (SageMaker's exact format, the demo model's 7 inputs + 1 output per
record) and ground truth to DIR (a temporary folder by default), then times each case in a fresh
process and reports its wall time, CPU seconds (user + system) and peak RSS (``wait4``'s rusage of
that process alone) beside the 1-minute load average: a bare polars pass over the same JSONL (the
tool a user would otherwise use), the data-quality table, the merge with ground truth (merged
records and flat Parquet), and ``mmon run --capture --scheduled-time`` over the whole day.

    python bench/capture_merge.py --records 1000000 --dir /tmp/cm1m --cases bare,dq,gt,gtp
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
    """Written one hour at a time (each hour its own seeded frame, inference ids counted on), so
    generating 10M records holds one hour's rows, not the day's."""
    import polars as pl

    from mmon.capture.synth import write_capture
    from mmon.demo import make_frame
    from mmon.store import Store

    per_hour = -(-records // hours)
    t = time.perf_counter()
    files = labels = label_files = 0
    for h in range(hours):
        first = h * per_hour
        n = min(per_hour, records - first)
        if n <= 0:
            break
        frame = make_frame(n, seed=3 + h)
        r = write_capture(
            Store(), os.path.join(root, "datacapture", "bench-endpoint", "AllTraffic"), frame.drop("approved_probability"),
            frame["approved_probability"], datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=h), per_hour,
            ground_truth=os.path.join(root, "groundtruth"), labels=(pl.int_range(first, first + n, eager=True) % 3 == 0).cast(pl.Int8),
            label_fraction=0.7, label_delay=timedelta(minutes=20), files_per_hour=files_per_hour, seed=3 + h, first_id=first,
        )  # fmt: skip
        files, labels, label_files = files + r.files, labels + r.labels, label_files + r.label_files
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
    print(
        f"generated {records:,} records in {files:,} files over {hours} hour folders, {labels:,} labels "
        f"in {label_files} files, {size / 2**20:,.0f} MiB, in {time.perf_counter() - t:.1f} s",
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
    print(json.dumps({"files": s.files, "records": s.records, "rows": s.rows, "matched": s.matched, "parts": len(s.part_names)}))


def bare_polars(argv: list[str]) -> None:
    """Child process: the pass a user would otherwise write -- polars reading the window's capture
    JSONL and splitting its CSV payloads into columns (no window filter, dedup, labels or output)."""
    import glob

    import polars as pl

    cap, out = argv
    files = sorted(glob.glob(os.path.join(cap, "*", "*", "*", "*", "*.jsonl")))
    cd = pl.col("captureData")
    lf = pl.scan_ndjson(files, infer_schema_length=1000).select(
        pl.col("eventMetadata").struct.field("eventId"),
        pl.col("eventMetadata").struct.field("inferenceTime"),
        cd.struct.field("endpointOutput").struct.field("data").alias("out"),
        cd.struct.field("endpointInput").struct.field("data").str.split(",").list.to_struct(
            fields=[f"i{k}" for k in range(7)]).alias("in"),
    ).unnest("in")
    df = lf.collect()
    df.write_parquet(os.path.join(out, "bare.parquet"))
    print(json.dumps({"files": len(files), "records": df.height, "rows": df.height, "matched": 0}))


def run_scheduled(argv: list[str]) -> None:
    """Child process: ``mmon run --capture … --scheduled-time`` over the whole day (data quality)."""
    from mmon.cli.app import main as cli

    cap, base, out, scheduled, hours = argv
    try:
        cli(["run", "--capture", cap, "--baseline-statistics", f"{base}/statistics.json", "--baseline-constraints",
             f"{base}/constraints.json", "--scheduled-time", scheduled, "--start-offset", f"-PT{hours}H",
             "--end-offset", "-PT0H", "-o", out, "-q"])  # fmt: skip
    except SystemExit as exc:
        if exc.code not in (0, 1, None):
            raise
    merged = glob_parts(out)
    print(json.dumps({"files": len(merged), "records": 0, "rows": 0, "matched": 0}))


def glob_parts(out: str) -> list[str]:
    import glob

    return glob.glob(os.path.join(out, "merge", "**", "part-*"), recursive=True)


def measure(mode: str, args: list[str]) -> tuple[float, float, float, dict]:
    """Wall s, CPU s (user + system) and peak RSS MiB of one child process, and what it printed."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, mode, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"failed: {mode} {args}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, json.loads(out.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--files-per-hour", type=int, default=100)
    ap.add_argument("--dir", help="where to write the data (kept); default: a temporary folder (removed)")
    ap.add_argument("--cases", default="bare,dq,dqp,gt,gtp,run",
                    help="comma-separated: bare (polars alone), dq, dqp (parquet), gt (merged records), "
                         "gtp (flat parquet), run (mmon run --capture --scheduled-time); 1h for the 1-hour windows")
    ap.add_argument("--run", nargs=7, help=argparse.SUPPRESS)
    ap.add_argument("--bare", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--scheduled", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:
        run_one(a.run)
        return
    if a.bare:
        bare_polars(a.bare)
        return
    if a.scheduled:
        run_scheduled(a.scheduled)
        return
    if a.generate:
        generate(a.generate[0], int(a.generate[1]), int(a.generate[2]), int(a.generate[3]))
        return
    root = a.dir or tempfile.mkdtemp(prefix="mmon-bench-capture-")
    wanted = set(a.cases.split(","))
    try:
        if not os.path.isdir(os.path.join(root, "datacapture")):
            # In a child process: this process stays small, so the children it times do not
            # inherit a large peak RSS (Linux carries ru_maxrss across fork and exec).
            subprocess.run([sys.executable, __file__, "--generate", root, str(a.records), str(a.hours),
                            str(a.files_per_hour)], check=True)  # fmt: skip
        cap = os.path.join(root, "datacapture", "bench-endpoint", "AllTraffic")
        gt = os.path.join(root, "groundtruth")
        one = ("2024-01-01T12:00:00Z", "2024-01-01T13:00:00Z")
        end = f"{(datetime(2024, 1, 1) + timedelta(hours=a.hours)):%Y-%m-%dT%H:%M:%S}Z"
        day = ("2024-01-01T00:00:00Z", end)
        o = lambda name: os.path.join(root, name)  # noqa: E731
        cases: list[tuple[str, str, str, list[str]]] = [
            ("1h", "1 hour, data quality (jsonl)", "--run", [cap, "-", o("o1"), *one, "jsonl", "0"]),
            ("1h", "1 hour, ground truth merged records", "--run", [cap, gt, o("o3"), *one, "jsonl", "0"]),
            ("bare", f"{a.hours} h, bare polars pass (scan_ndjson + split)", "--bare", [cap, root]),
            ("dq", f"{a.hours} h, data quality (jsonl)", "--run", [cap, "-", o("o4"), *day, "jsonl", "0"]),
            ("dqp", f"{a.hours} h, data quality (parquet)", "--run", [cap, "-", o("o5"), *day, "parquet", "0"]),
            ("gt", f"{a.hours} h, ground truth merged records", "--run", [cap, gt, o("o6"), *day, "jsonl", "0"]),
            ("gtp", f"{a.hours} h, ground truth flat (parquet)", "--run", [cap, gt, o("o7"), *day, "parquet", "1"]),
            ("run", f"{a.hours} h, mmon run --capture --scheduled-time", "--scheduled", [cap, o("base"), o("r"), end, str(a.hours)]),
        ]
        if "run" in wanted and not os.path.isfile(o("base/statistics.json")):
            # The run's baseline: the 1-hour table (not timed).
            subprocess.run([sys.executable, __file__, "--run", cap, "-", o("b1"), *one, "parquet", "0"], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            subprocess.run([sys.executable, "-m", "mmon", "baseline", o("b1"), "-o", o("base"), "-q"], check=True)
        print(f"{'case':<46} {'files':>6} {'records':>10} {'rows out':>10} {'matched':>9} {'wall s':>7} {'CPU s':>7} "
              f"{'peak RSS MiB':>13} {'load 1m':>8}", flush=True)  # fmt: skip
        for key, name, mode, args in cases:
            if key not in wanted:
                continue
            wall, cpu, rss, c = measure(mode, args)
            print(f"{name:<46} {c['files']:>6,} {c['records']:>10,} {c['rows']:>10,} {c['matched']:>9,} {wall:>7.2f} "
                  f"{cpu:>7.2f} {rss:>13,.0f} {os.getloadavg()[0]:>8.2f}", flush=True)  # fmt: skip
    finally:
        if not a.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
