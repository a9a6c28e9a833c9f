"""Clarify's Flip Test k-NN, fast on windows full of duplicate rows, with smclarify's exact answer.

smclarify fits scikit-learn's ``KNeighborsClassifier`` (k = 5, or 1 when facet a has at most 9
rows; Euclidean; uniform vote) on facet a's rows and predicts facet d's. A monitoring window is
often the same requests many times over (SageMaker's clarify-adult example sends one 334-row request
again and again), and a k-d tree query cannot prune the copies of its nearest row -- they all lie at
the same distance -- so the plain fit costs O(copies) per query (41 CPU s for 501 000 rows).

Here identical rows are grouped first (d's rows are queried once per distinct row; a's distinct
rows carry their count and their count of positive predictions), and the k nearest of the full set
are read off the distinct rows in distance order. Only where the k-th neighbour falls inside a group
of equally distant rows whose predictions differ can the answer depend on *which* of them the tree
keeps; those few rows are handed to scikit-learn's own classifier, fitted on facet a exactly as
smclarify fits it, so the result is smclarify's in every case (tests/bias/test_bias_fliptest.py).
"""

from __future__ import annotations

import numpy as np

# Distances within this relative margin count as equal: scipy's tree and scikit-learn's may round a
# sum of squares differently, and treating a near-tie as a tie only sends a row to scikit-learn.
_TIE = 1e-9
# Queries per batch and the most distinct rows read per query: bounded memory (about 64 MiB).
_CHUNK = 16_384
_WIDEST = 256


def neighbours(n_a: int) -> int:
    """smclarify's k: 5 when facet a has more than 9 rows (FT_SAMPLES_COUNT_THRESHOLD), else 1."""
    return 5 if n_a > 9 else 1


def _distinct(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows, each row's index among them): a lexicographic sort, then runs of equal rows
    (about 15x faster than ``np.unique(axis=0)``; 0.0 and -0.0 fall together, as in a distance)."""
    if not len(x):
        return x, np.zeros(0, np.int64)
    order = np.lexsort(x.T[::-1])
    ordered = x[order]
    first = np.empty(len(x), bool)
    first[0] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=first[1:])
    inverse = np.empty(len(x), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _vote(
    dist: np.ndarray, idx: np.ndarray, count: np.ndarray, pos: np.ndarray, k: int, complete: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(decided, positive, need_more) per query from its nearest distinct rows in distance order.

    The k nearest points are every point nearer than the k-th one's distance D and some of the points
    at distance D; the vote is decided when every such choice gives the same majority."""
    c, p = count[idx], pos[idx]
    cum = np.cumsum(c, axis=1)
    enough = cum[:, -1] >= k
    j = np.argmax(cum >= k, axis=1)
    d_k = dist[np.arange(len(dist)), j][:, None]
    tol = d_k * _TIE
    near = dist < d_k - tol
    tied = np.abs(dist - d_k) <= tol
    c_near, p_near = (c * near).sum(axis=1), (p * near).sum(axis=1)
    c_tied, p_tied = (c * tied).sum(axis=1), (p * tied).sum(axis=1)
    take = k - c_near  # points still to choose among the tied ones
    low = p_near + np.maximum(0, take - (c_tied - p_tied))
    high = p_near + np.minimum(take, p_tied)
    # The tied group may go on past the last distinct row queried: ask for more rows.
    need_more = ~enough | (tied[:, -1] if not complete else np.zeros(len(dist), bool))
    decided = ~need_more & ((2 * low > k) == (2 * high > k))
    return decided, 2 * low > k, need_more


def _sklearn_predict(x_a: np.ndarray, yhat_a: np.ndarray, x_q: np.ndarray, k: int) -> np.ndarray:
    """smclarify's own classifier (posttraining.FT's arguments), for the rows a tie leaves open."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(
        n_neighbors=k, weights="uniform", algorithm="auto", leaf_size=30, p=2, metric="minkowski"
    )
    knn.fit(x_a, yhat_a)
    return np.asarray(knn.predict(x_q), dtype=bool)


def knn_predict(x_a: np.ndarray, yhat_a: np.ndarray, x_d: np.ndarray) -> np.ndarray:
    """What smclarify's k-NN fitted on (x_a, yhat_a) predicts for every row of x_d (bool)."""
    from scipy.spatial import cKDTree

    k = neighbours(len(x_a))
    rows_a, inv_a = _distinct(x_a)
    rows_d, inv_d = _distinct(x_d)
    count = np.bincount(inv_a, minlength=len(rows_a))
    pos = np.bincount(inv_a, weights=yhat_a.astype(np.float64), minlength=len(rows_a)).astype(np.int64)
    tree = cKDTree(rows_a)
    out = np.zeros(len(rows_d), bool)
    undecided = []
    for start in range(0, len(rows_d), _CHUNK):
        todo = np.arange(start, min(start + _CHUNK, len(rows_d)))
        width = min(k + 3, len(rows_a))
        while todo.size:
            dist, idx = tree.query(rows_d[todo], k=width, workers=-1)
            dist, idx = dist.reshape(len(todo), width), idx.reshape(len(todo), width)
            complete = width == len(rows_a)
            decided, positive, need_more = _vote(dist, idx, count, pos, k, complete)
            out[todo[decided]] = positive[decided]
            undecided.append(todo[~decided & ~need_more])
            todo = todo[need_more]
            width = min(width * 4, len(rows_a))
            if width > _WIDEST:  # a tie among very many distinct rows: let scikit-learn walk it
                undecided.append(todo)
                break
    rest = np.concatenate(undecided)
    if rest.size:
        out[rest] = _sklearn_predict(x_a, yhat_a, rows_d[rest], k)
    return out[inv_d]


def flip_counts(x_a: np.ndarray, yhat_a: np.ndarray, x_d: np.ndarray, yhat_d: np.ndarray) -> tuple[int, int]:
    """(|F+|, |F-|) of Clarify's Flip Test: F+ = model positive and k-NN negative, F- the reverse."""
    knn = knn_predict(x_a, yhat_a.astype(bool), x_d)
    yhat_d = yhat_d.astype(bool)
    return int(np.sum(yhat_d & ~knn)), int(np.sum(~yhat_d & knn))
