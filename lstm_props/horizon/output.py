"""The horizon as text (the terminal summary) and as JSON (schema ``lstm_props.horizon/1``).

JSON numbers: ∞ is written as the string "inf" (a unit whose gradient outlives the data, an
f ≡ 1 timescale), −∞ as "-inf" (a survival below the histogram's 10⁻¹² floor), NaN as null.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_props.horizon import stats as st
from lstm_props.horizon.measure import Horizon
from lstm_props.horizon.result import LayerHorizon, _json

SCHEMA = "lstm_props.horizon/1"


def _layer(layer: LayerHorizon, beyond: int) -> dict[str, Any]:
    share, estimated = layer.keeps_beyond(beyond)
    tt = layer.two_track
    return {
        "name": layer.name,
        "hidden": layer.hidden,
        "positions": layer.positions,
        "verdict": verdict(layer, beyond),
        "keeps_beyond": {"steps": beyond, "share": share, "estimated_units": estimated},
        "units": {
            "mean_forget": _json(layer.mean_forget),
            "timescale": _json(layer.timescale),
            "timescale_spread": {
                str(q): _json(v) for q, v in zip(st.QUANTILES, layer.timescale_spread)
            },
            "horizon": _json(layer.horizon),
            "horizon_estimate": _json(layer.horizon_estimate),
            "saturation": {
                g: {"below_0.1": _json(v[0]), "above_0.9": _json(v[1])}
                for g, v in layer.saturation.items()
            },
            "precision_horizon": {
                fmt: {
                    kind: {"span": _json(v), "measured": _json(layer.precision_measured[fmt][kind])}
                    for kind, v in limits.items()
                }
                for fmt, limits in layer.precision.items()
            },
        },
        "survival": {
            "spans": _json(layer.spans),
            "quantiles": list(st.QUANTILES),
            "log10_per_unit": _json(layer.survival),  # [quantile][span][unit]
            "log10_pooled": _json(layer.survival_pooled),  # [quantile][span]
        },
        "forget_histogram": {
            "edges": _json(np.linspace(0, 1, st.FORGET_BINS + 1)),
            "counts": _json(layer.forget_histogram),
        },
        "two_track": None
        if tt is None
        else {
            "spans": _json(tt.spans),
            "share": {str(q): _json(v) for q, v in zip(st.QUANTILES, tt.share)},
            "carry_log10_norm": _json(tt.carry_norm),
            "total_log10_norm": _json(tt.total_norm),
            "samples": tt.samples,
            "note": tt.note,
        },
    }


def document(h: Horizon, beyond: int = 100) -> dict[str, Any]:
    """The whole measurement, machine-readable (docs/horizon.md documents every field)."""
    return {
        "schema": SCHEMA,
        "target": h.target,
        "dtype": h.dtype,
        "variant": h.variant,
        "eps": h.eps,
        "data": {"sequences": h.sequences, "steps": list(h.steps)},
        "seconds": {k: round(v, 3) for k, v in h.seconds.items()},
        "layers": [_layer(layer, beyond) for layer in h.layers],
    }


def _fmt(v: float) -> str:
    return "∞" if np.isinf(v) else "–" if np.isnan(v) else f"{v:.3g}"


def verdict(layer: LayerHorizon, beyond: int) -> str:
    share, estimated = layer.keeps_beyond(beyond)
    est = f" ({estimated} estimated from T_k: the data is shorter)" if estimated else ""
    return f"{100 * share:.0f}% of {layer.hidden} units keep gradient beyond {beyond} steps{est}"


def summary(h: Horizon, beyond: int = 100) -> str:
    """Layers × quantiles of T_k and horizons (and their largest: a trained layer's memory
    often rests on one unit of many), a verdict line per layer."""
    qs = (0.1, 0.5, 0.9, 1.0)
    lines = [
        f"horizon of {h.target} ({h.dtype}, {h.variant}) on {h.sequences} sequences of "
        f"{h.steps[0]}"
        + (f"–{h.steps[1]}" if h.steps[1] != h.steps[0] else "")
        + f" steps; ε = {h.eps:g}",
        f"{'layer':<10} {'units':>5}  {'T_k  10% / 50% / 90% / max':>30}  "
        f"{'horizon 10% / 50% / 90% / max':>30}  "
        f"{'carry share at Δ':>18}",
    ]
    for layer in h.layers:
        t = [_fmt(np.quantile(layer.timescale, q)) for q in qs]
        hz = [_fmt(np.quantile(layer.horizon, q, method="lower")) for q in qs]
        tt = layer.two_track
        share = (
            f"{tt.share[2][-1]:.2f} at {tt.spans[-1]}" if tt is not None and tt.spans.size else "–"
        )
        lines.append(
            f"{layer.name:<10} {layer.hidden:>5}  {' / '.join(t):>30}  "
            f"{' / '.join(hz):>30}  {share:>18}"
        )
    for layer in h.layers:
        lines.append(f"{layer.name}: {verdict(layer, beyond)}")
        if layer.two_track is not None and layer.two_track.note:
            lines.append(f"    two-track share not measured: {layer.two_track.note}")
    return "\n".join(lines)
