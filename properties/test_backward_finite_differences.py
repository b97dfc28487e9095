"""The implementation's own backward against central finite differences, in float64."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from lstm_props import carry
from lstm_props import tolerances as tol
from lstm_props._report import check_close


def _forward_error(case, traj, params, variant):
    """Bound on the error of c_T evaluated along the teacher-forced chain (float64)."""
    if params is None:  # black-box: |f| ≤ 1, |i g| ≤ 1 per step, a few roundings each
        return (traj.steps + 1) * 8 * tol.unit_roundoff("float64") * (np.abs(traj.cs).max(0) + 1)
    dc = 0.0
    for t in range(traj.steps):
        dc = tol.step_error(params, traj.gate_xs[t], traj.hs[t], traj.cs[t], variant,
                            "float64", dc_in=dc).dc
    return dc


def test_carry_backward_matches_finite_differences(lstm):
    """ūᵀ (∂c_T/∂c_0 |carry) v from the backward = (ūᵀc_T(c_0 + ηv) − ūᵀc_T(c_0 − ηv))/2η.

    Derivative: the implementation's backward through the teacher-forced T-step carry chain,
    run in float64 (the target converted with its astype capability).
    Tolerance: rounding |ū|ᵀE_T/η (E_T the forward error bound of c_T, η = u^{1/3}·(1+|c_0|))
    plus the truncation error estimated by Richardson, |D(η) − D(2η)|/3, plus the backward's
    own (T+1)γ rounding.
    Failure: a custom backward kernel that is wrong (f² instead of f, the gradient of c
    dropped, a carry detached from the graph).
    """
    lstm.require(autograd=True)
    if lstm.view().astype("float64") is None:
        import pytest

        pytest.skip(f"{lstm.target.name} cannot run in float64 (no astype capability)")

    @given(lstm.cases(max_steps=5))
    def prop(case):
        cell = case.cell
        wide = type(cell)(cell.inner.astype("float64"), cell.target_name)
        be = wide.backend
        traj = carry.record(wide, case.xs, case.h0, case.c0)
        u = carry.probe(case.c0, 71, case.xs)
        v = carry.probe(case.c0, 72, case.xs)
        (grad,) = be.vjp(lambda c0: (carry.teacher_forced_c(wide, traj, c0),), (case.c0,), (u,))
        got = float((grad * v).sum())
        eta = tol.unit_roundoff("float64") ** (1 / 3) * (1 + np.abs(case.c0).max())

        def fd(step):
            plus = be.to_numpy(carry.teacher_forced_c(wide, traj, be.asarray(case.c0 + step * v)))
            minus = be.to_numpy(carry.teacher_forced_c(wide, traj,
                                                       be.asarray(case.c0 - step * v)))
            return float((u * (plus - minus)).sum() / (2 * step))

        d1, d2 = fd(eta), fd(2 * eta)
        err = _forward_error(case, traj, case.params, lstm.variant)
        rounding = float((np.abs(u) * err).sum()) / eta
        truncation = abs(d1 - d2) / 3
        backward = (traj.steps + 1) * tol.gamma(4, "float64") * float(
            (np.abs(grad) * np.abs(v)).sum() + (np.abs(u) * np.abs(v)).sum())
        bound = tol.SAFETY * (rounding + truncation + backward)
        check_close(np.array([got]), np.array([d1]), bound,
                    claim="backward ūᵀJv ≠ central finite difference", case=case,
                    axes=("probe",))

    prop()
