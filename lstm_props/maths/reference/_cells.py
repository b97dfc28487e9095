"""Reference LSTM cells, written once over an array namespace ``xp``.

With ``xp = numpy`` in float64 they are the oracle; with ``xp = torch`` they are targets
(autograd comes for free) and give the oracle's Jacobians in float64.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.variants import as_variant


class GateValues(NamedTuple):
    """Everything one step computes. Shapes (B, H) except h (B, P)."""

    i: Any
    f: Any
    g: Any
    o: Any
    c: Any
    h: Any


def sigmoid(z: Any, xp: Any) -> Any:
    """σ(z) without overflow: exp is only ever taken of −|z|."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log σ(z) = −softplus(−z), exact for very negative z where σ itself underflows."""
    return -(np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0.0))


def _param(p: Any, like: Any, xp: Any) -> Any:
    """A parameter as an array of ``xp`` matching ``like`` (live tensors pass through)."""
    if p is None or xp is np:
        return p
    return xp.as_tensor(p, dtype=like.dtype, device=like.device)


def preactivations(params: LSTMParams, x: Any, h: Any, xp: Any = np) -> Any:
    """z = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh (+ the cell's forget_bias on the f rows), shape
    (B, 4H), gate order i, f, g, o (before any
    peephole term and before the clip: :func:`lstm_step` adds and clamps)."""
    w_ih, w_hh = _param(params.w_ih, x, xp), _param(params.w_hh, x, xp)
    b_ih, b_hh = _param(params.b_ih, x, xp), _param(params.b_hh, x, xp)
    z = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    if params.forget_bias:  # the kernel's own constant on the forget rows, f = σ(z_f + b)
        hidden = params.hidden_size
        shift = np.zeros(4 * hidden)
        shift[hidden : 2 * hidden] = params.forget_bias
        z = z + _param(shift, x, xp)
    return z


def clamp(z: Any, bound: float | None, xp: Any = np) -> Any:
    """z clamped to [−bound, bound] (unchanged for None); the derivative is 0 where clamped."""
    return z if bound is None else xp.clip(z, -bound, bound)


def lstm_step(
    params: LSTMParams, x: Any, h: Any, c: Any, variant: str = "standard", xp: Any = np
) -> GateValues:
    """One LSTM step of the given variant.

    standard:  c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
    no_forget: f ≡ 1 (Hochreiter & Schmidhuber 1997)
    cifg:      i = 1 − f (coupled input-forget gate; ONNX Runtime's input_forget is
               f = 1 − i instead, see lstm_props.adapters.onnx)
    peephole:  z_i += p_i ⊙ c, z_f += p_f ⊙ c, z_o += p_o ⊙ c'
    Projection (w_hr set): h' = (o ⊙ tanh(c')) W_hrᵀ.
    Clip (``params.clip`` = m): each gate's argument clamped to [−m, m] before its activation.
    Cell clip (``params.cell_clip`` = m): c' clamped to [−m, m] before h and p_o read it
    (TF 1's LSTMCell and the block kernels).
    """
    hidden = params.hidden_size
    z = preactivations(params, x, h, xp)
    z_i, z_f, z_g, z_o = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))
    kind = as_variant(variant)
    peep = _param(params.peephole, x, xp) if kind.reads_cell else None
    if peep is not None:
        z_i = z_i + peep[0] * c
        z_f = z_f + peep[1] * c
    m = params.clip  # ONNX's clip: every activation's argument is clamped, peepholes included
    z_i, z_f, z_g = clamp(z_i, m, xp), clamp(z_f, m, xp), clamp(z_g, m, xp)
    f = sigmoid(z_f, xp) if kind.has_forget_gate else z_f * 0.0 + 1.0
    i = 1.0 - f if kind.coupled_input else sigmoid(z_i, xp)
    g = xp.tanh(z_g)
    c_new = clamp(f * c + i * g, params.cell_clip, xp)
    if peep is not None:
        z_o = z_o + peep[2] * c_new
    o = sigmoid(clamp(z_o, m, xp), xp)
    h_new = o * xp.tanh(c_new)
    if params.w_hr is not None:
        h_new = h_new @ _param(params.w_hr, x, xp).T
    return GateValues(i, f, g, o, c_new, h_new)


def carry_derivative(params: LSTMParams, x: Any, h: Any, c: Any, variant: str) -> np.ndarray:
    """The diagonal of ∂c_t/∂c_{t-1} with x_t and h_{t-1} held fixed, shape (B, H).

    f for standard and cifg, 1 for no_forget, and for peepholes
    f + p_f ⊙ c ⊙ f(1 − f) + p_i ⊙ g ⊙ i(1 − i), since the gates then read c; times
    1[|ĉ| < m] with a cell clip m (ĉ = f ⊙ c + i ⊙ g before the clamp, whose slope is 0
    outside).
    """
    v = lstm_step(params, x, h, c, variant)
    if params.cell_clip is not None:
        inside = np.abs(unclipped_cell(v, c)) < params.cell_clip
        return inside * _carry_slope(params, x, h, c, variant, v)
    return _carry_slope(params, x, h, c, variant, v)


def unclipped_cell(v: GateValues, c: Any) -> Any:
    """ĉ = f ⊙ c + i ⊙ g, the carried state before a cell clip."""
    return v.f * c + v.i * v.g


def _carry_slope(
    params: LSTMParams, x: Any, h: Any, c: Any, variant: str, v: GateValues
) -> np.ndarray:
    """d ĉ / d c: the carry derivative before a cell clip."""
    if as_variant(variant).reads_cell:
        p = params.peephole_weights()
        d_f, d_i = p[1] * c * v.f * (1 - v.f), p[0] * v.g * v.i * (1 - v.i)
        if params.clip is not None:  # a clamped argument has derivative 0
            z = preactivations(params, x, h)
            hidden = params.hidden_size
            d_i = d_i * (np.abs(z[:, :hidden] + p[0] * c) < params.clip)
            d_f = d_f * (np.abs(z[:, hidden : 2 * hidden] + p[1] * c) < params.clip)
        return v.f + d_f + d_i
    return np.asarray(v.f, dtype=np.float64)


def log_forget(params: LSTMParams, x: np.ndarray, h: np.ndarray, variant: str) -> np.ndarray:
    """log f_t without underflow, shape (B, H); 0 for no_forget (f ≡ 1)."""
    z = preactivations(params, x, h)
    z_f = clamp(z[:, params.hidden_size : 2 * params.hidden_size], params.clip)
    if not as_variant(variant).has_forget_gate:
        return np.zeros_like(z_f)
    return log_sigmoid(z_f)


def rnn_step(w_ih: Any, w_hh: Any, b: Any, x: Any, h: Any, xp: Any = np) -> Any:
    """Vanilla (Elman) RNN step h' = tanh(W_ih x + W_hh h + b), the contrast model."""
    return xp.tanh(x @ w_ih.T + h @ w_hh.T + b)


def rnn_jacobian(w_hh: np.ndarray, h_new: np.ndarray) -> np.ndarray:
    """∂h_t/∂h_{t-1} = diag(1 − h_t²) W_hh for one batch row; dense, (H, H)."""
    return (1.0 - h_new**2)[:, None] * w_hh
