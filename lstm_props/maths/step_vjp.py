"""The error of the backward through a step, layer norms included (docs/error-model.md,
"The backward through a layer norm").

The implementation's VJP of a step is evaluated at its own forward values (gates, x̂ and r
of each norm, each within its :func:`tolerances.step_error` bound) and rounds as it goes;
the oracle's is exact. Every cotangent of the backward is carried as a pair (ā, E): ā the
exact cotangent (the oracle's, computed here in float64 alongside), E ≥ |ā_impl − ā| the
error of the computed one, coordinate-wise, to first order. Four kinds of stage, u the unit
roundoff:

    product by forward factors a_1..a_k, each computed within δa_j:
        ā' = ā ∏a_j,  E' = E ∏|a_j| + |ā| Σ_j δa_j ∏_{i≠j} |a_i| + k u |ā'|
    sum of two cotangents:  ā' = ā_1 + ā_2,  E' = E_1 + E_2 + u |ā'|
    product by exact weights over n terms:  ā' = ā W,  E' = E|W| + γ_n |ā||W|
    a layer norm's VJP: :func:`norm_vjp`

with the gate derivatives recomputed from the gates (or from z, alike to first order):
σ' = y(1 − y) within δy + a σ', tanh' = 1 − y² within 2|y|δy + a tanh' + 2u, a = 4u.
The caller multiplies the final E by SAFETY. Only E is a claim about the implementation;
ā is where E's first-order terms are taken (|ā_impl| = |ā| to first order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.layout import AbsWeights, LSTMParams
from lstm_props.maths.reference import clamp, layer_norm, lstm_step, preactivations
from lstm_props.maths.variants import as_variant

#: Roundings of a layer norm's backward beyond its n-term sums (see :func:`norm_vjp`).
NORM_VJP_ROUNDINGS = 11


@dataclass(frozen=True)
class Cotangent:
    """value: the exact cotangent ā; err ≥ |ā_impl − ā|, same shape."""

    value: np.ndarray
    err: np.ndarray

    @classmethod
    def exact(cls, value: np.ndarray) -> Cotangent:
        """A cotangent the implementation is handed exactly (a probe, rounded to its dtype)."""
        return cls(value, np.zeros(np.shape(value)))

    @property
    def mag(self) -> np.ndarray:
        """|ā| (inf where ā is undefined: a row through a lost norm, see :func:`norm_vjp`)."""
        return _vacuous(np.abs(self.value))

    def times(self, *factors: tuple[np.ndarray, np.ndarray], u: float) -> Cotangent:
        """ā ⊙ a_1 ⊙ ... ⊙ a_k, factor j given as (a_j, δa_j)."""
        value, size, moved = self.value, np.ones_like(self.err), np.zeros_like(self.err)
        for j, (a, delta) in enumerate(factors):
            others = np.ones_like(self.err)
            for i, (b, _) in enumerate(factors):
                if i != j:
                    others = others * np.abs(b)
            moved = moved + delta * others
            value, size = value * a, size * np.abs(a)
        err = self.err * size + self.mag * moved + len(factors) * u * np.abs(value)
        return Cotangent(value, _vacuous(err))

    def plus(self, other: Cotangent, u: float) -> Cotangent:
        value = self.value + other.value
        return Cotangent(value, _vacuous(self.err + other.err + u * np.abs(value)))

    def matmul(self, weights: np.ndarray, abs_weights: AbsWeights, n: int, dtype: str) -> Cotangent:
        """ā W for exact W (and |W|), each entry a sum of n terms."""
        err = self.err @ abs_weights + tol.gamma(n, dtype) * (self.mag @ abs_weights)
        return Cotangent(self.value @ weights, _vacuous(err))


def _vacuous(bound: np.ndarray) -> np.ndarray:
    """inf · 0 (a lost norm's row through a zero weight) is no claim: inf, never NaN."""
    return np.where(np.isnan(bound), np.inf, bound)


def _row_rmatvec(jac: Any, vec: np.ndarray, batch: int) -> np.ndarray:
    """vᵀ|J| for |J| coupling no batch rows: a batch row holding an inf (no claim, from a lost
    norm) stays all inf, and its inf · 0 does not reach the other rows as NaN."""
    rows = vec.reshape(batch, -1)
    lost = ~np.isfinite(rows).all(1, keepdims=True)
    out = jac.rmatvec(np.where(lost, 0.0, rows).reshape(-1)).reshape(batch, -1)
    return np.where(lost, np.inf, out).reshape(-1)


def norm_vjp(y_bar: Cotangent, norm: tol.NormError, gain: np.ndarray, dtype: str) -> Cotangent:
    """The cotangent v̄ of a layer norm's input from ȳ, y = γ ⊙ x̂ + β over n entries:

        v̄ = r (w − m₁ − x̂ m₂),  w = γ ⊙ ȳ,  m₁ = mean(w),  m₂ = mean(w ⊙ x̂)

    evaluated by the implementation at its x̂ (within δx̂) and r (within δr/r), from a ȳ
    within E. With M_w = |w|, S1 = mean(M_w), S2 = mean(M_w|x̂|), μ̂ = r|μ|:

        E'_k = r (E_w,k + mean(E_w) + |x̂_k| mean(E_w|x̂|)),  E_w = |γ|E + u M_w   (ȳ's error)
             + (δr/r) |v̄_k|                                                     (r's)
             + r (δx̂_k |m₂| + |x̂_k| mean(M_w δx̂))                              (x̂'s)
             + γ_{n+11} r (M_w,k + S1 + (|x̂_k| + 2μ̂) S2 + 2μ̂ |x̂_k| S1)          (rounding)

    The rounding term holds for the centred form above, any order of its two n-term sums,
    and for the raw form torch's CPU kernel uses (Σw v and Σw over the un-centred v, then
    r w + b v + c, b = (μΣw − Σw v) r³/n, c = −bμ − r Σw/n with the same computed b, so that
    b's error reaches v̄_k as δb (v_k − μ)), whose sums are relative to |v_j| ≤ (|x̂_j| + μ̂)/r:
    hence the μ̂ terms. On a lost row (the forward's first order says nothing) E' is inf: no
    claim, never NaN.
    """
    u = tol.UNIT_ROUNDOFF[dtype]
    n = norm.xhat.shape[-1]
    ax = np.abs(norm.xhat)
    r = norm.r
    with np.errstate(invalid="ignore", over="ignore"):
        w = gain * y_bar.value
        m1 = w.mean(-1, keepdims=True)
        m2 = (w * norm.xhat).mean(-1, keepdims=True)
        value = r * (w - m1 - norm.xhat * m2)
        m_w = np.abs(w)
        e_w = np.abs(gain) * y_bar.err + u * m_w
        s1 = m_w.mean(-1, keepdims=True)
        s2 = (m_w * ax).mean(-1, keepdims=True)
        mu_hat = r * np.abs(norm.mean)
        carried = r * (e_w + e_w.mean(-1, keepdims=True) + ax * (e_w * ax).mean(-1, keepdims=True))
        at_x = r * (norm.d_xhat * np.abs(m2) + ax * (m_w * norm.d_xhat).mean(-1, keepdims=True))
        raw = (ax + 2 * mu_hat) * s2 + 2 * mu_hat * ax * s1
        rounding = tol.gamma(n + NORM_VJP_ROUNDINGS, dtype) * r * (m_w + s1 + raw)
        err = carried + norm.d_r * np.abs(value) + at_x + rounding
    lost = norm.lost | ~np.isfinite(r)
    return Cotangent(value, np.where(lost | np.isnan(err), np.inf, err))


def _sigmoid_slope(y: np.ndarray, dy: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """(σ' = y(1 − y), bound on its computed error) from σ = y within dy."""
    s = y * (1 - y)
    return s, dy + a * s


def _tanh_slope(y: np.ndarray, dy: np.ndarray, a: float, u: float) -> tuple[np.ndarray, np.ndarray]:
    """(tanh', bound on its computed error) from tanh = y within dy."""
    s = 1 - y * y
    return s, 2 * np.abs(y) * dy + a * s + 2 * u


def step_vjp_error(
    params: LSTMParams,
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    variant: str,
    dtype: str,
    u_h: Cotangent,
    u_c: Cotangent,
    dx: np.ndarray | float = 0.0,
    dh_in: np.ndarray | float = 0.0,
    dc_in: np.ndarray | float = 0.0,
) -> tuple[Cotangent, Cotangent, Cotangent]:
    """(h̄, c̄, x̄): the cotangents of h_{t-1}, c_{t-1} and x_t from ū_h, ū_c on (h_t, c_t), as
    the implementation computes them in ``dtype`` against exact, inputs exact up to dx,
    dh_in, dc_in. The backward, coordinate-wise (W_hr only with a projection):

        ā = ū_h W_hr;  q the cell h reads (c', or N_c(c') for Ba's norm), τ = tanh(q)
        z̄_o = ā τ σ'(z_o),  q̄ = ā o tanh'(q)
        ĉ̄ = ū_c + N_c-VJP(q̄)  (Ba: the carried c' is the norm's input)
           | N_c-VJP(ū_c + q̄)  (the carried c' normalised)  | ū_c + q̄  (no cell norm)
        c̄ = ĉ̄ f,  z̄_i = ĉ̄ g σ'(z_i),  z̄_f = ĉ̄ c σ'(z_f),  z̄_g = ĉ̄ i tanh'(z_g)
           (cifg: z̄_f = ĉ̄ (c − g) σ'(z_f), z̄_i = 0; no forget gate: z̄_f = 0, c̄ = ĉ̄)
        h̄ = N_hh-VJP(z̄) W_hh,  x̄ = N_ih-VJP(z̄) W_ih  (without gate norms: z̄ W)

    each stage by the rules of this module, with the forward's errors of
    :func:`tolerances.step_error` (the norms' x̂ and r from its NormError). A clamp (clip,
    cell clip) is taken as decided, as the gate-factor model takes it: where it clamps,
    the exact derivative and ā there are 0, the error bounds kept. Peepholes are not
    modelled.
    """
    kind = as_variant(variant)
    if kind.reads_cell:
        raise ValueError(
            "step_vjp_error does not model peepholes (their slopes p c f(1 − f)); "
            "tolerances.jacobian_factor_error bounds that variant's Jacobian factors"
        )
    u = tol.UNIT_ROUNDOFF[dtype]
    a = tol.ACTIVATION_ULPS * u
    err = tol.step_error(params, x, h, c, variant, dtype, dx=dx, dh_in=dh_in, dc_in=dc_in)
    v = lstm_step(params, x, h, c, variant)
    hidden = params.hidden_size
    zero = np.zeros_like(v.f)
    c_hat = clamp(v.f * c + v.i * v.g, params.cell_clip)
    if kind.normalizes_cell_output:
        g_c, b_c = params.cell_norm()
        q = layer_norm(c_hat, g_c, b_c, params.ln_eps)
    else:
        q = v.c
    tau = np.tanh(q)
    d_tau = tol.tanh_error(q, err.dq, dtype)
    # where a clip clamps an argument its derivative is 0 (taken as decided, as the
    # gate-factor model does): the slopes' values are masked, their error bounds kept
    z = preactivations(params, x, h)
    inside = np.ones_like(z) if params.clip is None else (np.abs(z) < params.clip).astype(float)
    in_i, in_f, in_g, in_o = (inside[:, k * hidden : (k + 1) * hidden] for k in range(4))
    s_o, d_so = _sigmoid_slope(v.o, err.do, a)
    tp_q, d_tpq = _tanh_slope(tau, d_tau, a, u)

    out = u_h
    if params.w_hr is not None:
        out = u_h.matmul(params.w_hr, AbsWeights(params.w_hr), params.output_size, dtype)
    z_o = out.times((tau, d_tau), (s_o * in_o, d_so), u=u)
    q_bar = out.times((v.o, err.do), (tp_q, d_tpq), u=u)
    if kind.normalizes_cell_output:
        assert err.cell_norm is not None
        c_hat_bar = u_c.plus(norm_vjp(q_bar, err.cell_norm, params.cell_norm()[0], dtype), u)
    elif kind.normalizes_cell:
        assert err.cell_norm is not None
        c_hat_bar = norm_vjp(u_c.plus(q_bar, u), err.cell_norm, params.cell_norm()[0], dtype)
    else:
        c_hat_bar = u_c.plus(q_bar, u)
    if params.cell_clip is not None:  # the clamp's slope: 1 inside, 0 where it clamps
        unclamped = np.abs(v.f * c + v.i * v.g) < params.cell_clip
        c_hat_bar = Cotangent(c_hat_bar.value * unclamped, c_hat_bar.err)

    d_c = np.abs(dc_in) * np.ones_like(c)
    if kind.has_forget_gate:
        c_bar = c_hat_bar.times((v.f, err.df), u=u)
        s_f, d_sf = _sigmoid_slope(v.f, err.df, a)
        if kind.coupled_input:  # i = 1 − f: f̄ = ĉ̄ c − ĉ̄ g, two products and a difference
            through_i = c_hat_bar.times((-v.g, err.dg), u=u)
            f_bar = c_hat_bar.times((c, d_c), u=u).plus(through_i, u)
            z_f = f_bar.times((s_f * in_f, d_sf), u=u)
        else:
            z_f = c_hat_bar.times((c, d_c), (s_f * in_f, d_sf), u=u)
    else:
        c_bar = c_hat_bar
        z_f = Cotangent(zero, zero)
    if kind.coupled_input:
        z_i = Cotangent(zero, zero)
    else:
        s_i, d_si = _sigmoid_slope(v.i, err.di, a)
        z_i = c_hat_bar.times((v.g, err.dg), (s_i * in_i, d_si), u=u)
    tp_g, d_tpg = _tanh_slope(v.g, err.dg, a, u)
    z_g = c_hat_bar.times((v.i, err.di), (tp_g * in_g, d_tpg), u=u)
    z_bar = _joined([z_i, z_f, z_g, z_o])
    to_hh = to_ih = z_bar
    if kind.normalizes_gates:
        assert err.gate_norms is not None
        g_ih, g_hh = params.gate_norm()
        to_ih = norm_vjp(z_bar, err.gate_norms[0], g_ih, dtype)
        to_hh = norm_vjp(z_bar, err.gate_norms[1], g_hh, dtype)
    h_bar = to_hh.matmul(params.w_hh, params.abs_w_hh, 4 * hidden, dtype)
    x_bar = to_ih.matmul(params.w_ih, params.abs_w_ih, 4 * hidden, dtype)
    return h_bar, c_bar, x_bar


def stack_vjp_error(
    layers: list[LSTMParams],
    variant: str,
    traj: carry.Trajectory,
    s: int,
    bar_h: Cotangent,
    bar_c: Cotangent,
    dtype: str,
    moved: np.ndarray | None = None,
) -> tuple[Cotangent, Cotangent, Cotangent]:
    """(h̄, c̄, x̄) of the recorded step from state s to s + 1 of a stack of ``layers`` (one for
    a cell), by :func:`step_vjp_error` layer by layer from the top: layer k reads layer
    k − 1's fresh h_{s+1}, so that h also takes the cotangent of the input of the layer
    above (one more sum). h̄, c̄ packed over the layers as the state; x̄ the bottom layer's.

    ``moved`` (T, B, L·(P + H)), h before c as :func:`carry.pack`: how far from the recorded
    states 1..T the states a backward is evaluated at may be (another computation of the
    same steps, as a fused sequence call); None: at the recorded states themselves.
    """
    u = tol.UNIT_ROUNDOFF[dtype]
    p, hid, depth = layers[0].output_size, layers[0].hidden_size, len(layers)

    def state_error(t: int, part: str, k: int) -> np.ndarray | float:
        """The bound on state t's h (or c) of layer k (state 0 is given, exact)."""
        if moved is None or t == 0:
            return 0.0
        lo = k * p if part == "h" else depth * p + k * hid
        return moved[t - 1][:, lo : lo + (p if part == "h" else hid)]

    outs_h: list[Cotangent] = []
    outs_c: list[Cotangent] = []
    from_above: Cotangent | None = None
    for k in range(depth - 1, -1, -1):
        hk, ck = slice(k * p, (k + 1) * p), slice(k * hid, (k + 1) * hid)
        top_h = Cotangent(bar_h.value[:, hk], bar_h.err[:, hk])
        if from_above is not None:
            top_h = top_h.plus(from_above, u)
        x = traj.gate_xs[s] if k == 0 else traj.hs[s + 1][:, (k - 1) * p : k * p]
        h_bar, c_bar, from_above = step_vjp_error(
            layers[k],
            x,
            traj.hs[s][:, hk],
            traj.cs[s][:, ck],
            variant,
            dtype,
            top_h,
            Cotangent(bar_c.value[:, ck], bar_c.err[:, ck]),
            dx=0.0 if k == 0 else state_error(s + 1, "h", k - 1),
            dh_in=state_error(s, "h", k),
            dc_in=state_error(s, "c", k),
        )
        outs_h.insert(0, h_bar)
        outs_c.insert(0, c_bar)
    assert from_above is not None  # the loop ran: there is a layer
    return _joined(outs_h), _joined(outs_c), from_above


def chain_vjp_error(
    layers: list[LSTMParams],
    variant: str,
    traj: carry.Trajectory,
    u_h: np.ndarray | Cotangent,
    u_c: np.ndarray | Cotangent,
    dtype: str,
    carry_only: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds on the error of the computed ∂L/∂h_0, ∂L/∂c_0 and ∂L/∂x_t (t = 1..T, the
    bottom layer's input) for L = ū_hᵀh_T + ū_cᵀc_T through the T recorded steps, each
    step's backward by :func:`stack_vjp_error` from the cotangents (ā, E) the step after it
    left (E carried through each stage's own rule). ū_h, ū_c: arrays the implementation is
    handed exactly, or Cotangents (a probe it rounds). ``carry_only``: the teacher-forced
    carry chain c_T(c_0), every h_{t−1} held at its recorded value (no cotangent reaches
    h_t: pass ū_h = 0).
    Returns (E_h0 (B, L·P), E_c0 (B, L·H), E_x (T, B, D)), first order, before SAFETY.
    """
    bar_h = u_h if isinstance(u_h, Cotangent) else Cotangent.exact(u_h)
    bar_c = u_c if isinstance(u_c, Cotangent) else Cotangent.exact(u_c)
    to_x: list[np.ndarray] = []
    for s in range(traj.steps - 1, -1, -1):  # the step from state s to state s + 1
        bar_h, bar_c, bar_x = stack_vjp_error(layers, variant, traj, s, bar_h, bar_c, dtype)
        if carry_only:
            bar_h = Cotangent.exact(np.zeros_like(bar_h.value))
        to_x.insert(0, bar_x.err)
    return bar_h.err, bar_c.err, np.stack(to_x)


def jacobian_chain_error(
    layers: list[LSTMParams],
    variant: str,
    traj: carry.Trajectory,
    jacs: list[Any],
    u_h: np.ndarray,
    u_c: np.ndarray,
    dtype: str,
    moved: np.ndarray | None = None,
) -> np.ndarray:
    """Bound on the error of the computed ūᵀ∂s_T/∂s_0 (flat, :func:`carry.pack` order),
    carried back through the steps' absolute Jacobians |J_t| (``jacs``, operators with
    rmatvec: dense when small, lstm_props.maths.abs_jacobian's bound when large):

        E_{t−1} = E_t |J_t| + e_t(ā_t),  E_T = 0

    ā_t = ūᵀJ_T···J_{t+1} the exact cotangent, e_t(ā_t) the error of step t's own backward
    (:func:`stack_vjp_error`) handed ā_t exactly: the error arriving from later steps passes
    through J_t as any cotangent does (first order). Tighter than :func:`chain_vjp_error`,
    which carries E through each stage's triangle inequality (J_LN's above all). ``moved``:
    as for :func:`stack_vjp_error`. First order, before SAFETY.
    """
    batch = u_h.shape[0]
    bar_h, bar_c = Cotangent.exact(u_h), Cotangent.exact(u_c)
    err = np.zeros(u_h.size + u_c.size)
    for s in range(traj.steps - 1, -1, -1):
        exact_h, exact_c = Cotangent.exact(bar_h.value), Cotangent.exact(bar_c.value)
        bar_h, bar_c, _ = stack_vjp_error(layers, variant, traj, s, exact_h, exact_c, dtype, moved)
        err = _row_rmatvec(jacs[s], err, batch) + carry.pack(bar_h.err, bar_c.err)
    return err


def _joined(parts: list[Cotangent]) -> Cotangent:
    return Cotangent(
        np.concatenate([q.value for q in parts], -1), np.concatenate([q.err for q in parts], -1)
    )
