"""Small SVG charts for the HTML report: scales, ticks, axes, bars, steps and lines.

Everything is plain SVG text (no JavaScript, no external resource), built here and nowhere else, so
the templates only place finished charts. Rules every chart follows:

* Text (labels, titles, category names) is user data: it goes through ``markupsafe.escape``; the
  result is a ``Markup`` the templates insert without escaping it again.
* Numbers are rounded to one decimal in coordinates and to 4 significant digits in labels, so the
  same input always gives the same bytes (golden-file tests) and 1 000 charts stay small.
* Empty data, a single value, NaN and infinities never raise: NaN points are gaps, infinite values
  are drawn at the edge of the plot and labelled ``∞``, an empty chart says "no data".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from markupsafe import Markup, escape

WIDTH, HEIGHT = 260, 150
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 8, 10, 30


def finite(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def fmt(x: float | None, digits: int = 4) -> str:
    """A number for people: 4 significant digits, ``NaN``, ``∞``, ``−∞``, ``–`` for None."""
    if x is None:
        return "–"
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{int(exp)}"
    return text


def pct(x: float | None) -> str:
    return "–" if not finite(x) else f"{float(x) * 100:.1f}%"  # type: ignore[arg-type]


def _c(x: float) -> str:
    """A coordinate: one decimal, no trailing ``.0`` (deterministic and short)."""
    if not math.isfinite(x):
        return "0"  # callers skip non-finite points; never write "nan" into an attribute
    r = round(x * 10) / 10 + 0.0  # = numpy.round(x, 1) (rint(10 x) / 10, half to even), as _cs; no "-0"
    return f"{r:g}"


def _cs(values: np.ndarray | Sequence[float]) -> list[str]:
    """``_c`` of many finite coordinates at once (same text: one decimal, ``%g``, no ``-0``)."""
    return [f"{r:g}" for r in (np.round(np.asarray(values, dtype=float), 1) + 0.0).tolist()]


def nice_step(span: float, count: int) -> float:
    """A 1-2-5 step that cuts ``span`` into about ``count`` intervals."""
    raw = span / max(count, 1)
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if raw <= m * power * (1 + 1e-9):
            return m * power
    return 10.0 * power


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values inside ``[lo, hi]`` (1-2-5 steps); ``[lo]`` when lo == hi; [] when not finite."""
    if not (finite(lo) and finite(hi)):
        return []
    if lo > hi:
        lo, hi = hi, lo
    if lo == hi:
        return [float(lo)]
    step = nice_step(hi - lo, count)
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    out = []
    for i in range(first, last + 1):
        t = round(i * step, decimals)
        out.append(0.0 if t == 0 else t)
    return out


@dataclass(frozen=True)
class LinearScale:
    """Maps the domain ``[d0, d1]`` onto the range ``[r0, r1]``.

    A degenerate domain (one value, or a non-finite bound) is widened to something drawable:
    ``[v - 0.5, v + 0.5]`` around a single value, ``[0, 1]`` without any finite bound.
    """

    d0: float
    d1: float
    r0: float
    r1: float

    @staticmethod
    def of(values: Sequence[float | None], r0: float, r1: float, include_zero: bool = False, nice: bool = True) -> LinearScale:
        vals = [float(v) for v in values if finite(v)]  # type: ignore[arg-type]
        if include_zero:
            vals.append(0.0)
        if not vals:
            return LinearScale(0.0, 1.0, r0, r1)
        lo, hi = min(vals), max(vals)
        if lo == hi:
            pad = 0.5 if lo == 0 else abs(lo) * 0.1
            lo, hi = lo - pad, hi + pad
            if include_zero and min(vals) >= 0:
                lo = max(lo, 0.0)
        if nice:
            step = nice_step(hi - lo, 5)
            lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
        return LinearScale(lo, hi, r0, r1)

    def __call__(self, x: float) -> float:
        """The range position of ``x``; ``±inf`` go to the range's ends, NaN to NaN (callers skip it)."""
        if math.isnan(x):
            return math.nan
        if math.isinf(x):
            return self.r1 if (x > 0) == (self.d1 >= self.d0) else self.r0
        span = self.d1 - self.d0
        if span == 0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (x - self.d0) / span * (self.r1 - self.r0)

    def ticks(self, count: int = 5) -> list[float]:
        return ticks(self.d0, self.d1, count)


class Svg:
    """An SVG document built from escaped parts."""

    def __init__(self, width: int, height: int, label: str, cls: str = "chart") -> None:
        self.width, self.height = width, height
        self.parts: list[str] = []
        self.label = label
        self.cls = cls

    def add(self, part: str) -> None:
        self.parts.append(part)

    def text(self, x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> None:
        c = f' class="{cls}"' if cls else ""
        a = f' text-anchor="{anchor}"' if anchor != "start" else ""
        self.add(f'<text x="{_c(x)}" y="{_c(y)}"{c}{a}>{escape(text)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str) -> None:
        self.add(f'<line x1="{_c(x1)}" y1="{_c(y1)}" x2="{_c(x2)}" y2="{_c(y2)}" class="{cls}"/>')

    def rect(self, x: float, y: float, w: float, h: float, cls: str, title: str | None = None) -> None:
        body = f"<title>{escape(title)}</title>" if title else ""
        end = f">{body}</rect>" if body else "/>"
        self.add(f'<rect x="{_c(x)}" y="{_c(y)}" width="{_c(max(w, 0.0))}" height="{_c(max(h, 0.0))}" class="{cls}"{end}')

    def path(self, points: Sequence[tuple[float, float]], cls: str) -> None:
        if not points:
            return
        d = "M" + "L".join(f"{_c(x)} {_c(y)}" for x, y in points)
        self.add(f'<path d="{d}" class="{cls}"/>')

    def render(self) -> Markup:
        # Inline SVG in HTML needs no xmlns; the label is the accessible name (no <title>, to
        # keep 1 000 panels small).
        return Markup(
            f'<svg class="{self.cls}" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" aria-label="{escape(self.label)}">'
            f"{''.join(self.parts)}</svg>"
        )


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    cls: str  # CSS class: s0 baseline, s1 current, …


def _empty(svg: Svg, message: str = "no data") -> Markup:
    svg.text(svg.width / 2, svg.height / 2, message, "muted", "middle")
    return svg.render()


def _plot_box(width: int, height: int) -> tuple[float, float, float, float]:
    return MARGIN_LEFT, width - MARGIN_RIGHT, MARGIN_TOP, height - MARGIN_BOTTOM


def y_axis(svg: Svg, scale: LinearScale, x0: float, x1: float, percent: bool = False, count: int = 4) -> None:
    """Grid lines in one path, tick labels in one group (small text for 1 000 charts)."""
    svg.parts.extend(_y_axis(scale, x0, x1, percent, count))


@lru_cache(maxsize=1024)
def _y_axis(scale: LinearScale, x0: float, x1: float, percent: bool, count: int) -> tuple[str, ...]:
    # Cached: 1 000 panels share a handful of axes (every CDF's is the same 0-100 %).
    marks = scale.ticks(count)
    if not marks:
        return ()
    grid = '<path d="' + "".join(f"M{_c(x0)} {_c(scale(t))}H{_c(x1)}" for t in marks) + '" class="grid"/>'
    labels = "".join(
        f'<text x="{_c(x0 - 4)}" y="{_c(scale(t) + 3)}">{escape(f"{t * 100:g}%" if percent else fmt(t, 3))}</text>' for t in marks
    )
    return grid, f'<g class="tick" text-anchor="end">{labels}</g>'


def x_axis(svg: Svg, scale: LinearScale, y: float, count: int = 5) -> None:
    svg.parts.extend(_x_axis(scale, y, count))


@lru_cache(maxsize=1024)
def _x_axis(scale: LinearScale, y: float, count: int) -> tuple[str, str]:
    marks = scale.ticks(count)
    axis = f'<path d="M{_c(scale.r0)} {_c(y)}H{_c(scale.r1)}' + "".join(f"M{_c(scale(t))} {_c(y)}v3" for t in marks) + '" class="axis"/>'
    labels = "".join(f'<text x="{_c(scale(t))}" y="{_c(y + 13)}">{escape(fmt(t, 3))}</text>' for t in marks)
    return axis, f'<g class="tick" text-anchor="middle">{labels}</g>'


def meter(values: Sequence[float | None], label: str, mark: float | None = None, width: int = 200) -> Markup:
    """Shares (0..1) as thin bars on one 0-100 % track, one per series (s0, s1, …); ``mark`` = a requirement."""
    height = 6 + 7 * max(len(values), 1)
    svg = Svg(width, height, label, "chart meter")
    svg.rect(0, 2, width, height - 4, "track")
    for j, v in enumerate(values):
        if finite(v):
            svg.rect(0, 3 + 7 * j, width * min(max(float(v), 0.0), 1.0), 6, f"bar s{j}")  # type: ignore[arg-type]
    if finite(mark):
        x = width * min(max(float(mark), 0.0), 1.0)  # type: ignore[arg-type]
        svg.line(x, 0, x, height, "mark")
    return svg.render()


def histogram(edges: Sequence[float], series: Sequence[Series], label: str, width: int = WIDTH, height: int = HEIGHT) -> Markup:
    """Grouped bars per bin: ``edges`` has one more entry than each series' values (shares 0..1)."""
    svg = Svg(width, height, label)
    bins = len(edges) - 1
    if bins < 1 or not series or not all(finite(e) for e in edges):
        return _empty(svg)
    x0, x1, y0, y1 = _plot_box(width, height)
    ys = LinearScale.of([v for s in series for v in s.values], y1, y0, include_zero=True)
    y_axis(svg, ys, x0, x1, percent=True)
    xs = LinearScale(float(edges[0]), float(edges[-1]), x0, x1) if edges[-1] > edges[0] else None
    slot = (x1 - x0) / bins
    base = ys(0.0)
    # Bar corners in numpy, with LinearScale.__call__'s operations in its order (same floats).
    if xs:
        e = np.asarray(edges, dtype=float)
        pos = xs.r0 + (e - xs.d0) / (xs.d1 - xs.d0) * (xs.r1 - xs.r0)
        lefts, rights = pos[:-1], pos[1:]
    else:
        lefts = np.array([x0 + i * slot for i in range(bins)])
        rights = lefts + slot
    widths = np.maximum((rights - lefts) * 0.9 / len(series), 0.5)
    starts = lefts + (rights - lefts) * 0.05
    for j, s in enumerate(series):
        # All bars of a series in one path ("M x y h w V base h -w z" per bar): a third of the text of rects.
        vals = [s.values[i] if i < len(s.values) else None for i in range(bins)]
        keep = [i for i, v in enumerate(vals) if finite(v)]
        if not keep:
            continue
        tops = _cs([ys(float(vals[i])) for i in keep])  # type: ignore[arg-type]
        bw = widths[keep]
        xs_ = _cs(starts[keep] + j * bw)
        w, neg = _cs(bw), _cs(-bw)
        b = _c(base)
        d = "".join(f"M{a} {t}h{ww}V{b}h{n}z" for a, t, ww, n in zip(xs_, tops, w, neg, strict=True))
        svg.add(f'<path d="{d}" class="bar {s.cls}"/>')
    if xs:
        x_axis(svg, xs, y1)
    else:
        svg.line(x0, y1, x1, y1, "axis")
        svg.text((x0 + x1) / 2, y1 + 13, fmt(edges[0]), "tick", "middle")
    return svg.render()


def steps(
    xs: Sequence[float],
    series: Sequence[Series],
    label: str,
    gap: tuple[float, float, float] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """Step functions (CDFs) over shared ``xs``; ``gap = (x, y_a, y_b)`` is marked with a red bar."""
    svg = Svg(width, height, label)
    xa = np.asarray(xs, dtype=float)
    if not np.isfinite(xa).any() or not series:
        return _empty(svg)
    x0, x1, y0, y1 = _plot_box(width, height)
    sx = LinearScale.of(xa[np.isfinite(xa)].tolist(), x0, x1)
    sy = LinearScale(0.0, 1.0, y1, y0)
    y_axis(svg, sy, x0, x1, percent=True)
    for s in series:
        ya = np.asarray([np.nan if v is None else v for v in s.values[: xa.size]], dtype=float)
        keep = np.isfinite(xa[: ya.size]) & np.isfinite(ya)
        # A step function as "H x V y" pairs: half the text of point pairs, drawn in numpy.
        px = _cs(sx.r0 + (xa[: ya.size][keep] - sx.d0) / ((sx.d1 - sx.d0) or 1.0) * (sx.r1 - sx.r0))
        py = _cs(sy(0.0) + ya[keep] * (sy(1.0) - sy(0.0)))
        d = f"M{_c(x0)} {_c(sy(0.0))}" + "".join(f"H{a}V{b}" for a, b in zip(px, py, strict=True)) + f"H{_c(x1)}"
        svg.add(f'<path d="{d}" class="step {s.cls}"/>')
    if gap is not None and all(finite(g) for g in gap):
        gx = sx(gap[0])
        svg.line(gx, sy(gap[1]), gx, sy(gap[2]), "gap")
        svg.text(min(gx + 4, x1 - 60), (sy(gap[1]) + sy(gap[2])) / 2 + 3, f"L∞ {fmt(abs(gap[1] - gap[2]), 3)}", "gaplabel")
    x_axis(svg, sx, y1)
    return svg.render()


def hbars(
    labels: Sequence[str],
    series: Sequence[Series],
    label: str,
    width: int = WIDTH,
    percent: bool = True,
    marks: Sequence[float | None] | None = None,
) -> Markup:
    """Horizontal grouped bars, one group per label (categories, facets, features).

    Values may be negative (bias metrics): bars grow from 0. ``marks`` draws a tick per group
    (a threshold or a baseline value). NaN values draw nothing; infinite ones reach the edge.
    """
    row = 6 + 9 * max(len(series), 1)
    height = MARGIN_TOP + row * max(len(labels), 1) + 22
    svg = Svg(width, height, label)
    if not labels or not series:
        return _empty(svg)
    left = min(120, max(40, 6 * max(len(str(lb)) for lb in labels)))
    x0, x1 = float(left + 6), float(width - 40)
    values = [v for s in series for v in s.values] + list(marks or [])
    sx = LinearScale.of(values, x0, x1, include_zero=True)
    zero = sx(0.0)
    names, vals, marks_d = [], [], []
    bars: list[list[str]] = [[] for _ in series]
    for i, lb in enumerate(labels):
        top = MARGIN_TOP + i * row
        text = lb if len(lb) <= 20 else lb[:19] + "…"
        names.append(f'<text x="{left}" y="{_c(top + row / 2 + 2)}">{escape(text)}</text>')
        for j, s in enumerate(series):
            v = s.values[i] if i < len(s.values) else None
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            end = sx(float(v))
            y = top + 3 + j * 9
            bars[j].append(f"M{_c(min(zero, end))} {_c(y)}h{_c(abs(end - zero))}v8H{_c(min(zero, end))}z")
            vals.append(f'<text x="{_c(max(zero, end) + 3)}" y="{_c(y + 7)}">{escape(pct(v) if percent else fmt(v, 3))}</text>')
        if marks is not None and i < len(marks) and finite(marks[i]):
            mx = sx(float(marks[i]))  # type: ignore[arg-type]
            marks_d.append(f"M{_c(mx)} {_c(top + 1)}V{_c(top + row - 1)}")
    # One path per series and one group per kind of text: a 22-category chart stays near 1 KB.
    svg.add(f'<g class="tick" text-anchor="end">{"".join(names)}</g>')
    for j, s in enumerate(series):
        if bars[j]:
            svg.add(f'<path d="{"".join(bars[j])}" class="bar {s.cls}"/>')
    svg.add(f'<g class="val">{"".join(vals)}</g>')
    if marks_d:
        svg.add(f'<path d="{"".join(marks_d)}" class="mark"/>')
    axis_y = MARGIN_TOP + row * len(labels) + 2
    svg.line(zero, MARGIN_TOP, zero, axis_y, "axis")
    ticks_text = "".join(
        f'<text x="{_c(sx(t))}" y="{_c(axis_y + 12)}">{escape(f"{t * 100:g}%" if percent else fmt(t, 3))}</text>' for t in sx.ticks(4)
    )
    svg.add(f'<g class="tick" text-anchor="middle">{ticks_text}</g>')
    return svg.render()


def lines(
    labels: Sequence[str],
    series: Sequence[Series],
    label: str,
    threshold: float | None = None,
    band: tuple[float, float] | None = None,
    failed: Sequence[int] = (),
    width: int = 480,
    height: int = 170,
) -> Markup:
    """Values over executions: ``None``/NaN leave a gap in the line; ``failed`` indexes get a red band.

    ``threshold`` is a dashed line, ``band`` a shaded ``(low, high)`` range (baseline ± std).
    """
    svg = Svg(width, height, label, "chart wide")
    n = len(labels)
    if n == 0:
        return _empty(svg)
    x0, x1, y0, y1 = _plot_box(width, height)
    extra: list[float | None] = [threshold, *(band or ())]
    sy = LinearScale.of([v for s in series for v in s.values] + extra, y1, y0)
    y_axis(svg, sy, x0, x1)
    step = (x1 - x0) / max(n - 1, 1)

    def px(i: int) -> float:
        return x0 + i * step if n > 1 else (x0 + x1) / 2

    for i in failed:
        if 0 <= i < n:
            svg.rect(px(i) - step / 2 if n > 1 else x0, y0, step if n > 1 else x1 - x0, y1 - y0, "failed", f"{labels[i]}: Failed")
    if band is not None and all(finite(b) for b in band):
        top, bottom = sy(max(band)), sy(min(band))
        svg.rect(x0, top, x1 - x0, bottom - top, "band")
    if finite(threshold):
        t = sy(float(threshold))  # type: ignore[arg-type]
        svg.line(x0, t, x1, t, "threshold")
    for s in series:
        seg: list[tuple[float, float]] = []
        for i, v in enumerate(s.values[:n]):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                if len(seg) > 1:
                    svg.path(seg, f"line {s.cls}")
                seg = []
                continue
            point = (px(i), sy(float(v)))
            seg.append(point)
            svg.add(
                f'<circle cx="{_c(point[0])}" cy="{_c(point[1])}" r="2" class="dot {s.cls}">'
                f"<title>{escape(labels[i])} — {escape(s.name)}: {escape(fmt(v))}</title></circle>"
            )
        if len(seg) > 1:
            svg.path(seg, f"line {s.cls}")
    svg.line(x0, y1, x1, y1, "axis")
    every = max(1, math.ceil(n / 6))
    for i in range(0, n, every):
        svg.text(px(i), y1 + 13, labels[i], "tick", "middle")
    return svg.render()
