"""Benchmark of ``mmon baseline`` over many small files (issue 12 §3: "keep the speed").

    python bench/small_files.py                          # 1000 x 200 and 100 x 2000 rows, CSV
    python bench/small_files.py --shapes 1000x200 --repeat 3
    python bench/small_files.py --before /tmp/preseam    # also a checkout of another commit
    python bench/small_files.py --bare FOLDER            # the bare polars pass alone (internal)

The files are consecutive slices of the anchors' seeded 20-column table (bench/baseline.py's
generator: 7 floats, 6 ints, 7 strings of cardinality 5 ... 50,000, 2 % nulls), written once as
CSV under --data-dir. Each configuration runs in a process of its own, alternating, ``--repeat``
times; the table shows the best CPU (user + system of the process tree) and wall, the peak RSS,
and the highest load average seen (CPU seconds are the figure to trust on a busy machine):

* ``mmon``: ``mmon baseline FOLDER -o OUT -q`` run in this checkout (``-m`` puts it first);
* ``before``: the same command run in ``--before``'s checkout (e.g. the commit
  before the profiling seam: ``git archive 39f81a1 | tar -x -C /tmp/preseam``);
* ``bare polars``: one multi-file ``scan_csv`` of the folder with per-column count, nulls,
  ``n_unique``, and sum/mean/std/min/max of the number columns -- what the data costs to read
  and summarise with no per-file profile at all.

Nothing asserts; the figures go into the README by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import best_baselines, fmt_mib, fmt_s, machine_info, markdown_table, versus_args  # noqa: E402

REPO = HERE.parent


def make_files(data_dir: Path, n_files: int, rows: int) -> Path:
    """``n_files`` CSV files of ``rows`` consecutive rows of the anchors' table (made once)."""
    from baseline import split_anchor_table

    return split_anchor_table(data_dir / f"small_{n_files}x{rows}", n_files * rows, n_files, 5)


def bare(folder: str) -> None:
    import polars as pl
    from baseline import bare_aggregates

    lf = pl.scan_csv(f"{folder}/*.csv", infer_schema_length=10000)
    every, numbers = ("count", "null", "distinct"), ("sum", "mean", "std", "min", "max")
    lf.select([pl.len().alias("__rows"), *bare_aggregates(lf.collect_schema(), every, numbers)]).collect()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=["1000x200", "100x2000"], help="FILESxROWS")
    args = versus_args(ap, "/tmp/mmon-bench-small", "FOLDER", bare)
    if args is None:
        return
    data_dir = Path(args.data_dir)
    out = data_dir / "out"
    rows_out = []
    for shape in args.shapes:
        n_files, rows = (int(x) for x in shape.lower().split("x"))
        folder = make_files(data_dir, n_files, rows)
        best = best_baselines(args.before, folder, out, Path(__file__).resolve(), args.repeat, f" {shape}")
        for name, (cpu, wall, peak, load) in best.items():
            rows_out.append([f"{n_files} x {rows}", name, fmt_s(cpu), fmt_s(wall), fmt_mib(int(peak)), f"{load:.1f}"])
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, {info['ram']}")
    print(markdown_table(["files x rows", "run", "CPU s", "wall s", "peak RSS", "load max"], rows_out, "llrrrr"))


if __name__ == "__main__":
    main()
