"""The horizon as a self-contained HTML page (``--report``): see write_report.

Per layer: the histogram of the timescales T_k (log axis, T_k = ∞ in a bar of its own), the
carry survival against the span with the pooled quantile bands and a few units' medians,
the gates' saturation scatter (Karpathy et al. 2015) and the two-track share against Δ;
under a header naming the run, its verdict lines and the tables of quantiles. Inline SVG
(lstm_props._report.svg) in the house style of the conformance report: no script, no
network, every ∞ and NaN written as "∞" and "–".
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from lstm_props._report.html import _CSS, environment
from lstm_props._report.svg import Band, Points, Rule, Series, histogram, line_plot, scatter
from lstm_props.horizon import stats as st
from lstm_props.horizon.measure import Horizon
from lstm_props.horizon.output import verdict
from lstm_props.horizon.result import UNDERFLOW, LayerHorizon, TwoTrack

#: log10 survival below the histogram's range (−∞) is drawn here.
FLOOR = -st.SURVIVAL_DECADES
BLUE, ORANGE = "#1f77b4", "#ff7f0e"
UNIT_COLOURS = ("#2ca02c", "#9467bd", "#d62728")
#: Each gate's colour and marker in the saturation scatter.
GATE_MARKS = {
    "input": ("#1f77b4", "circle"),
    "forget": ("#d62728", "square"),
    "output": ("#2ca02c", "triangle"),
}
_MORE_CSS = ".note{background:#fff8e1;border:1px solid #e0c068;padding:8px 12px;max-width:430px}"


def _num(v: float) -> str:
    """∞, – (NaN), an integer in full, else three significant digits."""
    if np.isnan(v):
        return "–"
    if np.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.0f}" if v == round(v) and abs(v) < 1e9 else f"{v:.3g}"


def _quantiles(v: np.ndarray) -> list[str]:
    """The QUANTILES of ``v`` over the units that have a value, each an actual unit's value
    (∞ stays ∞); – where none has."""
    v = v[~np.isnan(v)]
    if not v.size:
        return ["–"] * len(st.QUANTILES)
    return [_num(float(np.quantile(v, p, method="lower"))) for p in st.QUANTILES]


def _figure(fid: str, svg: str, caption: str) -> str:
    return f'<figure id="{fid}">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def _timescales(fid: str, layer: LayerHorizon) -> str:
    t = layer.timescale
    finite = t[np.isfinite(t) & (t > 0)]
    infinite, zero = int(np.sum(np.isposinf(t))), int(np.sum(t == 0))
    missing = int(np.sum(np.isnan(t)))
    logs = np.log10(finite)
    lo, hi = (float(logs.min()), float(logs.max())) if logs.size else (0.0, 1.0)
    bins = min(30, max(5, round(2 * np.sqrt(logs.size))))
    nice = (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0)
    width = next((w for w in nice if (hi - lo) / w <= bins), float(np.ceil((hi - lo) / bins)))
    start = np.floor(lo / width) * width
    edges = start + width * np.arange(max(1, int(np.ceil((hi - start) / width - 1e-9))) + 1)
    counts = np.histogram(logs, edges)[0]
    outside = [("T=0", zero)] if zero else []
    svg = histogram(
        f"{layer.name}: timescales T_k",
        "T_k = −1 / mean log f_k (steps, log axis)",
        "units",
        10.0**edges,
        counts,
        BLUE,
        log_x=True,
        outside=[*outside, ("∞", infinite)],
    )
    caption = (
        f"The {layer.hidden} units' forget-gate timescales over every step of the data. "
        f"{infinite} unit(s) with f ≡ 1 (T_k = ∞) in the ∞ bar"
        + (f", {zero} with a gate at exactly 0 (T_k = 0) in the T=0 bar" if zero else "")
        + (f"; {missing} without a value (not drawn)" if missing else "")
        + "."
    )
    return _figure(fid, svg, caption)


def _representative(t: np.ndarray) -> list[int]:
    """The units at the 10%, 50% and 90% quantiles of the timescale."""
    order = [int(k) for k in np.argsort(t) if not np.isnan(t[k])]
    picks = [order[round(p * (len(order) - 1))] for p in (0.1, 0.5, 0.9)] if order else []
    return list(dict.fromkeys(picks))


def _survival(fid: str, layer: LayerHorizon, eps: float) -> str:
    x, pooled = layer.spans.astype(float), layer.survival_pooled
    median = st.QUANTILES.index(0.5)
    series = [Series("median, all units", x, pooled[median], BLUE, 2.5)]
    for k, colour in zip(_representative(layer.timescale), UNIT_COLOURS):
        label = f"unit {k} (T_k = {_num(float(layer.timescale[k]))})"
        series.append(Series(label, x, layer.survival[median, :, k], colour, 1.5, "5 3"))
    drawn = np.concatenate([pooled.ravel(), *(s.ys for s in series)])
    finite = drawn[np.isfinite(drawn)]
    low = FLOOR if np.isneginf(drawn).any() or not finite.size else float(finite.min())
    svg = line_plot(
        f"{layer.name}: carry survival",
        "span Δ (steps, log axis)",
        "log₁₀ ∏ f over the span",
        series,
        FLOOR,
        bands=[
            Band("10–90%, units × starts", x, pooled[0], pooled[-1], BLUE, 0.15),
            Band("25–75%", x, pooled[1], pooled[-2], BLUE, 0.3),
        ],
        rules=[Rule(f"log₁₀ ε (ε = {eps:g})", float(np.log10(eps)))],
        log_x=True,
        y_range=(min(low, float(np.log10(eps))), 0.0),
        y_ticks=6,  # steps of 2 decades from the floor, −12
        legend="below",
    )
    caption = (
        "log₁₀ of the carry-path survival ∏ f over spans Δ: the median and quantile bands "
        "over every unit and start position, and the medians of the units at the 10/50/90% "
        "quantiles of T_k (dashed). A unit's horizon is where its median crosses log₁₀ ε; "
        f"below 1e{FLOOR:g} (the histogram's floor) survival is drawn on the floor."
    )
    return _figure(fid, svg, caption)


def _saturation(fid: str, layer: LayerHorizon) -> str:
    groups = []
    for gate, (colour, marker) in GATE_MARKS.items():
        below, above = layer.saturation[gate]
        tips = tuple(
            f"{gate} gate, unit {k}: {_num(round(b, 3))} below 0.1, {_num(round(a, 3))} above 0.9"
            for k, (b, a) in enumerate(zip(below, above))
        )
        groups.append(Points(f"{gate} gate", below, above, colour, marker, tips))
    bound = Series(
        "x + y = 1 (the bound)", np.array([0.0, 1.0]), np.array([1.0, 0.0]), "#999", 1.0, "4 3"
    )
    svg = scatter(
        f"{layer.name}: gate saturation",
        "fraction of steps with the gate < 0.1",
        "fraction of steps with the gate > 0.9",
        groups,
        guides=[bound],
    )
    caption = (
        "One point per unit and gate (Karpathy et al. 2015): how often the gate is nearly "
        "shut (x) and nearly open (y). A forget gate high on the y axis keeps its carry; "
        "points near the origin are never saturated."
    )
    return _figure(fid, svg, caption)


def _two_track(fid: str, layer: LayerHorizon) -> str:
    tt: TwoTrack | None = layer.two_track
    note = (
        "skipped (--two-track-span 0)"
        if tt is None
        else tt.note or ("" if tt.spans.size else "no span of its grid fitted the data")
    )
    if tt is None or note:
        return (
            f'<figure id="{fid}"><p class="note"><b>{escape(layer.name)}: two-track share '
            f"against Δ</b>: not measured: {escape(note)}</p></figure>"
        )
    x = tt.spans.astype(float)
    svg = line_plot(
        f"{layer.name}: two-track share",
        "span Δ (steps, log axis)",
        "carry line's share of the gradient",
        [Series("median", x, tt.share[st.QUANTILES.index(0.5)], ORANGE, 2.5)],
        bands=[Band("10–90%, starts × sequences", x, tt.share[0], tt.share[-1], ORANGE, 0.25)],
        log_x=True,
        y_range=(0.0, 1.0),
        legend="bottom-left",
    )
    caption = (
        "‖g_carry‖ / (‖g_carry‖ + ‖g_total − g_carry‖) for ∂c_{s+Δ}/∂c_s: 1 when the carry "
        "line alone carries the gradient, towards 0 as the path through h and W_hh "
        f"dominates; {tt.samples} (start, sequence) samples per span."
    )
    return _figure(fid, svg, caption)


def _tables(layer: LayerHorizon) -> str:
    head = "".join(f"<th>{100 * p:.0f}%</th>" for p in st.QUANTILES)
    beyond = int(np.sum(np.isposinf(layer.horizon)))
    missing = int(np.sum(np.isnan(layer.timescale)))
    rows = [
        ("T_k (steps)", _quantiles(layer.timescale), f"{missing} without a value" * bool(missing)),
        ("horizon (steps)", _quantiles(layer.horizon), f"{beyond} beyond the data (∞)"),
        ("T_k ln(1/ε) (estimate)", _quantiles(layer.horizon_estimate), ""),
    ]
    body = "".join(
        f"<tr><th>{escape(name)}</th>"
        + "".join(f"<td>{escape(v)}</td>" for v in values)
        + f"<td>{escape(note)}</td></tr>"
        for name, values, note in rows
    )
    quantiles = f"<table><tr><th>over units</th>{head}<th></th></tr>{body}</table>"
    prec = []
    for fmt, limits in layer.precision.items():
        for kind, spans in limits.items():
            measured = int(np.sum(layer.precision_measured[fmt][kind]))
            cells = "".join(f"<td>{escape(v)}</td>" for v in _quantiles(spans))
            prec.append(
                f"<tr><th>{escape(fmt)} {escape(kind)} ({UNDERFLOW[fmt][kind]:.3g})</th>{cells}"
                f"<td>{measured} measured, {len(spans) - measured} extrapolated</td></tr>"
            )
    return (
        f"{quantiles}<p>Precision horizons: the span after which ∏ f falls below each "
        "format's smallest normal and subnormal number (measured on the median survival, "
        "else extrapolated at the unit's mean log f).</p>"
        f'<table class="precision"><tr><th>format, limit</th>{head}<th>units</th></tr>'
        f"{''.join(prec)}</table>"
    )


def _layer(k: int, layer: LayerHorizon, h: Horizon, beyond: int) -> str:
    fid = f"layer-{k}"
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in layer.notes)
    spans = f"{layer.spans[0]}–{layer.spans[-1]}" if layer.spans.size else "none"
    return (
        f'<section id="{fid}"><h2>{escape(layer.name)}: {layer.hidden} units, '
        f"{layer.positions} positions, spans {spans}</h2>"
        f"<p><b>{escape(verdict(layer, beyond))}</b></p>{notes}{_tables(layer)}<div>"
        + _timescales(f"{fid}-timescales", layer)
        + _survival(f"{fid}-survival", layer, h.eps)
        + _saturation(f"{fid}-saturation", layer)
        + _two_track(f"{fid}-two-track", layer)
        + "</div></section>"
    )


def render(h: Horizon, beyond: int = 100) -> str:
    """The report as one HTML string."""
    steps = f"{h.steps[0]}" + (f"–{h.steps[1]}" if h.steps[1] != h.steps[0] else "")
    took = ", ".join(f"{k.replace('_', '-')} {v:.2f} s" for k, v in h.seconds.items())
    ident = {
        "target": h.target,
        "dtype": h.dtype,
        "variant": h.variant,
        "ε (survival threshold)": f"{h.eps:g}",
        "data": f"{h.sequences} sequences of {steps} steps",
        "time": f"{took}; {sum(h.seconds.values()):.2f} s in all",
    }
    ident |= {k: v for k, v in environment("cpu").items() if k != "device name"}
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in ident.items())
    verdicts = "".join(
        f"<li>{escape(layer.name)}: {escape(verdict(layer, beyond))}</li>" for layer in h.layers
    )
    layers = "\n".join(_layer(k, layer, h, beyond) for k, layer in enumerate(h.layers))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>lstm_props horizon: {escape(h.target)}</title>
<style>{_CSS}{_MORE_CSS}</style></head><body>
<h1>lstm_props horizon: <code>{escape(h.target)}</code></h1>
<ul id="verdict" class="verdict skipped">{verdicts}</ul>
<p>A measurement, not a verdict: the trained model's forget gates on this data, with its own
weights. Definitions, errors and the JSON schema: docs/horizon.md of lstm_props.</p>
<h2>Run</h2><table id="environment">{rows}</table>
{layers}
</body></html>
"""


def write_report(result: Horizon, path: Path, beyond: int = 100) -> None:
    """Write the report of ``result`` to ``path`` (``beyond``: the verdict lines' span)."""
    from lstm_props._errors import LSTMPropsError

    try:
        Path(path).write_text(render(result, beyond), encoding="utf-8")
    except OSError as exc:
        raise LSTMPropsError(
            f"--report {str(path)!r}: cannot write it ({exc.strerror}); "
            "give a path in a writable directory"
        ) from None
