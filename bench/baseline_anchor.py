"""``mmon baseline`` on the anchor Parquet with 1M-row row groups vs a bare polars pass (issue 16 item 4).

    python bench/baseline_anchor.py                      # 10M rows, 2 alternating rounds
    python bench/baseline_anchor.py --rows 1000000 --repeat 3 --before /tmp/other-checkout
    python bench/baseline_anchor.py --bare FILE          # the bare polars pass alone (internal)

The anchors' seeded 20-column table (bench/baseline.py's generator) is written once under
--data-dir as ``anchor_<rows>_rg1m.parquet`` with 1,000,000-row row groups. Each configuration
runs in its own process, alternating, ``--repeat`` times; the table shows the best CPU (user +
system) and wall, the highest peak RSS and load average seen:

* ``mmon``: ``mmon baseline FILE -o OUT -q`` run in this checkout (``-m`` puts it first);
* ``before``: the same run in ``--before``'s checkout;
* ``bare polars``: one streaming polars query with only moments (sum, mean, std), null counts and
  ``n_unique`` per column -- the issue's yardstick (target: mmon's wall <= 2x, peak <= 1 GiB).

Nothing asserts; wall times on a loaded machine lie (compare CPU seconds, or run it quiet).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import best_baselines, fmt_mib, fmt_s, machine_info, markdown_table, versus_args  # noqa: E402

REPO = HERE.parent
ROW_GROUP = 1_000_000


def ensure_file(data_dir: Path, rows: int) -> Path:
    import polars as pl
    from baseline import ensure_dataset

    path = data_dir / f"anchor_{rows}_rg1m.parquet"
    if not path.exists():
        source = ensure_dataset(data_dir, rows, ["parquet"])["parquet"]
        tmp = path.with_suffix(".tmp")
        pl.read_parquet(source).write_parquet(tmp, row_group_size=ROW_GROUP)
        os.replace(tmp, path)
    return path


def bare(path: str) -> None:
    import polars as pl
    from baseline import bare_aggregates

    lf = pl.scan_parquet(path)
    aggs = bare_aggregates(lf.collect_schema(), ("null", "distinct"), ("sum", "mean", "std"))
    lf.select(aggs).collect(engine="streaming")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    args = versus_args(ap, "/tmp/mmon-bench", "FILE", bare)
    if args is None:
        return
    data_dir = Path(args.data_dir)
    path = ensure_file(data_dir, args.rows)
    out = data_dir / "anchor-out"
    best = best_baselines(args.before, path, out, Path(__file__).resolve(), args.repeat)
    bare_wall = best.get("bare polars", [0.0, 0.0])[1]
    rows = []
    for name, (cpu, wall, peak, load) in best.items():
        ratio = f"{wall / bare_wall:.2f}x" if bare_wall else ""
        rows.append([f"{args.rows:,}", name, fmt_s(cpu), fmt_s(wall), ratio, fmt_mib(int(peak)), f"{load:.1f}"])
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs, {info['ram']}; {path.name}: {ROW_GROUP:,}-row row groups")
    print(markdown_table(["rows", "run", "CPU s", "wall s", "wall / bare", "peak RSS", "load max"], rows, "llrrrrr"))


if __name__ == "__main__":
    main()
