"""A fused sequence call equals the composition of its single steps."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_props.maths import carry, step_vjp
from lstm_props.maths import tolerances as tol
from lstm_props.maths.abs_jacobian import chain_gradient_bound
from lstm_props.maths.variants import as_variant
from lstm_props.testing import check_close, composed_steps, lstm_property


@lstm_property(
    "autograd",
    "sequence",
    "unidirectional",
    stack=True,
    relies_on=("forward_and_backward_are_deterministic",),
)
def test_fused_sequence_equals_composed_steps(lstm):
    """sequence(x_{1..T}, h_0, c_0) = step ∘ ··· ∘ step, in y_t, h_T, c_T and in the
    gradients ∂(ū_hᵀh_T + ū_cᵀc_T)/∂(h_0, c_0).

    Derivative: the fused call's backward against the backward through T single-step calls.
    Tolerance: values 2E_t with E_t = |J_t|E_{t−1} + e_t (per-step local bounds e_t of
    tolerances.step_error, propagated by the step Jacobians J_t); gradients by
    tolerances.chain_gradient_bound with per-entry Jacobian errors ρ_t(1 + w̄)^L; with a
    layer norm, 2·SAFETY times lstm_props.maths.step_vjp.jacobian_chain_error, each step's
    backward error bound at states within the value bound of the composed ones.
    Failure: the fused kernel differs from its own step (reverse outputs not flipped back,
    a deeper layer started from layer 0's state, batch_first transposed, h_{t−1}
    overwritten while still read, a fused backward that drops a term).
    """

    @lstm.given(lstm.cases(layer="stack", max_steps=5))
    def prop(case):
        if case.extra.get("layer_params") is None:
            pytest.skip(f"{lstm.target.name}: the tolerance model needs the layers' layout")
        cell, be = case.cell, case.cell.backend
        steps, b = case.xs.shape[:2]
        ys, h_t, c_t = cell.sequence(be.asarray(case.xs), be.asarray(case.h0), be.asarray(case.c0))
        layers = case.extra["layer_params"]
        composed = composed_steps(cell, layers, case.xs, case.h0, case.c0, lstm.variant)
        traj = composed.traj
        p, hid = case.h0.shape[1], case.c0.shape[1]
        top = layers[-1].output_size
        for t in range(1, steps + 1):
            check_close(
                be.to_numpy(ys[t - 1]),
                traj.hs[t][:, -top:],
                composed.h_bound(t)[:, p - top :],
                claim="fused y_t ≠ composed steps",
                case=case,
                axes=("step", "batch row", "unit"),
                offset=(t,),
            )
        check_close(
            be.to_numpy(c_t),
            traj.cs[-1],
            composed.c_bound(steps),
            claim="fused c_T ≠ composed steps",
            case=case,
        )
        check_close(
            be.to_numpy(h_t),
            traj.hs[-1],
            composed.h_bound(steps),
            claim="fused h_T ≠ composed steps",
            case=case,
            axes=("batch row", "unit"),
        )

        u_h = be.rounded(carry.probe(case.h0, 81, case.xs))
        u_c = be.rounded(carry.probe(case.c0, 82, case.xs))
        fused = be.vjp(
            lambda h0, c0: cell.sequence(be.asarray(case.xs), h0, c0)[1:],
            (case.h0, case.c0),
            (u_h, u_c),
        )
        stepped = be.vjp(
            lambda h0, c0: carry.rollout(cell, case.xs, h0, c0)[1:], (case.h0, case.c0), (u_h, u_c)
        )
        if as_variant(lstm.variant).layer_norm:  # J_LN factors: no entry error ρ_t
            moved = composed.bounds / tol.SAFETY  # the fused call's states: within 2E_t
            chain = step_vjp.jacobian_chain_error(
                layers, lstm.variant, traj, composed.jacs, u_h, u_c, case.dtype, moved
            )
            bound = 2 * tol.SAFETY * chain
        else:
            w_bar = max(float(q.abs_row_sums().max()) for q in layers)
            errors = [rho * (1 + w_bar) ** len(layers) for rho in composed.factors]
            bound = (
                2
                * tol.SAFETY
                * chain_gradient_bound(
                    np.abs(carry.pack(u_h, u_c)),
                    composed.jacs,
                    errors,
                    4 * (p + hid) + 2,
                    case.dtype,
                )
            )
        bound = bound.reshape(b, p + hid) + tol.SMALLEST_NORMAL[case.dtype]
        check_close(
            fused[1], stepped[1], bound[:, p:], claim="fused ∂/∂c_0 ≠ composed steps", case=case
        )
        check_close(
            fused[0],
            stepped[0],
            bound[:, :p],
            claim="fused ∂/∂h_0 ≠ composed steps",
            case=case,
            axes=("batch row", "unit"),
        )

    prop()
