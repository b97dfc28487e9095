"""Inline SVG for the reports: line plots with bands, histograms, scatter plots and heat
maps, no plotting library needed.

The reports must open offline and carry no dependency beyond the suite's own, so the few
pictures they need are drawn here as plain SVG elements. Every number that reaches the page
is finite: −∞ is drawn at a plot's floor, NaN points are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH, HEIGHT = 460, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 34, 46
#: The width of one bar outside a histogram's axis (e.g. "∞"), with its gap.
OUTSIDE = 44


@dataclass(frozen=True)
class Series:
    """One line: ys may hold -inf (drawn at the floor, e.g. an underflowed gradient); NaN
    points are left out (the line breaks there)."""

    label: str
    xs: np.ndarray
    ys: np.ndarray
    color: str
    width: float = 1.5
    dash: str = ""


@dataclass(frozen=True)
class Band:
    """A filled region between lo and hi over xs (a quantile band), drawn under the lines;
    -inf is drawn at the floor, NaN points are left out."""

    label: str
    xs: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    color: str
    opacity: float = 0.25


@dataclass(frozen=True)
class Rule:
    """A horizontal reference line across the plot (a threshold)."""

    label: str
    y: float
    color: str = "#555"
    dash: str = "5 3"


@dataclass(frozen=True)
class Points:
    """One group of a scatter plot: a marker ("circle", "square", "triangle") per point,
    ``tips`` the hover text of each (an SVG title, no script)."""

    label: str
    xs: np.ndarray
    ys: np.ndarray
    color: str
    marker: str = "circle"
    tips: tuple[str, ...] = ()


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round-numbered ticks covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    first = math.floor(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a log axis over [lo, hi] (log10 units): the decades, with 2 and 5 between
    them when it spans fewer than three, and more when it spans less than one."""
    mantissas = (1, 1.2, 1.5, 2, 3, 4, 5, 7) if hi - lo < 1 else (1, 2, 5) if hi - lo < 3 else (1,)
    ticks = [
        d + math.log10(m)
        for d in range(math.floor(lo), math.ceil(hi) + 1)
        for m in mantissas
        if lo - 1e-9 <= d + math.log10(m) <= hi + 1e-9
    ]
    return ticks or [lo]


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.0e}"


def _extent(values: Sequence[np.ndarray], default: tuple[float, float]) -> tuple[float, float]:
    finite = np.concatenate([np.asarray(v, float).ravel() for v in values] or [np.zeros(0)])
    finite = finite[np.isfinite(finite)]
    return (float(finite.min()), float(finite.max())) if finite.size else default


def _runs(keep: np.ndarray) -> list[np.ndarray]:
    """The indices of each run of consecutive True entries."""
    idx = np.flatnonzero(keep)
    return [r for r in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if r.size]


class _Axes:
    """A plot frame: data ranges mapped onto the plot area (x optionally on a log axis; y
    widened to round ticks), the title, the ticks and the axis labels."""

    def __init__(
        self,
        x: tuple[float, float],
        y: tuple[float, float],
        *,
        log_x: bool = False,
        width: int = WIDTH,
        height: int = HEIGHT,
        right: int = RIGHT,
        y_count: int = 5,
        below: int = 0,
        floor: float | None = None,
    ) -> None:
        self.log_x, self.width, self.height, self.below = log_x, width, height + below, below
        x_lo, x_hi = (math.log10(max(v, 1e-300)) for v in x) if log_x else x
        if x_hi <= x_lo:
            x_lo, x_hi = (x_lo - 0.5, x_hi + 0.5) if log_x else (x_lo, x_lo + 1.0)
        if log_x:
            self.xt = _log_ticks(x_lo, x_hi)
        else:
            self.xt = _ticks(x_lo, x_hi)
            x_lo, x_hi = min(x_lo, self.xt[0]), max(x_hi, self.xt[-1])
        self.yt = _ticks(*y, y_count)
        self.x_lo, self.x_hi = x_lo, x_hi
        self.y_lo, self.y_hi = min(y[0], self.yt[0]), max(y[1], self.yt[-1])
        self.pw, self.ph = width - LEFT - right, height - TOP - BOTTOM
        self.floor = self.y_lo if floor is None else max(floor, self.y_lo)

    def px(self, x: float) -> float:
        v = math.log10(max(x, 1e-300)) if self.log_x else x
        return LEFT + (v - self.x_lo) / ((self.x_hi - self.x_lo) or 1.0) * self.pw

    def py(self, y: float) -> float:
        """A value's height: below the floor (and −∞) on the floor, above the top on it."""
        y = self.floor if not np.isfinite(y) or y < self.floor else min(y, self.y_hi)
        return self._y(y)

    def _y(self, y: float) -> float:
        return TOP + (self.y_hi - y) / ((self.y_hi - self.y_lo) or 1.0) * self.ph

    def frame(self, title: str, xlabel: str, ylabel: str) -> list[str]:
        w, h, pw, ph = self.width, self.height, self.pw, self.ph
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>",
            f'<rect width="{w}" height="{h}" fill="white"/>',
            f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13" '
            f'font-weight="bold">{escape(title)}</text>',
            f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>',
        ]
        for v in self.yt:
            y = self._y(v)
            out.append(
                f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            )
            out.append(
                f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" '
                f'font-size="10">{_fmt(v)}</text>'
            )
        for v in self.xt:
            x = LEFT + (v - self.x_lo) / ((self.x_hi - self.x_lo) or 1.0) * pw
            label = _fmt(float(f"{10**v:.3g}")) if self.log_x else _fmt(v)
            if self.log_x:
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + ph}" stroke="#eee"/>'
                )
            out.append(
                f'<text x="{x:.1f}" y="{TOP + ph + 14}" text-anchor="middle" '
                f'font-size="10">{label}</text>'
            )
        out.append(
            f'<text x="{LEFT + pw / 2}" y="{h - self.below - 8}" text-anchor="middle" '
            f'font-size="11">{escape(xlabel)}</text>'
        )
        out.append(
            f'<text transform="translate(14 {TOP + ph / 2}) rotate(-90)" '
            f'text-anchor="middle" font-size="11">{escape(ylabel)}</text>'
        )
        return out

    def legend(self, entries: list[tuple[str, str]], where: str = "top-left") -> list[str]:
        """``entries``: (label, swatch drawn in a 20×8 box at the origin), stacked in a
        corner of the plot on a translucent white ground, or in two columns "below" it (in
        the room left by ``below``)."""
        if not entries:
            return []
        if where == "below":
            column = (self.width - LEFT) / 2
            out = []
            for k, (label, swatch) in enumerate(entries):
                x, row = LEFT + column * (k % 2), self.height - self.below + 14 * (k // 2) + 8
                out.append(f'<g transform="translate({x:.1f} {row - 8:.1f})">{swatch}</g>')
                out.append(
                    f'<text x="{x + 24:.1f}" y="{row:.1f}" font-size="10">{escape(label)}</text>'
                )
            return out
        wide = 36 + 5.6 * max(len(label) for label, _ in entries)
        x = LEFT + 4 if where.endswith("left") else LEFT + self.pw - 4 - wide
        y = TOP + 4 if where.startswith("top") else TOP + self.ph - 4 - 14 * len(entries) - 4
        out = [
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{wide:.1f}" height="{14 * len(entries) + 4}" '
            'fill="white" fill-opacity="0.8"/>'
        ]
        for k, (label, swatch) in enumerate(entries):
            row = y + 14 * (k + 1)
            out.append(f'<g transform="translate({x + 4:.1f} {row - 8:.1f})">{swatch}</g>')
            out.append(
                f'<text x="{x + 28:.1f}" y="{row:.1f}" font-size="10">{escape(label)}</text>'
            )
        return out


def _line_swatch(color: str, width: float, dash: str = "") -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="0" x2="20" y1="4" y2="4" stroke="{color}" '
        f'stroke-width="{max(width, 2)}"{dashed}/>'
    )


def _marker(kind: str, x: float, y: float, color: str, tip: str = "", cls: str = "point") -> str:
    inside = f"<title>{escape(tip)}</title>" if tip else ""
    paint = f'class="{cls}" fill="{color}" fill-opacity="0.6" stroke="{color}"'
    if kind == "square":
        return f'<rect {paint} x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6">{inside}</rect>'
    if kind == "triangle":
        pts = f"{x:.1f},{y - 4:.1f} {x - 3.5:.1f},{y + 3:.1f} {x + 3.5:.1f},{y + 3:.1f}"
        return f'<polygon {paint} points="{pts}">{inside}</polygon>'
    return f'<circle {paint} cx="{x:.1f}" cy="{y:.1f}" r="3.2">{inside}</circle>'


def line_plot(
    title: str,
    xlabel: str,
    ylabel: str,
    series: list[Series],
    floor: float | None = None,
    *,
    bands: Sequence[Band] = (),
    rules: Sequence[Rule] = (),
    log_x: bool = False,
    y_range: tuple[float, float] | None = None,
    y_ticks: int = 5,
    legend: str = "top-left",
) -> str:
    """An SVG line plot, ``bands`` filled beneath the lines and ``rules`` across them; values
    below ``floor`` (and -inf) are drawn at the floor. ``y_range`` fixes the y extent (else
    the data's), ``y_ticks`` about how many ticks it gets; ``legend``: its corner
    ("top-left", "bottom-right", ...) or "below"."""
    if y_range is None:
        ys = [s.ys for s in series] + [b.lo for b in bands] + [b.hi for b in bands]
        y_lo, y_hi = _extent([*ys, np.array([r.y for r in rules])], (0.0, 1.0))
        y_lo = max(y_lo, floor) if floor is not None else y_lo
    else:
        y_lo, y_hi = y_range
    x_lo, x_hi = _extent([s.xs for s in series] + [b.xs for b in bands], (0.0, 1.0))
    entries = [
        (b.label, f'<rect width="20" height="8" fill="{b.color}" fill-opacity="{b.opacity}"/>')
        for b in bands
    ]
    entries += [(s.label, _line_swatch(s.color, s.width, s.dash)) for s in series]
    entries += [(r.label, _line_swatch(r.color, 1.2, r.dash)) for r in rules]
    entries = list(dict(entries).items())
    below = 14 * ((len(entries) + 1) // 2) + 4 if legend == "below" else 0
    ax = _Axes((x_lo, x_hi), (y_lo, y_hi), log_x=log_x, below=below, floor=floor, y_count=y_ticks)
    out = ax.frame(title, xlabel, ylabel)
    for b in bands:
        for run in _runs(~(np.isnan(b.lo) | np.isnan(b.hi))):
            edge = [(b.xs[i], b.hi[i]) for i in run] + [(b.xs[i], b.lo[i]) for i in run[::-1]]
            points = " ".join(f"{ax.px(x):.1f},{ax.py(y):.1f}" for x, y in edge)
            out.append(
                f'<polygon class="band" points="{points}" fill="{b.color}" '
                f'fill-opacity="{b.opacity}" stroke="none"/>'
            )
    for r in rules:
        dash = f' stroke-dasharray="{r.dash}"' if r.dash else ""
        y = ax.py(r.y)
        out.append(
            f'<line class="rule" x1="{LEFT}" x2="{LEFT + ax.pw}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{r.color}" stroke-width="1.2"{dash}/>'
        )
    for s in series:
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        for run in _runs(~np.isnan(np.asarray(s.ys, float))):
            points = " ".join(f"{ax.px(s.xs[i]):.1f},{ax.py(s.ys[i]):.1f}" for i in run)
            out.append(
                f'<polyline class="series" points="{points}" fill="none" '
                f'stroke="{s.color}" stroke-width="{s.width}"{dash}/>'
            )
    out += ax.legend(entries, legend)
    out.append("</svg>")
    return "\n".join(out)


def histogram(
    title: str,
    xlabel: str,
    ylabel: str,
    edges: np.ndarray,
    counts: np.ndarray,
    color: str,
    *,
    log_x: bool = False,
    outside: Sequence[tuple[str, int]] = (),
) -> str:
    """Bars of ``counts`` over the bins ``edges`` (len(counts) + 1; on a log axis with
    ``log_x``), and a bar per (label, count) of ``outside`` to the right of the axis, for
    what has no place on it (e.g. "∞")."""
    top = max([int(np.max(counts, initial=0)), *(n for _, n in outside), 1])
    ax = _Axes(
        (float(edges[0]), float(edges[-1])),
        (0.0, float(top)),
        log_x=log_x,
        right=RIGHT + OUTSIDE * len(outside),
        y_count=min(5, top),
    )
    out = ax.frame(title, xlabel, ylabel)
    base = ax.py(0.0)
    for a, b, n in zip(edges[:-1], edges[1:], counts):
        x0, x1, y = ax.px(a), ax.px(b), ax.py(n)
        out.append(
            f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
            f'height="{base - y:.1f}" fill="{color}"><title>[{a:.3g}, {b:.3g}): {n}</title></rect>'
        )
    for k, (label, n) in enumerate(outside):
        x0 = LEFT + ax.pw + OUTSIDE * k + 10
        y = ax.py(n)
        out.append(
            f'<rect class="bar outside" x="{x0}" y="{y:.1f}" width="{OUTSIDE - 16}" '
            f'height="{base - y:.1f}" fill="{color}" stroke="#333" stroke-dasharray="2 2">'
            f"<title>{escape(label)}: {n}</title></rect>"
        )
        out.append(
            f'<text x="{x0 + (OUTSIDE - 16) / 2}" y="{TOP + ax.ph + 14}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def scatter(
    title: str,
    xlabel: str,
    ylabel: str,
    groups: Sequence[Points],
    *,
    x_range: tuple[float, float] = (0.0, 1.0),
    y_range: tuple[float, float] = (0.0, 1.0),
    guides: Sequence[Series] = (),
    size: int = 380,
    legend: str = "top-right",
) -> str:
    """A square scatter plot of ``groups`` (told apart by colour and marker, with a legend)
    over fixed ranges, ``guides`` drawn as thin lines beneath; NaN points are left out."""
    ax = _Axes(x_range, y_range, width=size, height=size - LEFT - RIGHT + TOP + BOTTOM)
    out = ax.frame(title, xlabel, ylabel)
    for g in guides:
        dash = f' stroke-dasharray="{g.dash}"' if g.dash else ""
        points = " ".join(f"{ax.px(x):.1f},{ax.py(y):.1f}" for x, y in zip(g.xs, g.ys))
        out.append(
            f'<polyline class="guide" points="{points}" fill="none" stroke="{g.color}" '
            f'stroke-width="{g.width}"{dash}/>'
        )
    for p in groups:
        for k, (x, y) in enumerate(zip(p.xs, p.ys)):
            if np.isfinite(x) and np.isfinite(y):
                tip = p.tips[k] if k < len(p.tips) else ""
                out.append(_marker(p.marker, ax.px(x), ax.py(y), p.color, tip))
    entries = [(p.label, _marker(p.marker, 10, 4, p.color, cls="swatch")) for p in groups]
    entries += [(g.label, _line_swatch(g.color, g.width, g.dash)) for g in guides]
    out += ax.legend(entries, legend)
    out.append("</svg>")
    return "\n".join(out)


def _diverging(v: float) -> str:
    """-1 → blue, 0 → white, +1 → red."""
    v = max(-1.0, min(1.0, v))
    fade = round(255 * (1 - abs(v)))
    return f"rgb(255,{fade},{fade})" if v >= 0 else f"rgb({fade},{fade},255)"


def heat_map(title: str, matrix: np.ndarray, row_label: str, col_label: str) -> str:
    """An SVG heat map on a symmetric scale ±max|entry|, with the scale printed."""
    n_rows, n_cols = matrix.shape
    size = 280
    cell = size / max(n_rows, n_cols)
    left, top = 40, 34
    scale = float(np.max(np.abs(matrix))) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + size + 20}" '
        f'height="{top + size + 40}" role="img" aria-label="{escape(title)}">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{(left + size) / 2 + 10}" y="18" text-anchor="middle" font-size="13" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    for r in range(n_rows):
        for c in range(n_cols):
            v = float(matrix[r, c])
            out.append(
                f'<rect class="entry" x="{left + c * cell:.1f}" y="{top + r * cell:.1f}" '
                f'width="{cell:.1f}" height="{cell:.1f}" fill="{_diverging(v / scale)}" '
                f'stroke="#ddd"><title>[{r},{c}] = {v:.6g}</title></rect>'
            )
    out.append(
        f'<text x="{left + size / 2}" y="{top + size + 16}" text-anchor="middle" '
        f'font-size="11">{escape(col_label)} (scale ±{scale:.3g}: red +, blue −)</text>'
    )
    out.append(
        f'<text transform="translate(14 {top + size / 2}) rotate(-90)" '
        f'text-anchor="middle" font-size="11">{escape(row_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)
