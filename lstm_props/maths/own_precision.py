"""Finite differences in the target's own precision: the error model of a gradient check for
a target without a float64 twin (ONNX Runtime, a float32-only or quantized kernel).

A central difference D(η) = (L(p⁺) − L(p⁻))/2η, p^± = fl(p ± ηv), compared with the
backward's ⟨∇L, w⟩, w = (p⁺ − p⁻)/2η (the direction actually taken), is off by

    |D(η) − ⟨∇L, w⟩| ≤ (ε(p⁺) + ε(p⁻))/2η + truncation + the backward's own error,

where ε bounds the error of one evaluation of L. How ε is known depends on the mode:

* **layout mode** (the parameters are known): ε = Σ|ū|E_T from the written model,
  :func:`forward_error`, the per-step bounds of :func:`tolerances.step_error` chained over
  the T free-running steps in the target's dtype (each step's input error dh_in, dc_in is
  the previous step's bound; one computation against exact, so no factor 2). The
  backward's error is :func:`backward_error`: its rounding, (T + 1)γ_n times the absolute
  chain |ū|ᵀ∏M_t, plus the first-order effect of its gate-derivative weights being off by
  ρ_t (:func:`tolerances.jacobian_factor_error`) each; with a layer norm, whose J_LN
  factors have no such ρ_t, the backward's error carried step by step
  (:func:`step_vjp.chain_vjp_error`, rounding included).
* **black-box mode** (no |W|, so no |W||x|): ε is *measured* with Moré & Wild's ECnoise
  (:func:`ecnoise`; "Estimating computational noise", SIAM J. Sci. Comput. 33(3), 2011):
  L at p + kδv, k = 0..m, and the k-th differences of those values, whose mean square is
  γ_k⁻¹ε² for noise of standard deviation ε. It is an *estimate*: it assumes the rounding
  noise of L behaves like a random variable along the line, which it is not, exactly. It
  is made conservative three ways: the largest level of the three consecutive difference
  orders ECnoise accepts (not the first), times ``tolerances.SAFETY`` in the final bound,
  and never below the black-box rounding count the carry finite difference uses
  ((T + 1)·8u per coordinate of the state). The backward's noise is measured the same
  way, on the directional derivative ⟨∇L(p + kδv), w⟩. When ECnoise finds no noise level
  ("h too small": half the first differences are 0; "h too large": the values vary by
  more than 10% or no three orders agree), the example is not checked and says why.

The truncation is computed on the declared model in layout mode, estimated by Richardson in
black-box mode: lstm_props.maths.truncation.
"""

from __future__ import annotations

from collections.abc import Callable
from math import factorial

import numpy as np

from lstm_props.maths import carry, step_vjp
from lstm_props.maths import tolerances as tol
from lstm_props.maths.abs_jacobian import OracleAbsBound
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.variants import as_variant

#: Evaluations for ECnoise (m + 1 with m = 7 difference orders, Moré & Wild's default).
NOISE_POINTS = 8
#: ECnoise's spacing δ relative to the difference step η: small enough that the smooth
#: part's k-th differences (∝ δ^k) drop below the noise from k = 2 or 3 on.
NOISE_SPACING = 1e-2
#: Roundings per step and state coordinate that black-box mode never estimates below (the
#: carry finite difference's count, properties/test_backward_finite_differences.py).
BLACK_BOX_ROUNDINGS = 8


def step(dtype: str) -> float:
    """η = u^{1/3}: balances the rounding term ε/η against the truncation term ∝ η²."""
    return tol.unit_roundoff(dtype) ** (1 / 3)


def ecnoise(values: np.ndarray) -> tuple[float | None, str]:
    """(ε, "") with ε the noise level of equally spaced values of a function, or (None, why).

    ECnoise (Moré & Wild 2011, Algorithm 2.1): level_k = (γ_k mean((Δ^k f)²))^{1/2},
    γ_k = (k!)²/(2k)!; the noise is found at the first order k whose differences change
    sign and whose levels k, k+1, k+2 agree within a factor 4. Returned: the largest of
    those three levels (the conservative choice).
    """
    f = np.asarray(values, dtype=np.float64)
    n = len(f)
    top = float(np.abs(f).max())
    if top == 0.0 or (f.max() - f.min()) / top > 0.1:
        return None, "h too large: the values vary by more than 10%"
    levels, changes = [], []
    for k in range(1, n):
        f = np.diff(f)
        if k == 1 and int((f == 0).sum()) >= n / 2:
            return None, "h too small: half the first differences are 0"
        gamma = factorial(k) ** 2 / factorial(2 * k)
        levels.append(float(np.sqrt(gamma * np.mean(f**2))))
        changes.append(bool(f.min() * f.max() < 0))
    for k in range(n - 3):
        window = levels[k : k + 3]
        if max(window) <= 4 * min(window) and changes[k]:
            return max(window), ""
    return None, "h too large: no three difference orders agree on a noise level"


def measured_noise(fn: Callable[[int], float]) -> tuple[float | None, str]:
    """ECnoise on fn(0), ..., fn(NOISE_POINTS − 1), fn(k) the function at p + kδv."""
    return ecnoise(np.array([fn(k) for k in range(NOISE_POINTS)]))


def forward_error(
    params: LSTMParams, traj: carry.Trajectory, variant: str, dtype: str
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(E_h, E_c, ρ): bounds on the error of h_T and c_T of T free-running steps computed in
    ``dtype`` (each step's bound from tol.step_error, its inputs off by the previous step's
    bound), and the per-step bound ρ_t on every gate-derivative weight of the step's
    Jacobian (tol.jacobian_factor_error), which the backward builds from those values; NaN
    for a layer-norm step (:func:`backward_error` bounds its backward another way)."""
    e_h: np.ndarray | float = 0.0
    e_c: np.ndarray | float = 0.0
    rho = []
    for t in range(traj.steps):
        err = tol.step_error(
            params, traj.gate_xs[t], traj.hs[t], traj.cs[t], variant, dtype, dh_in=e_h, dc_in=e_c
        )
        if err.normalized:
            rho.append(float("nan"))
        else:
            factor = tol.jacobian_factor_error(err, traj.cs[t], traj.cs[t + 1], dtype)
            rho.append(float(factor.max()))
        e_h, e_c = err.dh, err.dc
    return np.asarray(e_h), np.asarray(e_c), rho


def _abs_chain(
    params: LSTMParams,
    variant: str,
    traj: carry.Trajectory,
    u_h: np.ndarray,
    u_c: np.ndarray,
    w_h: np.ndarray,
    w_x: np.ndarray,
    slack: list[float],
) -> float:
    """|ū|ᵀ∏M_t |w| over h_0 and every x_t, M_t ≥ |J_t| with weights raised by slack[t]."""
    p = u_h.shape[1]
    adj = carry.pack(np.abs(u_h), np.abs(u_c))
    total = 0.0
    for t in range(traj.steps, 0, -1):
        op = OracleAbsBound(
            [params],
            variant,
            traj.gate_xs[t - 1],
            traj.hs[t - 1],
            traj.cs[t - 1],
            traj.hs[t],
            slack=slack[t - 1],
        )
        adj, to_x = op.rmatvec_with_input(adj)
        total += float((to_x * np.abs(w_x[t - 1])).sum())
    to_h = adj.reshape(u_h.shape[0], -1)[:, :p]
    return total + float((to_h * np.abs(w_h)).sum())


def backward_error(
    params: LSTMParams,
    variant: str,
    traj: carry.Trajectory,
    rho: list[float],
    u_h: np.ndarray,
    u_c: np.ndarray,
    w_h: np.ndarray,
    w_x: np.ndarray,
    dtype: str,
) -> float:
    """Bound on |⟨∇L, w⟩ computed by the backward − exact| for L = ū_hᵀh_T + ū_cᵀc_T, w over
    (h_0, x_1..x_T): (A_ρ − A) + (T + 1)γ_n A with A = |ū|ᵀ∏M_t|w| (the absolute chain,
    abs_jacobian.OracleAbsBound) and A_ρ the same with every gate-derivative weight raised
    by its bound ρ_t (first order in the forward's error), n = 4H + P + D. With a layer
    norm: Σ_t E_x,t|w_x,t| + E_h0|w_h|, the errors of step_vjp.chain_vjp_error."""
    if as_variant(variant).layer_norm:
        e_h, _, e_x = step_vjp.chain_vjp_error([params], variant, traj, u_h, u_c, dtype)
        return float((e_x * np.abs(w_x)).sum() + (e_h * np.abs(w_h)).sum())
    exact = _abs_chain(params, variant, traj, u_h, u_c, w_h, w_x, [0.0] * traj.steps)
    perturbed = _abs_chain(params, variant, traj, u_h, u_c, w_h, w_x, rho)
    n = 4 * params.hidden_size + params.output_size + params.input_size
    return (perturbed - exact) + (traj.steps + 1) * tol.gamma(n, dtype) * exact


def black_box_floor(
    steps: int, u_h: np.ndarray, u_c: np.ndarray, h_t: np.ndarray, c_t: np.ndarray, dtype: str
) -> float:
    """The least noise black-box mode assumes for L = ū_hᵀh_T + ū_cᵀc_T: (T + 1)·8u per
    coordinate, relative to |state| + 1, as the carry finite difference counts it."""
    count = (steps + 1) * BLACK_BOX_ROUNDINGS * tol.unit_roundoff(dtype)
    return count * float(
        (np.abs(u_h) * (np.abs(h_t) + 1)).sum() + (np.abs(u_c) * (np.abs(c_t) + 1)).sum()
    )


__all__ = [
    "BLACK_BOX_ROUNDINGS",
    "NOISE_POINTS",
    "NOISE_SPACING",
    "backward_error",
    "black_box_floor",
    "ecnoise",
    "forward_error",
    "measured_noise",
    "step",
]
