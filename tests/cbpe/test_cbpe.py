"""CBPE (mmon.cbpe): hand-computed values, scikit-learn as the reference for realized metrics and
the isotonic fit, and statistical truth on synthetic data whose labels are known but withheld.

NannyML itself is compared in bench/cbpe_vs_nannyml.py (it needs its own venv)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression

from mmon.cbpe import CBPEModel, fit
from mmon.cbpe import metrics as M
from mmon.cbpe.calibration import Isotonic, bin_index_edges, expected_calibration_error, fit_isotonic
from mmon.cbpe.estimator import reference_chunks


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _sample(rng: np.random.Generator, n: int, mean: float = 0.0, sd: float = 1.0, miscalibrated: bool = False):
    x = rng.normal(mean, sd, n)
    p = _sigmoid(1.5 * x)
    y = (rng.random(n) < p).astype(np.int64)
    score = _sigmoid(1.1 * x + 0.4) if miscalibrated else p
    return y, (score > 0.5).astype(np.int64), score


# -- hand-computed values ------------------------------------------------------------------------


def test_expected_confusion_matrix_by_hand() -> None:
    pred = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.6, 0.2, 0.4, 0.5])
    c = M.expected_counts(pred, p)
    # predicted 1: p = .9, .6, .5 -> TP = 2.0, FP = .1 + .4 + .5 = 1.0; predicted 0: FN = .6, TN = 1.4
    assert (c.tp, c.fp, c.fn, c.tn, c.n) == pytest.approx((2.0, 1.0, 0.6, 1.4, 5))
    assert M.estimate("accuracy", c) == pytest.approx(3.4 / 5)
    assert M.estimate("precision", c) == pytest.approx(2.0 / 3.0)
    assert M.estimate("recall", c) == pytest.approx(2.0 / 2.6)
    assert M.estimate("f1", c) == pytest.approx(2.0 / (2.0 + 0.5 * 1.6))
    assert M.estimate("true_negative_rate", c) == pytest.approx(1.4 / 2.4)


def test_expected_roc_auc_by_hand() -> None:
    # Scores in descending order: .9 (p=.8), .7 (p=.6), .2 (p=.1).
    # E[TP] cumulative: 0, .8, 1.4, 1.5; E[FP]: 0, .2, .6, 2.5 -> TPR 0, .533.., .933.., 1; FPR 0, .08, .24, 1.
    cal = np.array([0.6, 0.1, 0.8])
    unc = np.array([0.7, 0.2, 0.9])
    tpr = np.array([0, 0.8, 1.4, 1.5]) / 1.5
    fpr = np.array([0, 0.2, 0.6, 1.5]) / 1.5
    expected = float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2))
    assert M.estimate_roc_auc(cal, unc) == pytest.approx(expected, abs=1e-12)
    # Perfectly sure, perfectly ordered scores: the curve is the corner.
    assert M.estimate_roc_auc(np.array([1.0, 1.0, 0.0, 0.0]), np.array([0.9, 0.8, 0.2, 0.1])) == pytest.approx(1.0)


def test_expected_roc_auc_equals_the_mean_realized_auc_when_labels_are_drawn_from_p() -> None:
    rng = np.random.default_rng(3)
    unc = rng.random(400)
    cal = _sigmoid(4 * (unc - 0.5))
    draws = [M.realized_roc_auc((rng.random(400) < cal).astype(int), unc) for _ in range(400)]
    assert M.estimate_roc_auc(cal, unc) == pytest.approx(np.mean(draws), abs=0.005)


# -- realized values: scikit-learn is the reference ----------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_realized_metrics_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, pred, score = _sample(rng, 3000, miscalibrated=True)
    score = np.round(score, 2)  # ties: the AUC counts them one half, as scikit-learn does
    assert M.realized("accuracy", y, pred) == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert M.realized("precision", y, pred) == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
    assert M.realized("recall", y, pred) == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    assert M.realized("f1", y, pred) == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    tn, fp, _, _ = skm.confusion_matrix(y, pred).ravel()
    assert M.realized("true_negative_rate", y, pred) == pytest.approx(tn / (tn + fp), abs=1e-12)
    assert M.realized("auc", y, pred, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)


def test_realized_undefined_cases() -> None:
    y = np.array([1, 1, 1])
    assert math.isnan(M.realized("auc", y, y, np.array([0.1, 0.2, 0.3])))
    assert math.isnan(M.realized("precision", y, np.array([1, 0, 1])))  # one label class
    assert math.isnan(M.realized("true_negative_rate", y, y))  # no negatives
    assert M.realized("accuracy", y, np.array([1, 0, 1])) == pytest.approx(2 / 3)


# -- calibration ----------------------------------------------------------------------------------


def test_isotonic_breakpoints_predict_like_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    y, _, score = _sample(rng, 5000, miscalibrated=True)
    ours = fit_isotonic(score, y)
    reg = IsotonicRegression(out_of_bounds="clip").fit(score, y)
    probe = np.r_[np.linspace(-0.5, 1.5, 2001), score[:500]]
    np.testing.assert_allclose(ours.apply(probe), reg.predict(probe), rtol=0, atol=1e-15)
    assert Isotonic.from_json(ours.to_json()) == ours


def test_ece_bins_by_hand() -> None:
    assert bin_index_edges(20, 4) == [(0, 5), (5, 10), (10, 15), (15, 20)]
    assert bin_index_edges(23, 4) == [(0, 5), (5, 10), (10, 15), (15, 23)]
    assert bin_index_edges(6, 10) == [(0, 2), (2, 4), (4, 6)]  # fewer than 2*bins values: n // 2 bins
    with pytest.raises(ValueError):
        bin_index_edges(3, 10)
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.3, 0.6, 0.8])
    # bins (0.1, 0.3) vs (0, 0) and (0.6, 0.8) vs (1, 1): 0.5 * 0.2 + 0.5 * 0.3
    assert expected_calibration_error(y, p, [(0, 2), (2, 4)]) == pytest.approx(0.25)


def test_calibration_is_decided_on_the_reference() -> None:
    rng = np.random.default_rng(11)
    y, pred, score = _sample(rng, 20000, miscalibrated=True)
    assert not fit(y, pred, score).calibrator.identity  # miscalibrated scores: recalibrated
    y, pred, score = _sample(rng, 20000, miscalibrated=False)
    y[:] = (score > 0.5).astype(int)  # labels the scores separate perfectly: AUC > 0.999, no calibration
    model = fit(y, pred, score)
    assert model.calibrator.identity
    assert any("training set" in w for w in model.warnings)


def test_one_class_and_equal_scores() -> None:
    rng = np.random.default_rng(5)
    score = rng.random(2000)
    model = fit(np.zeros(2000, dtype=int), (score > 0.5).astype(int), score)
    assert model.calibrator.identity  # one class: nothing to calibrate
    assert math.isnan(model.components["auc"][0]) or model.components["auc"][1] == 0
    est = model.estimate(score, (score > 0.5).astype(int))
    assert math.isnan(est["auc"].sampling_error)
    # All scores equal: the ROC curve is the diagonal.
    flat = np.full(1000, 0.3)
    model2 = fit((rng.random(1000) < 0.3).astype(int), np.zeros(1000, dtype=int), flat)
    e = model2.estimate(flat, np.zeros(1000, dtype=int))
    assert e["auc"].value == pytest.approx(0.5)
    assert e["accuracy"].value == pytest.approx(1 - model2.calibrator.apply(flat)[0])


def test_nan_scores_are_refused() -> None:
    rng = np.random.default_rng(1)
    y, pred, score = _sample(rng, 500)
    score[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit(y, pred, score)
    y, pred, score = _sample(rng, 5000)
    model = fit(y, pred, score)
    score[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.estimate(score, pred)


def test_reference_chunks_keep_the_remainder() -> None:
    assert reference_chunks(25, 10) == [(0, 10), (10, 20), (20, 25)]
    assert reference_chunks(100) == [(i, i + 10) for i in range(0, 100, 10)]
    assert reference_chunks(105)[-1] == (100, 105)


def test_sampling_error_components_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1, 0])
    pred = np.array([1, 0, 0, 1, 1, 0])
    # accuracy: correct = 1,0,1,0,1,1 -> std of a 4/6 Bernoulli, fraction 1
    assert M.sampling_error_components("accuracy", y, pred) == pytest.approx((np.std([1, 0, 1, 0, 1, 1]), 1.0))
    # precision: predicted positives rows 0,3,4 -> TP,FP,TP; fraction 3/6
    assert M.sampling_error_components("precision", y, pred) == pytest.approx((np.std([1, 1, 0]), 0.5))
    # recall: actual positives rows 0,1,4 -> TP,FN,TP
    assert M.sampling_error_components("recall", y, pred) == pytest.approx((np.std([1, 1, 0]), 0.5))
    # specificity: TN rows 2,5 and FP row 3
    assert M.sampling_error_components("true_negative_rate", y, pred) == pytest.approx((np.std([1, 1, 0]), 0.5))
    assert M.sampling_error("accuracy", (0.5, 1.0), 100) == pytest.approx(0.05)
    assert M.sampling_error("precision", (0.5, 0.25), 100) == pytest.approx(0.1)


def test_model_round_trips_and_refuses_a_newer_version() -> None:
    rng = np.random.default_rng(2)
    y, pred, score = _sample(rng, 8000, miscalibrated=True)
    model = fit(y, pred, score)
    doc = model.to_json()
    back = CBPEModel.from_json(doc)
    s2 = rng.random(300)
    a, b = model.estimate(s2, (s2 > 0.5).astype(int)), back.estimate(s2, (s2 > 0.5).astype(int))
    assert {k: (v.value, v.sampling_error) for k, v in a.items()} == {k: (v.value, v.sampling_error) for k, v in b.items()}
    doc["version"] = 99
    with pytest.raises(ValueError, match="newer"):
        CBPEModel.from_json(doc)


# -- statistical truth ----------------------------------------------------------------------------


def test_realized_metrics_lie_within_three_standard_errors() -> None:
    """Over many windows with covariate shift, the withheld realized value lies within
    estimate ± 3 SE in at least 97 % of windows for every threshold metric.

    ROC AUC falls short (measured 91-95 % per shift, 94 % overall): NannyML's AUC sampling error
    keeps only the positives' term of the AUC's variance (DeLong's has a negatives' term too), so
    its SE is ~1.4x too small on this data. We keep NannyML's formula (the estimates must agree with
    NannyML's to 1e-6) and hold AUC to 90 %; the README says so."""
    rng = np.random.default_rng(20261202)
    y, pred, score = _sample(rng, 30000, miscalibrated=True)
    model = fit(y, pred, score, chunk_size=2000)
    hits = {m: 0 for m in M.BINARY_METRICS}
    windows = 300
    for i in range(windows):
        shift = (i % 6) * 0.15
        yw, pw, sw = _sample(rng, 2000, mean=shift, miscalibrated=True)
        est = model.estimate(sw, pw)
        for m in M.BINARY_METRICS:
            real = M.realized(m, yw, pw, sw)
            e = est[m]
            hits[m] += abs(real - e.value) <= 3 * e.sampling_error
    coverage = {m: h / windows for m, h in hits.items()}
    assert all(c >= 0.97 for m, c in coverage.items() if m != "auc"), coverage
    assert coverage["auc"] >= 0.90, coverage


def test_estimate_follows_a_real_drop_in_accuracy() -> None:
    """A covariate shift towards the uncertain region drops accuracy by > 10 points; the estimate
    follows within 2 points, and leaves the reference's thresholds (an alert)."""
    rng = np.random.default_rng(99)
    y, pred, score = _sample(rng, 30000, sd=2.0, miscalibrated=True)
    model = fit(y, pred, score, chunk_size=3000)
    yw, pw, sw = _sample(rng, 5000, sd=0.6, miscalibrated=True)
    real = M.realized("accuracy", yw, pw)
    ref = M.realized("accuracy", y, pred)
    assert ref - real > 0.10
    est = model.estimate(sw, pw)["accuracy"]
    assert abs(est.value - real) < 0.02
    assert est.alert and est.lower_threshold is not None and est.value < est.lower_threshold
