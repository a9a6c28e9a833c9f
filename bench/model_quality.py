"""Benchmark of model-quality baselines and runs (``mmon.model_quality``) at 10M rows.

    python bench/model_quality.py                         # 10M rows Parquet + CSV, 1M merged JSONL
    python bench/model_quality.py --rows 1000000 --formats parquet
    python bench/model_quality.py --merged-rows 10000000  # also 10M merged capture records
    python bench/model_quality.py --kinds merged --formats jsonl --merged-rows 0 --rows 10000000 --steps baseline,run,bare
    python bench/model_quality.py --one KIND STEP FILE OUT  # one measured step (used internally)

Seeded datasets are written once under --data-dir and reused while their sidecar JSON matches:

* binary: ``probability`` (float), ``prediction`` (0/1 = probability > 0.5), ``label`` (0/1,
  30 % positive) -- every metric, including the one sort for ``auc`` / ``au_prc`` / curves and
  the five 80 % samples of every metric's ``standard_deviation``;
* multiclass: ``prediction`` / ``label`` text classes (5 classes, 60 % right);
* regression: ``prediction`` / ``label`` floats;
* merged: SageMaker merged capture records (JSON Lines: ``captureData`` with a CSV endpoint
  output = the probability, ``groundTruthData`` = the label), read with
  ``--inference-attribute 0 --probability-attribute 0``.

Each step (``baseline``, then ``run`` against that baseline) runs in a subprocess of its own, so
wall time and peak RSS (bench/_common.py) are that step's alone, interpreter start-up and imports
included. The table is markdown. Nothing asserts.

What to expect: flat tables are bound by the metric work (binary: the sort and the curves of the
full data and of the five samples); merged JSON Lines are bound by reading the records (in
8 MiB blocks, two at a time, so memory stays flat; lines sharing a layout read by template,
``mmon.merged_scan``, the rest by polars' JSON parser), several times slower per row than a flat table.

Step ``bare`` (merged JSONL only): the bare polars pass a user would write instead -- one
``scan_ndjson`` with the two payload fields' schema, the score and label cast, confusion counts
and the AUC -- over the same file. Its peak RSS counts the file's pages: polars maps the file.
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

SEED = 7
GENERATOR_VERSION = 1
CHUNK = 1_000_000
KINDS = {
    "binary": ("BinaryClassification", "prediction", "label", "probability"),
    "multiclass": ("MulticlassClassification", "prediction", "label", None),
    "regression": ("Regression", "prediction", "label", None),
    "merged": ("BinaryClassification", "0", None, "0"),
}


# -- data ---------------------------------------------------------------------------------------


def _chunk(kind: str, n: int, seed: int):  # -> pl.DataFrame
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    if kind in ("binary", "merged"):
        y = rng.random(n) < 0.3
        p = np.clip(0.5 + 0.35 * (y - 0.5) + rng.normal(0, 0.2, n), 0, 1)
        return pl.DataFrame({"probability": p, "prediction": (p > 0.5).astype(np.int8), "label": y.astype(np.int8)})
    if kind == "multiclass":
        classes = np.array(["class_a", "class_b", "class_c", "class_d", "class_e"])
        y = rng.choice(5, n, p=[0.4, 0.25, 0.15, 0.12, 0.08])
        pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, 5, n))
        return pl.DataFrame({"prediction": classes[pred], "label": classes[y]})
    y = rng.normal(50, 10, n)
    return pl.DataFrame({"prediction": y + rng.normal(0, 4, n), "label": y})


def _merged_lines(df):  # -> pl.Series of JSON lines
    import polars as pl

    i = pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.String)
    return df.select(
        pl.concat_str(
            [
                pl.lit('{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2,3","encoding":"CSV"},'
                       '"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"'),
                pl.col("probability").cast(pl.String),
                pl.lit('","encoding":"CSV"}},"eventMetadata":{"eventId":"e-'),
                i,
                pl.lit('","inferenceId":"'),
                i,
                pl.lit('","inferenceTime":"2024-01-19T20:06:08Z"},"eventVersion":"0","groundTruthData":{"data":"'),
                pl.col("label").cast(pl.String),
                pl.lit('","encoding":"CSV"}}'),
            ]
        ).alias("line")
    )["line"]


def ensure_data(data_dir: Path, kind: str, rows: int, fmt: str) -> Path:
    """The dataset file, written in 1M-row chunks (made again when its sidecar differs)."""
    import polars as pl

    ext = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}[fmt]
    path = data_dir / f"mq_{kind}_{rows}.{ext}"
    meta = {"generator": GENERATOR_VERSION, "seed": SEED, "rows": rows, "kind": kind, "format": fmt}
    side = path.with_suffix(path.suffix + ".json")
    if path.exists() and side.exists() and json.loads(side.read_text()) == meta:
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    chunks = [_chunk(kind, min(CHUNK, rows - start), SEED + start // CHUNK) for start in range(0, rows, CHUNK)]
    if fmt == "parquet":
        pl.concat(chunks).write_parquet(path)
    elif fmt == "csv":
        pl.concat(chunks).write_csv(path)
    else:
        with open(path, "w") as fh:
            for c in chunks:
                fh.write("\n".join(_merged_lines(c).to_list()) + "\n")
    side.write_text(json.dumps(meta))
    print(f"wrote {path} ({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return path


# -- one measured step --------------------------------------------------------------------------


def bare(file: str) -> dict[str, float]:
    """The bare polars pass a user would write instead of mmon over the merged JSONL: scan it with
    the schema of the two payload fields, turn them into a score and a label, and compute what a
    binary model-quality report rests on -- the confusion counts at 0.5 and the AUC (one sort)."""
    import polars as pl

    side = pl.Struct({"data": pl.String, "encoding": pl.String})
    schema = {"captureData": pl.Struct({"endpointOutput": side}), "groundTruthData": side}
    df = (
        pl.scan_ndjson(file, schema=schema)
        .select(
            score=pl.col("captureData").struct.field("endpointOutput").struct.field("data").cast(pl.Float64),
            y=pl.col("groundTruthData").struct.field("data").cast(pl.Float64) == 1,
        )
        .collect(engine="streaming")
    )
    p = df["score"] > 0.5
    counts = df.select(tp=(pl.col("y") & p).sum(), fp=(~pl.col("y") & p).sum(), n=pl.len(), pos=pl.col("y").sum())
    tp, fp, n, pos = counts.row(0)
    ranks = df.select(pl.col("score").rank("average").filter(pl.col("y")).sum()).item()
    auc = (ranks - pos * (pos + 1) / 2) / (pos * (n - pos))
    return {"rows": n, "labelled": n, "violations": 0, "auc": auc, "tp": tp, "fp": fp}


def one(kind: str, step: str, file: str, out: str) -> None:
    t = time.perf_counter()
    if step == "bare":
        r = bare(file)
        print(json.dumps({"seconds": time.perf_counter() - t, **r}))
        return
    from mmon.model_quality import MQConfig, baseline_model_quality, run_model_quality
    from mmon.store import Store

    pt, inference, label, probability = KINDS[kind]
    cfg = MQConfig(pt, inference, label, probability)
    if step == "baseline":
        r = baseline_model_quality(Store(), [file], f"{out}/baseline", cfg)
    else:
        r = run_model_quality(Store(), [file], f"{out}/run", cfg, f"{out}/baseline/constraints.json")
    print(json.dumps({"seconds": time.perf_counter() - t, "rows": r.rows, "labelled": r.labelled, "violations": len(r.violations)}))


# -- driver ---------------------------------------------------------------------------------------


HEAD = ["kind", "format", "rows", "step", "wall s", "in-process s", "CPU s", "peak RSS MiB", "max load", "result"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--merged-rows", type=int, default=1_000_000, help="rows of the merged JSONL case (0: skip)")
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--kinds", default="binary,multiclass,regression")
    ap.add_argument("--data-dir", default=str(HERE / "data"))
    ap.add_argument("--out-dir", default=str(HERE / "data" / "out" / "mq"))
    ap.add_argument("--steps", default="baseline,run,bare", help="bare: the bare polars pass (merged JSONL only)")
    ap.add_argument("--one", nargs=4, metavar=("KIND", "STEP", "FILE", "OUT"))
    args = ap.parse_args()
    if args.one:
        one(*args.one)
        return

    cases = [(k, f, args.rows) for k in args.kinds.split(",") for f in args.formats.split(",")]
    if args.merged_rows:
        cases.append(("merged", "jsonl", args.merged_rows))
    rows_out = []
    for kind, fmt, rows in cases:
        file = ensure_data(Path(args.data_dir), kind, rows, fmt)
        out = str(Path(args.out_dir) / f"{kind}_{fmt}_{rows}")
        for step in args.steps.split(","):
            if step == "bare" and kind != "merged":
                continue
            m = measure([sys.executable, __file__, "--one", kind, step, str(file), out], timeout=1800)
            inner = json.loads(m.stdout.strip().splitlines()[-1]) if m.ok else {}
            rows_out.append(
                [
                    kind, fmt, f"{rows:,}", "bare polars" if step == "bare" else step, fmt_s(m.wall_s),
                    fmt_s(inner["seconds"]) if inner else "", fmt_s(m.cpu_s), fmt_mib(m.peak_rss), f"{m.load_max:.1f}",
                    m.failure() or (f"auc {inner['auc']:.4f}" if step == "bare" else f"{inner['violations']} violations"),
                ]
            )  # fmt: skip
            print(markdown_table(HEAD, rows_out[-1:]), file=sys.stderr)
    info = machine_info()
    print(f"\nmachine: {info['cpus']} CPUs, {info['cpu']}, {info['ram']} RAM, {info['os']}\n")
    print(markdown_table(HEAD, rows_out, "llrlrrrrrl"))


if __name__ == "__main__":
    main()
