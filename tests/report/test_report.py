"""mmon report on a data-quality run: numbers against scipy, escaping, determinism, golden bytes."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from mmon import __version__
from mmon.report import build_report
from mmon.store import Store
from tests.clihelp import run_cli

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden_report"
XSS = "<img src=x onerror=alert(1)>"
ODD = "a&b] <script>alert(1)</script>"


class Dom(HTMLParser):
    """Elements with their attributes and the page's text, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]


def frames(seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    n, m = 1500, 800
    base = pl.DataFrame(
        {
            "x": np.round(rng.normal(0, 1, n), 4),
            "k": rng.integers(0, 50, n),
            "color": rng.choice(["red", "green", "blue", "white"], n, p=[0.4, 0.3, 0.2, 0.1]),
            XSS: np.round(rng.uniform(0, 1, n), 3),
            ODD: rng.choice(["p", "q"], n),
        }
    )
    k = rng.integers(0, 50, m).astype(float)
    cur = pl.DataFrame(
        {
            "x": np.round(rng.normal(0.6, 1, m), 4),
            "k": pl.Series(k).map_elements(lambda v: None if v < 3 else int(v), return_dtype=pl.Int64),
            "color": rng.choice(["red", "green", "blue", "purple"], m, p=[0.3, 0.3, 0.2, 0.2]),
            XSS: np.round(rng.uniform(0, 1, m), 3),
            ODD: rng.choice(["p", "q"], m),
        }
    )
    return base, cur


@pytest.fixture(scope="module")
def dq_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import _pytest.capture  # noqa: F401 - run_cli needs capsys; use the CLI's main directly instead

    root = tmp_path_factory.mktemp("dq")
    base, cur = frames()
    base.write_csv(root / "train.csv")
    cur.write_csv(root / "cur.csv")
    from mmon.cli.app import main

    for args in (
        ["baseline", root / "train.csv", "-o", root / "base", "-q"],
        ["run", root / "cur.csv", "--baseline-statistics", root / "base" / "statistics.json",
         "--baseline-constraints", root / "base" / "constraints.json", "-o", root / "run", "-q",
         "--drift-test", "ks=0.05", "--drift-test", "psi", "--no-fail-on-violations"],
    ):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in args])
        assert exc.value.code in (0, None)
    return {"root": root, "base": root / "base", "run": root / "run"}


def _report(paths: dict[str, Path]) -> tuple[dict, str]:
    return build_report(Store({}), str(paths["run"]), baseline_statistics=str(paths["base"] / "statistics.json"), baseline_constraints=str(paths["base"] / "constraints.json"))


def test_cli_writes_one_self_contained_file(dq_run: dict[str, Path], capsys) -> None:
    code, out, err = run_cli(
        ["report", dq_run["run"], "--baseline-statistics", dq_run["base"] / "statistics.json",
         "--baseline-constraints", dq_run["base"] / "constraints.json", "--json"], capsys,
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    page = Path(doc["report"])
    assert page == dq_run["run"] / "report.html" and page.stat().st_size == doc["bytes"]
    html = page.read_text()
    dom = Dom(html)
    violations = json.loads((dq_run["run"] / "constraint_violations.json").read_text())["violations"]
    assert doc["violations"] == len(violations) > 0
    # Every violation is a row, every feature a panel.
    assert len(dom.find("tr", "violation")) == len(violations)
    assert len(dom.find("section", "panel")) == 5 == doc["panels"]
    # Nothing is loaded from anywhere: no external src/href, no <link rel=stylesheet>, no <img>.
    for _, attrs in dom.tags:
        for key in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", attrs.get(key) or ""), attrs
    assert not dom.find("img") and not [a for a in dom.find("script") if a.get("src")]
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    assert script and len(script.group(1).encode()) < 4096
    assert "http://" not in html and "https://" not in html


def test_feature_names_are_text_never_markup(dq_run: dict[str, Path]) -> None:
    _, html = _report(dq_run)
    assert XSS not in html and "<script>alert" not in html
    dom = Dom(html)
    text = "".join(dom.text)
    assert XSS in text and ODD in text
    names = [a.get("data-name") for a in dom.find("section", "panel")]
    assert XSS in names and ODD in names
    assert not [a for a in dom.find("img")]
    assert len(dom.find("script")) == 1


def test_numbers_are_the_checks_own_and_match_scipy(dq_run: dict[str, Path]) -> None:
    ctx, _ = _report(dq_run)
    base, cur = frames()
    panels = {p.name: p for p in ctx["panels"]}
    x = panels["x"]
    ks = sps.ks_2samp(base["x"].to_numpy(), cur["x"].to_numpy())
    # Exact sketches (n <= 2050): Deequ's L-infinity is the two-sample K-S statistic.
    assert x.linf_simple == pytest.approx(ks.statistic, abs=1e-12)
    assert (x.n, x.m) == (1500, 800)
    assert x.margin == pytest.approx(1.8 * math.sqrt((1500 + 800) / (1500 * 800)))
    assert x.distance == pytest.approx(max(0.0, ks.statistic - x.margin))
    # The run's own distance (its CloudWatch record) is the one drawn.
    records = [json.loads(line) for line in (dq_run["run"] / "cloudwatch_metrics.jsonl").read_text().splitlines()]
    run_distance = {r["MetricName"]: r.get("Value") for r in records}["feature_baseline_drift_x"]
    assert x.distance == pytest.approx(run_distance, abs=1e-15)
    # --drift-test values: recomputed from the statistics = the run's metrics.prom values = scipy.
    prom = (dq_run["run"] / "metrics.prom").read_text()
    ks_p = float(re.search(r'feature="x",test="ks"\} (\S+)', prom).group(1))
    assert x.tests["ks"] == pytest.approx(ks_p, rel=1e-12)
    assert x.tests["ks"] == pytest.approx(sps.ks_2samp(base["x"].to_numpy(), cur["x"].to_numpy(), method="asymp").pvalue, rel=1e-6)
    assert ctx["tests"] == ["ks", "psi"]
    # The violation rows carry distance, threshold, margin, n, m; the K-S row its p-value and statistic.
    rows = [r for r in ctx["violation_rows"] if r["feature"] == "x"]
    drift_row = next(r for r in rows if r.get("distance") is not None)
    assert (drift_row["threshold"], drift_row["n"], drift_row["m"]) == (0.1, 1500, 800)
    ks_row = next(r for r in rows if r.get("test") == "ks")
    assert ks_row["test_value"] == pytest.approx(ks.pvalue, rel=1e-6) and ks_row["test_statistic"] == pytest.approx(ks.statistic)
    # Completeness: 1 - nulls/rows of the current window; required = the constraint.
    k = panels["k"]
    assert k.completeness_current == pytest.approx(cur["k"].is_not_null().mean())
    # Strings: the category never seen in the baseline is listed; L-infinity of the shares.
    color = panels["color"]
    assert color.unseen == ["purple"]
    shares = lambda df: df["color"].value_counts(normalize=True).rows()  # noqa: E731
    b, c = dict(shares(base)), dict(shares(cur))
    assert color.linf_simple == pytest.approx(max(abs(b.get(v, 0) - c.get(v, 0)) for v in b.keys() | c.keys()))
    # Violating features first.
    flags = [p.violating for p in ctx["panels"]]
    assert flags == sorted(flags, reverse=True) and flags[0]


def test_gap_is_marked_where_the_cdfs_differ_most(dq_run: dict[str, Path]) -> None:
    ctx, html = _report(dq_run)
    base, cur = frames()
    a, b = np.sort(base["x"].to_numpy()), np.sort(cur["x"].to_numpy())
    keys = np.union1d(a, b)
    diff = np.abs(np.searchsorted(a, keys, "right") / a.size - np.searchsorted(b, keys, "right") / b.size)
    x = next(p for p in ctx["panels"] if p.name == "x")
    label = f"L∞ {float(diff.max()):.3g}"
    assert label in str(x.charts[1])
    assert 'class="gap"' in str(x.charts[1])


def test_same_inputs_same_bytes(dq_run: dict[str, Path]) -> None:
    assert _report(dq_run)[1] == _report(dq_run)[1]


def test_without_a_baseline_the_page_says_so(dq_run: dict[str, Path]) -> None:
    ctx, html = build_report(Store({}), str(dq_run["run"]))
    assert any("--baseline-statistics" in n for n in ctx["notes"])
    x = next(p for p in ctx["panels"] if p.name == "x")
    assert x.distance is not None  # from the run's metrics
    assert len(Dom(html).find("tr", "violation")) == len(json.loads((dq_run["run"] / "constraint_violations.json").read_text())["violations"])


def test_errors_are_one_line_exit_2(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["report", tmp_path / "nothing"], capsys)
    assert code == 2 and "mmon: error:" in err and "no such folder" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["report", tmp_path / "empty"], capsys)
    assert code == 2 and "nothing to report" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "constraint_violations.json").write_text('{"violations": [ {"feature_name": 3}')
    code, _, err = run_cli(["report", bad], capsys)
    assert code == 2 and "constraint_violations.json" in err and len(err.strip().splitlines()) == 1


# -- golden file -----------------------------------------------------------------------------------


# The snapshot keeps a placeholder line where the page inlines each template asset, so the CSS and
# JavaScript have one home (mmon/report/templates) and the test still compares every byte of the page.
ASSETS = ROOT / "mmon" / "report" / "templates"
ASSET_NAMES = ("report.css", "report.js")


def placeholder(name: str) -> bytes:
    return f"<!-- inlined here: mmon/report/templates/{name} -->\n".encode()


def with_assets_inlined(snapshot: bytes) -> bytes:
    for name in ASSET_NAMES:
        assert snapshot.count(placeholder(name)) == 1, f"the snapshot must hold {name}'s placeholder once"
        snapshot = snapshot.replace(placeholder(name), (ASSETS / name).read_bytes())
    return snapshot


def with_asset_placeholders(page: bytes) -> bytes:
    for name in ASSET_NAMES:
        asset = (ASSETS / name).read_bytes()
        assert page.count(asset) == 1, f"the page must inline {name} once"
        page = page.replace(asset, placeholder(name))
    return page


def test_golden_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A fixed pair of statistics files gives these exact bytes (MMON_UPDATE_GOLDEN=1 rewrites them)."""
    shutil.copytree(GOLDEN, tmp_path / "g")
    monkeypatch.chdir(tmp_path / "g")
    (Path("run") / "report.html").unlink(missing_ok=True)
    code, _, err = run_cli(
        ["report", "run", "--baseline-statistics", "baseline/statistics.json", "--baseline-constraints",
         "baseline/constraints.json", "-o", "out.html", "-q"], capsys,
    )  # fmt: skip
    assert code == 0, err
    # The version is the one thing that may change without the report changing.
    got = Path("out.html").read_bytes().replace(f"mmon {__version__}".encode(), b"mmon VERSION")
    if os.environ.get("MMON_UPDATE_GOLDEN"):
        (GOLDEN / "report.html").write_bytes(with_asset_placeholders(got))
    assert got == with_assets_inlined((GOLDEN / "report.html").read_bytes())



def test_run_with_report_writes_it_beside_the_violations(dq_run: dict[str, Path], capsys) -> None:
    out_dir = dq_run["root"] / "run-with-report"
    code, out, err = run_cli(
        ["run", dq_run["root"] / "cur.csv", "--baseline-statistics", dq_run["base"] / "statistics.json",
         "--baseline-constraints", dq_run["base"] / "constraints.json", "-o", out_dir, "--drift-test", "js",
         "--report", "--json", "-q"], capsys,
    )  # fmt: skip
    assert code == 1, err  # the run's own exit code is kept: violations
    doc = json.loads(out)
    assert doc["outputs"]["report"] == str(out_dir / "report.html")
    html = (out_dir / "report.html").read_text()
    assert len(Dom(html).find("tr", "violation")) == doc["violation_count"]
    assert "Drift tests (js)" in html


def test_a_baseline_of_another_monitor_type_is_refused(dq_run: dict[str, Path], tmp_path: Path, capsys) -> None:
    mq_stats = ROOT.parent / "shared" / "reference" / "sagemaker" / "mq-statistics-regression.sdk-test.json"
    code, _, err = run_cli(["report", dq_run["run"], "--baseline-statistics", mq_stats, "-o", tmp_path / "r.html"], capsys)
    assert code == 2 and "not the statistics.json of a data-quality baseline" in err
    analysis = ROOT.parent / "shared" / "reference" / "sagemaker" / "clarify-bias-analysis.json"
    code, _, err = run_cli(["report", dq_run["run"], "--baseline-constraints", analysis, "-o", tmp_path / "r.html"], capsys)
    assert code == 2 and "not the constraints of a data-quality baseline" in err
    assert not (tmp_path / "r.html").exists()


def test_type_match_bar_from_the_data_type_violation(tmp_path: Path, capsys) -> None:
    pl.DataFrame({"n": list(range(200))}).write_csv(tmp_path / "train.csv")
    pl.DataFrame({"n": [str(i) if i % 4 else f"x{i}" for i in range(100)]}).write_csv(tmp_path / "cur.csv")
    assert run_cli(["baseline", tmp_path / "train.csv", "-o", tmp_path / "base", "-q"], capsys)[0] == 0
    assert run_cli(["run", tmp_path / "cur.csv", "--baseline-statistics", tmp_path / "base" / "statistics.json", "--baseline-constraints",
                    tmp_path / "base" / "constraints.json", "-o", tmp_path / "run", "-q", "--no-fail-on-violations"], capsys)[0] == 0  # fmt: skip
    ctx, html = build_report(Store({}), str(tmp_path / "run"), baseline_statistics=str(tmp_path / "base" / "statistics.json"), baseline_constraints=str(tmp_path / "base" / "constraints.json"))
    (p,) = ctx["panels"]
    assert p.type_match == pytest.approx(0.75) and "type match" in html
