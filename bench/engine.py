"""Benchmark of the profiling engines: the local engine vs Spark local[1] vs Spark local[2].

    python bench/engine.py                              # 10M rows as CSV, split into 20 and 100 files
    python bench/engine.py --rows 1000000 --files 20 --repeat 1
    python bench/engine.py --child ENGINE MASTER DATA OUT   # one measured run (used internally)

The dataset is the anchors' seeded 20-column table at the anchors' size, 10M rows by default as in
bench/baseline_anchor.py (bench/baseline.py's generator: 7 floats, 6 ints, 7 strings of cardinality
5 … 50,000, 2 % nulls), written as CSV and split into N consecutive files of equal rows. Every configuration runs ``mmon baseline`` in a process of its own (this file's
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
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt_mib, fmt_s, machine_info, markdown_table, measure  # noqa: E402

REPO = HERE.parent
CONFIGS = (("local", "-"), ("spark", "local[1]"), ("spark", "local[2]"))


def _vm_hwm_self() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_self() -> float:
    return time.process_time()


def _descendants_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's descendants: Spark's JVM, and its Python daemon and workers."""
    import psutil

    got = {"jvm": 0.0, "workers": 0.0}
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            got["jvm" if "java" in p.name() else "workers"] += t.user + t.system
        except psutil.Error:
            continue
    return got


def child(engine_name: str, master: str, data: str, out: str) -> None:
    """One measured ``mmon baseline`` (the CLI's steps, timed one by one): prints a JSON line."""
    t0 = time.perf_counter()
    from mmon.baseline import profile_files, write_baseline
    from mmon.readers import dataset_files
    from mmon.store import Store

    phases: dict[str, dict[str, float]] = {}

    def timed(name: str, wall: float, cpu: float) -> None:
        phases[name] = {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu_self() - cpu}

    engine = None
    w, c = time.perf_counter(), _cpu_self()
    if engine_name == "spark":
        from mmon.engine.spark import SparkEngine, spark_session

        spark, _ = spark_session(master)  # started here so that its time is told apart
        engine = SparkEngine(master)
    timed("session", w, c)
    store = Store({})
    w, c = time.perf_counter(), _cpu_self()
    files = dataset_files(store, [data], None, True)
    timed("list", w, c)
    w, c = time.perf_counter(), _cpu_self()
    profiled = profile_files(store, files, allow_non_finite=False, engine=engine)
    timed("profile", w, c)
    w, c = time.perf_counter(), _cpu_self()
    result = write_baseline(store, profiled, out)
    timed("write", w, c)
    # The driver's share of "profile": the engine's own phases (plan, compute = the tasks
    # running, fetch = getting and decoding states) and the fold that consumes them.
    for name, got in getattr(engine, "phases", {}).items():
        phases[name] = dict(got)
    if engine is not None:
        inner = [phases[k] for k in ("plan", "compute", "fetch") if k in phases]
        phases["fold"] = {k: phases["profile"][k] - sum(p[k] for p in inner) for k in ("wall_s", "cpu_s")}
    infos = getattr(engine, "task_info", [])
    report = {
        "rows": result.statistics["dataset"]["item_count"],
        "files": len(result.files),
        "tasks": len(getattr(engine, "tasks", [])) or None,
        "total_s": time.perf_counter() - t0,
        "profile_s": phases["profile"]["wall_s"],
        "phases": phases,
        "driver_cpu_s": _cpu_self(),
        # The workers' own account: CPU of each file's profile, and of the imports of each process.
        "task_cpu_s": sum(i.get("cpu_s", 0.0) for i in infos),
        "import_s": sum({i["pid"]: i.get("import_s", 0.0) for i in infos}.values()),
        "children_cpu": _descendants_cpu(),
        "driver_peak": _vm_hwm_self(),
        "worker_peak": max((i["max_rss_kib"] * 1024 for i in infos), default=0),
        "workers": len({i["pid"] for i in infos}),
        "threads": sorted({(i.get("polars_threads"), i.get("profile_threads")) for i in infos}),
    }
    print(json.dumps(report), flush=True)


def split_dataset(data_dir: Path, rows: int, n_files: int) -> Path:
    """The anchors' table of ``rows`` rows as ``n_files`` CSV files of consecutive rows (made once)."""
    from baseline import split_anchor_table

    return split_anchor_table(data_dir / f"mixed_{rows}_x{n_files}", rows, n_files, 4, log=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)  # the anchors' size (bench/baseline_anchor.py)
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
    rows_out, ratios_out = [], []
    for n_files in args.files:
        folder = split_dataset(data_dir, args.rows, n_files)
        results: dict[tuple[str, str], list[dict[str, Any]]] = {c: [] for c in CONFIGS}
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
                got = json.loads(m.stdout.strip().splitlines()[-1])
                got.update(wall_s=m.wall_s, tree_peak=m.peak_rss, tree_cpu_s=m.cpu_s, load_max=m.load_max, rep=rep)
                results[cfg].append(got)
                outputs.setdefault(cfg, out)
                phases = ", ".join(f"{k} {v['wall_s']:.1f}/{v['cpu_s']:.1f}" for k, v in got["phases"].items())
                print(f"  x{n_files} {cfg[0]} {cfg[1]} rep {rep}: wall {m.wall_s:.1f} s, load {m.load_max:.1f}, tasks {got['tasks']}, "
                      f"task CPU {got['task_cpu_s']:.1f} s, JVM CPU {got['children_cpu']['jvm']:.1f} s, "
                      f"worker CPU {got['children_cpu']['workers']:.1f} s; driver wall/CPU s: {phases}", flush=True)  # fmt: skip
        local_out = outputs.get(("local", "-"))
        for cfg in CONFIGS:
            runs = results[cfg]
            name = f"{cfg[0]} {cfg[1]}".replace(" -", "")
            if not runs:
                rows_out.append([n_files, name, "failed", *[""] * 10])
                continue
            same = "reference"
            if cfg != ("local", "-") and local_out is not None and cfg in outputs:
                same = "yes" if all(
                    (outputs[cfg] / n).read_bytes() == (local_out / n).read_bytes() for n in ("statistics.json", "constraints.json")
                ) else "NO"  # fmt: skip
            best = min(runs, key=lambda r: float(r["wall_s"]))
            rows_out.append([
                n_files,
                name,
                best["tasks"] or "",
                fmt_s(min(float(r["wall_s"]) for r in runs)),
                fmt_s(min(float(r["profile_s"]) for r in runs)),
                fmt_s(min(float(r["driver_cpu_s"]) for r in runs)),
                fmt_s(min(float(r["children_cpu"]["jvm"]) for r in runs)) if cfg[0] == "spark" else "",
                fmt_s(min(float(r["task_cpu_s"]) for r in runs)) if cfg[0] == "spark" else "",
                fmt_mib(max(int(r["driver_peak"]) for r in runs)),
                fmt_mib(max(int(r["worker_peak"]) for r in runs)) if cfg[0] == "spark" else "",
                fmt_mib(max(int(r["tree_peak"]) for r in runs)),
                f"{max(float(r['load_max']) for r in runs):.1f}",
                same,
            ])  # fmt: skip
        # local[2] against local[1], each repetition's pair on its own (they ran next to each other).
        one = {int(r["rep"]): r for r in results[("spark", "local[1]")]}
        two = {int(r["rep"]): r for r in results[("spark", "local[2]")]}
        for rep in sorted(one.keys() & two.keys()):
            a, b = one[rep], two[rep]
            ratios_out.append([n_files, rep, f"{a['wall_s'] / b['wall_s']:.2f}", f"{a['profile_s'] / b['profile_s']:.2f}",
                               f"{max(a['load_max'], b['load_max']):.1f}"])  # fmt: skip
    print()
    print(f"{args.rows:,} rows × 20 columns, CSV; best of {args.repeat}; {machine_info()}; uptime: {os.popen('uptime').read().strip()}")
    print("wall: the whole process (JVM start included); profile: map + fold; CPU in seconds (driver: mmon's Python "
          "process; JVM: Spark's JVM; tasks: the workers' profiling of the files); peaks in MiB.")  # fmt: skip
    print()
    print(markdown_table(
        ["files", "engine", "tasks", "wall s", "profile s", "driver CPU s", "JVM CPU s", "tasks CPU s",
         "driver peak MiB", "worker peak MiB", "tree peak MiB", "load max", "same bytes"],
        rows_out, "rlrrrrrrrrrrl",
    ))  # fmt: skip
    if ratios_out:
        print()
        print("Spark local[2] speed-up over local[1], per repetition (runs alternate; target >= 1.5 on a quiet machine):")
        print()
        print(markdown_table(["files", "rep", "wall local[1]/local[2]", "profile local[1]/local[2]", "load max"], ratios_out, "rrrrr"))


if __name__ == "__main__":
    main()
