"""The implementation's own backward against central finite differences: in float64 through
the target's float64 twin, or in the target's own precision when it has none."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from lstm_props import carry
from lstm_props import tolerances as tol
from lstm_props._report import check_close

#: Black-box mode's count of roundings per step in c' and in each gate (|f| ≤ 1, |i g| ≤ 1).
BLACK_BOX_ROUNDINGS = 8


def _forward_errors(traj, params, variant, dtype):
    """(E_T, G_T): a bound on the error of c_T evaluated along the teacher-forced chain in
    ``dtype``, and on the error of the backward's one-step carry derivatives summed over the
    steps (each is built from gate values, and with peepholes their slopes times p and c,
    each off by at most its step_error δ; every factor is at most 1 in size)."""
    u = tol.unit_roundoff(dtype)
    if params is None:  # black-box: a few roundings per step
        steps = traj.steps + 1
        return (steps * BLACK_BOX_ROUNDINGS * u * (np.abs(traj.cs).max(0) + 1),
                steps * BLACK_BOX_ROUNDINGS * u)
    dc, gates = 0.0, 0.0
    peep = 0.0 if params.peephole is None else float(np.abs(params.peephole).max())
    for t in range(traj.steps):
        err = tol.step_error(params, traj.gate_xs[t], traj.hs[t], traj.cs[t], variant, dtype,
                             dc_in=dc)
        dc = err.dc
        slopes = float((err.df + err.di + err.dg).max())
        gates += slopes * (1 + peep * (1 + float(np.abs(traj.cs[t]).max())))
    return dc, gates


def test_carry_backward_matches_finite_differences(lstm):
    """ūᵀ (∂c_T/∂c_0 |carry) w from the backward = (ūᵀc_T(c_0⁺) − ūᵀc_T(c_0⁻))/2η, with
    c_0^± = fl(c_0 ± ηv) and w = (c_0⁺ − c_0⁻)/2η (v itself, up to that rounding).

    Derivative: the implementation's backward through the teacher-forced T-step carry chain,
    run in float64 (the target converted with its astype capability), or, for a target
    without a float64 twin (ONNX Runtime, a quantized or float32-only kernel), in its own
    precision, so that its backward is still checked.
    Tolerance: rounding |ū|ᵀE_T/η (E_T the forward error bound of c_T in the precision the
    chain runs in, η = u^{1/3}·(1+|c_0|) with u that precision's unit roundoff), plus the
    truncation error estimated by Richardson, |D(η) − D(2η)|/3, plus the backward's own
    (T+1)γ_4 rounding and its gates' forward errors G_T·|ū|ᵀ|w|.
    Failure: a custom backward kernel that is wrong (f² instead of f, the gradient of c
    dropped, a carry detached from the graph).
    """
    lstm.require(autograd=True)
    has_twin = lstm.view().astype("float64") is not None

    @given(lstm.cases(max_steps=5))
    def prop(case):
        cell = case.cell
        wide = type(cell)(cell.inner.astype("float64"), cell.target_name) if has_twin else cell
        be = wide.backend
        dtype = be.dtype
        traj = carry.record(wide, case.xs, case.h0, case.c0)
        u = carry.probe(case.c0, 71, case.xs)
        v = carry.probe(case.c0, 72, case.xs)
        (grad,) = be.vjp(lambda c0: (carry.teacher_forced_c(wide, traj, c0),), (case.c0,), (u,))
        eta = tol.unit_roundoff(dtype) ** (1 / 3) * (1 + np.abs(case.c0).max())

        def fd(step):
            """(the central difference, the direction it was taken along)"""
            plus, minus = (np.asarray(case.c0 + s * step * v, dtype=be.np_dtype)
                           .astype(np.float64) for s in (1, -1))
            c_plus, c_minus = (be.to_numpy(carry.teacher_forced_c(wide, traj, be.asarray(a)))
                               for a in (plus, minus))
            return float((u * (c_plus - c_minus)).sum() / (2 * step)), (plus - minus) / (2 * step)

        (d1, w), (d2, _) = fd(eta), fd(2 * eta)
        got = float((grad * w).sum())
        err, gates = _forward_errors(traj, case.params, lstm.variant, dtype)
        rounding = float((np.abs(u) * err).sum()) / eta
        truncation = abs(d1 - d2) / 3
        uw = float((np.abs(u) * np.abs(w)).sum())
        backward = (traj.steps + 1) * tol.gamma(4, dtype) * (
            float((np.abs(grad) * np.abs(w)).sum()) + uw) + gates * uw
        bound = tol.SAFETY * (rounding + truncation + backward)
        check_close(np.array([got]), np.array([d1]), bound,
                    claim="backward ūᵀJv ≠ central finite difference", case=case,
                    axes=("probe",))

    prop()
