"""The pure model-quality metric functions: hand-computed cases and scikit-learn on random arrays."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import sklearn.metrics as sk  # test-only dependency (pyproject [test])

from mmon.model_quality import functions as F

TOL = 1e-9


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


# -- hand-computed ------------------------------------------------------------------------------


def test_binary_counts_by_hand() -> None:
    # TP 3, FP 1, FN 2, TN 4 (n = 10)
    assert F.recall(3, 2) == 0.6
    assert F.precision(3, 1) == 0.75
    assert F.accuracy(7, 10) == 0.7
    assert F.true_positive_rate(3, 2) == 0.6
    assert F.false_positive_rate(1, 4) == 0.2
    assert F.true_negative_rate(1, 4) == 0.8
    assert F.false_negative_rate(3, 2) == 1 - 0.6
    # F1 = 2·0.75·0.6 / (0.75 + 0.6) = 0.9 / 1.35
    assert close(F.f_beta(0.75, 0.6, 1.0), 2 / 3)
    # F2 = 5·P·R / (4P + R) = 2.25 / 3.6
    assert close(F.f_beta(0.75, 0.6, 2.0), 0.625)
    # F0.5 = 1.25·P·R / (0.25P + R) = 0.5625 / 0.7875
    assert close(F.f_beta(0.75, 0.6, 0.5), 0.5625 / 0.7875)


def test_zero_denominators_give_zero() -> None:
    assert F.recall(0, 0) == 0.0
    assert F.precision(0, 0) == 0.0
    assert F.accuracy(0, 0) == 0.0
    assert F.false_positive_rate(0, 0) == 0.0
    assert F.true_negative_rate(0, 0) == 1.0  # 1 − FPR
    assert F.false_negative_rate(0, 0) == 1.0  # 1 − recall
    assert F.f_beta(0.0, 0.0, 1.0) == 0.0
    assert F.mean_absolute_error(0.0, 0) == 0.0


def test_sagemaker_evaluation_order() -> None:
    """REAL-MQ-2021's run printed these exact doubles (TP 156, FP 69, FN 1218, TN 449)."""
    tp, fp, fn, tn = 156, 69, 1218, 449
    p, r = F.precision(tp, fp), F.recall(tp, fn)
    assert p == 0.6933333333333334
    assert r == 0.11353711790393013
    assert F.f_beta(p, r, 1.0) == 0.19512195121951217
    assert F.f_beta(p, r, 2.0) == 0.13633980073413737
    assert F.true_negative_rate(fp, tn) == 0.8667953667953667  # 449/518 would be …668
    assert F.false_positive_rate(fp, tn) == 0.13320463320463322
    assert F.false_negative_rate(tp, fn) == 0.8864628820960698
    assert F.accuracy(tp + tn, tp + fp + fn + tn) == 0.31976744186046513
    # The baseline's FNR threshold 0.4285714285714286 is 1 − 16/28, not 12/28.
    assert F.false_negative_rate(16, 12) == 0.4285714285714286 != 12 / 28


def test_vectorised_over_samples() -> None:
    tp = np.array([3.0, 0.0, 5.0])
    fn = np.array([2.0, 0.0, 5.0])
    assert F.recall(tp, fn).tolist() == [0.6, 0.0, 0.5]
    assert F.f_beta(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 1.0).tolist() == [0.0, 1.0]


def test_best_constant_class() -> None:
    assert F.best_constant_class([173, 28]) == 0
    assert F.best_constant_class([5, 9, 9]) == 1  # ties: the first
    assert F.best_constant_class(np.array([[1, 2], [3, 1]])).tolist() == [1, 0]


def test_multiclass_by_hand() -> None:
    # actual a: 2 (both right), b: 3 (1 right, 2 → c), c: 1 (→ a)
    cm = np.array([[2, 0, 0], [0, 1, 2], [1, 0, 0]])
    assert close(F.multiclass_accuracy(cm), 3 / 6)
    # recalls 1, 1/3, 0 weighted 2/6, 3/6, 1/6
    assert close(F.weighted_recall(cm), 2 / 6 * 1 + 3 / 6 * (1 / 3))
    # precisions a 2/3, b 1, c 0
    assert close(F.weighted_precision(cm), 2 / 6 * (2 / 3) + 3 / 6 * 1)
    f_a = 2 * (2 / 3) * 1 / (2 / 3 + 1)
    f_b = 2 * 1 * (1 / 3) / (1 + 1 / 3)
    assert close(F.weighted_f_beta(cm, 1.0), 2 / 6 * f_a + 3 / 6 * f_b)


def test_curves_by_hand() -> None:
    # scores 0.9(+) 0.8(−) 0.8(+) 0.3(−): tie group at 0.8
    tp, fp = F.score_groups(pl.Series([0.9, 0.8, 0.8, 0.3]), pl.Series([True, False, True, False]))
    assert tp.tolist() == [1, 2, 2] and fp.tolist() == [0, 1, 2]
    x, y = F.roc_curve(tp, fp)
    assert x.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert y.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert F.area_under_curve(x, y) == 0.5 * (1.0 + 0.5) / 2 + 0.5 * 1.0  # 0.875
    r, p = F.precision_recall_curve(tp, fp)
    assert r.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert p.tolist() == [1.0, 1.0, 2 / 3, 0.5]
    assert close(F.area_under_curve(r, p), 0.5 * 1.0 + 0.5 * (1.0 + 2 / 3) / 2)


def test_score_groups_ignores_missing_scores_and_filters_rows() -> None:
    s = pl.Series([0.9, None, float("nan"), 0.1])
    y = pl.Series([True, True, False, False])
    tp, fp = F.score_groups(s, y)
    assert tp.tolist() == [1, 1] and fp.tolist() == [0, 1]
    tp, fp = F.score_groups(s, y, pl.Series([False, True, True, True]))
    assert tp.tolist() == [0] and fp.tolist() == [1]


def test_thin_curve() -> None:
    assert F.thin_curve(1500, 1000).tolist() == list(range(1500))  # g = 1: no thinning
    idx = F.thin_curve(10_001, 1000)  # g = 10
    assert idx[0] == 9 and idx[-1] == 10_000 and np.all(np.diff(idx) <= 10) and idx.size == 1001


def test_regression_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    yhat = np.array([1.5, 2.0, 2.0, 5.0])
    e = yhat - y
    assert F.mean_absolute_error(np.abs(e).sum(), 4) == 2.5 / 4
    mse = F.mean_squared_error((e * e).sum(), 4)
    assert mse == 2.25 / 4
    assert F.root_mean_squared_error(mse) == math.sqrt(2.25 / 4)
    assert close(F.r2((e * e).sum(), ((y - y.mean()) ** 2).sum()), 1 - 2.25 / 5)
    assert F.r2(0.0, 0.0) == 1.0  # constant labels, perfect prediction
    assert F.r2(3.0, 0.0) == 0.0  # constant labels, imperfect prediction
    assert F.r2(np.array([0.0, 3.0, 1.0]), np.array([0.0, 0.0, 4.0])).tolist() == [1.0, 0.0, 0.75]


# -- scikit-learn on random arrays ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_binary_functions_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    score = np.round(np.clip(y * 0.3 + rng.random(n) * 0.8, 0, 1), int(rng.integers(1, 4)))  # ties
    pred = score > 0.5
    tp = float(np.sum(y & pred))
    fp = float(np.sum(~y & pred))
    fn = float(np.sum(y & ~pred))
    tn = float(np.sum(~y & ~pred))
    p, r = F.precision(tp, fp), F.recall(tp, fn)
    assert close(r, sk.recall_score(y, pred, zero_division=0))
    assert close(p, sk.precision_score(y, pred, zero_division=0))
    assert close(F.accuracy(tp + tn, n), sk.accuracy_score(y, pred))
    for beta in (0.5, 1.0, 2.0):
        assert close(F.f_beta(p, r, beta), sk.fbeta_score(y, pred, beta=beta, zero_division=0))
    (stn, sfp), (sfn, stp) = sk.confusion_matrix(y, pred, labels=[False, True])
    assert close(F.true_negative_rate(fp, tn), stn / (stn + sfp))
    assert close(F.false_negative_rate(tp, fn), sfn / (sfn + stp))
    assert close(F.false_positive_rate(fp, tn), sfp / (sfp + stn))

    ctp, cfp = F.score_groups(pl.Series(score), pl.Series(y))
    x, t = F.roc_curve(ctp, cfp)
    assert close(F.area_under_curve(x, t), sk.roc_auc_score(y, score))
    sfpr, stpr, _ = sk.roc_curve(y, score, drop_intermediate=False)
    assert np.allclose(x[:-1], sfpr, rtol=0, atol=TOL) and np.allclose(t[:-1], stpr, rtol=0, atol=TOL)
    # PR: scikit-learn's points (in reverse) end with (recall 0, precision 1) where Spark starts
    # with (0, precision of the first point), and stop at full recall; same area otherwise.
    sp, sr, _ = sk.precision_recall_curve(y, score, drop_intermediate=False)
    sp, sr = sp[::-1].copy(), sr[::-1].copy()
    rr, pp = F.precision_recall_curve(ctp, cfp)
    sp[0] = pp[0]
    assert np.allclose(rr[: sr.size], sr, atol=TOL) and np.allclose(pp[: sp.size], sp, atol=TOL)
    assert close(F.area_under_curve(rr, pp), sk.auc(sr, sp))


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_functions_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    k = int(rng.integers(2, 7))
    n = int(rng.integers(30, 500))
    y = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, k + 1, n))  # class k: predicted only
    labels = list(range(k + 1))
    cm = sk.confusion_matrix(y, pred, labels=labels)
    assert close(F.multiclass_accuracy(cm), sk.accuracy_score(y, pred))
    assert close(F.weighted_recall(cm), sk.recall_score(y, pred, average="weighted", zero_division=0))
    assert close(F.weighted_precision(cm), sk.precision_score(y, pred, average="weighted", zero_division=0))
    for beta in (0.5, 1.0, 2.0):
        assert close(F.weighted_f_beta(cm, beta), sk.fbeta_score(y, pred, beta=beta, average="weighted", zero_division=0))


@pytest.mark.parametrize("seed", range(5))
def test_regression_functions_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(10, 1000))
    y = rng.normal(10, 5, n)
    yhat = y + rng.normal(0, 2, n)
    e = yhat - y
    mse = F.mean_squared_error(np.sum(e * e), n)
    assert close(F.mean_absolute_error(np.sum(np.abs(e)), n), sk.mean_absolute_error(y, yhat))
    assert close(mse, sk.mean_squared_error(y, yhat))
    assert close(F.root_mean_squared_error(mse), math.sqrt(sk.mean_squared_error(y, yhat)))
    assert close(F.r2(np.sum(e * e), np.sum((y - y.mean()) ** 2)), sk.r2_score(y, yhat))


@pytest.mark.parametrize("seed", range(3))
def test_exact_roc_area_from_counts(seed: int) -> None:
    """The samples' integer form of the trapezoid rule equals the curve's area (and scikit-learn)."""
    rng = np.random.default_rng(300 + seed)
    n = 2000
    y = rng.random(n) < 0.4
    score = np.round(rng.random(n) * 0.7 + 0.3 * y, 2)  # many ties
    tp, fp = F.score_groups(pl.Series(score), pl.Series(y))
    exact = F.area_under_roc_counts(tp, fp)
    assert close(exact, F.area_under_curve(*F.roc_curve(tp, fp)))
    assert close(exact, sk.roc_auc_score(y, score))
    # Points that add no row (a sample that skipped a tie group) change nothing.
    dup_tp, dup_fp = np.repeat(tp, 2), np.repeat(fp, 2)
    assert F.area_under_roc_counts(dup_tp, dup_fp) == exact
    assert close(F.area_under_curve(*F.precision_recall_curve(np.r_[0, 0, tp], np.r_[0, 0, fp])),
                 F.area_under_curve(*F.precision_recall_curve(tp, fp)))
    assert math.isnan(F.area_under_roc_counts(tp * 0, fp))


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
def test_exact_roc_area_in_blocks(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Summed block by block (bounded temporaries), the integer area is the same number, and
    scikit-learn's: every block boundary, the last group alone in a block included."""
    rng = np.random.default_rng(400)
    n = 3000
    y = rng.random(n) < 0.3
    score = np.round(rng.random(n) * 0.6 + 0.4 * y, 3)
    tp, fp = F.score_groups(pl.Series(score), pl.Series(y))
    whole = F.area_under_roc_counts(tp, fp)
    prefixes = [m for m in (block, block + 1, block + 2, tp.size) if 2 <= m <= tp.size]
    unblocked = [F.area_under_roc_counts(tp[:m], fp[:m]) for m in prefixes]
    monkeypatch.setattr(F, "ROC_COUNTS_BLOCK", block)
    assert F.area_under_roc_counts(tp, fp) == whole
    for m, want in zip(prefixes, unblocked, strict=True):
        got = F.area_under_roc_counts(tp[:m], fp[:m])
        assert got == want or (math.isnan(got) and math.isnan(want))
    assert close(whole, sk.roc_auc_score(y, score))


@pytest.mark.parametrize("block", [1, 2, 5, 64, 1 << 20])
@pytest.mark.parametrize("shape", ["ties", "distinct", "empty_lead", "no_positive", "one_point"])
def test_pr_and_roc_areas_from_counts_equal_the_curve_areas_to_the_bit(block: int, shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``area_under_pr_counts`` / ``area_under_roc_curve`` make the curve's points block by block:
    the very float that ``area_under_curve`` of the whole curve gives (Spark's left-to-right sum),
    for every block boundary, leading points without rows (a sample that skipped the top scores)
    included."""
    rng = np.random.default_rng(500)
    n = 700
    y = rng.random(n) < 0.35
    score = rng.random(n) * 0.6 + 0.4 * y
    if shape == "ties":
        score = np.round(score, 2)
    tp, fp = F.score_groups(pl.Series(score), pl.Series(y))
    if shape == "empty_lead":
        tp, fp = np.r_[0, 0, 0, tp], np.r_[0, 0, 0, fp]
    elif shape == "no_positive":
        tp = tp * 0
    elif shape == "one_point":
        tp, fp = tp[-1:], fp[-1:]
    want = F.area_under_curve(*F.precision_recall_curve(tp, fp))
    want_roc = F.area_under_curve(*F.roc_curve(tp, fp))
    monkeypatch.setattr(F, "AREA_BLOCK", block)
    got = F.area_under_pr_counts(tp, fp)
    assert got == want  # bit for bit, not approximately
    assert F.area_under_roc_curve(tp, fp) == want_roc
    assert F.area_under_curve(*F.precision_recall_curve(tp, fp)) == want  # (blocks never change the sum)
    if shape in ("ties", "distinct"):
        assert abs(got - sk.average_precision_score(y, score)) < 0.02  # the same curve, a step rule
