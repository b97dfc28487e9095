"""The error model every comparison's tolerance comes from.

Nothing here is tuned to make a test pass. Each bound is a first-order forward error bound
in the target's unit roundoff u (2⁻²⁴ for float32, 2⁻⁵³ for float64, 2⁻¹¹ float16, 2⁻⁸
bfloat16; see FIRST_ORDER_LIMIT and MIXED_ROUNDINGS for half and mixed precision), built from:

* a dot product of n terms computed in floating point has absolute error at most
  γ_n Σ|aᵢbᵢ|, γ_n = nu/(1 − nu) (Higham, *Accuracy and Stability*, §3.1), whatever the
  summation order, blocking or FMA use of the kernel;
* σ and tanh are evaluated to within ``ACTIVATION_ULPS`` ulps, and their first and second
  derivatives are bounded by 1 (σ' ≤ 1/4, |σ''| < 0.1, tanh' ≤ 1, |tanh''| < 0.77), so an
  error δz in a pre-activation moves a gate by at most 1/4·δz (σ) or δz (tanh), and moves any
  gate derivative by at most δz;
* d log σ(z)/dz = 1 − σ(z) ∈ [0, 1], so the *relative* error of a forget gate is at most
  (1 − f)·δz_f + ACTIVATION_ULPS·u, which is what makes log-domain products comparable
  even when f is tiny.

Every bound is multiplied by ``SAFETY`` = 2 to cover the neglected second-order terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.precision import FORMATS, PRECISIONS, accumulation, storage
from lstm_props.maths.reference import (
    clamp,
    layer_norm,
    lstm_step,
    preactivations,
    row_mean,
    sigmoid,
)
from lstm_props.maths.variants import as_variant

#: u of each precision's storage format (2⁻⁵³, 2⁻²⁴, 2⁻¹¹ float16, 2⁻⁸ bfloat16): every
#: stored value, and so every bound but a mixed precision's dot products, is in it.
UNIT_ROUNDOFF = {p: FORMATS[storage(p)].unit_roundoff for p in PRECISIONS}
#: The storage format's smallest normal (2⁻¹⁴ in float16; bfloat16 has float32's range).
SMALLEST_NORMAL = {p: FORMATS[storage(p)].smallest_normal for p in PRECISIONS}
ACTIVATION_ULPS = 4
SAFETY = 2.0
#: The largest n·u a dot-product bound is used at. SAFETY = 2 covers the neglected
#: second-order terms while each is a small fraction of its first-order term: at n·u ≤ 1/8,
#: γ_n ≤ 1/7 and a product of first-order factors (1 + γ)² − 1 exceeds 2γ by γ² ≤ 2γ/14.
#: bfloat16 reaches it at n = 32, float16 at n = 256 (docs/error-model.md, "Half and mixed
#: precision"); beyond it the bound is meaningless and the property skips (BeyondErrorModel).
FIRST_ORDER_LIMIT = 1 / 8
#: Roundings to the storage format around one dot product of a mixed precision: each
#: operand once (2: x or h and the weight, when the kernel casts them, as autocast does),
#: the product before its bias is added (1), the ih and hh partial sums (1: together at most
#: the magnitude of the whole) and their sum (1).
MIXED_ROUNDINGS = 5


class BeyondErrorModel(ValueError):
    """A dot product too long for the first-order model in this precision (n·u > 1/8)."""


def unit_roundoff(dtype: str) -> float:
    return UNIT_ROUNDOFF[dtype]


def first_order_terms(dtype: str) -> int:
    """The most terms a dot product may have for :func:`gamma` in ``dtype``."""
    return int(FIRST_ORDER_LIMIT / UNIT_ROUNDOFF[accumulation(dtype)])


def gamma(n: int, dtype: str) -> float:
    """γ_n = nu/(1 − nu): the relative bound of an n-term dot product (Higham §3.1), u the
    accumulation's unit roundoff; in a mixed precision plus MIXED_ROUNDINGS·u of the storage
    format (the roundings of its operands and results to half)."""
    acc = accumulation(dtype)
    nu = n * UNIT_ROUNDOFF[acc]
    if nu > FIRST_ORDER_LIMIT:
        raise BeyondErrorModel(
            f"a {n}-term dot product in {acc} has n·u = {nu:.3g} > {FIRST_ORDER_LIMIT}: "
            f"the first-order error model holds up to n = {first_order_terms(dtype)} in "
            f"{acc} (docs/error-model.md, 'Half and mixed precision'); check this size in a "
            "wider dtype, or declare float32 accumulation (--lstm-dtype "
            f"{storage(dtype)}+float32) if the kernel sums in float32"
        )
    mixed = MIXED_ROUNDINGS * UNIT_ROUNDOFF[dtype] if acc != storage(dtype) else 0.0
    return nu / (1.0 - nu) + mixed


@dataclass(frozen=True)
class StepError:
    """Absolute error bounds of one step's quantities, same shapes as the values.

    dz (B, 4H): pre-activations; di, df, dg, do, dc (B, H); dh (B, P).
    """

    dz: np.ndarray
    di: np.ndarray
    df: np.ndarray
    dg: np.ndarray
    do: np.ndarray
    dc: np.ndarray
    dh: np.ndarray
    #: (B, H): what h's tanh reads, c' or (Ba's layer norm) the output's normalised c'.
    dq: np.ndarray
    #: The gate norms' N(W_ih x), N(W_hh h) (a variant normalising its gates), else None.
    gate_norms: tuple[NormError, NormError] | None = None
    #: The cell's norm (carried, or only read by h), else None.
    cell_norm: NormError | None = None

    @property
    def normalized(self) -> bool:
        """The step has a layer norm: its one-step Jacobian holds J_LN factors, which
        :func:`jacobian_factor_error` does not model (lstm_props.maths.step_vjp does)."""
        return self.gate_norms is not None or self.cell_norm is not None

    def dz_gate(self, k: int) -> np.ndarray:
        hidden = self.di.shape[-1]
        return self.dz[..., k * hidden : (k + 1) * hidden]


def sigmoid_error(z: np.ndarray, dz: np.ndarray, dtype: str) -> np.ndarray:
    """|σ(z ± δz) − σ(z)| ≤ σ'(max(|z| − δz, 0))·δz (σ' falls with |z|), plus the evaluation's
    own ulps and, below the smallest normal, the subnormal spacing."""
    e = np.exp(-np.maximum(np.abs(z) - dz, 0.0))
    slope = e / (1 + e) ** 2  # σ'(w) without the cancellation of σ(w)(1 − σ(w))
    return (
        slope * dz
        + ACTIVATION_ULPS * UNIT_ROUNDOFF[dtype] * sigmoid(z, np)
        + SMALLEST_NORMAL[dtype]
    )


def tanh_error(z: np.ndarray, dz: np.ndarray, dtype: str) -> np.ndarray:
    e = np.exp(-2 * np.maximum(np.abs(z) - dz, 0.0))
    slope = 4 * e / (1 + e) ** 2  # tanh'(w) = 1 − tanh²(w) without cancellation
    return (
        slope * dz
        + ACTIVATION_ULPS * UNIT_ROUNDOFF[dtype] * np.abs(np.tanh(z))
        + SMALLEST_NORMAL[dtype]
    )


#: The first-order model of 1/√(σ² + ε) holds while the computed σ² + ε is within this
#: relative distance of the exact one: 1/√(1 + e) − 1 stays within SAFETY = 2 times its
#: first-order term −e/2 for |e| ≤ 1/2 (0.414 against 0.25 at e = −1/2).
LN_FIRST_ORDER_AT_MOST = 0.5


@dataclass(frozen=True)
class NormError:
    """A layer norm's normalised value x̂ = (v − μ)·r, r = 1/√(σ² + ε), over the last axis
    (n entries) at the exact v, and bounds on the errors of the computed x̂ and r: what its
    forward returns and what its backward is evaluated at (lstm_props.maths.step_vjp).

    xhat, d_xhat (B, n); mean, r, d_r (B, 1), d_r the bound on |r̂ − r|/r; lost (B, 1):
    rows where σ² + ε is lost in rounding and the first order says nothing (d_xhat is then
    the whole range 2√n, d_r is inf).
    """

    xhat: np.ndarray
    mean: np.ndarray
    r: np.ndarray
    d_xhat: np.ndarray
    d_r: np.ndarray
    lost: np.ndarray


def normalized_error(v: np.ndarray, dv: np.ndarray | float, eps: float, dtype: str) -> NormError:
    """x̂ = (v − μ)/√(σ² + ε) over the last axis (n entries) computed in ``dtype`` from v exact
    up to ``dv``, with the bounds on its error (docs/error-model.md: layer norm).

    μ:  δμ ≤ γ_{n+1} mean|v| + mean δv
    d = v − μ:  δd_k ≤ δv_k + δμ + u|d_k|
    σ²: δσ² ≤ (2/n) Σ|d_k| δv_k + γ_{3n+6} mean(v²)   (one-pass, two-pass or Welford alike)
    s² = σ² + ε:  δs² ≤ δσ² + u s²;  r = 1/√s²:  δr/r ≤ δs²/(2s²) + a, a = 4u
    x̂ = d r:  δx̂_k ≤ r δd_k + |x̂_k|(δr/r + u)
    Where δs²/s² > LN_FIRST_ORDER_AT_MOST (σ² + ε lost in rounding, e.g. ε = 0 and a nearly
    constant v) the first order says nothing: δx̂ is then the whole range, 2√n, since
    |x̂_k| ≤ √(n − 1) for any v and ε ≥ 0, and δr/r is inf: honest, vacuous bounds on that row.
    """
    u, a = UNIT_ROUNDOFF[dtype], ACTIVATION_ULPS * UNIT_ROUNDOFF[dtype]
    n = v.shape[-1]
    dv = np.abs(dv) * np.ones_like(v)
    mu = row_mean(v)
    d = v - mu
    var = row_mean(d * d)
    s2 = var + eps
    d_mu = gamma(n + 1, dtype) * row_mean(np.abs(v)) + row_mean(dv)
    d_d = dv + d_mu + u * np.abs(d)
    d_var = 2 * row_mean(np.abs(d) * dv) + gamma(3 * n + 6, dtype) * row_mean(v * v)
    d_s2 = d_var + u * s2
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = d_s2 / s2
        r = 1.0 / np.sqrt(s2)
        xhat = d * r
        d_r = rel / 2 + a
        d_xhat = r * d_d + np.abs(xhat) * (d_r + u)
    lost = ~(rel <= LN_FIRST_ORDER_AT_MOST)  # NaN (0/0) counts as lost
    return NormError(
        xhat,
        mu,
        r,
        np.where(lost, 2 * np.sqrt(n), d_xhat),
        np.where(lost, np.inf, d_r),
        lost,
    )


def layer_norm_error(
    v: np.ndarray,
    dv: np.ndarray | float,
    gain: np.ndarray,
    bias: np.ndarray | None,
    eps: float,
    dtype: str,
) -> tuple[np.ndarray, np.ndarray]:
    """(y, bound on |ŷ − y|) for y = γ ⊙ (v − μ)/√(σ² + ε) + β over the last axis (n entries)
    computed in ``dtype`` from v exact up to ``dv`` (docs/error-model.md: layer norm).

    x̂ within δx̂ (:func:`normalized_error`);  y = γ x̂ + β:  δy ≤ |γ|δx̂ + 2u(|γ x̂| + |β|).
    On a lost row (:attr:`NormError.lost`) the bound is the whole range of y.
    """
    y, dy, _ = _layer_norm_parts(v, dv, gain, bias, eps, dtype)
    return y, dy


def _layer_norm_parts(
    v: np.ndarray,
    dv: np.ndarray | float,
    gain: np.ndarray,
    bias: np.ndarray | None,
    eps: float,
    dtype: str,
) -> tuple[np.ndarray, np.ndarray, NormError]:
    """:func:`layer_norm_error` and the :class:`NormError` it is built from."""
    u = UNIT_ROUNDOFF[dtype]
    n = v.shape[-1]
    norm = normalized_error(v, dv, eps, dtype)
    y = layer_norm(v, gain, bias, eps)
    g = np.abs(gain)
    beta = 0.0 if bias is None else np.abs(bias)
    dy = g * norm.d_xhat + 2 * u * (np.abs(g * norm.xhat) + beta)
    # |y| ≤ |γ|√n + |β| bounds the rounding of y where y itself may be NaN (0/0)
    whole = g * 2 * np.sqrt(n) + 2 * u * (g * np.sqrt(n) + beta)
    return y, np.where(norm.lost, whole, dy), norm


def _normed_preactivation_error(
    params: LSTMParams,
    x: np.ndarray,
    h: np.ndarray,
    dtype: str,
    dx: np.ndarray | float,
    dh_in: np.ndarray | float,
) -> tuple[np.ndarray, NormError, NormError]:
    """δz for z = γ_ih ⊙ N(x W_ihᵀ) + b_ih + γ_hh ⊙ N(h W_hhᵀ) + b_hh (+ forget bias):
    each product within γ_n|W||·| + |W|δ·, through :func:`layer_norm_error`, then the two
    (three) additions; and the two norms' :class:`NormError`."""
    g_ih, g_hh = params.gate_norm()
    w_ih, w_hh = params.abs_w_ih, params.abs_w_hh
    dv_ih = gamma(params.input_size, dtype) * (np.abs(x) @ w_ih.T)
    dv_hh = gamma(params.output_size, dtype) * (np.abs(h) @ w_hh.T)
    if np.any(dx):
        dv_ih = dv_ih + (np.abs(dx) * np.ones_like(x)) @ w_ih.T
    if np.any(dh_in):
        dv_hh = dv_hh + (np.abs(dh_in) * np.ones_like(h)) @ w_hh.T
    y_ih, dy_ih, norm_ih = _layer_norm_parts(
        x @ params.w_ih.T, dv_ih, g_ih, params.b_ih, params.ln_eps, dtype
    )
    y_hh, dy_hh, norm_hh = _layer_norm_parts(
        h @ params.w_hh.T, dv_hh, g_hh, params.b_hh, params.ln_eps, dtype
    )
    mag = np.abs(y_ih) + np.abs(y_hh)
    hidden = params.hidden_size
    mag[:, hidden : 2 * hidden] += abs(params.forget_bias)
    return dy_ih + dy_hh + 2 * UNIT_ROUNDOFF[dtype] * mag, norm_ih, norm_hh


def _peep_zo(params: LSTMParams, z_o: np.ndarray, c_new: np.ndarray, variant: str) -> np.ndarray:
    return z_o + params.peephole_weights()[2] * c_new if as_variant(variant).reads_cell else z_o


def step_error(
    params: LSTMParams,
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    variant: str,
    dtype: str,
    dx: np.ndarray | float = 0.0,
    dh_in: np.ndarray | float = 0.0,
    dc_in: np.ndarray | float = 0.0,
    x_span: np.ndarray | None = None,
) -> StepError:
    """Forward error bound of one step computed in ``dtype``, inputs exact up to dx, dh_in, dc_in.

    z:  δz = γ_n (|W_ih||x| + |W_hh||h| + |b_ih| + |b_hh| [+ |b_f const|]) + |W_ih|δx + |W_hh|δh,
        n = D + P + 2 (+ 1 with a forget-bias constant)
        a quantized kernel (params.quantization) rounds x and h to its integer grid first:
        δx += s_x/2, δh += s_h/2 (lstm_props.maths.quantization), s_x from ``x_span``, the
        whole tensor the call quantizes (a fused sequence's (T, B, D) input; default x),
        s_h from h widened by δh (the kernel's h is within δh of this one)
    gates: δσ ≤ σ'(|z| − δz)·δz + a·σ, δtanh ≤ tanh'(|z| − δz)·δz + a·|tanh|, a = 4u
    c' = f c + i g: δc' = |c|δf + f δc + |g|δi + i δg + 2u(|f c| + |i g|)
    h' = o tanh(c'): δh' = |tanh c'|δo + o(δc' + a) + u|h'|, then through W_hr if projected.
    """
    u, a = UNIT_ROUNDOFF[dtype], ACTIVATION_ULPS * UNIT_ROUNDOFF[dtype]
    quant = params.quantization
    if quant is not None:
        dx = dx + quant.input_error(x if x_span is None else x_span, float(np.max(dx)))
        dh_in = dh_in + quant.input_error(h, float(np.max(dh_in)))
    v = lstm_step(params, x, h, c, variant)
    kind = as_variant(variant)
    hidden = params.hidden_size
    # a forget-bias constant is one more term of every f sum (counted for every gate: n is one)
    n = params.input_size + params.output_size + 2 + kind.reads_cell + bool(params.forget_bias)
    w_ih, w_hh = params.abs_w_ih, params.abs_w_hh
    mag = np.abs(x) @ w_ih.T + np.abs(h) @ w_hh.T
    mag = mag + np.abs(params.b_ih) + np.abs(params.b_hh)
    mag[:, hidden : 2 * hidden] += abs(params.forget_bias)
    if kind.reads_cell:  # p_i c and p_f c are one more term of the i and f sums
        peep = params.peephole_weights()
        p = np.abs(peep)
        mag[:, :hidden] += p[0] * np.abs(c)
        mag[:, hidden : 2 * hidden] += p[1] * np.abs(c)
    dz = gamma(n, dtype) * mag
    if np.any(dx):  # exact inputs add nothing: skip a (B, D)·(D, 4H) product of zeros
        dz = dz + (np.abs(dx) * np.ones_like(x)) @ w_ih.T
    if np.any(dh_in):
        dz = dz + (np.abs(dh_in) * np.ones_like(h)) @ w_hh.T
    gate_norms = None
    if kind.normalizes_gates:  # the products normalised before the biases are added
        dz, *norms = _normed_preactivation_error(params, x, h, dtype, dx, dh_in)
        gate_norms = (norms[0], norms[1])
    dz_i, dz_f, dz_g, dz_o = (dz[:, k * hidden : (k + 1) * hidden].copy() for k in range(4))
    z = preactivations(params, x, h)
    z_i, z_f, z_g, z_o = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))
    if kind.reads_cell:  # the gates' actual arguments include p ⊙ c
        dz_i += p[0] * dc_in
        dz_f += p[1] * dc_in
        z_i = z_i + peep[0] * c
        z_f = z_f + peep[1] * c
    # A clamp is 1-Lipschitz: it never widens an argument's error, and σ', tanh' are then
    # evaluated where the activation really is evaluated.
    z_i, z_f, z_g = clamp(z_i, params.clip), clamp(z_f, params.clip), clamp(z_g, params.clip)
    df = sigmoid_error(z_f, dz_f, dtype) if kind.has_forget_gate else np.zeros_like(dz_f)
    di = df + u if kind.coupled_input else sigmoid_error(z_i, dz_i, dtype)
    dg = tanh_error(z_g, dz_g, dtype)
    f, i, g = np.abs(v.f), np.abs(v.i), np.abs(v.g)
    dc = np.abs(c) * df + f * dc_in + np.abs(g) * di + i * dg
    dc = dc + 2 * u * (np.abs(f * c) + np.abs(i * g))
    c_out, dc_out = v.c, dc  # what tanh reads for h: c', or the output's normalised c'
    cell_norm = None
    if kind.normalizes_cell or kind.normalizes_cell_output:
        g_c, b_c = params.cell_norm()
        # the cell before its norm (after a cell clip: the clamp is 1-Lipschitz, δc holds)
        c_hat = clamp(v.f * c + v.i * v.g, params.cell_clip)
        c_out, dc_out, cell_norm = _layer_norm_parts(c_hat, dc, g_c, b_c, params.ln_eps, dtype)
        if kind.normalizes_cell:  # the carried cell is the normalised one
            dc = dc_out
    if kind.reads_cell:  # z_o + p_o c': c' carries δc', and the sum one more term
        z_o_mag = mag[:, 3 * hidden :] + np.abs(peep[2] * v.c)
        dz_o = gamma(n, dtype) * z_o_mag + np.abs(peep[2]) * dc
    do = sigmoid_error(
        clamp(np.asarray(_peep_zo(params, z_o, v.c, variant)), params.clip), dz_o, dtype
    )
    hidden_pre = np.abs(v.o * np.tanh(c_out))
    dh = np.abs(np.tanh(c_out)) * do + np.abs(v.o) * (dc_out + a) + u * hidden_pre
    if params.w_hr is not None:
        w_hr = np.abs(params.w_hr)
        dh = dh @ w_hr.T + gamma(hidden, dtype) * (hidden_pre @ w_hr.T)
    dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=-1)
    return StepError(dz, di, df, dg, do, dc, dh, dc_out, gate_norms, cell_norm)


def cell_clip_undecided(params: LSTMParams, c: np.ndarray, v: Any, err: StepError) -> np.ndarray:
    """Where a cell clip's clamp of ĉ = f ⊙ c + i ⊙ g could go either way, (B, H) booleans:
    | |ĉ| − m | ≤ δc'. There the implementation may have clamped where the oracle did not
    (or the reverse), so its carry derivative may be 0 where the oracle's is f, and every
    derivative through c' with it; the values are unaffected (a clamp is 1-Lipschitz).
    All False without a cell clip."""
    if params.cell_clip is None:
        return np.zeros(np.shape(c), dtype=bool)
    c_hat = np.abs(v.f * c + v.i * v.g)
    return np.abs(c_hat - params.cell_clip) <= err.dc


def forget_log_error(err: StepError, f: np.ndarray, dtype: str) -> np.ndarray:
    """Bound on |log f_impl − log f| (per coordinate, one step), plus the VJP's own rounding.

    |d log σ/dz| = 1 − σ ≤ 1, so the relative error is (1 − f)δz_f + a, and the product
    ā·f in the backward adds one more u.
    """
    u = UNIT_ROUNDOFF[dtype]
    return (1.0 - f) * err.dz_gate(1) + (ACTIVATION_ULPS + 1) * u


def jacobian_factor_error(
    err: StepError, c_prev: np.ndarray, c_new: np.ndarray, dtype: str
) -> np.ndarray:
    """Bound on the error of every gate-derivative weight of a one-step Jacobian, (B, H).

    Each weight (e.g. c σ'(z_f), g σ'(z_i), o tanh'(c') i tanh'(z_g)) is a product of at most
    three factors of magnitude ≤ max(1, |c|, |c'|), each off by at most δz_max + δc' + 2a.
    """
    if err.normalized:
        raise ValueError(
            "jacobian_factor_error models the gate-derivative factors of a step without "
            "layer norm; a layer-norm step's Jacobian also holds J_LN factors: bound its "
            "backward with lstm_props.maths.step_vjp (docs/error-model.md: layer norm)"
        )
    a = ACTIVATION_ULPS * UNIT_ROUNDOFF[dtype]
    hidden = err.di.shape[-1]
    dz_max = err.dz.reshape(*err.dz.shape[:-1], 4, hidden).max(axis=-2)
    return (2.0 + np.abs(c_prev) + np.abs(c_new)) * (dz_max + err.dc + 2 * a)


def log_compare(
    got: np.ndarray, want_log: np.ndarray, tol: np.ndarray, scale_log: np.ndarray, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """Compare |got| with exp(want_log) in the log domain, minding underflow.

    ``scale_log`` is log|cotangent| (the backward carries ā = ū·∏f, which underflows when
    log|ū| + Σ log f drops below log(smallest normal)). Returns (ok, comparable) masks:
    comparable entries need |log|got| − want_log| ≤ tol; underflowed entries only need
    |got| ≤ exp(want_log + tol) + smallest_normal/|ū|.
    """
    floor = np.log(SMALLEST_NORMAL[dtype])
    comparable = scale_log + want_log - tol > floor + np.log(4.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # −inf − −inf: not comparable
        got_log = np.log(np.abs(got))
        ok_cmp = np.abs(got_log - want_log) <= tol
    bound = np.exp(want_log + tol) + SMALLEST_NORMAL[dtype] * 4 / np.exp(scale_log)
    ok_under = np.abs(got) <= bound
    return np.where(comparable, ok_cmp, ok_under), comparable


def carry_derivative_error(
    err: StepError, params: LSTMParams, c: np.ndarray, v: Any, variant: str, dtype: str
) -> np.ndarray:
    """Bound on the error of the carry Jacobian's diagonal d (see reference.carry_derivative).

    standard/cifg: δf (plus the VJP's one rounding); no_forget: one rounding;
    peephole: δf(1 + |p_f c|) + |p_i|(δg/4 + |g|δi), as |d(f(1−f))/df| ≤ 1, i(1−i) ≤ 1/4.
    """
    u = UNIT_ROUNDOFF[dtype]
    if as_variant(variant).reads_cell:
        p = np.abs(params.peephole_weights())
        d = err.df * (1 + p[1] * np.abs(c)) + p[0] * (err.dg / 4 + np.abs(v.g) * err.di)
        return d + 2 * u * (1 + p[1] * np.abs(c) + p[0])
    return err.df + u * np.abs(v.f)


def chain_gradient_bound(
    u_abs: np.ndarray,
    jac_abs: list[np.ndarray],
    entry_error: list[np.ndarray],
    n: int,
    dtype: str,
) -> np.ndarray:
    """Bound on |ūᵀ J_T···J_1 computed two ways| given per-entry Jacobian errors.

    |ū|ᵀ∏(|J_t| + G_t) − |ū|ᵀ∏|J_t|  (first order: one perturbed factor at a time)
    + (T + 1)γ_n |ū|ᵀ∏|J_t|          (the backward's own rounding)
    jac_abs and entry_error are in step order 1..T; returns (N,).
    """
    exact, perturbed = u_abs.copy(), u_abs.copy()
    for j, g in zip(reversed(jac_abs), reversed(entry_error)):
        exact = exact @ j
        perturbed = perturbed @ (j + g)
    return (perturbed - exact) + (len(jac_abs) + 1) * gamma(n, dtype) * exact
