"""Benchmark of bias baselines and runs (``mmon.bias``) at 10M rows.

    python bench/bias.py                          # 10M rows, Parquet and CSV
    python bench/bias.py --rows 1000000 --formats parquet
    python bench/bias.py --one STEP FILE OUT      # one measured step (used internally)

Data (seeded, written once under --data-dir): ``age_group`` (young / middle / senior), ``income``,
``credit``, ``region`` (0-3, the group variable), ``approved`` (label) and ``prediction`` (the model
approves above a score threshold, harsher for the young). Steps, each in its own subprocess (wall
time and peak RSS include interpreter start-up and imports):

* ``baseline``: every metric except FT, facet ``age_group`` with every value (3 facet entries);
* ``baseline+FT``: the same plus the Flip Test (a k-d tree k-NN over 3 numeric features);
* ``run``: the window against that baseline (every metric except FT), violations and metrics.

Nothing asserts; the table is markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt_mib, fmt_s, machine_info, markdown_table, measure  # noqa: E402

SEED = 11
CHUNK = 1_000_000
NO_FT = [m for m in ("AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "GE", "RD", "SD", "TE")]
CONFIG = {
    "label": "approved",
    "label_values_or_threshold": [1],
    "facet": [{"name_or_index": "age_group"}],
    "group_variable": "region",
    "methods": {"pre_training_bias": {"methods": "all"}, "post_training_bias": {"methods": NO_FT}},
}


def generate(path: Path, rows: int, fmt: str) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)
    frames = []
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        age = rng.choice(np.array(["young", "middle", "senior"]), n, p=[0.3, 0.4, 0.3])
        income = rng.normal(50, 15, n).round(1)
        credit = rng.normal(650, 60, n).round(0)
        score = 1 / (1 + np.exp(-((income - 50) / 15 + (credit - 650) / 60)))
        frames.append(
            pl.DataFrame(
                {
                    "age_group": age,
                    "income": income,
                    "credit": credit,
                    "region": rng.integers(0, 4, n),
                    "approved": (rng.random(n) < score).astype(np.int8),
                    "prediction": (score > np.where(age == "young", 0.6, 0.5)).astype(np.int8),
                }
            )
        )
    df = pl.concat(frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        df.write_parquet(path)
    else:
        df.write_csv(path)


def one(step: str, data: str, out: str) -> None:
    from mmon.bias import BiasOptions, baseline_bias, run_bias
    from mmon.store import Store

    opts = BiasOptions(inference_attribute="prediction")
    cfg = json.loads(json.dumps(CONFIG))
    t0 = time.perf_counter()
    if step == "baseline":
        r = baseline_bias(Store(), [data], out, cfg, opts)
    elif step == "baseline+FT":
        cfg["methods"]["post_training_bias"]["methods"] = "all"
        r = baseline_bias(Store(), [data], out, cfg, opts)
    else:
        r = run_bias(Store(), [data], out + "-run", cfg, str(Path(out) / "analysis.json"), opts)
    print(json.dumps({"rows": r.rows, "violations": len(r.violations), "seconds": time.perf_counter() - t0}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="10000000")
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--data-dir", default=str(HERE / "data"))
    ap.add_argument("--one", nargs=3, metavar=("STEP", "FILE", "OUT"))
    a = ap.parse_args()
    if a.one:
        one(*a.one)
        return
    table = []
    for rows in (int(r) for r in a.rows.split(",")):
        for fmt in a.formats.split(","):
            path = Path(a.data_dir) / f"bias-{rows}.{fmt}"
            if not path.exists():
                generate(path, rows, fmt)
            out = str(Path(a.data_dir) / f"bias-out-{rows}-{fmt}")
            for step in ("baseline", "baseline+FT", "run"):
                m = measure([sys.executable, __file__, "--one", step, str(path), out])
                if not m.ok:
                    print(m.failure(), file=sys.stderr)
                    continue
                table.append([f"{rows:,}", fmt, step, fmt_s(m.wall_s), fmt_mib(m.peak_rss)])
                if step == "baseline+FT":  # the run compares against the baseline without FT
                    measure([sys.executable, __file__, "--one", "baseline", str(path), out])
    print(json.dumps(machine_info()))
    print(markdown_table(["rows", "format", "step", "wall", "peak RSS"], table))


if __name__ == "__main__":
    main()
