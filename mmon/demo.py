"""Demo data for ``make demo``: a seeded loan-approval model's training set and its traffic.

``python -m mmon.demo data OUT`` writes ``OUT/train.csv`` (the baseline dataset, prediction
column first as SageMaker lays out captured rows) and, where the capture tools exist, a day of
endpoint capture whose later hours drift (incomes and ages shift, a client starts sending ages as
``37.0``) so the monitoring run has something real to find.
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
            "age": age,
            "income": np.round(income, 2),
            "credit_score": credit,
            "tenure_months": tenure,
            "balance": balance,
            "region": region,
            "product": product,
        }
    )


def write_data(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    train = out / "train.csv"
    make_frame(20_000, seed=7).write_csv(train)
    return [train]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "data":
        print("usage: python -m mmon.demo data OUT_DIR", file=sys.stderr)
        return 2
    for p in write_data(Path(argv[1])):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
