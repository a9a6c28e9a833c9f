"""statistics sections computed from rows (polars) against scikit-learn, and their edge cases."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import sklearn.metrics as sk  # test-only dependency (pyproject [test])

from mmon.model_quality import compute

TOL = 1e-9


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


def _binary_frame(seed: int, n: int) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.35
    score = np.round(np.clip(0.35 * y + rng.random(n) * 0.75, 0, 1), 3)
    pred = score > 0.5
    frame = pl.DataFrame(
        {"actual": np.where(y, "1", "0"), "predicted": np.where(pred, "1", "0"), "score": score}
    )
    return frame, y, pred, score


@pytest.mark.parametrize("seed", range(3))
def test_binary_section_matches_sklearn(seed: int) -> None:
    frame, y, pred, score = _binary_frame(seed, 1000 + 137 * seed)
    m = compute.binary_metrics(frame, "1", seed=seed)
    v = {k: x["value"] for k, x in m.items() if isinstance(x, dict) and "value" in x}
    assert close(v["recall"], sk.recall_score(y, pred))
    assert close(v["precision"], sk.precision_score(y, pred))
    assert close(v["accuracy"], sk.accuracy_score(y, pred))
    assert close(v["auc"], sk.roc_auc_score(y, score))
    assert close(v["f0_5"], sk.fbeta_score(y, pred, beta=0.5))
    assert close(v["f1"], sk.f1_score(y, pred))
    assert close(v["f2"], sk.fbeta_score(y, pred, beta=2))
    (tn, fp), (fn, tp) = sk.confusion_matrix(y, pred)
    assert m["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert close(v["true_negative_rate"], tn / (tn + fp))
    assert close(v["false_positive_rate"], fp / (fp + tn))
    assert close(v["false_negative_rate"], fn / (fn + tp))
    # Best constant classifier: the majority class (0 here) everywhere.
    const = np.zeros_like(y)
    assert close(v["accuracy_best_constant_classifier"], sk.accuracy_score(y, const))
    assert v["recall_best_constant_classifier"] == 0.0 == v["precision_best_constant_classifier"]
    assert v["f1_best_constant_classifier"] == 0.0
    # au_prc: Spark's trapezoid over the PR points (scikit-learn's auc of the same points).
    sp, sr, _ = sk.precision_recall_curve(y, score)
    sp = sp[::-1].copy()
    sp[0] = m["precision_recall_curve"]["precisions"][0]
    assert close(v["au_prc"], sk.auc(sr[::-1], sp))
    # Every scalar has a finite standard deviation from 1 000 rows on.
    for name, x in m.items():
        if isinstance(x, dict) and "value" in x:
            assert math.isfinite(x["standard_deviation"]), name


def test_binary_best_constant_predicts_a_positive_majority() -> None:
    frame = pl.DataFrame({"actual": ["1", "1", "1", "0"], "predicted": ["0", "1", "0", "0"]})
    m = compute.binary_metrics(frame, "1")
    assert m["recall_best_constant_classifier"]["value"] == 1.0
    assert m["precision_best_constant_classifier"]["value"] == 0.75
    assert m["accuracy_best_constant_classifier"]["value"] == 0.75
    assert close(m["f1_best_constant_classifier"]["value"], sk.f1_score([1, 1, 1, 0], [1, 1, 1, 1]))


def test_standard_deviation_needs_200_rows_and_is_seeded() -> None:
    small, *_ = _binary_frame(7, 199)
    m = compute.binary_metrics(small, "1")
    assert all(math.isnan(x["standard_deviation"]) for x in m.values() if isinstance(x, dict) and "value" in x)
    big, *_ = _binary_frame(7, 200)
    a = compute.binary_metrics(big, "1", seed=3)
    b = compute.binary_metrics(big, "1", seed=3)
    c = compute.binary_metrics(big, "1", seed=4)
    assert a["accuracy"]["standard_deviation"] == b["accuracy"]["standard_deviation"] > 0
    assert a["accuracy"]["standard_deviation"] != c["accuracy"]["standard_deviation"]
    assert a["accuracy"]["value"] == c["accuracy"]["value"]


def test_standard_deviation_is_over_five_80_percent_samples() -> None:
    masks = compute.sample_masks(100_000, seed=0)
    assert masks is not None and len(masks) == 5
    shares = [m.mean() for m in masks]
    assert all(abs(s - 0.8) < 0.01 for s in shares)
    assert compute.sample_masks(199, 0) is None
    # The sd is the sample sd (ddof 1) of the metric over the five samples.
    v = [0.5, 0.4, 0.6, 0.5, 0.45, 0.55]
    assert close(compute.metric(v, True)["standard_deviation"], float(np.std(v[1:], ddof=1)))


def test_one_class_only() -> None:
    frame = pl.DataFrame({"actual": ["0"] * 5, "predicted": ["0", "0", "1", "0", "0"], "score": [0.1, 0.2, 0.7, 0.3, 0.2]})
    m = compute.binary_metrics(frame, "1")
    assert m["confusion_matrix"] == {"0": {"0": 4, "1": 1}, "1": {"0": 0, "1": 0}}
    assert m["recall"]["value"] == 0.0 and m["precision"]["value"] == 0.0
    assert m["accuracy"]["value"] == 0.8
    assert m["false_positive_rate"]["value"] == 0.2 and m["true_negative_rate"]["value"] == 0.8
    assert m["false_negative_rate"]["value"] == 1.0
    # AUC is undefined with one class (scikit-learn refuses): NaN, written "NaN", never checked.
    assert math.isnan(m["auc"]["value"]) and math.isnan(m["au_prc"]["value"])
    assert m["accuracy_best_constant_classifier"]["value"] == 1.0


def test_all_predictions_equal() -> None:
    y = ["1", "0", "1", "1", "0", "0", "0"]
    frame = pl.DataFrame({"actual": y, "predicted": ["1"] * 7, "score": [0.5] * 7})
    m = compute.binary_metrics(frame, "1")
    yi = [int(c) for c in y]
    assert m["recall"]["value"] == 1.0
    assert close(m["precision"]["value"], sk.precision_score(yi, [1] * 7))
    assert m["auc"]["value"] == 0.5  # one tie group: the diagonal
    assert m["receiver_operating_characteristic_curve"] == {
        "false_positive_rates": [0.0, 1.0, 1.0],
        "true_positive_rates": [0.0, 1.0, 1.0],
    }
    mc = compute.multiclass_metrics(pl.DataFrame({"actual": ["a", "b", "c", "a"], "predicted": ["a"] * 4}))
    assert mc["accuracy"]["value"] == 0.5
    assert close(mc["weighted_precision"]["value"], sk.precision_score(list("abca"), list("aaaa"), average="weighted", zero_division=0))
    # The model *is* the best constant classifier here.
    for name in ("accuracy", "weighted_recall", "weighted_precision", "weighted_f1"):
        assert mc[name]["value"] == mc[f"{name}_best_constant_classifier"]["value"]


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_section_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    n = 600
    classes = np.array(["cat", "dog", "emu", "yak"])
    y = classes[rng.integers(0, 4, n)]
    pred = np.where(rng.random(n) < 0.55, y, classes[rng.integers(0, 4, n)])
    m = compute.multiclass_metrics(pl.DataFrame({"actual": y, "predicted": pred}), seed=seed)
    v = {k: x["value"] for k, x in m.items() if k != "confusion_matrix"}
    assert close(v["accuracy"], sk.accuracy_score(y, pred))
    assert close(v["weighted_recall"], sk.recall_score(y, pred, average="weighted"))
    assert close(v["weighted_precision"], sk.precision_score(y, pred, average="weighted"))
    for name, beta in (("weighted_f0_5", 0.5), ("weighted_f1", 1.0), ("weighted_f2", 2.0)):
        assert close(v[name], sk.fbeta_score(y, pred, beta=beta, average="weighted"))
    cm = sk.confusion_matrix(y, pred, labels=classes)
    assert m["confusion_matrix"] == {a: {p: int(cm[i, j]) for j, p in enumerate(classes)} for i, a in enumerate(classes)}
    majority = max(classes, key=lambda c: (np.sum(y == c), -list(classes).index(c)))
    const = np.full(n, majority)
    assert close(v["accuracy_best_constant_classifier"], sk.accuracy_score(y, const))
    assert close(
        v["weighted_f2_best_constant_classifier"], sk.fbeta_score(y, const, beta=2, average="weighted", zero_division=0)
    )
    assert list(m) == [
        "confusion_matrix", "accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1",
        "weighted_f2", "accuracy_best_constant_classifier", "weighted_recall_best_constant_classifier",
        "weighted_precision_best_constant_classifier", "weighted_f0_5_best_constant_classifier",
        "weighted_f1_best_constant_classifier", "weighted_f2_best_constant_classifier",
    ]  # fmt: skip


def test_class_order_is_numeric_when_every_class_is_a_number() -> None:
    assert compute.sort_classes({"10", "9", "1"}) == ["1", "9", "10"]
    assert compute.sort_classes({"b", "10", "a"}) == ["10", "a", "b"]


@pytest.mark.parametrize("seed", range(3))
def test_regression_section_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(70 + seed)
    n = 500
    y = rng.normal(100, 30, n)
    yhat = y + rng.normal(0, 10, n)
    m = compute.regression_metrics(pl.DataFrame({"actual": y, "predicted": yhat}), seed=seed)
    assert close(m["mae"]["value"], sk.mean_absolute_error(y, yhat))
    assert close(m["mse"]["value"], sk.mean_squared_error(y, yhat))
    assert close(m["rmse"]["value"], math.sqrt(sk.mean_squared_error(y, yhat)))
    # SageMaker's r2 measures the residuals against the predictions' spread: sklearn's r2_score with
    # the arguments swapped (see compute.regression_metrics and test_sagemaker_external).
    assert close(m["r2"]["value"], sk.r2_score(yhat, y))
    assert not close(m["r2"]["value"], sk.r2_score(y, yhat))
    const = np.full(n, y.mean())
    assert close(m["mae_best_constant_regressor"]["value"], sk.mean_absolute_error(y, const))
    assert close(m["mse_best_constant_regressor"]["value"], sk.mean_squared_error(y, const))
    assert close(m["r2_best_constant_regressor"]["value"], 0.0)
    assert m["rmse"]["standard_deviation"] > 0


def test_regression_constant_labels() -> None:
    m = compute.regression_metrics(pl.DataFrame({"actual": [2.0, 2.0, 2.0], "predicted": [2.0, 2.0, 2.0]}))
    assert m["r2"]["value"] == 1.0 and m["mae"]["value"] == 0.0
    m = compute.regression_metrics(pl.DataFrame({"actual": [2.0, 2.0, 2.0], "predicted": [1.0, 2.0, 2.0]}))
    assert m["r2"]["value"] == pytest.approx(sk.r2_score([1, 2, 2], [2, 2, 2])) == -0.5
    m = compute.regression_metrics(pl.DataFrame({"actual": [1.0, 2.0, 3.0], "predicted": [2.0, 2.0, 2.0]}))
    assert m["r2"]["value"] == 0.0  # constant predictions: no spread, finite as scikit-learn's force_finite


def test_long_curves_are_thinned_but_auc_uses_every_point() -> None:
    frame, y, _pred, score = _binary_frame(11, 30_000)
    frame = frame.with_columns(score=pl.Series(np.random.default_rng(1).random(30_000) * 0.5 + 0.5 * y))
    m = compute.binary_metrics(frame, "1")
    roc = m["receiver_operating_characteristic_curve"]
    assert 1000 <= len(roc["false_positive_rates"]) <= 1003
    assert roc["false_positive_rates"][0] == 0.0 and roc["true_positive_rates"][-1] == 1.0
    assert len(m["precision_recall_curve"]["recalls"]) == len(m["precision_recall_curve"]["precisions"])
    assert close(m["auc"]["value"], sk.roc_auc_score(y, frame["score"].to_numpy()))


def _curves_from_whole_arrays(tp: np.ndarray, fp: np.ndarray) -> dict:
    """The written curves and areas as they were made before (every point of both curves in
    memory, then thinned): the reference the block-by-block version must equal exactly."""
    from mmon.model_quality import functions as F

    def thin(values: np.ndarray, head: list[float], tail: list[float]) -> list[float]:
        return head + values[F.thin_curve(values.size, compute.CURVE_MAX_POINTS)].tolist() + tail

    both = tp.size > 0 and tp[-1] > 0 and fp[-1] > 0
    x, t = F.roc_curve(tp, fp)
    r, p = F.precision_recall_curve(tp, fp)
    return {
        "roc": {"false_positive_rates": thin(x[1:-1], [0.0], [1.0]), "true_positive_rates": thin(t[1:-1], [0.0], [1.0])},
        "pr": {"precisions": thin(p[1:], [float(p[0])], []), "recalls": thin(r[1:], [0.0], [])},
        "auc": [F.area_under_curve(x, t) if both else math.nan],
        "au_prc": [F.area_under_curve(r, p) if both else math.nan],
    }


@pytest.mark.parametrize("max_points", [3, 10, 1000])
@pytest.mark.parametrize("block", [2, 5, 1 << 20])
@pytest.mark.parametrize("shape", ["distinct", "ties", "no_positive", "one_row"])
def test_curves_and_areas_equal_the_whole_array_version(max_points: int, block: int, shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``_curves`` makes the areas block by block and the written curves from their kept points
    only: every number equal to the bit to the version that held both curves whole."""
    from mmon.model_quality import functions as F

    rng = np.random.default_rng(7)
    n = 1 if shape == "one_row" else 900
    y = rng.random(n) < 0.3 if shape != "no_positive" else np.zeros(n, dtype=bool)
    score = rng.random(n) * 0.6 + 0.4 * y
    if shape == "ties":
        score = np.round(score, 2)
    work = pl.DataFrame({"score": score, "y": y})
    monkeypatch.setattr(compute, "CURVE_MAX_POINTS", max_points)
    monkeypatch.setattr(F, "AREA_BLOCK", block)
    got = compute._curves(work, 0)
    order = np.argsort(-score, kind="stable")
    s, ys = score[order], y[order]
    end = np.r_[s[1:] != s[:-1], True]
    tp = np.cumsum(ys)[end]
    fp = np.flatnonzero(end) + 1 - tp
    monkeypatch.setattr(F, "AREA_BLOCK", 1 << 20)
    want = _curves_from_whole_arrays(tp, fp)
    assert got["roc"] == want["roc"] and got["pr"] == want["pr"]
    for key in ("auc", "au_prc"):
        assert got[key] == want[key] or (math.isnan(got[key][0]) and math.isnan(want[key][0]))
