"""Bias metrics vs hand computation on a 10-row table (formulas: format study §7.3).

The table (facet d = "x", a = "y"; y label, yh prediction, g group):

    row  facet y yh g        row  facet y yh g
    d1   x     1 1  g1       a1   y     1 1  g1
    d2   x     1 0  g1       a2   y     1 1  g1
    d3   x     1 0  g2       a3   y     1 0  g1
    d4   x     0 1  g2       a4   y     1 1  g2
                             a5   y     0 0  g2
                             a6   y     0 1  g2

Counts: n_d = 4, n_a = 6; d: TP 1, FN 2, FP 1, TN 0, n_d1 = 3, n_d1hat = 2;
a: TP 3, FN 1, FP 1, TN 1, n_a1 = 4, n_a1hat = 4. Label distributions [P(0), P(1)]:
P_a = [1/3, 2/3], P_d = [1/4, 3/4].
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from mmon.bias import metrics as M
from mmon.bias.compute import analyse
from mmon.bias.data import LABEL, PRED, Rows
from mmon.bias.values import binarize

ROWS = [
    ("x", 1, 1, "g1"), ("x", 1, 0, "g1"), ("x", 1, 0, "g2"), ("x", 0, 1, "g2"),
    ("y", 1, 1, "g1"), ("y", 1, 1, "g1"), ("y", 1, 0, "g1"), ("y", 1, 1, "g2"), ("y", 0, 0, "g2"), ("y", 0, 1, "g2"),
]  # fmt: skip

EXPECTED = {
    # CI = (n_a - n_d)/(n_a + n_d) = (6 - 4)/10
    "CI": 0.2,
    # DPL = n_a1/n_a - n_d1/n_d = 4/6 - 3/4 = -1/12
    "DPL": -1 / 12,
    # KL = 1/3 ln((1/3)/(1/4)) + 2/3 ln((2/3)/(3/4))
    "KL": 1 / 3 * math.log(4 / 3) + 2 / 3 * math.log(8 / 9),
    # P = (P_a + P_d)/2 = [7/24, 17/24]; JS = 1/2 [KL(P_a, P) + KL(P_d, P)]
    "JS": 0.5
    * (
        1 / 3 * math.log(8 / 7)
        + 2 / 3 * math.log(16 / 17)
        + 1 / 4 * math.log(6 / 7)
        + 3 / 4 * math.log(18 / 17)
    ),
    # LP = sqrt((1/3 - 1/4)^2 + (2/3 - 3/4)^2) = sqrt(2)/12
    "LP": math.sqrt(2) / 12,
    # TVD = 1/2 (1/12 + 1/12); KS = max(1/12, 1/12)
    "TVD": 1 / 12,
    "KS": 1 / 12,
    # CDDL: g1 (n 5): positives d1 d2 a1 a2 a3 (2 of d) → A = 2/5, no negatives → D = 0, DD = -2/5;
    #       g2 (n 5): positives d3 a4 (1 of d) → A = 1/2, negatives d4 a5 a6 (1 of d) → D = 1/3, DD = -1/6;
    #       CDDL = (5·(-2/5) + 5·(-1/6))/10 = -17/60
    "CDDL": -17 / 60,
    # DPPL = n_a1hat/n_a - n_d1hat/n_d = 4/6 - 2/4 = 1/6
    "DPPL": 1 / 6,
    # DI = (2/4)/(4/6) = 3/4
    "DI": 0.75,
    # DCA = n_a1/n_a1hat - n_d1/n_d1hat = 4/4 - 3/2
    "DCA": -0.5,
    # DCR = n_d0/n_d0hat - n_a0/n_a0hat = 1/2 - 2/2
    "DCR": -0.5,
    # RD = TP_a/(TP_a+FN_a) - TP_d/(TP_d+FN_d) = 3/4 - 1/3 = 5/12
    "RD": 5 / 12,
    # SD = TN_d/(TN_d+FP_d) - TN_a/(TN_a+FP_a) = 0/1 - 1/2
    "SD": -0.5,
    # DAR = TP_a/n_a1hat - TP_d/n_d1hat = 3/4 - 1/2
    "DAR": 0.25,
    # DRR = TN_d/n_d0hat - TN_a/n_a0hat = 0/2 - 1/2
    "DRR": -0.5,
    # AD = (TP_a+TN_a)/n_a - (TP_d+TN_d)/n_d = 4/6 - 1/4 = 5/12
    "AD": 5 / 12,
    # TE = FN_d/FP_d - FN_a/FP_a = 2/1 - 1/1
    "TE": 1.0,
    # CDDPL (predicted labels): g1 pred-pos d1 a1 a2 (1 of d) A = 1/3, pred-neg d2 a3 (1 of d) D = 1/2, DD = 1/6;
    #       g2 pred-pos d4 a4 a6 A = 1/3, pred-neg d3 a5 D = 1/2, DD = 1/6 → CDDPL = 1/6
    "CDDPL": 1 / 6,
    # GE: all rows TP 4, FN 3, FP 2, TN 1; benefits b = 0 (FN) ×3, 1 (TP/TN) ×5, 2 (FP) ×2; mu = 9/10;
    #     GE = [3(0-1) + 5(1/0.81 - 1) + 2(4/0.81 - 1)]/(2·10) = (1300/81 - 10)/20 = 49/162
    "GE": 49 / 162,
}


def _rows(rows=ROWS, with_group: bool = True) -> Rows:
    data = {
        "facet": [r[0] for r in rows],
        # Categories as text: 0/1 integers in a 10-row window are continuous by Clarify's rule
        # (distinct/rows >= 0.05; see test_small_window_01_labels_are_continuous_as_in_clarify).
        LABEL: ["yes" if r[1] else "no" for r in rows],
        PRED: ["yes" if r[2] else "no" for r in rows],
    }
    if with_group:
        data["g"] = [r[3] for r in rows]
    return Rows(pl.DataFrame(data), ["mem"])


CONFIG = {
    "label": "approved",
    "label_values_or_threshold": ["yes"],
    "facet": [{"name_or_index": "facet", "value_or_threshold": ["x"]}],
    "group_variable": "g",
}


def _values(analysis, stage: str) -> dict[str, float | None]:
    entry = analysis.doc[stage]["facets"]["facet"][0]
    return {m["name"]: m["value"] for m in entry["metrics"]}


def test_every_metric_matches_the_hand_computation():
    pre = ["CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD"]
    post = ["AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "GE", "RD", "SD", "TE"]
    a = analyse(_rows(), CONFIG, pre, post)
    got = _values(a, "pre_training_bias_metrics") | _values(a, "post_training_bias_metrics")
    for name, want in EXPECTED.items():
        assert got[name] == pytest.approx(want, abs=1e-15), name
    assert a.doc["pre_training_bias_metrics"]["facets"]["facet"][0]["value_or_threshold"] == "x"
    assert a.doc["post_training_bias_metrics"]["label_value_or_threshold"] == "yes"
    assert [m["name"] for m in a.doc["post_training_bias_metrics"]["facets"]["facet"][0]["metrics"]] == post


def test_pure_functions_directly():
    assert M.ci(6, 4) == 0.2
    assert M.dpl(6, 4, 4, 3) == pytest.approx(-1 / 12)
    assert M.di(6, 4, 4, 2) == 0.75
    assert M.te(1, 1, 2, 1, 6, 4) == 1.0
    assert M.ge(4, 2, 3, 1) == pytest.approx(49 / 162)
    # divide: 0/0 = 0, x/0 = inf; both-infinite differences are 0 (smclarify)
    assert M.divide(0, 0) == 0.0 and M.divide(3, 0) == math.inf and M.divide(-3, 0) == -math.inf
    assert M.te(fn_a=2, fp_a=0, fn_d=1, fp_d=0) == 0.0  # inf - inf → 0
    assert M.te(fn_a=1, fp_a=1, fn_d=1, fp_d=0) == math.inf
    with pytest.raises(M.MetricUndefined, match="Facet set is empty"):
        M.ci(5, 0)
    with pytest.raises(M.MetricUndefined, match="No instance of common facet"):
        M.kl([1.0, 0.0], [0.0, 1.0])
    with pytest.raises(M.MetricUndefined, match="Group variable"):
        M.cdd(None, 1, 1)


def test_flip_test_hand_computed():
    # facet d rows x = 0.1, 1.1, 2.1, 3.1 with model yhat 1, 0, 0, 1; facet a rows x = 0..5 with
    # yhat 1, 1, 0, 1, 0, 1. n_a = 6 <= 9 → k = 1: the nearest a rows are x = 0, 1, 2, 3 → k-NN
    # says 1, 1, 0, 1. F+ (model 1, k-NN 0): none; F- (model 0, k-NN 1): d2. FT = (0 - 1)/4 = -0.25
    frame = pl.DataFrame(
        {
            "facet": ["x"] * 4 + ["y"] * 6,
            "x": [0.1, 1.1, 2.1, 3.1, 0, 1, 2, 3, 4, 5],
            LABEL: ["yes"] * 10,
            PRED: ["yes", "no", "no", "yes", "yes", "yes", "no", "yes", "no", "yes"],
        }
    )
    cfg = {
        "label": "l",
        "label_values_or_threshold": ["yes"],
        "facet": [{"name_or_index": "facet", "value_or_threshold": ["x"]}],
    }
    a = analyse(Rows(frame, ["mem"]), cfg, [], ["FT"])
    assert a.doc["post_training_bias_metrics"]["facets"]["facet"][0]["metrics"][0]["value"] == -0.25


def test_flip_test_non_numeric_feature_is_an_error_value():
    cfg = dict(CONFIG)
    a = analyse(_rows(), cfg, [], ["FT"])  # the group column g is text
    m = a.doc["post_training_bias_metrics"]["facets"]["facet"][0]["metrics"][0]
    assert m == {
        "name": "FT",
        "description": "Flip Test (FT)",
        "value": None,
        "error": "FlipTest does not support non-numeric columns",
    }


def test_no_group_variable_is_clarifys_error():
    cfg = {k: v for k, v in CONFIG.items() if k != "group_variable"}
    a = analyse(_rows(with_group=False), cfg, ["CDDL"], ["CDDPL"])
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        m = a.doc[stage]["facets"]["facet"][0]["metrics"][0]
        assert m["value"] is None and m["error"] == "Group variable is empty or not provided"


def test_every_value_of_a_facet_without_value_or_threshold():
    cfg = {"label": "l", "label_values_or_threshold": [1], "facet": [{"name_or_index": "facet"}]}
    a = analyse(_rows(with_group=False), cfg, ["CI"], [])
    entries = a.doc["pre_training_bias_metrics"]["facets"]["facet"]
    # "x" first (first appearance): CI = (6-4)/10; then "y": CI = (4-6)/10
    assert [(e["value_or_threshold"], e["metrics"][0]["value"]) for e in entries] == [("x", 0.2), ("y", -0.2)]


def test_multi_value_facet_and_multi_category_label():
    # facet values ["a", "b"] together form d; label positive set {"yes", "maybe"}
    frame = pl.DataFrame(
        {"f": ["a", "b", "c", "c", "a", "c"], LABEL: ["yes", "no", "maybe", "no", "no", "yes"]}
    )
    cfg = {
        "label": "l",
        "label_values_or_threshold": ["yes", "maybe"],
        "facet": [{"name_or_index": "f", "value_or_threshold": ["a", "b"]}],
    }
    a = analyse(Rows(frame, ["mem"]), cfg, ["CI", "DPL"], [])
    sec = a.doc["pre_training_bias_metrics"]
    assert sec["label_value_or_threshold"] == "yes,maybe"
    e = sec["facets"]["f"][0]
    assert e["value_or_threshold"] == "a,b"
    # d = rows 1, 2, 5 (n_d = 3, positives: row 1 → 1); a = rows 3, 4, 6 (n_a = 3, positives 3, 6 → 2)
    # CI = 0; DPL = 2/3 - 1/3 = 1/3
    assert [m["value"] for m in e["metrics"]] == [0.0, pytest.approx(1 / 3)]


def test_numeric_facet_threshold_and_continuous_label():
    # age > 40 is the sensitive group; the label is positive when score > 0.5 (exclusive bounds)
    ages = [20, 30, 40, 41, 50, 60, 25, 35, 45, 55]
    scores = [0.9, 0.2, 0.6, 0.5, 0.1, 0.7, 0.8, 0.3, 0.55, 0.4]
    frame = pl.DataFrame({"age": [str(x) for x in ages], LABEL: [str(s) for s in scores]})
    cfg = {
        "label": "l",
        "label_values_or_threshold": [0.5],
        "facet": [{"name_or_index": "age", "value_or_threshold": [40]}],
    }
    a = analyse(Rows(frame, ["mem"]), cfg, ["CI", "DPL"], [])
    sec = a.doc["pre_training_bias_metrics"]
    assert sec["label_value_or_threshold"] == "(0.5, 0.9]"
    e = sec["facets"]["age"][0]
    assert e["value_or_threshold"] == "(40, 60]"
    # d = ages 41 50 60 45 55 (n_d = 5; scores 0.5 0.1 0.7 0.55 0.4 → positives 0.7, 0.55 = 2; 0.5 is not > 0.5)
    # a = ages 20 30 40 25 35 (n_a = 5; scores 0.9 0.2 0.6 0.8 0.3 → positives 3)
    # CI = 0; DPL = 3/5 - 2/5 = 0.2
    assert [m["value"] for m in e["metrics"]] == [0.0, pytest.approx(0.2)]


def test_label_value_matching_is_numeric_for_numeric_columns():
    s = pl.Series("l", ["1", "1.0", "0", " 1 "])
    assert binarize(s, [1], False).mask.to_list() == [True, True, False, True]
    assert binarize(s, ["1"], False).mask.to_list() == [True, True, False, True]
    b = pl.Series("b", [True, False])
    assert binarize(b, [True]).mask.to_list() == [True, False]
    assert binarize(pl.Series("t", ["true", "false"]), [True]).mask.to_list() == [True, False]
