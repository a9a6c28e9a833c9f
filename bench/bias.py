"""Benchmark of bias baselines and runs (``mmon.bias``) at 10M rows.

    python bench/bias.py                          # 10M rows, Parquet and CSV
    python bench/bias.py --rows 1000000 --formats parquet
    python bench/bias.py --rows 1000000 --formats merged --steps baseline,run,bare   # 1M merged JSON records
    python bench/bias.py --one STEP FILE OUT      # one measured step (used internally)

Data (seeded, written once under --data-dir): ``age_group`` (young / middle / senior), ``income``,
``credit``, ``region`` (0-3, the group variable), ``approved`` (label) and ``prediction`` (the model
approves above a score threshold, harsher for the young). Steps, each in its own subprocess (wall
time and peak RSS include interpreter start-up and imports):

* ``baseline``: every metric except FT, facet ``age_group`` with every value (3 facet entries);
* ``baseline+FT``: the same plus the Flip Test (a k-d tree k-NN over 3 numeric features);
* ``run``: the window against that baseline (every metric except FT), violations and metrics.

Format ``merged``: the same rows as SageMaker merged records (JSON Lines), one request per record
with JSON payloads as Clarify reads them -- ``{"instances": [{"features": [age, income, credit,
region]}]}`` in, ``{"predictions": [{"predicted_label": 1, "score": 0.73}]}`` out,
``{"instances": [{"label": 1}]}`` as ground truth -- read along ``instances[*].features`` /
``instances[*].label`` / ``predictions[*].predicted_label`` (age_group coded 0/1/2).

Step ``bare`` (format ``merged`` only): the bare polars pass a user would write instead -- one
``scan_ndjson`` of the three payload fields, each payload decoded with its known JSON type, one
row per instance, and the facet's counts behind CI, DPL and DPPL.

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


MERGED_CONFIG = dict(
    CONFIG,
    label="instances[*].label",
    features="instances[*].features",
    headers=["age_group", "income", "credit", "region", "approved"],
    facet=[{"name_or_index": "age_group", "value_or_threshold": [0]}],
)


def generate_merged(path: Path, rows: int) -> None:
    """The rows of :func:`generate` as merged records with JSON payloads, written in 1M-row chunks."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            age = rng.choice(3, n, p=[0.3, 0.4, 0.3])
            income = rng.normal(50, 15, n).round(1)
            credit = rng.normal(650, 60, n).round(0).astype(np.int64)
            score = 1 / (1 + np.exp(-((income - 50) / 15 + (credit - 650) / 60)))
            df = pl.DataFrame({
                "age": age, "income": income, "credit": credit, "region": rng.integers(0, 4, n),
                "approved": (rng.random(n) < score).astype(np.int8),
                "pred": (score > np.where(age == 0, 0.6, 0.5)).astype(np.int8), "score": score.round(4),
                "i": np.arange(start, start + n),
            })  # fmt: skip
            c = pl.col
            line = pl.concat_str([
                pl.lit('{"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT",'
                       '"data":"{\\"instances\\": [{\\"features\\": ['),
                c("age").cast(pl.String), pl.lit(", "), c("income").cast(pl.String), pl.lit(", "),
                c("credit").cast(pl.String), pl.lit(", "), c("region").cast(pl.String),
                pl.lit(']}]}","encoding":"JSON"},"endpointOutput":{"observedContentType":"application/json",'
                       '"mode":"OUTPUT","data":"{\\"predictions\\": [{\\"predicted_label\\": '),
                c("pred").cast(pl.String), pl.lit(', \\"score\\": '), c("score").cast(pl.String),
                pl.lit('}]}","encoding":"JSON"}},"eventMetadata":{"eventId":"e-'), c("i").cast(pl.String),
                pl.lit('","inferenceTime":"2024-01-19T20:06:08Z"},"eventVersion":"0","groundTruthData":{"data":'
                       '"{\\"instances\\": [{\\"label\\": '),
                c("approved").cast(pl.String), pl.lit('}]}","encoding":"JSON"}}'),
            ])  # fmt: skip
            fh.write("\n".join(df.select(line.alias("l"))["l"].to_list()) + "\n")


def bare(data: str) -> dict[str, float]:
    """The bare polars pass a user would write instead of mmon over the merged JSON records: scan
    with the schema of the three payloads, decode them with their (known) JSON types, one row per
    instance, and the facet's counts behind CI, DPL and DPPL (facet age_group = 0)."""
    import polars as pl

    side = pl.Struct({"data": pl.String})
    schema = {"captureData": pl.Struct({"endpointInput": side, "endpointOutput": side}), "groundTruthData": side}
    inp = pl.Struct({"instances": pl.List(pl.Struct({"features": pl.List(pl.Float64)}))})
    out = pl.Struct({"predictions": pl.List(pl.Struct({"predicted_label": pl.Int64, "score": pl.Float64}))})
    lab = pl.Struct({"instances": pl.List(pl.Struct({"label": pl.Int64}))})
    cap = pl.col("captureData")
    rows = (
        pl.scan_ndjson(data, schema=schema)
        .select(
            f=cap.struct.field("endpointInput").struct.field("data").str.json_decode(inp).struct.field("instances"),
            p=cap.struct.field("endpointOutput").struct.field("data").str.json_decode(out).struct.field("predictions"),
            y=pl.col("groundTruthData").struct.field("data").str.json_decode(lab).struct.field("instances"),
        )
        .explode("f", "p", "y")
        .select(
            facet=pl.col("f").struct.field("features").list.get(0) == 0,
            pred=pl.col("p").struct.field("predicted_label") == 1,
            y=pl.col("y").struct.field("label") == 1,
        )
        .group_by("facet")
        .agg(n=pl.len(), y=pl.col("y").mean(), pred=pl.col("pred").mean())
        .collect(engine="streaming")
    )
    d = {r["facet"]: r for r in rows.iter_rows(named=True)}
    a, b = d[False], d[True]
    return {"rows": a["n"] + b["n"], "violations": 0, "CI": (a["n"] - b["n"]) / (a["n"] + b["n"]),
            "DPL": a["y"] - b["y"], "DPPL": a["pred"] - b["pred"]}  # fmt: skip


def one(step: str, data: str, out: str) -> None:
    from mmon.bias import BiasOptions, baseline_bias, run_bias
    from mmon.store import Store

    merged = data.endswith(".jsonl")
    if step == "bare":
        t0 = time.perf_counter()
        print(json.dumps({**bare(data), "seconds": time.perf_counter() - t0}))
        return
    opts = BiasOptions(inference_attribute="predictions[*].predicted_label" if merged else "prediction")
    cfg = json.loads(json.dumps(MERGED_CONFIG if merged else CONFIG))
    t0 = time.perf_counter()
    if step == "baseline":
        r = baseline_bias(Store(), [data], out, cfg, opts)
    elif step == "baseline+FT":
        cfg["methods"]["post_training_bias"]["methods"] = "all"
        r = baseline_bias(Store(), [data], out, cfg, opts)
    else:
        r = run_bias(Store(), [data], out + "-run", cfg, str(Path(out) / "analysis.json"), opts)
    print(json.dumps({"rows": r.rows, "violations": len(r.violations), "seconds": time.perf_counter() - t0}))


HEAD = ["rows", "format", "step", "wall", "CPU s", "peak RSS", "max load"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="10000000")
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--data-dir", default=str(HERE / "data"))
    ap.add_argument("--steps", default="baseline,baseline+FT,run,bare", help="bare: the bare polars pass (merged only)")
    ap.add_argument("--one", nargs=3, metavar=("STEP", "FILE", "OUT"))
    a = ap.parse_args()
    if a.one:
        one(*a.one)
        return
    table = []
    for rows in (int(r) for r in a.rows.split(",")):
        for fmt in a.formats.split(","):
            path = Path(a.data_dir) / f"bias-{rows}.{'jsonl' if fmt == 'merged' else fmt}"
            if not path.exists():
                generate_merged(path, rows) if fmt == "merged" else generate(path, rows, fmt)
            out = str(Path(a.data_dir) / f"bias-out-{rows}-{fmt}")
            for step in a.steps.split(","):
                if step == "bare" and fmt != "merged":
                    continue
                m = measure([sys.executable, __file__, "--one", step, str(path), out])
                if not m.ok:
                    print(m.failure(), file=sys.stderr)
                    continue
                table.append([f"{rows:,}", fmt, "bare polars" if step == "bare" else step, fmt_s(m.wall_s), fmt_s(m.cpu_s), fmt_mib(m.peak_rss),
                              f"{m.load_max:.1f}"])  # fmt: skip
                print(markdown_table(HEAD, table[-1:]), file=sys.stderr)
                if step == "baseline+FT":  # the run compares against the baseline without FT
                    measure([sys.executable, __file__, "--one", "baseline", str(path), out])
    print(json.dumps(machine_info()))
    print(markdown_table(HEAD, table))


if __name__ == "__main__":
    main()
