"""Speed and memory of `mmon run --type model-quality --estimator cbpe` on large windows; prints a table.

    python bench/cbpe_speed.py                       # 1M and 10M scored rows, Parquet
    python bench/cbpe_speed.py --rows 1000000 --formats parquet,csv

The baseline (200k labelled rows) is fitted once; each window holds only scores and predictions.
Beside mmon: a bare polars pass that reads the same file and computes the expected confusion
matrix (four sums) — the floor for any CBPE over this file — so the table shows what the rest
(calibration, the AUC's sort, writing the report) costs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt_mib, fmt_s, machine_info, markdown_table, measure  # noqa: E402

BARE = """
import sys, polars as pl
lf = pl.scan_parquet(sys.argv[1]) if sys.argv[1].endswith(".parquet") else pl.scan_csv(sys.argv[1])
p = pl.col("score"); pos = pl.col("prediction") == "yes"
print(lf.select(tp=pl.when(pos).then(p).otherwise(0).sum(), fp=pl.when(pos).then(1 - p).otherwise(0).sum(),
                fn=pl.when(~pos).then(p).otherwise(0).sum(), tn=pl.when(~pos).then(1 - p).otherwise(0).sum()).collect())
"""


def rows_frame(n: int, seed: int, labels: bool) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.5, n)
    score = 1 / (1 + np.exp(-(1.1 * x + 0.3)))
    df = pl.DataFrame({"score": score, "prediction": np.where(score > 0.5, "yes", "no")})
    if labels:
        df = df.with_columns(label=pl.Series(np.where(rng.random(n) < 1 / (1 + np.exp(-1.5 * x)), "yes", "no")))
    return df


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="1000000,10000000")
    ap.add_argument("--formats", default="parquet")
    args = ap.parse_args()
    mmon = [sys.executable, "-m", "mmon"]
    table = []
    with tempfile.TemporaryDirectory(dir=HERE / "data" if (HERE / "data").is_dir() else None) as tmp:
        t = Path(tmp)
        rows_frame(200_000, 1, True).write_parquet(t / "ref.parquet")
        base = [*mmon, "baseline", str(t / "ref.parquet"), "--type", "model-quality", "--problem-type", "BinaryClassification",
                "--estimator", "cbpe", "--inference-attribute", "prediction", "--probability-attribute", "score",
                "--ground-truth-attribute", "label", "--positive-label", "yes", "-o", str(t / "base"), "-q"]  # fmt: skip
        subprocess.run(base, check=True)
        for n in (int(x) for x in args.rows.split(",")):
            for fmt in args.formats.split(","):
                path = t / f"win{n}.{fmt}"
                df = rows_frame(n, 2, False)
                df.write_parquet(path, row_group_size=1_000_000) if fmt == "parquet" else df.write_csv(path)
                del df
                bare = measure([sys.executable, "-c", BARE, str(path)])
                run = measure([*mmon, "run", str(path), "--type", "model-quality", "--problem-type", "BinaryClassification",
                               "--estimator", "cbpe", "--baseline-constraints", str(t / "base" / "constraints.json"),
                               "-o", str(t / f"out{n}{fmt}"), "-q", "--no-fail-on-violations"])  # fmt: skip
                for name, m in (("bare polars (4 sums)", bare), ("mmon run --estimator cbpe", run)):
                    table.append([f"{n:,}", fmt, name, fmt_s(m.wall_s), fmt_s(m.cpu_s), fmt_mib(m.peak_rss), f"{m.load_max:.1f}",
                                  "ok" if m.ok else m.failure()])  # fmt: skip
                path.unlink()
    print(f"\n{machine_info()}\n")
    print(markdown_table(["rows", "format", "tool", "wall s", "CPU s", "peak RSS MiB", "load max", "status"], table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
