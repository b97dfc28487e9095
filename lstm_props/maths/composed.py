"""Value bounds for T composed steps: what any other way of computing the same T steps
(a fused sequence call, a packed batch, the reverse direction run on flipped time) may
differ from the composition by.

E_t = |J_t| E_{t−1} + e_t: the per-step local bounds e_t of :func:`tolerances.step_error`
for every layer (a layer reads the one below's fresh output, with its error), carried
forward by the absolute step Jacobians |J_t| of the implementation itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.abs_jacobian import abs_step_jacobian
from lstm_props.maths.layout import LSTMParams


@dataclass(frozen=True)
class ComposedSteps:
    """traj: the composed run; bounds (T, B, P+H) on |other − composed| per state entry
    (h before c, as :func:`carry.pack`); jacs: |J_t| as operators (dense when small, an
    oracle bound when large: lstm_props.maths.abs_jacobian); factors: per-step Jacobian entry
    error ρ_t (for gradient bounds; NaN for a layer-norm step, whose J_LN factors have no
    entry error of this form: its backward is bounded by lstm_props.maths.step_vjp)."""

    traj: carry.Trajectory
    bounds: np.ndarray
    jacs: list[Any]
    factors: list[float]

    def h_bound(self, t: int) -> np.ndarray:
        """Bound on h_t (t ≥ 1) of the other computation, shape (B, P)."""
        p = self.traj.hs.shape[-1]
        return self.bounds[t - 1][:, :p]

    def c_bound(self, t: int) -> np.ndarray:
        p = self.traj.hs.shape[-1]
        return self.bounds[t - 1][:, p:]


def _local_errors(
    layers: list[LSTMParams],
    variant: str,
    dtype: str,
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    c_new: np.ndarray,
    h_new: np.ndarray,
    dh_prev: np.ndarray,
    dc_prev: np.ndarray,
    spans: list[np.ndarray],
) -> tuple[np.ndarray, float]:
    """One step's local error of the whole stack as a flat state vector, and ρ_t.

    ``spans[k]``: the whole tensor layer k's input is quantized as, by a quantized kernel's
    sequence call (its (T, B, ·) input in one piece; lstm_props.maths.quantization)."""
    p_w, h_w = layers[0].output_size, layers[0].hidden_size
    out_h: list[np.ndarray] = []
    out_c: list[np.ndarray] = []
    factor = 0.0
    dx: np.ndarray | float = 0.0  # the layer below's output error once past layer 0
    for k, params in enumerate(layers):
        hk, ck = (slice(k * p_w, (k + 1) * p_w), slice(k * h_w, (k + 1) * h_w))
        err = tol.step_error(
            params,
            x,
            h[:, hk],
            c[:, ck],
            variant,
            dtype,
            dx=dx,
            dh_in=dh_prev[:, hk],
            dc_in=dc_prev[:, ck],
            x_span=spans[k],
        )
        if err.normalized:  # J_LN factors: no ρ_t (maths.step_vjp); NaN, so no bound uses it
            factor = float("nan")
        else:
            rho = tol.jacobian_factor_error(err, c[:, ck], c_new[:, ck], dtype)
            factor = max(factor, float(rho.max()))
        out_h.append(err.dh)
        out_c.append(err.dc)
        x, dx = h_new[:, hk], err.dh
    e = np.concatenate([np.concatenate(out_h, 1), np.concatenate(out_c, 1)], 1)
    return e, factor


def composed_steps(
    cell: Any,
    layers: list[LSTMParams],
    xs: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    variant: str = "standard",
) -> ComposedSteps:
    """Compose ``cell.step`` over xs and bound how far another computation may land.

    ``layers``: the parameters of the layers the cell's state concatenates (one for a
    single cell). The bound is 2·SAFETY·E_t: both computations are within E_t of exact.
    """
    dtype = cell.backend.dtype
    traj = carry.record(cell, xs, h0, c0)
    b, p = h0.shape
    # A fused call quantizes each layer's whole input sequence at once: layer 0's xs, layer
    # k's the outputs of layer k − 1 over all steps (the composition's, within its bound:
    # the widening by δx inside step_error moves s by δx/L, a 1/L share of a term counted).
    p_w = layers[0].output_size
    spans = [xs] + [traj.hs[1:, :, (k - 1) * p_w : k * p_w] for k in range(1, len(layers))]
    e_prev = np.zeros((b, p + c0.shape[1]))
    bounds, jacs, factors = [], [], []
    for t in range(traj.steps):
        jac = abs_step_jacobian(cell, layers, variant, traj, t)
        if jac is None:
            raise ValueError("composed_steps needs the layers' layout at large sizes")
        jacs.append(jac)
        loc, rho = _local_errors(
            layers,
            variant,
            dtype,
            traj.gate_xs[t],
            traj.hs[t],
            traj.cs[t],
            traj.cs[t + 1],
            traj.hs[t + 1],
            2 * e_prev[:, :p],
            2 * e_prev[:, p:],
            spans,
        )
        e_prev = (jacs[-1].matvec(e_prev.reshape(-1)) + loc.reshape(-1)).reshape(e_prev.shape)
        bounds.append(tol.SAFETY * 2 * e_prev)
        factors.append(rho)
    return ComposedSteps(traj, np.stack(bounds), jacs, factors)
