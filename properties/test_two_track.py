"""Two tracks of gradient: the carry (diagonal) and the hidden path (crosses W_hh once).

One step maps s_{t-1} = (h_{t-1}, c_{t-1}) to s_t = (h_t, c_t). Its Jacobian has blocks

    ∂c_t/∂c_{t-1} = diag(f_t)                                   (the carry track)
    ∂c_t/∂h_{t-1} = diag(c_{t-1} σ'_f) W_hf + diag(g σ'_i) W_hi + diag(i tanh'_g) W_hg
    ∂h_t/∂c_{t-1} = W_hr diag(o_t tanh'(c_t) f_t),  ∂h_t/∂h_{t-1} = ... W_ho, W_h·

so the *total* BPTT derivative ∂c_T/∂c_0 = [∏_t J_t]_{cc} mixes both tracks and is not
diagonal. (The often-quoted one-step form diag(f_t) + (∂c_t/∂h_{t-1}) diag(o_{t-1} ⊙
tanh'(c_{t-1})) holds o_{t-1} fixed; the exact product must also carry o_{t-1}'s own
dependence on c_{t-2}, which the state Jacobian above does.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_props.maths import carry, step_vjp
from lstm_props.maths import tolerances as tol
from lstm_props.maths.abs_jacobian import abs_step_jacobian
from lstm_props.maths.reference import lstm_step
from lstm_props.maths.step_vjp import Cotangent
from lstm_props.maths.variants import as_variant
from lstm_props.testing import (
    assume_cell_clip_decided,
    check_close,
    composed_steps,
    lstm_property,
)


def _oracle_vjp(params, x, h, c, u_h, u_c, variant):
    """The reference step's VJP in float64 (autograd of the reference math, not the target)."""
    hh = torch.tensor(h, dtype=torch.float64, requires_grad=True)
    cc = torch.tensor(c, dtype=torch.float64, requires_grad=True)
    out = lstm_step(params, torch.tensor(x, dtype=torch.float64), hh, cc, variant, xp=torch)
    total = (out.h * torch.tensor(u_h)).sum() + (out.c * torch.tensor(u_c)).sum()
    grad_h, grad_c = torch.autograd.grad(total, (hh, cc), allow_unused=True)
    zero = np.zeros_like
    return (
        zero(h) if grad_h is None else grad_h.numpy(),
        zero(c) if grad_c is None else grad_c.numpy(),
    )


@lstm_property("autograd", "layout", relies_on=("carry_jacobian_diagonal_equals_forget_gate",))
def test_one_step_vjp_splits_into_carry_and_hidden_tracks(lstm):
    """ūᵀ∂s_t/∂s_{t-1} from the implementation equals the oracle's: the c-column is the
    carry track f ⊙ ū_c (+ the output path), the h-column crosses W_hh exactly once; with
    a layer norm, the norms' VJPs v̄ = r(w − mean(w) − x̂ mean(w ⊙ x̂)), w = γ ⊙ ȳ, sit
    between (J_LN of the cell's norm, and of N(W_hh h) before W_hh).

    Derivative: the implementation's backward w.r.t. (h_{t-1}, c_{t-1}), random cotangents
    on (h_t, c_t); the oracle's: autograd of the float64 reference step.
    Tolerance: without a layer norm, every gate-derivative weight is off by at most the
    bound of tolerances.jacobian_factor_error, summed through |W_hh| (and |W_hr|), plus γ
    rounding. With one (layer_norm, layer_norm_cell), SAFETY times
    lstm_props.maths.step_vjp.step_vjp_error: every cotangent of the backward carried with
    its error bound, from the gate values, x̂ and r it is evaluated at (each within its
    tolerances.step_error bound) and its own rounding (the norms' two n-term means:
    γ_{n+10}); where a norm's σ² + ε is lost in rounding the row has no claim.
    Failure: a wrong gate delta in the backward (the gradient of h ignored, f² used,
    dc overwritten instead of accumulated, the wrong W_hh slice), or a wrong layer-norm
    backward (the −x̂ mean(w ⊙ x̂) term dropped, the wrong r).
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        p, dtype = case.params, case.dtype
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        assume_cell_clip_decided(case, traj, lstm.variant)
        for t in range(traj.steps):
            x, h, c = traj.gate_xs[t], traj.hs[t], traj.cs[t]
            u_h = case.cell.backend.rounded(carry.probe(h, 41 + t, case.xs))
            u_c = case.cell.backend.rounded(carry.probe(c, 51 + t, case.xs))
            got_h, got_c = carry.step_vjp(case.cell, traj.xs[t], h, c, u_h, u_c)
            want_h, want_c = _oracle_vjp(p, x, h, c, u_h, u_c, lstm.variant)
            if as_variant(lstm.variant).layer_norm:
                bar_h, bar_c, _ = step_vjp.step_vjp_error(
                    p, x, h, c, lstm.variant, dtype, Cotangent.exact(u_h), Cotangent.exact(u_c)
                )
                bound_h, bound_c = tol.SAFETY * bar_h.err, tol.SAFETY * bar_c.err
            else:
                bound_h, bound_c = _gate_factor_bounds(p, x, h, c, u_h, u_c, lstm.variant, dtype)
            check_close(
                got_c,
                want_c,
                bound_c,
                claim="∂/∂c_{t-1} (carry track) ≠ oracle",
                case=case,
                axes=("step", "batch row", "coordinate"),
                offset=(t + 1,),
            )
            check_close(
                got_h,
                want_h,
                bound_h,
                claim="∂/∂h_{t-1} (hidden track) ≠ oracle",
                case=case,
                axes=("step", "batch row", "unit"),
                offset=(t + 1,),
            )

    prop()


def _gate_factor_bounds(p, x, h, c, u_h, u_c, variant, dtype):
    """(bound on h̄, bound on c̄) of a step without a layer norm, from the gate-derivative
    weights' error (tolerances.jacobian_factor_error)."""
    v = lstm_step(p, x, h, c, variant)
    err = tol.step_error(p, x, h, c, variant, dtype)
    factor = tol.jacobian_factor_error(err, c, v.c, dtype)
    weight = 2 + np.abs(c) + np.abs(v.c)
    u_eff = np.abs(u_c) + (np.abs(u_h) if p.w_hr is None else np.abs(u_h) @ np.abs(p.w_hr))
    peep = 1.0 if p.peephole is None else 1.0 + np.abs(p.peephole).sum(0)
    n = 4 * p.hidden_size + 2
    bound_c = tol.SAFETY * u_eff * peep * (factor + tol.gamma(n, dtype) * weight)
    gate_err = np.tile(u_eff * (factor + tol.gamma(n, dtype) * weight), 4)
    return tol.SAFETY * gate_err @ p.abs_w_hh, bound_c


def _chain_bound(u_abs, jacs, errors, n, dtype, width):
    """tolerances.chain_gradient_bound for |J_t| given as operators (rmatvec): each
    nonzero entry of J_t off by at most errors[t], which a row of the flat state meets
    only within its own batch row (J_t couples no batch rows)."""
    exact, perturbed = u_abs.copy(), u_abs.copy()
    for jac, g in zip(reversed(jacs), reversed(errors)):
        exact = jac.rmatvec(exact)
        per_row = perturbed.reshape(-1, width).sum(1, keepdims=True)
        perturbed = jac.rmatvec(perturbed) + np.broadcast_to(
            g * per_row, (per_row.shape[0], width)
        ).reshape(-1)
    return (perturbed - exact) + (len(jacs) + 1) * tol.gamma(n, dtype) * exact


@lstm_property("autograd", relies_on=("forward_and_backward_are_deterministic",))
def test_bptt_equals_product_of_step_jacobians(lstm):
    """ūᵀ ∂s_T/∂s_0 from one backward through T free-running steps = ūᵀ J_T ··· J_1, applied
    one step at a time: ā_{t-1} = ā_t J_t with J_t = ∂s_t/∂s_{t-1} at the recorded states.

    Derivative: BPTT through the implementation (h fed back, not teacher-forced) against the
    chain rule applied with its own one-step backwards, cotangents kept in the target dtype
    so both sides round alike.
    Tolerance: with the layout, the fused-sequence property's gradient model
    (tolerances.chain_gradient_bound): each side's one-step Jacobian entries carry their own
    error ρ_t(1 + w̄) (a backward recomputes σ', tanh' and the gate products its own way,
    e.g. XLA fuses the T-step program differently from one step), plus the reordered
    accumulation (T + 1)γ_n |ū|ᵀ∏|J_t|, n = 4(P + H) + 2, with |J_t| the one-step
    Jacobians' magnitudes (at large sizes the oracle's entrywise bound on them,
    lstm_props.maths.abs_jacobian). With a layer norm (J_LN factors, no entry error ρ_t):
    2·SAFETY times lstm_props.maths.step_vjp.jacobian_chain_error, each side's error
    carried back step by step, E_{t−1} = E_t|J_t| + e_t(ā_t), e_t(ā_t) step t's own VJP
    error at the exact cotangent ā_t = ūᵀJ_T···J_{t+1} as the one-step property bounds it
    (rounding included). Black-box: the reordering term alone
    (no ρ_t without weights).
    Failure: the backward of a step depends on what other calls did (buffers clobbered by
    a later step, state cached between calls), so BPTT is not the chain rule.
    """

    @lstm.given(lstm.cases(max_steps=4))
    def prop(case):
        cell, be, dtype = case.cell, case.cell.backend, case.dtype
        traj = carry.record(cell, case.xs, case.h0, case.c0)
        u_h = be.rounded(carry.probe(case.h0, 61, case.xs))
        u_c = be.rounded(carry.probe(case.c0, 62, case.xs))

        def run(h0, c0):
            _, h, c = carry.rollout(cell, case.xs, h0, c0)
            return h, c

        got_h, got_c = be.vjp(run, (case.h0, case.c0), (u_h, u_c))
        want_h, want_c = u_h, u_c
        for t in range(traj.steps - 1, -1, -1):
            want_h, want_c = carry.step_vjp(
                cell, traj.xs[t], traj.hs[t], traj.cs[t], want_h, want_c
            )
        p, hid = case.h0.shape[1], case.c0.shape[1]
        n = 4 * (p + hid) + 2
        if case.params is not None and as_variant(lstm.variant).layer_norm:
            layers = [case.params]
            jacs = [
                abs_step_jacobian(cell, layers, lstm.variant, traj, t) for t in range(traj.steps)
            ]
            bound = (
                2
                * tol.SAFETY
                * step_vjp.jacobian_chain_error(layers, lstm.variant, traj, jacs, u_h, u_c, dtype)
            )
        elif case.params is None:  # the reordering term alone
            mag = np.abs(carry.pack(u_h, u_c))
            for t in range(traj.steps - 1, -1, -1):
                jac = abs_step_jacobian(cell, None, lstm.variant, traj, t)
                if jac is None:
                    pytest.skip(
                        "black-box at B·(P+H) > DENSE_STATE_ROWS: the reordering bound "
                        "needs |J_t|, too large to materialise without the layout"
                    )
                mag = jac.rmatvec(mag)
            bound = tol.SAFETY * (traj.steps + 1) * tol.gamma(n, dtype) * mag
        else:
            composed = composed_steps(cell, [case.params], case.xs, case.h0, case.c0, lstm.variant)
            w_bar = float(case.params.abs_row_sums().max())
            bound = (
                2
                * tol.SAFETY
                * _chain_bound(
                    np.abs(carry.pack(u_h, u_c)),
                    composed.jacs,
                    [rho * (1 + w_bar) for rho in composed.factors],
                    n,
                    dtype,
                    p + hid,
                )
            )
        bound = bound.reshape(-1, p + hid) + tol.SMALLEST_NORMAL[dtype]
        check_close(
            got_c, want_c, bound[:, p:], claim="BPTT ∂/∂c_0 ≠ chain of step Jacobians", case=case
        )
        check_close(
            got_h,
            want_h,
            bound[:, :p],
            claim="BPTT ∂/∂h_0 ≠ chain of step Jacobians",
            case=case,
            axes=("batch row", "unit"),
        )

    prop()
