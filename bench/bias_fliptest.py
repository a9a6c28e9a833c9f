"""Benchmark of the bias Flip Test (FT) on large windows full of duplicate rows.

    python bench/bias_fliptest.py                         # both windows, 501 000 rows each
    python bench/bias_fliptest.py --copies 300 --data adult
    python bench/bias_fliptest.py --one DATA FILE METHOD  # one measured step (used internally)

Windows (written once under --data-dir):

* ``adult``: SageMaker's clarify-adult endpoint window as the example notebook makes it -- the same
  request of 334 instances sent again and again -- i.e. ``--copies`` merged records (1 500 by
  default: 501 000 rows, 224 distinct facet-a rows) of ``shared/reference/external/.../
  merged-endpoint.jsonl`` with inference ids 0, 1, 2, ...; read with the example's JSON config.
* ``random``: 501 000 Parquet rows drawn from 20 000 distinct rows of 4 small-integer features
  (many exact duplicates and many equal distances), whose prediction is noisy, so identical rows
  carry both predictions: the k-NN ties that smclarify's tree resolves by its visiting order.

Each step is ``baseline_bias`` with one post-training method, in its own subprocess (CPU seconds =
user + system of that process; wall time and peak RSS include start-up and imports): ``FT``, and
``DPPL`` for what reading the window and the counts cost without the Flip Test.
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

sys.path.insert(0, str(HERE.parent))
from tests.test_sagemaker_external import BIAS_CONFIG  # noqa: E402

ADULT = HERE.parent.parent / "shared" / "reference" / "external" / "amazon-sagemaker-examples" / "clarify-adult"
CONFIGS = {
    # The example notebooks' BiasAnalysisConfig, as the real-file tests use it, with FT only.
    "adult": {**BIAS_CONFIG, "methods": {"post_training_bias": {"methods": ["FT"]}}},
    "random": {
        "label": "label",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "facet", "value_or_threshold": [1]}],
        "methods": {"post_training_bias": {"methods": ["FT"]}},
    },
}
SEED = 7


def generate_adult(path: Path, copies: int) -> None:
    rec = json.loads((ADULT / "merged-endpoint.jsonl").read_text())
    with path.open("w") as fh:
        for i in range(copies):
            rec["eventMetadata"]["inferenceId"] = str(i)
            fh.write(json.dumps(rec) + "\n")


def generate_random(path: Path, rows: int) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)
    pool = rng.integers(0, 8, size=(20_000, 4))
    pick = rng.integers(0, len(pool), rows)
    x = pool[pick]
    facet = (rng.random(rows) < 0.35).astype(np.int64)
    score = x @ np.array([0.3, -0.2, 0.1, 0.25]) + rng.normal(0, 0.8, rows)
    pred = (score > 0.6).astype(np.int64)
    label = (rng.random(rows) < 0.5).astype(np.int64)
    cols = {f"f{j}": x[:, j] for j in range(4)}
    pl.DataFrame({**cols, "facet": facet, "label": label, "prediction": pred}).write_parquet(path)


def one(data: str, path: str, method: str) -> None:
    from mmon.bias import BiasOptions, baseline_bias
    from mmon.store import Store

    attr = "predictions[*].predicted_label" if data == "adult" else "prediction"
    cfg = json.loads(json.dumps(CONFIGS[data]))
    cfg["methods"]["post_training_bias"]["methods"] = [method]
    t0 = time.perf_counter()
    r = baseline_bias(Store(), [path], path + "-out", cfg, BiasOptions(inference_attribute=attr))
    doc = json.loads((Path(path + "-out") / "analysis.json").read_text())
    facet = next(iter(doc["post_training_bias_metrics"]["facets"].values()))[0]
    value = next(m["value"] for m in facet["metrics"] if m["name"] == method)
    print(json.dumps({"rows": r.rows, "value": value, "seconds": time.perf_counter() - t0}))


HEAD = ["window", "rows", "method", "value", "wall", "CPU s", "peak RSS", "max load"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="adult,random")
    ap.add_argument("--copies", type=int, default=1500, help="merged records of 334 rows in the adult window")
    ap.add_argument("--rows", type=int, default=501_000, help="rows of the random window")
    ap.add_argument("--data-dir", default=str(HERE / "data"))
    ap.add_argument("--methods", default="FT,DPPL")
    ap.add_argument("--one", nargs=3, metavar=("DATA", "FILE", "METHOD"))
    a = ap.parse_args()
    if a.one:
        one(*a.one)
        return
    Path(a.data_dir).mkdir(parents=True, exist_ok=True)
    table = []
    for data in a.data.split(","):
        if data == "adult":
            path = Path(a.data_dir) / f"fliptest-adult-{a.copies}.jsonl"
            if not path.exists():
                generate_adult(path, a.copies)
        else:
            path = Path(a.data_dir) / f"fliptest-random-{a.rows}.parquet"
            if not path.exists():
                generate_random(path, a.rows)
        for method in a.methods.split(","):
            m = measure([sys.executable, __file__, "--one", data, str(path), method])
            if not m.ok:
                print(m.failure(), file=sys.stderr)
                continue
            res = json.loads(m.stdout.strip().splitlines()[-1])
            table.append([data, f"{res['rows']:,}", method, res["value"], fmt_s(m.wall_s), fmt_s(m.cpu_s),
                          fmt_mib(m.peak_rss), f"{m.load_max:.1f}"])  # fmt: skip
            print(markdown_table(HEAD, table[-1:]), file=sys.stderr)
    print(json.dumps(machine_info()))
    print(markdown_table(HEAD, table))


if __name__ == "__main__":
    main()
