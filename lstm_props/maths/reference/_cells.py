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


def row_mean(v: Any) -> Any:
    """The mean over the last axis, kept as an axis of 1 (numpy and torch alike)."""
    return v.sum(-1)[..., None] / v.shape[-1]


def layer_norm(v: Any, gain: Any, bias: Any, eps: float, xp: Any = np) -> Any:
    """γ ⊙ (v − μ)/√(σ² + ε) + β over the last axis: μ the mean, σ² = mean((v − μ)²) the
    biased variance (torch.nn.LayerNorm's); ``bias`` None adds nothing."""
    d = v - row_mean(v)
    out = d / xp.sqrt(row_mean(d * d) + eps) * _param(gain, v, xp)
    return out if bias is None else out + _param(bias, v, xp)


def layer_norm_jacobian(v: np.ndarray, gain: np.ndarray, eps: float) -> np.ndarray:
    """∂LN(v)/∂v per row, (B, n, n): γ_j (δ_jk − 1/n − x̂_j x̂_k / n)/s, x̂ = (v − μ)/s,
    s = √(σ² + ε) (the bias does not enter)."""
    n = v.shape[-1]
    d = v - row_mean(v)
    s = np.sqrt(row_mean(d * d) + eps)  # (B, 1)
    xhat = d / s
    inner = np.eye(n) - 1.0 / n - xhat[:, :, None] * xhat[:, None, :] / n
    return gain[None, :, None] * inner / s[:, :, None]


def preactivations(params: LSTMParams, x: Any, h: Any, xp: Any = np) -> Any:
    """z = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh (+ the cell's forget_bias on the f rows), shape
    (B, 4H), gate order i, f, g, o (before any
    peephole term and before the clip: :func:`lstm_step` adds and clamps).

    With the gate norm's gains held (a layer-norm variant's parameters),
    z = γ_ih ⊙ N(x W_ihᵀ) + b_ih + γ_hh ⊙ N(h W_hhᵀ) + b_hh, each product normalised on its
    own over its 4H entries (Ba et al. 2016)."""
    w_ih, w_hh = _param(params.w_ih, x, xp), _param(params.w_hh, x, xp)
    b_ih, b_hh = _param(params.b_ih, x, xp), _param(params.b_hh, x, xp)
    if params.normalizes_gates:
        g_ih, g_hh = params.gate_norm()
        eps = params.ln_eps
        z = layer_norm(x @ w_ih.T, g_ih, b_ih, eps, xp) + layer_norm(
            h @ w_hh.T, g_hh, b_hh, eps, xp
        )
    else:
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
    layer_norm: z = γ_ih ⊙ N(W_ih x) + b_ih + γ_hh ⊙ N(W_hh h) + b_hh (:func:`preactivations`),
               h' = o ⊙ tanh(γ_c ⊙ N(c') + β_c), c' carried as in standard
    layer_norm_cell: z as layer_norm, c' = γ_c ⊙ N(f ⊙ c + i ⊙ g) + β_c, h' = o ⊙ tanh(c')
    Projection (w_hr set): h' = (o ⊙ tanh(c')) W_hrᵀ.
    Clip (``params.clip`` = m): each gate's argument clamped to [−m, m] before its activation.
    Cell clip (``params.cell_clip`` = m): c' clamped to [−m, m] before h and p_o read it
    (TF 1's LSTMCell and the block kernels).
    """
    hidden = params.hidden_size
    kind = as_variant(variant)
    check_norms(params, variant)
    z = preactivations(params, x, h, xp)
    z_i, z_f, z_g, z_o = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))
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
    if kind.normalizes_cell or kind.normalizes_cell_output:
        g_c, b_c = params.cell_norm()
        normed = layer_norm(c_new, g_c, b_c, params.ln_eps, xp)
        c_new = normed if kind.normalizes_cell else c_new
    if peep is not None:
        z_o = z_o + peep[2] * c_new
    o = sigmoid(clamp(z_o, m, xp), xp)
    h_new = o * xp.tanh(normed if kind.normalizes_cell_output else c_new)
    if params.w_hr is not None:
        h_new = h_new @ _param(params.w_hr, x, xp).T
    return GateValues(i, f, g, o, c_new, h_new)


def check_norms(params: LSTMParams, variant: str) -> None:
    """The variant's layer norms and the parameters' agree: a TypeError naming the missing
    (or surplus) gains otherwise, never a silent standard cell."""
    kind = as_variant(variant)
    if kind.normalizes_gates:
        params.gate_norm()
    elif params.normalizes_gates:
        raise TypeError(
            f"the parameters hold gate layer-norm gains but the {kind.name} variant does "
            "not normalise its gates: declare a layer-norm variant (layer_norm, "
            "layer_norm_cell) or drop the gains"
        )
    if kind.normalizes_cell or kind.normalizes_cell_output:
        params.cell_norm()


def carry_jacobian(params: LSTMParams, x: Any, h: Any, c: Any, variant: str) -> np.ndarray:
    """∂c_t/∂c_{t-1} with x_t and h_{t-1} held fixed, per batch row, (B, H, H).

    diag(:func:`carry_derivative`) for a diagonal carry; with the carried cell normalised,
    c' = LN(ĉ), ĉ = f ⊙ c + i ⊙ g, it is J_LN(ĉ) · diag(f): dense.
    """
    if as_variant(variant).diagonal_carry:
        d = carry_derivative(params, x, h, c, variant)
        return d[:, :, None] * np.eye(d.shape[1])
    v = lstm_step(params, x, h, c, variant)  # the gates do not read the cell's norm
    c_hat = np.asarray(v.f * c + v.i * v.g)
    jac = layer_norm_jacobian(c_hat, params.cell_norm()[0], params.ln_eps)
    return jac * np.asarray(v.f)[:, None, :]


def carry_derivative(params: LSTMParams, x: Any, h: Any, c: Any, variant: str) -> np.ndarray:
    """The diagonal of ∂c_t/∂c_{t-1} with x_t and h_{t-1} held fixed, shape (B, H).

    f for standard and cifg, 1 for no_forget, and for peepholes
    f + p_f ⊙ c ⊙ f(1 − f) + p_i ⊙ g ⊙ i(1 − i), since the gates then read c; f for
    layer_norm (the norms act on the gates' inputs and on h, not on the carry); times
    1[|ĉ| < m] with a cell clip m (ĉ = f ⊙ c + i ⊙ g before the clamp, whose slope is 0
    outside). Not for a normalised carried cell, whose carry Jacobian is dense
    (:func:`carry_jacobian`).
    """
    if not as_variant(variant).diagonal_carry:
        raise ValueError(
            f"the {variant} variant's carry Jacobian is dense (J_LN · diag(f)), not a "
            "diagonal: use carry_jacobian"
        )
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
