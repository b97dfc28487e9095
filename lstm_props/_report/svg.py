"""Inline SVG for the report: line plots and heat maps, no plotting library needed.

The report must open offline and carry no dependency beyond the suite's own, so the few
pictures it needs are drawn here as plain SVG elements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH, HEIGHT = 460, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 34, 46


@dataclass(frozen=True)
class Series:
    """One line: ys may hold -inf (drawn at the floor, e.g. an underflowed gradient)."""

    label: str
    xs: np.ndarray
    ys: np.ndarray
    color: str
    width: float = 1.5
    dash: str = ""


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round-numbered ticks covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    first = math.floor(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.0e}"


def line_plot(
    title: str, xlabel: str, ylabel: str, series: list[Series], floor: float | None = None
) -> str:
    """An SVG line plot; values below ``floor`` (and -inf) are drawn at the floor."""
    finite = np.concatenate([s.ys[np.isfinite(s.ys)] for s in series])
    y_lo = float(finite.min()) if finite.size else 0.0
    y_lo = max(y_lo, floor) if floor is not None else y_lo
    y_hi = float(finite.max()) if finite.size else 1.0
    x_lo = float(min(s.xs.min() for s in series))
    x_hi = float(max(s.xs.max() for s in series))
    yt, xt = _ticks(y_lo, y_hi), _ticks(x_lo, x_hi)
    y_lo, y_hi = min(y_lo, yt[0]), max(y_hi, yt[-1])
    x_lo, x_hi = min(x_lo, xt[0]), max(x_hi, xt[-1])
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_lo) / ((x_hi - x_lo) or 1.0) * pw

    def py(y: float) -> float:
        y = y_lo if not np.isfinite(y) or y < y_lo else y
        return TOP + (y_hi - y) / ((y_hi - y_lo) or 1.0) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="13" '
        f'font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>',
    ]
    for y in yt:
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eee"/>'
        )
        out.append(
            f'<text x="{LEFT - 4}" y="{py(y) + 4:.1f}" text-anchor="end" '
            f'font-size="10">{_fmt(y)}</text>'
        )
    for x in xt:
        out.append(
            f'<text x="{px(x):.1f}" y="{TOP + ph + 14}" text-anchor="middle" '
            f'font-size="10">{_fmt(x)}</text>'
        )
    out.append(
        f'<text x="{LEFT + pw / 2}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'font-size="11">{escape(xlabel)}</text>'
    )
    out.append(
        f'<text transform="translate(14 {TOP + ph / 2}) rotate(-90)" '
        f'text-anchor="middle" font-size="11">{escape(ylabel)}</text>'
    )
    for s in series:
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(s.xs, s.ys))
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(
            f'<polyline class="series" points="{points}" fill="none" '
            f'stroke="{s.color}" stroke-width="{s.width}"{dash}/>'
        )
    labelled = {s.label: s for s in series}
    for k, s in enumerate(labelled.values()):
        y = TOP + 12 + 14 * k
        out.append(
            f'<line x1="{LEFT + 8}" x2="{LEFT + 28}" y1="{y - 4}" y2="{y - 4}" '
            f'stroke="{s.color}" stroke-width="{max(s.width, 2)}"/>'
        )
        out.append(f'<text x="{LEFT + 32}" y="{y}" font-size="10">{escape(s.label)}</text>')
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
