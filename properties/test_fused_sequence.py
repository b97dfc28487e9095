"""A fused sequence call equals the composition of its single steps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from lstm_props import carry
from lstm_props import tolerances as tol
from lstm_props._report import check_close


def _local_errors(case, traj, dh_prev, dc_prev):
    """Per-step local error bounds of the whole stack, layer by layer, as flat state vectors.

    Layer l reads layer l−1's fresh output (its error dx) and its own previous state, whose
    error (dh_prev, dc_prev) is the propagated difference so far. Returns (flat e_t, ρ_t).
    """
    layers = case.extra["layer_params"]
    dtype, variant = case.dtype, "standard"
    b = case.xs.shape[1]
    out_h, out_c, factor = [], [], 0.0
    p_w, h_w = layers[0].output_size, layers[0].hidden_size
    t = traj["t"]
    x, dx = case.xs[t], 0.0
    for k, params in enumerate(layers):
        hs, cs = traj["hs"], traj["cs"]
        h = hs[t][:, k * p_w:(k + 1) * p_w]
        c = cs[t][:, k * h_w:(k + 1) * h_w]
        err = tol.step_error(params, x, h, c, variant, dtype, dx=dx,
                             dh_in=dh_prev[:, k * p_w:(k + 1) * p_w],
                             dc_in=dc_prev[:, k * h_w:(k + 1) * h_w])
        c_new = cs[t + 1][:, k * h_w:(k + 1) * h_w]
        factor = max(factor, float(tol.jacobian_factor_error(err, c, c_new, dtype).max()))
        out_h.append(err.dh)
        out_c.append(err.dc)
        x, dx = hs[t + 1][:, k * p_w:(k + 1) * p_w], err.dh
    e = np.concatenate([np.concatenate(out_h, 1), np.concatenate(out_c, 1)], 1)
    return e.reshape(b, -1), factor


@pytest.mark.lstm_stack
def test_fused_sequence_equals_composed_steps(lstm):
    """sequence(x_{1..T}, h_0, c_0) = step ∘ ··· ∘ step, in y_t, h_T, c_T and in the
    gradients ∂(ū_hᵀh_T + ū_cᵀc_T)/∂(h_0, c_0).

    Derivative: the fused call's backward against the backward through T single-step calls.
    Tolerance: values 2E_t with E_t = |J_t|E_{t−1} + e_t (per-step local bounds e_t of
    tolerances.step_error, propagated by the step Jacobians J_t); gradients by
    tolerances.chain_gradient_bound with per-entry Jacobian errors ρ_t(1 + w̄)^L.
    Failure: the fused kernel differs from its own step (reverse outputs not flipped back,
    a deeper layer started from layer 0's state, batch_first transposed, h_{t−1}
    overwritten while still read, a fused backward that drops a term).
    """
    lstm.require(autograd=True, sequence=True)

    @given(lstm.cases(layer="stack", max_steps=5))
    def prop(case):
        if case.extra.get("layer_params") is None:
            pytest.skip(f"{lstm.target.name}: the tolerance model needs the layers' layout")
        cell, be = case.cell, case.cell.backend
        steps, b = case.xs.shape[:2]
        ys, h_t, c_t = cell.sequence(be.asarray(case.xs), be.asarray(case.h0),
                                     be.asarray(case.c0))
        traj = carry.record(cell, case.xs, case.h0, case.c0)
        p, hid = case.h0.shape[1], case.c0.shape[1]
        jacs, local, factors = [], [], []
        e_prev = np.zeros((b, p + hid))
        for t in range(steps):
            jacs.append(np.abs(carry.state_jacobian(cell, traj.xs[t], traj.hs[t], traj.cs[t])))
            loc, rho = _local_errors(case, {"t": t, "hs": traj.hs, "cs": traj.cs},
                                     2 * e_prev[:, :p], 2 * e_prev[:, p:])
            e_prev = (jacs[-1] @ e_prev.reshape(-1) + loc.reshape(-1)).reshape(b, p + hid)
            local.append(e_prev.copy())
            factors.append(rho)
        top = case.extra["layer_params"][-1].output_size
        for t in range(steps):
            bound = tol.SAFETY * 2 * local[t]
            check_close(be.to_numpy(ys[t]), traj.hs[t + 1][:, -top:], bound[:, p - top:p],
                        claim="fused y_t ≠ composed steps", case=case,
                        axes=("step", "batch row", "unit"), offset=(t + 1,))
        check_close(be.to_numpy(c_t), traj.cs[-1], tol.SAFETY * 2 * local[-1][:, p:],
                    claim="fused c_T ≠ composed steps", case=case)
        check_close(be.to_numpy(h_t), traj.hs[-1], tol.SAFETY * 2 * local[-1][:, :p],
                    claim="fused h_T ≠ composed steps", case=case, axes=("batch row", "unit"))

        u_h = np.asarray(carry.probe(case.h0, 81, case.xs), dtype=be.np_dtype).astype(float)
        u_c = np.asarray(carry.probe(case.c0, 82, case.xs), dtype=be.np_dtype).astype(float)
        fused = be.vjp(lambda h0, c0: cell.sequence(be.asarray(case.xs), h0, c0)[1:],
                       (case.h0, case.c0), (u_h, u_c))
        stepped = be.vjp(lambda h0, c0: carry.rollout(cell, case.xs, h0, c0)[1:],
                         (case.h0, case.c0), (u_h, u_c))
        layers = case.extra["layer_params"]
        w_bar = max(float((np.abs(q.w_ih).sum(1) + np.abs(q.w_hh).sum(1)).max()) for q in layers)
        n = b * (p + hid)
        errors = [rho * (1 + w_bar) ** len(layers) * np.ones((n, n)) for rho in factors]
        bound = 2 * tol.SAFETY * tol.chain_gradient_bound(
            np.abs(carry.pack(u_h, u_c)), jacs, errors, 4 * (p + hid) + 2, case.dtype)
        bound = bound.reshape(b, p + hid) + tol.SMALLEST_NORMAL[case.dtype]
        check_close(fused[1], stepped[1], bound[:, p:], claim="fused ∂/∂c_0 ≠ composed steps",
                    case=case)
        check_close(fused[0], stepped[0], bound[:, :p], claim="fused ∂/∂h_0 ≠ composed steps",
                    case=case, axes=("batch row", "unit"))

    prop()
