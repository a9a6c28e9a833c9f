"""Kernel SHAP (mmon.attribution.kernel_shap): exactness, seeding, batching, k-means, nDCG."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mmon.attribution import coalitions, kernel_shap, kmeans, ndcg, violation
from mmon.attribution.ndcg import rankings

W = np.array([3.0, 2.0, 1.0, 0.25])


def _linear(rows: np.ndarray, where: str = "") -> np.ndarray:
    return (0.5 + rows @ W).reshape(-1, 1)


def _interaction(rows: np.ndarray, where: str = "") -> np.ndarray:
    x = rows.astype(np.float64)
    return (np.tanh(x[:, 0] * x[:, 1]) + x[:, 2] ** 2 - 0.5 * x[:, 3] * x[:, 0]).reshape(-1, 1)


def _exact_shapley(f, x: np.ndarray, background: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Shapley values by the permutation-weight formula, v(S) = E_b f(x_S, b_rest)."""
    m = len(x)

    def v(subset: tuple[int, ...]) -> float:
        rows = background.copy()
        rows[:, list(subset)] = x[list(subset)]
        return float(weights @ f(rows)[:, 0])

    phi = np.zeros(m)
    for j in range(m):
        others = [k for k in range(m) if k != j]
        for r in range(m):
            for s in itertools.combinations(others, r):
                w = math.factorial(r) * math.factorial(m - r - 1) / math.factorial(m)
                phi[j] += w * (v(tuple(sorted(s + (j,)))) - v(s))
    return phi


@pytest.mark.parametrize("num_samples", [14, 8, 5])
def test_linear_model_matches_closed_form(num_samples: int) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, 4)) * 3
    background = rng.normal(size=(5, 4)) + 1
    weights = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    res = kernel_shap(_linear, x, background, weights, num_samples=num_samples, batch_size=64)
    mean = weights @ background
    expected = W * (x - mean)
    assert np.abs(res.values[:, :, 0] - expected).max() < 1e-6
    assert res.expected_value[0] == pytest.approx(0.5 + mean @ W, abs=1e-12)
    # Efficiency: the values add up to f(x) - E f(background).
    assert np.allclose(res.values[:, :, 0].sum(axis=1), res.predictions[:, 0] - res.expected_value[0])
    assert not res.underdetermined


def test_too_few_coalitions_are_reported() -> None:
    x = np.random.default_rng(0).normal(size=(3, 4))
    assert kernel_shap(_linear, x, np.zeros((1, 4)), num_samples=2).underdetermined


def test_full_enumeration_is_exact_for_a_nonlinear_model() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4))
    background = rng.normal(size=(3, 4))
    weights = np.full(3, 1 / 3)
    res = kernel_shap(_interaction, x, background, num_samples=10**6, batch_size=50)
    for i in range(len(x)):
        assert (
            np.abs(res.values[i, :, 0] - _exact_shapley(_interaction, x[i], background, weights)).max() < 1e-9
        )


def test_use_logit_gives_log_odds_values() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 4)) * 0.3
    background = rng.normal(size=(4, 4)) * 0.3

    def prob(rows: np.ndarray, where: str = "") -> np.ndarray:
        return 1 / (1 + np.exp(-_linear(rows)))

    # One background row: logit(E f(b)) = w·b + 0.5, so the log-odds SHAP values are linear ones.
    res = kernel_shap(prob, x, background[:1], use_logit=True, num_samples=100)
    assert np.abs(res.values[:, :, 0] - W * (x - background[0])).max() < 1e-6
    assert res.expected_value[0] == pytest.approx(0.5 + background[0] @ W)


def test_seeded_sampling_is_reproducible_and_seed_dependent() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 8))
    background = rng.normal(size=(4, 8))

    def f(rows: np.ndarray, where: str = "") -> np.ndarray:
        return (np.sin(rows[:, 0] * rows[:, 1]) + rows[:, 2:].prod(axis=1)).reshape(-1, 1)

    a = kernel_shap(f, x, background, num_samples=40, seed=5, batch_size=333)
    b = kernel_shap(f, x, background, num_samples=40, seed=5, batch_size=1000)
    c = kernel_shap(f, x, background, num_samples=40, seed=6, batch_size=333)
    assert np.array_equal(a.values, b.values)  # batch size does not change the result
    assert not np.allclose(a.values, c.values)
    masks, w = coalitions(8, 40, 5)
    assert len(masks) == 40 and w.sum() == pytest.approx(1.0)


def test_coalitions_enumerate_all_when_budget_allows() -> None:
    masks, w = coalitions(5, 10**6, 0)
    assert len(masks) == 30 and len({m.tobytes() for m in masks}) == 30
    sizes = masks.sum(axis=1)
    assert 0 not in sizes and 5 not in sizes
    # Shapley kernel: weight per coalition of size s proportional to (M-1) / (C(M,s) s (M-s)).
    for mask, weight in zip(masks, w, strict=True):
        s = int(mask.sum())
        ref = 4 / (math.comb(5, s) * s * (5 - s))
        ref_total = sum(4 / (k * (5 - k)) for k in range(1, 5))
        assert weight == pytest.approx(ref / ref_total)


def test_model_calls_are_batched_across_records() -> None:
    calls: list[int] = []

    def f(rows: np.ndarray, where: str = "") -> np.ndarray:
        calls.append(len(rows))
        return _linear(rows)

    x = np.ones((30, 4))
    background = np.zeros((2, 4))
    res = kernel_shap(f, x, background, num_samples=14, batch_size=100)
    total = 2 + 30 + 30 * 14 * 2
    assert res.rows_sent == total == sum(calls)
    assert res.model_calls == len(calls) == math.ceil(total / 100)
    assert max(calls) == 100


def test_multiple_outputs() -> None:
    def f(rows: np.ndarray, where: str = "") -> np.ndarray:
        return np.column_stack([rows @ W, rows @ W[::-1]])

    x = np.random.default_rng(2).normal(size=(5, 4))
    res = kernel_shap(f, x, np.zeros((1, 4)))
    assert res.values.shape == (5, 4, 2)
    assert np.allclose(res.values[:, :, 0], W * x) and np.allclose(res.values[:, :, 1], W[::-1] * x)


def test_single_feature() -> None:
    res = kernel_shap(lambda r, w: r * 2.0, np.array([[3.0], [1.0]]), np.array([[1.0]]))
    assert np.allclose(res.values[:, 0, 0], [4.0, 0.0])


def test_kmeans_is_seeded_and_weighted() -> None:
    rng = np.random.default_rng(0)
    data = np.vstack([rng.normal(0, 0.1, size=(60, 2)), rng.normal(10, 0.1, size=(40, 2))])
    c1, w1 = kmeans(data, 2, seed=1)
    c2, w2 = kmeans(data, 2, seed=1)
    assert np.array_equal(c1, c2) and np.array_equal(w1, w2)
    order = np.argsort(c1[:, 0])
    assert np.allclose(w1[order], [0.6, 0.4])
    assert np.allclose(c1[order][1], [10, 10], atol=0.1)
    # Weighted centres keep the data mean, so linear SHAP values stay exact with a k-means background.
    assert np.allclose(w1 @ c1, data.mean(axis=0))


# -- nDCG ------------------------------------------------------------------------------------------


def test_ndcg_doc_example() -> None:
    base = {"SAT": 0.70, "GPA": 0.50, "rank": 0.05}
    cur = {"SAT": 0.1, "GPA": 0.4, "rank": 0.9}
    dcg = 0.05 / 1 + 0.5 / math.log2(3) + 0.7 / 2
    idcg = 0.7 / 1 + 0.5 / math.log2(3) + 0.05 / 2
    assert ndcg(base, cur) == pytest.approx(dcg / idcg, abs=1e-15)
    assert round(ndcg(base, cur), 2) == 0.69


def test_ndcg_hand_computation_four_features() -> None:
    base = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}
    cur = {"a": 10.0, "b": 1.0, "c": 5.0, "d": 0.5}  # order a, c, b, d
    idcg = 4 + 3 / math.log2(3) + 2 / 2 + 1 / math.log2(5)
    dcg = 4 + 2 / math.log2(3) + 3 / 2 + 1 / math.log2(5)
    assert ndcg(base, cur) == pytest.approx(dcg / idcg, abs=1e-15)
    # Same order, different magnitudes: 1.0 (only the order of the current run matters).
    assert ndcg(base, {k: v * 100 + 1 for k, v in base.items()}) == 1.0


def test_ndcg_ties_missing_and_zero() -> None:
    base = {"a": 1.0, "b": 1.0, "c": 0.5}
    assert ndcg(base, {"a": 0.2, "b": 0.2, "c": 0.1}) == 1.0  # ties keep the baseline order
    assert rankings(base, {"b": 1.0, "c": 0.2})[1] == ["b", "c", "a"]  # missing feature ranks last
    assert ndcg({"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 2.0}) is None


def test_violation_entry_is_clarifys() -> None:
    assert violation("label0", 0.7639720923277322, 0.9) == {
        "label": "label0",
        "metric_name": "shap",
        "constraint_check_type": "feature_attribution_drift_check",
        "description": "Feature attribution drift 0.7639720923277322 exceeds threshold 0.9",
    }
