"""The report's chart module: scales, ticks, and charts of empty, single, NaN and infinite data."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from mmon.report import charts
from mmon.report.charts import LinearScale, Series

SVG = ""  # inline SVG in HTML: no namespace


def _parse(markup: str) -> ET.Element:
    """Every chart is well-formed XML (an SVG document)."""
    return ET.fromstring(str(markup))


def _numbers(svg: str) -> list[float]:
    return [float(x) for x in re.findall(r'(?:x|y|x1|x2|y1|y2|width|height|cx|cy)="(-?[\d.]+)"', svg)]


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0, 1, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0, 100, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
        (-3, 7, [-2.0, 0.0, 2.0, 4.0, 6.0]),
        (0.001, 0.0042, [0.001, 0.002, 0.003, 0.004]),
        (0.0012, 0.0019, [0.0012, 0.0014, 0.0016, 0.0018]),
        (20, 70, [20.0, 30.0, 40.0, 50.0, 60.0, 70.0]),
    ],
)
def test_ticks_are_round_1_2_5_steps_inside_the_range(lo: float, hi: float, expected: list[float]) -> None:
    got = charts.ticks(lo, hi, 5)
    assert got == expected
    assert all(lo <= t <= hi for t in got)


def test_ticks_of_degenerate_input() -> None:
    assert charts.ticks(3.0, 3.0) == [3.0]  # one value
    assert charts.ticks(5, 1) == charts.ticks(1, 5)  # reversed
    assert charts.ticks(math.nan, 1.0) == []
    assert charts.ticks(0.0, math.inf) == []
    assert charts.ticks(-math.inf, math.inf) == []


def test_ticks_are_evenly_spaced_round_steps_over_many_ranges() -> None:
    rng = np.random.default_rng(0)
    for _ in range(500):
        lo = float(rng.normal(0, 10.0 ** int(rng.integers(-4, 6))))
        hi = lo + float(rng.uniform(1e-6, 1) * 10.0 ** int(rng.integers(-4, 6)))
        t = charts.ticks(lo, hi, 5)
        assert 2 <= len(t) <= 11, (lo, hi, t)
        steps = np.diff(t)
        assert np.allclose(steps, steps[0], rtol=1e-6), (lo, hi, t)
        mant = steps[0] / 10 ** math.floor(math.log10(steps[0]))
        assert min(abs(mant - m) for m in (1, 2, 5, 10)) < 1e-4


def test_linear_scale_maps_and_handles_degenerate_domains() -> None:
    s = LinearScale(0.0, 10.0, 100.0, 200.0)
    assert s(0) == 100 and s(10) == 200 and s(2.5) == 125
    assert s(math.inf) == 200 and s(-math.inf) == 100
    assert math.isnan(s(math.nan))
    inverted = LinearScale(0.0, 1.0, 150.0, 10.0)  # y axes grow upwards
    assert inverted(1.0) == 10 and inverted(math.inf) == 10
    one = LinearScale.of([4.0], 0, 100)
    assert one.d0 < 4.0 < one.d1 and 0 < one(4.0) < 100
    zero = LinearScale.of([0.0, 0.0], 0, 100)
    assert zero.d0 < 0 < zero.d1
    empty = LinearScale.of([], 0, 100)
    assert (empty.d0, empty.d1) == (0.0, 1.0)
    nonfinite = LinearScale.of([math.nan, math.inf, -math.inf], 0, 100)
    assert (nonfinite.d0, nonfinite.d1) == (0.0, 1.0)
    nice = LinearScale.of([0.13, 0.87], 0, 100)
    assert nice.d0 <= 0.13 and nice.d1 >= 0.87 and nice.d0 == 0.0 and nice.d1 == 1.0


def test_fmt() -> None:
    assert charts.fmt(None) == "–"
    assert charts.fmt(math.nan) == "NaN"
    assert charts.fmt(math.inf) == "∞" and charts.fmt(-math.inf) == "−∞"
    assert charts.fmt(0.5263015337567633) == "0.5263"
    assert charts.fmt(1.886e-173) == "1.886e-173"
    assert charts.fmt(20000, 12) == "20000"
    assert charts.pct(0.96875) == "96.9%" and charts.pct(None) == "–"


def test_empty_charts_say_no_data() -> None:
    for svg in (
        charts.histogram([], [], "h"),
        charts.steps([], [], "s"),
        charts.hbars([], [], "b"),
        charts.lines([], [], "l"),
    ):
        root = _parse(svg)
        assert "no data" in "".join(root.itertext())


def _bars(svg: str) -> list[tuple[float, float]]:
    """(top, height) of each bar of the histogram's paths ("M x top h w V base h -w z")."""
    return [(float(t), float(b) - float(t)) for t, b in re.findall(r"M[-\d.]+ ([-\d.]+)h[-\d.]+V([-\d.]+)h", svg)]


def test_histogram_bars_have_heights_proportional_to_values() -> None:
    svg = charts.histogram([0, 1, 2, 3], [Series("a", [0.25, 0.5, 0.25], "s0")], "h")
    _parse(svg)
    heights = [h for _, h in _bars(str(svg))]
    assert len(heights) == 3
    assert heights[1] == pytest.approx(2 * heights[0], abs=0.2) and heights[0] == pytest.approx(heights[2], abs=0.1)
    two = charts.histogram([0, 1, 2], [Series("a", [0.5, 0.5], "s0"), Series("b", [1.0, 0.0], "s1")], "h2")
    assert len([p for p in _parse(two).findall("path") if "bar" in p.get("class", "")]) == 2 and len(_bars(str(two))) == 4


def test_single_value_nan_and_infinity_draw_without_error() -> None:
    one = charts.histogram([5.0, 5.0], [Series("a", [1.0], "s0")], "one value")
    _parse(one)
    assert len(_bars(str(one))) == 1
    steps = charts.steps([1.0, math.nan, 2.0, math.inf], [Series("a", [0.5, math.nan, 1.0, 1.0], "s0")], "cdf", gap=(1.0, 0.5, 0.2))
    root = _parse(steps)
    assert any("L∞ 0.3" in "".join(t.itertext()) for t in root.iter(SVG + "text"))
    assert "nan" not in _numbers_text(steps).lower() and "inf" not in _numbers_text(steps).lower()
    bars = charts.hbars(["a", "b", "c"], [Series("v", [1.0, math.nan, math.inf], "s0")], "bars", percent=False)
    root = _parse(bars)
    drawn = "".join(p.get("d", "") for p in root.iter(SVG + "path") if "bar" in p.get("class", ""))
    assert drawn.count("z") == 2  # NaN draws nothing; ∞ reaches the edge
    assert any("∞" in "".join(t.itertext()) for t in root.iter(SVG + "text"))
    assert all(math.isfinite(x) for x in _numbers(str(bars)))


def _numbers_text(svg: str) -> str:
    return " ".join(re.findall(r'(?:x|y|d|width|height)="([^"]*)"', str(svg)))


def test_lines_break_at_gaps_and_shade_failed_slots() -> None:
    labels = [f"t{i}" for i in range(6)]
    svg = charts.lines(labels, [Series("d", [0.1, 0.2, None, math.nan, 0.3, 0.4], "s1")], "drift", threshold=0.25, failed=[3])
    root = _parse(svg)
    paths = [p for p in root.iter(SVG + "path") if "line" in p.get("class", "")]
    assert len(paths) == 2  # two segments around the gap
    assert [r for r in root.iter(SVG + "rect") if r.get("class") == "failed"]
    assert [ln for ln in root.iter(SVG + "line") if ln.get("class") == "threshold"]
    assert len(list(root.iter(SVG + "circle"))) == 4
    assert "NaN" not in _numbers_text(svg) and "nan" not in _numbers_text(svg)


def test_text_is_escaped() -> None:
    name = '<script>alert(1)</script> & "]'
    svg = str(charts.hbars([name], [Series(name, [0.5], "s0")], name))
    assert "<script>" not in svg
    root = _parse(svg)
    assert root.get("aria-label") == name  # the escaped text parses back to the name
    assert name[:19] + "…" in "".join(root.itertext())


def test_same_input_same_bytes() -> None:
    a = charts.steps([0.1, 0.2, 0.3], [Series("b", [0.3, 0.6, 1.0], "s0")], "c", gap=(0.2, 0.6, 0.1))
    b = charts.steps([0.1, 0.2, 0.3], [Series("b", [0.3, 0.6, 1.0], "s0")], "c", gap=(0.2, 0.6, 0.1))
    assert str(a) == str(b)


def test_vectorised_coordinates_match_the_scalar_ones() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.uniform(-1000, 1000, 2000), [0.0, -0.0, -0.04, 0.05, 0.15, 999.95, 12345.6]])
    assert charts._cs(values) == [charts._c(float(v)) for v in values]


@pytest.mark.parametrize("name", ["data/aai540-statistics.2024-10.json.gz", "dq-statistics.2020-05.from-log.json", "dq-statistics.sdk-test.json"])
def test_fast_statistics_reader_equals_read_statistics(name: str) -> None:
    import gzip
    import json
    from pathlib import Path

    from mmon.report.stats import read_statistics_fast
    from mmon.stats.statistics import read_statistics

    raw = (Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "sagemaker" / name).read_bytes()
    doc = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
    a, b = read_statistics(doc), read_statistics_fast(doc)
    assert a.item_count == b.item_count and list(a.features) == list(b.features)
    for n, fa in a.features.items():
        fb = b.features[n]
        assert (fa.sketch is None) == (fb.sketch is None)
        if fa.sketch is not None:
            assert fa.sketch.to_data() == fb.sketch.to_data() and (fa.sketch.k, fa.sketch.c) == (fb.sketch.k, fb.sketch.c)
        assert {k: v for k, v in vars(fa).items() if k != "sketch"} == {k: v for k, v in vars(fb).items() if k != "sketch"}
