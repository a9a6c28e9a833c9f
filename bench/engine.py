"""Benchmark of the profiling engines: the local engine vs Spark local[1] vs Spark local[2].

    python bench/engine.py                              # 4M rows as CSV, split into 20 and 100 files
    python bench/engine.py --rows 1000000 --files 20 --repeat 1
    python bench/engine.py --child ENGINE MASTER DATA OUT   # one measured run (used internally)

The dataset is the anchors' seeded 20-column table (bench/baseline.py's generator: 7 floats, 6 ints,
7 strings of cardinality 5 … 50,000, 2 % nulls), written as CSV and split into N consecutive files
of equal rows. Every configuration runs ``mmon baseline`` in a process of its own (this file's
``--child`` mode, which calls the same code as the CLI and reports from inside):

* wall: the whole process, Spark's JVM start included; ``profile``: map + fold only;
* driver peak: the VmHWM of the driver's Python process (states, not rows, should reach it);
* worker peak: the highest VmHWM of a Spark Python worker (from the engine's task info);
* tree peak: the whole process tree (driver, JVM, workers), sampled by bench/_common.measure;
* same bytes: statistics.json and constraints.json identical to the local engine's.

Runs alternate between the configurations, ``--repeat`` times; the table shows the best wall and
profile times and the load average (``load_max``) seen during the runs. Nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt_mib, fmt_s, human_bytes, machine_info, markdown_table, measure  # noqa: E402

REPO = HERE.parent
CONFIGS = (("local", "-"), ("spark", "local[1]"), ("spark", "local[2]"))


def _vm_hwm_self() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child(engine_name: str, master: str, data: str, out: str) -> None:
    """One measured ``mmon baseline``: prints a JSON line with the timings and peaks."""
    t0 = time.perf_counter()
    from mmon.baseline import run_baseline
    from mmon.store import Store

    engine = None
    session_s = 0.0
    if engine_name == "spark":
        from mmon.engine.spark import SparkEngine, spark_session

        spark, _ = spark_session(master)  # started here so that its time is told apart
        session_s = time.perf_counter() - t0
        engine = SparkEngine(master)
    t1 = time.perf_counter()
    result = run_baseline(Store({}), [data], out, engine=engine)
    profile_s = time.perf_counter() - t1
    infos = getattr(engine, "task_info", [])
    report = {
        "rows": result.item_count,
        "files": len(result.files),
        "tasks": len(getattr(engine, "tasks", [])) or None,
        "session_s": session_s,
        "profile_s": profile_s,
        "driver_peak": _vm_hwm_self(),
        "worker_peak": max((i["max_rss_kib"] * 1024 for i in infos), default=0),
        "workers": len({i["pid"] for i in infos}),
    }
    print(json.dumps(report), flush=True)


def split_dataset(data_dir: Path, rows: int, n_files: int) -> Path:
    """The anchors' table of ``rows`` rows as ``n_files`` CSV files of consecutive rows (made once)."""
    import numpy as np
    import polars as pl
    from baseline import SEED, _chunk

    folder = data_dir / f"mixed_{rows}_x{n_files}"
    done = folder / "_DONE"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    print(f"generating {rows:,} rows (seed {SEED}) as {n_files} CSV files in {folder} …", flush=True)
    df = _chunk(np.random.default_rng(SEED), rows)
    per = -(-rows // n_files)
    for i in range(n_files):
        df.slice(i * per, per).write_csv(folder / f"part-{i:04d}.csv")
    done.write_text("")
    size = sum(p.stat().st_size for p in folder.glob("*.csv"))
    print(f"  {human_bytes(size)}", flush=True)
    del pl
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--files", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--data-dir", default=os.environ.get("MMON_BENCH_DATA", "/tmp/mmon-bench-engine"))
    ap.add_argument("--child", nargs=4, metavar=("ENGINE", "MASTER", "DATA", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    data_dir = Path(args.data_dir)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MMON_DEBUG", None)
    rows_out = []
    for n_files in args.files:
        folder = split_dataset(data_dir, args.rows, n_files)
        results: dict[tuple[str, str], list[dict[str, object]]] = {c: [] for c in CONFIGS}
        outputs: dict[tuple[str, str], Path] = {}
        for rep in range(args.repeat):
            # Alternate the order so that a noisy neighbour does not always hit the same configuration.
            order = CONFIGS if rep % 2 == 0 else tuple(reversed(CONFIGS))
            for cfg in order:
                out = data_dir / "out" / f"x{n_files}-{cfg[0]}-{cfg[1].strip('[]-') or 'na'}-{rep}"
                m = measure([sys.executable, str(HERE / "engine.py"), "--child", cfg[0], cfg[1], str(folder), str(out)], env=env, timeout=1800)
                if not m.ok:
                    print(f"FAILED {cfg} x{n_files}: {m.stderr[-2000:]}", flush=True)
                    continue
                rep_json = json.loads(m.stdout.strip().splitlines()[-1])
                rep_json.update(wall_s=m.wall_s, tree_peak=m.peak_rss, load_max=m.load_max)
                results[cfg].append(rep_json)
                outputs.setdefault(cfg, out)
                print(f"  x{n_files} {cfg[0]} {cfg[1]} rep {rep}: wall {m.wall_s:.1f} s, profile {rep_json['profile_s']:.1f} s, "
                      f"load {m.load_max:.1f}", flush=True)  # fmt: skip
        local_out = outputs.get(("local", "-"))
        for cfg in CONFIGS:
            runs = results[cfg]
            if not runs:
                rows_out.append([n_files, f"{cfg[0]} {cfg[1]}".replace(" -", ""), "failed", "", "", "", "", "", "", ""])
                continue
            same = "reference"
            if cfg != ("local", "-") and local_out is not None and cfg in outputs:
                same = "yes" if all(
                    (outputs[cfg] / n).read_bytes() == (local_out / n).read_bytes() for n in ("statistics.json", "constraints.json")
                ) else "NO"  # fmt: skip
            best = min(runs, key=lambda r: float(r["wall_s"]))  # type: ignore[arg-type]
            rows_out.append([
                n_files,
                f"{cfg[0]} {cfg[1]}".replace(" -", ""),
                best["tasks"] or "",
                fmt_s(min(float(r["wall_s"]) for r in runs)),  # type: ignore[arg-type]
                fmt_s(min(float(r["profile_s"]) for r in runs)),  # type: ignore[arg-type]
                fmt_mib(max(int(r["driver_peak"]) for r in runs)),  # type: ignore[call-overload]
                fmt_mib(max(int(r["worker_peak"]) for r in runs)) if cfg[0] == "spark" else "",  # type: ignore[call-overload]
                fmt_mib(max(int(r["tree_peak"]) for r in runs)),  # type: ignore[call-overload]
                f"{max(float(r['load_max']) for r in runs):.1f}",  # type: ignore[arg-type]
                same,
            ])  # fmt: skip
    print()
    print(f"{args.rows:,} rows × 20 columns, CSV; best of {args.repeat}; {machine_info()}; uptime: {os.popen('uptime').read().strip()}")
    print()
    print(markdown_table(
        ["files", "engine", "tasks", "wall s", "profile s", "driver peak MiB", "worker peak MiB", "tree peak MiB", "load max", "same bytes"],
        rows_out, "rlrrrrrrrl",
    ))  # fmt: skip


if __name__ == "__main__":
    main()
