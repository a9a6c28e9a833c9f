"""mmon's bias metrics vs smclarify (Clarify's own library) on the same data.

smclarify is a test-only reference: ``pip install --no-deps smclarify==0.5 pyfunctional`` (its
declared dependencies would downgrade s3fs to 0.4.2). Skipped when it is not installed.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

pd = pytest.importorskip("pandas")
report = pytest.importorskip("smclarify.bias.report")

from mmon.bias.compute import analyse  # noqa: E402
from mmon.bias.data import LABEL, PRED, Rows  # noqa: E402
from mmon.bias.metrics import POST_TRAINING, PRE_TRAINING  # noqa: E402


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    group = rng.integers(0, 3, n)
    facet = rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2])
    age = rng.integers(18, 80, n)
    score = 1 / (1 + np.exp(-(x1 + 0.5 * x2 - 0.3 * (facet == 1))))
    label = (rng.random(n) < score).astype(int)
    pred = (score > 0.5).astype(int)
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "grp": group, "facet": facet, "age": age, "label": label, "pred": pred}
    )


def _clarify(df: pd.DataFrame, facet: str, values, stage, metrics) -> dict[str, list]:
    """{facet value: [(name, value or None)]} from smclarify's bias_report."""
    fc = report.FacetColumn(facet, values)
    lc = report.LabelColumn("label", df["label"], [1])
    pc = report.LabelColumn("pred", df["pred"], [1])
    out = report.bias_report(
        df,
        fc,
        lc,
        stage,
        pc if stage == report.StageType.POST_TRAINING else None,
        metrics,
        group_variable=df["grp"],
    )
    return {e["value_or_threshold"]: [(m["name"], m["value"]) for m in e["metrics"]] for e in out}


def _mmon(df: pd.DataFrame, facet: str, values) -> dict[str, dict]:
    frame = pl.from_pandas(df.drop(columns=["label", "pred"])).with_columns(
        pl.Series(LABEL, df["label"].to_numpy()), pl.Series(PRED, df["pred"].to_numpy())
    )
    f = {"name_or_index": facet} | ({"value_or_threshold": values} if values else {})
    cfg = {"label": "label", "label_values_or_threshold": [1], "facet": [f], "group_variable": "grp"}
    a = analyse(Rows(frame, ["mem"]), cfg, list(PRE_TRAINING), list(POST_TRAINING))
    out: dict[str, dict] = {}
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        for e in a.doc[stage]["facets"][facet]:
            out.setdefault(e["value_or_threshold"], {}).update({m["name"]: m["value"] for m in e["metrics"]})
    return out


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(b, str):
        b = float(b.replace("Infinity", "inf"))
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("facet", "values", "n", "seed"),
    [
        ("facet", [1], 600, 1),  # one sensitive value
        ("facet", [1, 2], 400, 2),  # several values
        ("facet", None, 300, 3),  # every value vs the rest
        ("age", [40], 500, 4),  # numeric facet with a threshold: (40, max]
    ],
)
def test_same_values_as_smclarify(facet, values, n, seed):
    df = _data(n, seed)
    mine = _mmon(df, facet, values)
    theirs: dict[str, list] = {}
    for stage in (report.StageType.PRE_TRAINING, report.StageType.POST_TRAINING):
        for k, v in _clarify(df, facet, values, stage, ["all"]).items():
            theirs.setdefault(k, []).extend(v)
    assert set(mine) == set(theirs)
    compared = 0
    for value, metrics in theirs.items():
        for name, want in metrics:
            assert name in mine[value], name
            assert _close(mine[value][name], want), (value, name, mine[value][name], want)
            compared += 1
    assert compared == len(theirs) * (len(PRE_TRAINING) + len(POST_TRAINING))


def test_errors_match_smclarify_when_a_facet_has_no_negative_labels():
    df = _data(200, 5)
    df.loc[df["facet"] == 1, "label"] = 1
    mine = _mmon(df, "facet", [1])["1"]
    theirs = dict(_clarify(df, "facet", [1], report.StageType.PRE_TRAINING, ["all"])["1"])
    for name in ("KL", "JS", "LP", "TVD", "KS", "DPL", "CI", "CDDL"):
        assert _close(mine[name], theirs[name]), name


@pytest.mark.parametrize("n", [40, 20])
def test_small_window_01_labels_are_continuous_as_in_clarify(n):
    """Clarify types a 0/1 integer column with distinct/rows >= 0.05 (<= 40 rows) as continuous, so
    ``label_values_or_threshold [0]`` means y > 0 and a facet ``[0]`` means facet > 0: mmon computes
    the same values as smclarify, and warns. Boolean feature columns count as 0/1 in FlipTest."""
    rng = np.random.default_rng(n)
    df = pd.DataFrame({
        "x1": rng.normal(size=n),
        "flag": rng.random(n) < 0.5,  # a Boolean feature: smclarify's k-NN reads it as 0/1
        "grp": rng.integers(0, 3, n),
        "sex": rng.integers(0, 2, n),
        "label": rng.integers(0, 2, n),
        "pred": rng.integers(0, 2, n),
    })  # fmt: skip
    fc = report.FacetColumn("sex", [0])
    lc = report.LabelColumn("label", df["label"], [0])
    pc = report.LabelColumn("pred", df["pred"], [0])
    theirs: dict[str, object] = {}
    for stage in (report.StageType.PRE_TRAINING, report.StageType.POST_TRAINING):
        out = report.bias_report(df.drop(columns=["label", "pred"]), fc, lc, stage,
                                 pc if stage == report.StageType.POST_TRAINING else None, ["all"],
                                 group_variable=df["grp"])  # fmt: skip
        assert len(out) == 1
        theirs["facet_value"] = out[0]["value_or_threshold"]
        theirs |= {m["name"]: m["value"] for m in out[0]["metrics"]}
    # The flag column as text True / False, as a CSV or a JSON payload brings it.
    frame = pl.from_pandas(df.drop(columns=["label", "pred"])).with_columns(
        pl.col("flag").cast(pl.String).str.to_titlecase(),
        pl.Series(LABEL, df["label"].to_numpy()),
        pl.Series(PRED, df["pred"].to_numpy()),
    )
    cfg = {"label": "label", "label_values_or_threshold": [0],
           "facet": [{"name_or_index": "sex", "value_or_threshold": [0]}], "group_variable": "grp"}  # fmt: skip
    a = analyse(Rows(frame, ["mem"]), cfg, list(PRE_TRAINING), list(POST_TRAINING))
    assert theirs["facet_value"] == "(0, 1]"
    mine: dict[str, object] = {}
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        assert a.doc[stage]["label_value_or_threshold"] == "(0, 1]"
        e = a.doc[stage]["facets"]["sex"][0]
        assert e["value_or_threshold"] == theirs["facet_value"]
        mine |= {m["name"]: m["value"] for m in e["metrics"]}
    for name in [*PRE_TRAINING, *POST_TRAINING]:
        assert _close(mine[name], theirs[name]), (name, mine[name], theirs[name])
    assert mine["FT"] is not None
    assert any("label 'label'" in w and "greater than 0" in w for w in a.warnings)
    assert any("facet 'sex'" in w for w in a.warnings)
