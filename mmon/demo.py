"""Demo data for ``make demo``: a seeded loan-approval model's training set and a day of its traffic.

``python -m mmon.demo data OUT`` writes ``OUT/train.csv`` (the baseline dataset, prediction
column first as SageMaker lays out captured rows) and a day of endpoint capture and ground truth
in SageMaker's layout (``OUT/datacapture/demo-endpoint/AllTraffic/yyyy/mm/dd/hh/``,
``OUT/groundtruth/yyyy/mm/dd/hh/``) whose second half drifts: younger customers, lower incomes,
and a client that sends ages as ``23.0`` — so the monitoring run has something real to find.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

REGIONS = ["north", "south", "east", "west", "central"]
PRODUCTS = ["basic", "plus", "premium"]


def make_frame(n: int, seed: int, drift: bool = False) -> pl.DataFrame:
    """Rows of the demo model's inputs and its prediction (a probability), seeded."""
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 70, n)
    income = rng.lognormal(10.8, 0.45, n)
    if drift:
        age = rng.integers(18, 40, n)  # a younger population arrives
        income = income * 0.6
    tenure = rng.integers(0, 240, n)
    balance = np.round(rng.gamma(2.0, 1500.0, n), 2)
    credit = np.clip(rng.normal(680, 60, n), 300, 850).round().astype(int)
    region = rng.choice(REGIONS, n, p=[0.3, 0.2, 0.2, 0.2, 0.1])
    product = rng.choice(PRODUCTS, n, p=[0.6, 0.3, 0.1])
    logit = -8 + 0.012 * credit + 0.00001 * income - 0.01 * (age - 45) ** 2 / 10
    prob = 1 / (1 + np.exp(-logit))
    return pl.DataFrame(
        {
            "approved_probability": np.round(prob, 6),
            # After the drift a client also starts sending ages as floats ("23.0"): a type violation.
            "age": age.astype(np.float64) if drift else age,
            "income": np.round(income, 2),
            "credit_score": credit,
            "tenure_months": tenure,
            "balance": balance,
            "region": region,
            "product": product,
        }
    )


def write_data(out: Path) -> list[str]:
    from mmon.capture.synth import demo

    out.mkdir(parents=True, exist_ok=True)
    train = out / "train.csv"
    make_frame(20_000, seed=7).write_csv(train)
    r = demo(str(out))
    return [
        f"wrote {train} (20000 rows)",
        f"wrote {r.records} capture records in {r.files} files over {r.hours} hours to {r.capture}",
        f"wrote {r.labels} ground-truth labels in {r.label_files} files to {r.ground_truth}",
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "data":
        print("usage: python -m mmon.demo data OUT_DIR", file=sys.stderr)
        return 2
    for line in write_data(Path(argv[1])):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
