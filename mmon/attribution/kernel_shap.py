"""Kernel SHAP (Lundberg & Lee 2017) in numpy, batched across records, seeded.

The algorithm is the one of the ``shap`` package's ``KernelExplainer`` (coalition sampling, Shapley
kernel weights, constrained weighted least squares with the efficiency constraint
``sum(phi) = f(x) - E[f(background)]``), with three differences that matter for monitoring:

- **one set of coalitions for every record**, drawn once from ``numpy.random.default_rng(seed)``,
  so reruns agree bit for bit and the least-squares matrix is factorised once;
- **model calls are batched across records**: the synthetic rows of all records form one stream cut
  into calls of ``batch_size`` rows (``KernelExplainer`` calls the model once per record);
- no L1 feature selection (``KernelExplainer``'s ``l1_reg`` default): every feature gets a value.

When ``num_samples >= 2**M - 2`` every coalition is enumerated and the values are exact Shapley
values of the interventional value function ``v(S) = E_b f(x_S, b_{not S})`` over the weighted
background; for a linear model they equal ``w_i (x_i - E[b_i])`` for any coalition set.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_LOGIT_EPS = 1e-12


def default_num_samples(m: int) -> int:
    """``KernelExplainer``'s ``nsamples="auto"``: ``2M + 2048``, capped at the ``2**M - 2`` coalitions."""
    return min(2 * m + 2048, max_coalitions(m))


def max_coalitions(m: int) -> int:
    return 2**m - 2 if m <= 30 else 2**30


def coalitions(m: int, num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Coalition masks (S, M) bool and their kernel weights (S,), as ``KernelExplainer`` draws them.

    Subset sizes whose coalitions all fit in the budget are enumerated (with their complements),
    from the smallest/largest inwards; the rest of the budget is sampled from the Shapley kernel's
    size distribution, each draw paired with its complement, duplicates adding weight.
    """
    if m < 2:
        return np.zeros((0, m), dtype=bool), np.zeros(0)
    n = max(1, min(int(num_samples), max_coalitions(m)))
    rng = np.random.default_rng(seed)
    num_subset_sizes = math.ceil((m - 1) / 2)
    num_paired = math.floor((m - 1) / 2)
    weight_vector = np.array([(m - 1.0) / (i * (m - i)) for i in range(1, num_subset_sizes + 1)])
    weight_vector[:num_paired] *= 2
    weight_vector /= weight_vector.sum()

    masks: list[np.ndarray] = []
    weights: list[float] = []
    num_full = 0
    left = n
    remaining = weight_vector.copy()
    for size in range(1, num_subset_sizes + 1):
        nsubsets = math.comb(m, size) * (2 if size <= num_paired else 1)
        if left * remaining[size - 1] / nsubsets < 1.0 - 1e-8:
            break
        num_full += 1
        left -= nsubsets
        if remaining[size - 1] < 1.0:
            remaining /= 1.0 - remaining[size - 1]
        w = weight_vector[size - 1] / math.comb(m, size)
        if size <= num_paired:
            w /= 2.0
        for inds in itertools.combinations(range(m), size):
            mask = np.zeros(m, dtype=bool)
            mask[list(inds)] = True
            masks.append(mask)
            weights.append(w)
            if size <= num_paired:
                masks.append(~mask)
                weights.append(w)

    nfixed = len(masks)
    if num_full != num_subset_sizes and left > 0:
        rem = weight_vector.copy()
        rem[:num_paired] /= 2
        rem = rem[num_full:]
        rem /= rem.sum()
        draws = rng.choice(len(rem), 4 * left, p=rem)
        used: dict[bytes, int] = {}
        pos = 0
        while left > 0 and pos < len(draws):
            size = int(draws[pos]) + num_full + 1
            pos += 1
            mask = np.zeros(m, dtype=bool)
            mask[rng.permutation(m)[:size]] = True
            key = mask.tobytes()
            new = key not in used
            if new:
                used[key] = len(masks)
                masks.append(mask)
                weights.append(1.0)
                left -= 1
            else:
                weights[used[key]] += 1.0
            if left > 0 and size <= num_paired:
                if new:
                    masks.append(~mask)
                    weights.append(1.0)
                    left -= 1
                else:
                    weights[used[key] + 1] += 1.0
        w_arr = np.asarray(weights)
        weight_left = weight_vector[num_full:].sum()
        if len(masks) > nfixed:
            w_arr[nfixed:] *= weight_left / w_arr[nfixed:].sum()
        weights = list(w_arr)
    return np.array(masks, dtype=bool).reshape(-1, m), np.asarray(weights, dtype=np.float64)


def kmeans(x: np.ndarray, k: int, seed: int, iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Seeded k-means++ / Lloyd on standardised columns: (centres in original units, weights = shares).

    Like ``shap.kmeans`` the summary is a weighted background: each centre weighs the share of rows
    in its cluster. NaNs are replaced by the column mean before clustering.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("k-means of an empty dataset")
    col_mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
    col_mean = np.where(np.isfinite(col_mean), col_mean, 0.0)
    x = np.where(np.isfinite(x), x, col_mean)
    k = max(1, min(k, n, len(np.unique(x, axis=0))))
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - x.mean(axis=0)) / scale
    rng = np.random.default_rng(seed)
    centres = [z[rng.integers(n)]]
    d2 = ((z - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        idx = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
        centres.append(z[idx])
        d2 = np.minimum(d2, ((z - z[idx]) ** 2).sum(axis=1))
    c = np.array(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        dist = ((z[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        for j in range(k):
            members = z[new == j]
            if len(members):
                c[j] = members.mean(axis=0)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    keep = counts > 0
    centres_orig = np.array([x[labels == j].mean(axis=0) for j in range(k) if keep[j]])
    return centres_orig, counts[keep] / counts.sum()


@dataclass
class ShapResult:
    values: np.ndarray  # (n, M, D) local SHAP values
    expected_value: np.ndarray  # (D,) link(E[f(background)])
    predictions: np.ndarray  # (n, D) link(f(x))
    model_calls: int
    rows_sent: int
    underdetermined: bool = False  # fewer independent coalitions than features: values not identifiable


def _link(y: np.ndarray, use_logit: bool) -> np.ndarray:
    if not use_logit:
        return y
    p = np.clip(y, _LOGIT_EPS, 1.0 - _LOGIT_EPS)
    return np.log(p / (1.0 - p))


def kernel_shap(
    predict: Callable[[np.ndarray, str], np.ndarray],
    x: np.ndarray,
    background: np.ndarray,
    background_weights: np.ndarray | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    use_logit: bool = False,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> ShapResult:
    """Local Kernel SHAP values of every row of ``x`` against ``background``.

    ``predict(rows, where)`` returns an (len(rows), D) float array; it is called
    ``ceil((B + n + n*S*B) / batch_size)`` times for B background rows, n records, S coalitions.
    """
    n, m = x.shape
    nb = len(background)
    if nb == 0:
        raise ValueError("the SHAP baseline (background) has no rows")
    bw = (
        np.full(nb, 1.0 / nb)
        if background_weights is None
        else np.asarray(background_weights, dtype=np.float64)
    )
    bw = bw / bw.sum()
    masks, kw = coalitions(m, num_samples or default_num_samples(m), seed)
    s = len(masks)
    seg_bg, seg_x = nb, nb + n
    per_record = s * nb
    total = nb + n + n * per_record
    calls = max(1, math.ceil(total / batch_size))

    bg_out: np.ndarray | None = None
    x_out: np.ndarray | None = None
    ey: np.ndarray | None = None  # (n * s, D) background-weighted mean of the synthetic outputs
    dtype = x.dtype if x.dtype == background.dtype else np.dtype(object)

    def rows_for(start: int, stop: int) -> np.ndarray:
        parts = []
        if start < seg_bg:
            parts.append(background[start : min(stop, seg_bg)].astype(dtype, copy=False))
        if stop > seg_bg and start < seg_x:
            parts.append(x[max(start, seg_bg) - seg_bg : min(stop, seg_x) - seg_bg].astype(dtype, copy=False))
        if stop > seg_x:
            r = np.arange(max(start, seg_x), stop) - seg_x
            rec, rest = np.divmod(r, per_record)
            coal, b = np.divmod(rest, nb)
            parts.append(np.where(masks[coal], x[rec], background[b]).astype(dtype, copy=False))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    for call in range(calls):
        start, stop = call * batch_size, min(total, (call + 1) * batch_size)
        if start >= stop:
            break
        where = f"batch {call + 1} of {calls} (rows {start + 1}-{stop} of {total} synthetic rows)"
        y = predict(rows_for(start, stop), where)
        d = y.shape[1]
        if bg_out is None:
            bg_out = np.zeros((nb, d))
            x_out = np.zeros((n, d))
            ey = np.zeros((n * s, d))
        if y.shape[1] != bg_out.shape[1]:
            raise ValueError(
                f"{where}: the model returned {y.shape[1]} outputs per row, earlier batches {bg_out.shape[1]}"
            )
        lo = start
        if lo < seg_bg:
            hi = min(stop, seg_bg)
            bg_out[lo:hi] = y[: hi - lo]
            lo = hi
        if stop > seg_bg and lo < seg_x:
            hi = min(stop, seg_x)
            x_out[lo - seg_bg : hi - seg_bg] = y[lo - start : hi - start]  # type: ignore[index]
            lo = hi
        if stop > seg_x and lo < stop:
            r = np.arange(lo, stop) - seg_x
            b = r % nb
            group = r // nb  # record * s + coalition
            yy = y[lo - start :] * bw[b][:, None]
            for j in range(d):
                ey[group[0] : group[-1] + 1, j] += np.bincount(group - group[0], weights=yy[:, j])  # type: ignore[index]
        if progress is not None:
            progress(call + 1, calls)

    assert bg_out is not None and x_out is not None and ey is not None
    d = bg_out.shape[1]
    fnull = _link(bw @ bg_out, use_logit)  # (D,)
    fx = _link(x_out, use_logit)  # (n, D)
    phi = np.zeros((n, m, d))
    underdetermined = False
    if m == 1:
        phi[:, 0, :] = fx - fnull
    elif m > 1:
        eyl = _link(ey.reshape(n, s, d), use_logit) - fnull  # (n, s, D)
        z = masks.astype(np.float64)
        last = z[:, -1]
        delta = fx - fnull  # (n, D)
        adj = eyl - last[None, :, None] * delta[:, None, :]
        etmp = z[:, :-1] - last[:, None]  # (s, M-1)
        a = etmp.T @ (kw[:, None] * etmp)
        underdetermined = bool(np.linalg.matrix_rank(a) < m - 1)
        rhs = np.einsum("sm,s,nsd->mnd", etmp, kw, adj).reshape(m - 1, n * d)
        try:
            sol = np.linalg.solve(a, rhs)
        except np.linalg.LinAlgError:
            sol = np.linalg.lstsq(a, rhs, rcond=None)[0]
        rest = sol.reshape(m - 1, n, d).transpose(1, 0, 2)
        phi[:, :-1, :] = rest
        phi[:, -1, :] = delta - rest.sum(axis=1)
    return ShapResult(phi, fnull, fx, calls, total, underdetermined)
