"""HyperLogLog distinct counts as a mergeable state (registers), fed by polars hashes.

SageMaker reports ``distinct_count`` / ``approximate_num_distinct_values`` from Deequ's
HyperLogLog++ (p = 9, Spark XxHash64); its exact bytes need Spark's hash and are not reproduced.
mmon keeps 2^12 one-byte registers (4 KiB per column; relative error about 1.04/sqrt(4096) =
1.6 %), which merge by element-wise max across batches, files and machines.

A batch costs one polars expression per column (:func:`key_expr`: register and rho packed in one
UInt32, evaluated for all columns in one select) and one ``np.maximum.at`` into the registers.

References: Flajolet, Fusy, Gandouet, Meunier, "HyperLogLog: the analysis of a near-optimal
cardinality estimation algorithm" (2007); the estimate is Ertl's (2017), see :func:`estimate`.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

P = 12
M = 1 << P
W = 64  # keys pack rho (< 64: a guard bit bounds it by 64 - P + 1) below the register index
_SEED = 42


def empty() -> np.ndarray:
    return np.zeros(M, dtype=np.uint8)


def key_expr(expr: pl.Expr, valid: pl.Expr | None = None) -> pl.Expr:
    """``register * 64 + rho`` of each value as UInt32; 0 for nulls and where ``valid`` is false
    (rho 0 never raises a register, so key 0 adds nothing)."""
    h = expr.hash(seed=_SEED)
    # register = top P bits; rho = 1 + leading zeros of the remaining bits (a guard bit bounds it).
    rho = ((h * (1 << P)) | (1 << (P - 1))).bitwise_leading_zeros().cast(pl.UInt32) + 1
    key = (h // (1 << (64 - P))).cast(pl.UInt32) * W + rho
    keep = expr.is_not_null() if valid is None else valid & expr.is_not_null()
    return pl.when(keep).then(key).otherwise(pl.lit(0, pl.UInt32))


def add_keys(registers: np.ndarray, keys: pl.Series | np.ndarray) -> None:
    """Raise ``registers`` to the rho of each key of :func:`key_expr`, in place."""
    arr = keys.to_numpy() if isinstance(keys, pl.Series) else keys
    np.maximum.at(registers, arr // W, (arr % W).astype(np.uint8))


def update(registers: np.ndarray, values: pl.Series) -> None:
    """Add a Series of values (nulls ignored) to ``registers`` in place."""
    if values.len() == 0:
        return
    add_keys(registers, values.to_frame("v").select(key_expr(pl.col("v"))).to_series())


def merge(into: np.ndarray, other: np.ndarray) -> None:
    """Fold ``other`` into ``into`` (element-wise max), in place."""
    np.maximum(into, other, out=into)


def registers(state: np.ndarray) -> np.ndarray:
    """The registers (the state is its registers; kept for readers of the estimate's inputs)."""
    return state


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_old = z
        z += x * y
        y += y
        if z == z_old:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        z_old = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == z_old:
            return z / 3.0


def estimate(state: np.ndarray) -> float:
    """Cardinality estimate: Ertl's improved raw estimator from the register histogram.

    O. Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017,
    arXiv:1702.01284), algorithm 6: unbiased over the whole range without HyperLogLog++'s
    empirical bias tables. (The original raw estimate with linear counting below 2.5·m is biased
    near the switch: +2.3 % on average at 10 000 distinct values, measured; this one +0.2 %.)
    Registers hold 0 … q + 1 with q = 64 - P.
    """
    m = float(M)
    q = 64 - P
    counts = np.bincount(registers(state), minlength=q + 2).astype(np.float64)
    z = m * _tau(1.0 - counts[q + 1] / m)
    for k in range(q, 0, -1):
        z = 0.5 * (z + counts[k])
    z += m * _sigma(counts[0] / m)
    return m * m / (2.0 * math.log(2.0)) / z
