"""What ``horizon`` reports, per layer and unit, computed from the streamed statistics.

Horizon of unit k: the span Δ at which the median over start positions of its carry-path
survival log10 ∏_{t=s+1}^{s+Δ} d_t first falls below log10 ε: the median curve, read on the
span grid and anchored at (0, 0), is interpolated linearly between grid spans (exact for a
constant gate, whose curve is a line), Δ* where it meets log10 ε, and the horizon is the
smallest integer span past it, ⌊Δ*⌋ + 1. A unit whose median survival stays above ε over the
longest span the data has gets ∞ (``beyond``), with T_k ln(1/ε) beside it as an estimate.
Precision horizons are the same crossing at each format's smallest normal and subnormal
number (measured where the median curve reaches them, else extrapolated at the unit's mean
log d per step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstm_props.horizon import stats as st

#: The smallest normal and subnormal numbers of the formats a product of gates is held in.
UNDERFLOW = {
    "float16": {"normal": 2.0**-14, "subnormal": 2.0**-24},
    "bfloat16": {"normal": 2.0**-126, "subnormal": 2.0**-133},
    "float32": {"normal": 2.0**-126, "subnormal": 2.0**-149},
}


def crossing(spans: np.ndarray, curve: np.ndarray, level: float) -> np.ndarray:
    """Δ* where each column of ``curve`` (G, H) (log10 survival on ``spans``, −∞ below the
    histogram) first falls below ``level``, linear between grid spans from (0, 0); ∞ where
    it never does, NaN where a column has no samples."""
    h = curve.shape[1]
    x = np.concatenate([[0.0], spans.astype(float)])
    y = np.concatenate([np.zeros((1, h)), np.maximum(curve, -st.SURVIVAL_DECADES)])
    below = y < level
    out = np.full(h, np.inf)
    hit = below.any(0)
    j = np.argmax(below, 0)  # first index below (≥ 1: y[0] = 0 ≥ level)
    cols = np.nonzero(hit)[0]
    x0, x1 = x[j[cols] - 1], x[j[cols]]
    y0, y1 = y[j[cols] - 1, cols], y[j[cols], cols]
    out[cols] = x0 + (level - y0) * (x1 - x0) / (y1 - y0)
    out[np.isnan(curve).all(0)] = np.nan
    return out


@dataclass
class TwoTrack:
    """The carry line's share of the long-range gradient, per span (see two_track)."""

    spans: np.ndarray
    share: (
        np.ndarray
    )  # (Q, G2): quantiles over (start, sequence) of ‖g_carry‖/(‖g_carry‖ + ‖g_rest‖)
    carry_norm: np.ndarray  # (G2,) median log10 ‖ū ⊙ ∏d‖
    total_norm: np.ndarray  # (G2,) median log10 ‖ūᵀ ∂c_{s+Δ}/∂c_s‖
    samples: int
    note: str = ""


@dataclass
class LayerHorizon:
    name: str
    hidden: int
    positions: int
    spans: np.ndarray
    mean_forget: np.ndarray
    timescale: np.ndarray  # (H,) −1 / mean log f; ∞ for f ≡ 1
    timescale_spread: np.ndarray  # (Q, H) quantiles of the per-position τ = −1/log f
    survival: np.ndarray  # (Q, G, H) log10, quantiles over positions; −∞ below the range
    survival_pooled: np.ndarray  # (Q, G) over every unit and position
    horizon: np.ndarray  # (H,) integer steps, ∞ beyond the data's longest span
    horizon_estimate: np.ndarray  # (H,) T_k ln(1/ε)
    saturation: dict[str, np.ndarray]  # gate -> (2, H): fractions below 0.1, above 0.9
    forget_histogram: np.ndarray  # (FORGET_BINS,) counts over [0, 1]
    precision: dict[str, dict[str, np.ndarray]]  # format -> limit -> (H,) spans
    precision_measured: dict[str, dict[str, np.ndarray]]
    two_track: TwoTrack | None = None
    notes: list[str] = field(default_factory=list)

    def keeps_beyond(self, steps: int) -> tuple[float, int]:
        """(share of units whose gradient survives past ``steps``, how many of them were
        estimated from T_k because the data is shorter)."""
        measured = np.isfinite(self.horizon)
        beyond = np.where(measured, self.horizon > steps, self.horizon_estimate > steps)
        estimated = int(np.sum(~measured & (steps > self.spans.max(initial=0)) & beyond))
        return float(np.mean(beyond)), estimated


def layer_result(name: str, s: st.LayerStats, eps: float) -> LayerHorizon:
    q = st.QUANTILES
    with np.errstate(divide="ignore"):
        mean_log_f = s.log_forget_sum / max(s.positions, 1)
        timescale = np.where(mean_log_f < 0, -1.0 / mean_log_f, np.inf)
        mean_log_d = s.log_carry_sum / max(s.positions, 1)
    spread = np.empty((len(q), s.hidden))
    for k, p in enumerate(q):
        v, b = st.histogram_quantile(s.tau_counts, s.tau_sums, p)
        spread[k] = np.where(b == s.n_tau + 1, np.inf, np.where(b == 0, 0.0, 10.0**v))
    survival = np.empty((len(q), len(s.spans), s.hidden))
    pooled = np.empty((len(q), len(s.spans)))
    all_units = (s.survival_counts.sum(0), s.survival_sums.sum(0))
    for k, p in enumerate(q):
        v, b = st.histogram_quantile(s.survival_counts, s.survival_sums, p)  # (H, G)
        survival[k] = np.where(b == 0, -np.inf, v).T
        v, b = st.histogram_quantile(*all_units, p)
        pooled[k] = np.where(b == 0, -np.inf, v)
    median = survival[q.index(0.5)]
    delta = crossing(s.spans, median, np.log10(eps))
    horizon = np.floor(delta) + 1  # ∞ stays ∞
    with np.errstate(divide="ignore"):
        estimate = timescale * np.log(1.0 / eps)
    precision: dict[str, dict[str, np.ndarray]] = {}
    measured: dict[str, dict[str, np.ndarray]] = {}
    for fmt, limits in UNDERFLOW.items():
        precision[fmt], measured[fmt] = {}, {}
        for kind, tiny in limits.items():
            level = np.log10(tiny)
            at = (
                crossing(s.spans, median, level)
                if level > -st.SURVIVAL_DECADES
                else np.full(s.hidden, np.inf)
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                extrapolated = np.where(mean_log_d < 0, np.log(tiny) / mean_log_d, np.inf)
            ok = np.isfinite(at)
            precision[fmt][kind] = np.where(ok, np.floor(at) + 1, np.ceil(extrapolated))
            measured[fmt][kind] = ok
    sat = {g: s.saturation_counts[k] / max(s.positions, 1) for k, g in enumerate(st.GATES)}
    return LayerHorizon(
        name=name,
        hidden=s.hidden,
        positions=s.positions,
        spans=s.spans,
        mean_forget=s.forget_sum / max(s.positions, 1),
        timescale=timescale,
        timescale_spread=spread,
        survival=survival,
        survival_pooled=pooled,
        horizon=horizon,
        horizon_estimate=estimate,
        saturation=sat,
        forget_histogram=s.forget_counts.copy(),
        precision=precision,
        precision_measured=measured,
    )


def _json(a: Any) -> Any:
    """NumPy -> JSON: ∞ as the string "inf", −∞ as "-inf", NaN as null."""
    if isinstance(a, np.ndarray):
        return [_json(v) for v in a.tolist()] if a.ndim else _json(a.item())
    if isinstance(a, list):
        return [_json(v) for v in a]
    if isinstance(a, float):
        if np.isnan(a):
            return None
        if np.isinf(a):
            return "inf" if a > 0 else "-inf"
        return round(a, 6)
    return a
