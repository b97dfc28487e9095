"""The error model every comparison's tolerance comes from.

Nothing here is tuned to make a test pass. Each bound is a first-order forward error bound
in the target's unit roundoff u (2⁻²⁴ for float32, 2⁻⁵³ for float64), built from:

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
from lstm_props.maths.reference import clamp, lstm_step, preactivations, sigmoid
from lstm_props.maths.variants import as_variant

UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}
SMALLEST_NORMAL = {
    "float32": float(np.finfo(np.float32).tiny),
    "float64": float(np.finfo(np.float64).tiny),
}
# The 16-bit formats no target may declare, but one may compute in below its declaration:
# the load-time precision check (lstm_props._harness.precision) holds errors to their bounds.
UNIT_ROUNDOFF.update(bfloat16=2.0**-8, float16=2.0**-11)
SMALLEST_NORMAL.update(bfloat16=2.0**-126, float16=2.0**-14)
ACTIVATION_ULPS = 4
SAFETY = 2.0


def unit_roundoff(dtype: str) -> float:
    return UNIT_ROUNDOFF[dtype]


def gamma(n: int, dtype: str) -> float:
    """γ_n = nu/(1 − nu): the relative bound of an n-term dot product."""
    nu = n * UNIT_ROUNDOFF[dtype]
    return nu / (1.0 - nu)


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

    def dz_gate(self, k: int) -> np.ndarray:
        hidden = self.di.shape[-1]
        return self.dz[..., k * hidden : (k + 1) * hidden]


def _sigmoid_error(z: np.ndarray, dz: np.ndarray, dtype: str) -> np.ndarray:
    """|σ(z ± δz) − σ(z)| ≤ σ'(max(|z| − δz, 0))·δz (σ' falls with |z|), plus the evaluation's
    own ulps and, below the smallest normal, the subnormal spacing."""
    e = np.exp(-np.maximum(np.abs(z) - dz, 0.0))
    slope = e / (1 + e) ** 2  # σ'(w) without the cancellation of σ(w)(1 − σ(w))
    return (
        slope * dz
        + ACTIVATION_ULPS * UNIT_ROUNDOFF[dtype] * sigmoid(z, np)
        + SMALLEST_NORMAL[dtype]
    )


def _tanh_error(z: np.ndarray, dz: np.ndarray, dtype: str) -> np.ndarray:
    e = np.exp(-2 * np.maximum(np.abs(z) - dz, 0.0))
    slope = 4 * e / (1 + e) ** 2  # tanh'(w) = 1 − tanh²(w) without cancellation
    return (
        slope * dz
        + ACTIVATION_ULPS * UNIT_ROUNDOFF[dtype] * np.abs(np.tanh(z))
        + SMALLEST_NORMAL[dtype]
    )


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
) -> StepError:
    """Forward error bound of one step computed in ``dtype``, inputs exact up to dx, dh_in, dc_in.

    z:  δz = γ_n (|W_ih||x| + |W_hh||h| + |b_ih| + |b_hh| [+ |b_f const|]) + |W_ih|δx + |W_hh|δh,
        n = D + P + 2 (+ 1 with a forget-bias constant)
    gates: δσ ≤ σ'(|z| − δz)·δz + a·σ, δtanh ≤ tanh'(|z| − δz)·δz + a·|tanh|, a = 4u
    c' = f c + i g: δc' = |c|δf + f δc + |g|δi + i δg + 2u(|f c| + |i g|)
    h' = o tanh(c'): δh' = |tanh c'|δo + o(δc' + a) + u|h'|, then through W_hr if projected.
    """
    u, a = UNIT_ROUNDOFF[dtype], ACTIVATION_ULPS * UNIT_ROUNDOFF[dtype]
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
    df = _sigmoid_error(z_f, dz_f, dtype) if kind.has_forget_gate else np.zeros_like(dz_f)
    di = df + u if kind.coupled_input else _sigmoid_error(z_i, dz_i, dtype)
    dg = _tanh_error(z_g, dz_g, dtype)
    f, i, g = np.abs(v.f), np.abs(v.i), np.abs(v.g)
    dc = np.abs(c) * df + f * dc_in + np.abs(g) * di + i * dg
    dc = dc + 2 * u * (np.abs(f * c) + np.abs(i * g))
    if kind.reads_cell:  # z_o + p_o c': c' carries δc', and the sum one more term
        z_o_mag = mag[:, 3 * hidden :] + np.abs(peep[2] * v.c)
        dz_o = gamma(n, dtype) * z_o_mag + np.abs(peep[2]) * dc
    do = _sigmoid_error(
        clamp(np.asarray(_peep_zo(params, z_o, v.c, variant)), params.clip), dz_o, dtype
    )
    hidden_pre = np.abs(v.o * np.tanh(v.c))
    dh = np.abs(np.tanh(v.c)) * do + np.abs(v.o) * (dc + a) + u * hidden_pre
    if params.w_hr is not None:
        w_hr = np.abs(params.w_hr)
        dh = dh @ w_hr.T + gamma(hidden, dtype) * (hidden_pre @ w_hr.T)
    dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=-1)
    return StepError(dz, di, df, dg, do, dc, dh)


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
    with np.errstate(divide="ignore"):
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
