"""The Flip Test's k-NN (mmon.bias.fliptest) vs smclarify's own FT on data full of duplicates and ties.

mmon groups identical rows and reads the k nearest neighbours off the distinct rows; where a tie
leaves the vote open it asks scikit-learn's classifier, as smclarify does. These tests compare the
value with smclarify's ``posttraining.FT`` exactly (not to a tolerance): same rows, same order.
"""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
posttraining = pytest.importorskip("smclarify.bias.metrics.posttraining")

from mmon.bias import fliptest  # noqa: E402


def _smclarify_ft(x: np.ndarray, facet_d: np.ndarray, yhat: np.ndarray) -> float:
    df = pd.DataFrame(x, columns=[f"f{j}" for j in range(x.shape[1])])
    return float(posttraining.FT(df, pd.Series(facet_d), pd.Series(yhat)))


def _mmon_ft(x: np.ndarray, facet_d: np.ndarray, yhat: np.ndarray) -> float:
    f_pos, f_neg = fliptest.flip_counts(x[~facet_d], yhat[~facet_d], x[facet_d], yhat[facet_d])
    return (f_pos - f_neg) / int(facet_d.sum())


def _case(seed: int, n: int, distinct: int, features: int, levels: int, noise: float) -> tuple:
    """n rows drawn from `distinct` rows of small integers (exact duplicates, many equal distances),
    predictions noisy so that identical rows carry both predictions."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, levels, size=(distinct, features)).astype(float)
    x = pool[rng.integers(0, distinct, n)]
    facet_d = rng.random(n) < 0.4
    score = x @ rng.normal(size=features) + rng.normal(0, noise, n)
    yhat = score > np.median(score)
    return x, facet_d, yhat


@pytest.mark.parametrize(
    "seed,n,distinct,features,levels,noise",
    [
        (1, 400, 30, 3, 3, 1.0),  # few distinct rows, each with both predictions: ties everywhere
        (2, 600, 200, 4, 4, 0.5),  # equal distances between distinct rows (integer grid)
        (3, 300, 300, 2, 5, 0.0),  # deterministic predictions, duplicates carry one prediction
        (4, 14, 6, 2, 3, 1.0),  # facet a of at most 9 rows: k = 1, ties at distance 0
        (5, 500, 40, 17, 2, 1.0),  # more than 15 features: scikit-learn's brute-force search
        (6, 800, 800, 3, 1000, 0.3),  # continuous-like: no ties at all
    ],
)
def test_flip_test_is_smclarifys_on_duplicates_and_ties(seed, n, distinct, features, levels, noise) -> None:
    x, facet_d, yhat = _case(seed, n, distinct, features, levels, noise)
    assert _mmon_ft(x, facet_d, yhat) == _smclarify_ft(x, facet_d, yhat)


def test_copies_of_a_window_as_smclarify_sees_them() -> None:
    """The same rows sent N times (a monitoring window of repeated requests): smclarify's k = 5 then
    sees each row's copies as its nearest neighbours; mmon gives the same value for every N."""
    x, facet_d, yhat = _case(7, 120, 120, 3, 50, 0.4)
    for copies in (1, 2, 3, 6):
        xs, fs, ys = np.tile(x, (copies, 1)), np.tile(facet_d, copies), np.tile(yhat, copies)
        assert _mmon_ft(xs, fs, ys) == _smclarify_ft(xs, fs, ys), copies


def test_an_open_tie_is_decided_by_scikit_learn() -> None:
    """A facet-d row whose 5 nearest neighbours must be picked from 6 copies of one facet-a row, 3
    predicted positive and 3 negative: the vote depends on which copies the tree keeps, so mmon
    hands the row to scikit-learn (it must not guess)."""
    x_a = np.array([[0.0, 0.0]] * 6 + [[5.0, 5.0]] * 10)
    yhat_a = np.array([True, False, True, False, True, False] + [False] * 10)
    x_d = np.array([[0.0, 0.0], [5.0, 5.0]])
    from sklearn.neighbors import KNeighborsClassifier

    want = KNeighborsClassifier(n_neighbors=5).fit(x_a, yhat_a).predict(x_d)
    assert list(fliptest.knn_predict(x_a, yhat_a, x_d)) == list(want)
    # Facet a of at most 9 rows (k = 1): two copies of the nearest row, one of each prediction.
    x_a, yhat_a = np.array([[1.0], [1.0], [3.0]]), np.array([False, True, True])
    want = KNeighborsClassifier(n_neighbors=1).fit(x_a, yhat_a).predict(np.array([[1.2]]))
    assert list(fliptest.knn_predict(x_a, yhat_a, np.array([[1.2]]))) == list(want)


def test_the_order_of_facet_a_rows_can_move_ft_as_in_smclarify() -> None:
    """Equally distant neighbours are chosen by the tree's visiting order, which follows the order of
    facet a's rows: the same rows shuffled can give another FT, in smclarify as in mmon (mmon gives
    smclarify's value for each order)."""
    x, facet_d, yhat = _case(8, 3000, 900, 3, 6, 0.8)
    order = np.random.default_rng(9).permutation(len(x))
    values = []
    for idx in (np.arange(len(x)), order):
        theirs = _smclarify_ft(x[idx], facet_d[idx], yhat[idx])
        assert _mmon_ft(x[idx], facet_d[idx], yhat[idx]) == theirs
        values.append(theirs)
    assert values[0] != values[1]
