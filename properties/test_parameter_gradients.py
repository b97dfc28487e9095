"""Parameter gradients against central finite differences: in float64 through the target's
float64 twin, or in the target's own precision when it has none."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from lstm_props.maths import carry, kinks
from lstm_props.maths import own_precision as own
from lstm_props.maths import tolerances as tol
from lstm_props.maths import truncation as trunc
from lstm_props.maths.layout import ARRAYS
from lstm_props.testing import (
    LSTMParams,
    check_close,
    check_one_sided_where_clamps_change,
    composed_steps,
    lstm_property,
)

#: every array of the layout: weights, biases, projection, peepholes, layer-norm gains
FIELDS = ARRAYS


def _combine(p: LSTMParams, v: LSTMParams, step: float) -> LSTMParams:
    """θ + step·V, field by field, without a temporary of a weight's size."""
    moved: dict[str, Any] = dict.fromkeys(FIELDS)
    for k in FIELDS:
        if getattr(p, k) is not None:
            moved[k] = step * getattr(v, k)
            moved[k] += getattr(p, k)
    return dataclasses.replace(p, **moved)


def _fields(p: LSTMParams, value: Any) -> LSTMParams:
    """``p`` with every parameter field k present replaced by value(k)."""
    present: dict[str, Any] = {k: None if getattr(p, k) is None else value(k) for k in FIELDS}
    return dataclasses.replace(p, **present)


#: Rows of a weight summed at a time: |x| ⊙ |y| of a whole (4H, D + H) weight is 1 GB per
#: temporary in float64 at H = 4096, three of them at once.
_ROWS = 256


def _dot(a: LSTMParams, b: LSTMParams, absolute: bool = False) -> float:
    """Σ_k ⟨a_k, b_k⟩ over the parameter fields (Σ |a_k| ⊙ |b_k| if absolute), in row blocks."""
    total = 0.0
    for k in FIELDS:
        x, y = getattr(a, k), getattr(b, k)
        if x is None or y is None:
            continue
        x, y = np.atleast_2d(x), np.atleast_2d(y)
        for r in range(0, x.shape[0], _ROWS):
            xr, yr = x[r : r + _ROWS], y[r : r + _ROWS]
            total += float((np.abs(xr) * np.abs(yr)).sum() if absolute else np.vdot(xr, yr))
    return total


def _largest(p: LSTMParams) -> float:
    """max |θ| over every parameter, without an |θ| copy of each."""
    fields = [getattr(p, k) for k in FIELDS if getattr(p, k) is not None]
    return max(max(float(a.max()), -float(a.min())) for a in fields)


def _backward_rounding(case, grads: LSTMParams, direction: LSTMParams, dtype: str) -> float:
    """(T + 1)γ_n Σ|∂L/∂θ||direction|: the backward's own rounding over T steps, each
    parameter gradient a sum of n = 4(P + H) + D products a step."""
    n = 4 * (case.h0.shape[1] + case.c0.shape[1]) + case.xs.shape[2]
    steps = case.xs.shape[0]
    return (steps + 1) * tol.gamma(n, dtype) * _dot(grads, direction, absolute=True)


def _declared_truncation(lstm, case, traj, u_h, u_c, theta, plus, minus, step) -> float:
    """τ of the central difference between the parameter points ``plus`` and ``minus`` on
    the declared model (lstm_props.maths.truncation.declared): the reference cell in
    float64 from (h_0, c_0) over the recorded gate inputs (a deeper layer's do not depend
    on its own parameters)."""
    names = [k for k in FIELDS if getattr(theta, k) is not None]

    def declared_loss(p):
        moved = dataclasses.replace(theta, **dict(zip(names, p)))
        states = trunc.reference_rollout(moved, lstm.variant, traj.gate_xs, case.h0, case.c0)
        return trunc.probed(u_h, u_c, *states)

    def arrays(point):
        return [getattr(point, k) for k in names]

    return trunc.declared(declared_loss, arrays(theta), arrays(plus), arrays(minus), step)


@lstm_property(
    "autograd",
    "writable",
    relies_on=("carry_backward_matches_finite_differences", "step_values_match_reference"),
)
def test_parameter_gradients_match_finite_differences(lstm):
    """⟨∂L/∂θ, V⟩ from the backward = (L(θ + ηV) − L(θ − ηV))/2η for
    L = ū_hᵀh_T + ū_cᵀc_T over T free-running steps and a random direction V in every
    parameter (W_ih, W_hh, b_ih, b_hh, and W_hr, peepholes, layer-norm gains where present).

    Derivative: the framework's parameter gradients (the adapter's parameter_vjp),
    accumulated over T steps, in float64 (the target converted with astype).
    Tolerance: rounding Σ|ū|E_T/η (E_T the composed-steps bound of lstm_props.maths.composed,
    η = u^{1/3}(1 + max|θ|)), plus the central difference's truncation τ = D(η) − ⟨∇L, V⟩
    computed on the declared model (the reference cell in float64 at the same points,
    lstm_props.maths.truncation.declared), plus the backward's own (T+1)γ_n Σ|∂L/∂θ||V|.
    Without a float64 twin (a float32-only kernel) the same check runs in the target's own
    precision with a per-element step: θ^± = fl(θ ± s W), W = (1 + |θ|) ⊙ V, s = u^{1/3},
    so every weight moves by about u^{1/3}(1 + |θ_k|) (a forget bias of 20 does not make
    a step of 0.08 for every other weight); compared: ⟨∂L/∂θ, w⟩ with w = (θ⁺ − θ⁻)/2s,
    the direction actually taken. Tolerance: SAFETY·(Σ|ū|E_T/s + τ at θ^± + (T+1)γ_n
    Σ|∂L/∂θ||w|), E_T the chained per-step bound of tol.step_error in the
    target's dtype (lstm_props.maths.own_precision.forward_error).
    Kink: where a declared clamp (cell clip, gate clip) changes side between the
    finite-difference points, the backward must match the one-sided difference of the side
    free of a change; both sides changing, the example is rejected (lstm_props.maths.kinks).
    Failure: a wrong gate delta in a custom backward, a weight gradient overwritten instead
    of accumulated across time steps, a bias gradient counted once for two biases. τ is the
    declared model's, so a forward that is not that model (a gate order read wrongly, a
    bias dropped) fails here too: step_values_match_reference, which this relies on, then
    names the root cause.
    """
    if lstm.view().astype("float64") is None:
        _own_precision(lstm)
        return

    @lstm.given(lstm.cases(max_steps=4))
    def prop(case):
        cell = case.cell
        wide = type(cell)(cell.inner.astype("float64"), cell.target_name)
        be = wide.backend
        u_h = carry.probe(case.h0, 101, case.xs)
        u_c = carry.probe(case.c0, 102, case.xs)

        def run():
            return carry.rollout(wide, case.xs, be.asarray(case.h0), be.asarray(case.c0))[1:]

        grads = wide.parameter_vjp(run, (u_h, u_c))
        if grads is None:
            pytest.skip(f"{lstm.target.name}: the adapter does not reach parameter gradients")
        theta = case.params
        v = _fields(theta, lambda k: carry.probe(getattr(theta, k), 103 + FIELDS.index(k), case.xs))
        got = _dot(grads, v)
        backward = _backward_rounding(case, grads, v, "float64")
        del grads  # a float64 copy of every weight: the finite differences need room for theirs
        eta = tol.unit_roundoff("float64") ** (1 / 3) * (1 + _largest(theta))

        def loss(step):
            return loss_at(_combine(theta, v, step))

        def loss_at(point):
            wide.write_layout(point)
            h_t, c_t = run()
            return float((u_h * be.to_numpy(h_t)).sum() + (u_c * be.to_numpy(c_t)).sum())

        plus, minus = _combine(theta, v, eta), _combine(theta, v, -eta)
        d1 = (loss_at(plus) - loss_at(minus)) / (2 * eta)
        wide.write_layout(theta)
        layers = [dataclasses.replace(theta)]
        composed = composed_steps(wide, layers, case.xs, case.h0, case.c0, lstm.variant)
        steps = case.xs.shape[0]
        err = float(
            (np.abs(u_h) * composed.h_bound(steps)).sum()
            + (np.abs(u_c) * composed.c_bound(steps)).sum()
        )
        truncation = _declared_truncation(
            lstm, case, composed.traj, u_h, u_c, theta, plus, minus, eta
        ) + trunc.reference_slack("float64") * (err / eta + backward)
        del plus, minus
        bound = tol.SAFETY * (err / eta + truncation + backward)
        settled = False
        if kinks.has_clamps(theta):

            def states_at(k):
                moved = _combine(theta, v, k * eta)
                wide.write_layout(moved)
                traj = carry.record(wide, case.xs, case.h0, case.c0)
                return kinks.clamp_states(moved, traj, lstm.variant, "float64")

            settled = check_one_sided_where_clamps_change(
                kinks.smooth_stencil(states_at),
                lambda _: got,
                loss,
                eta,
                err / eta,
                backward,
                derivative="parameter gradient",
                case=case,
            )
        wide.write_layout(theta)
        if settled:
            return
        check_close(
            np.array([got]),
            np.array([d1]),
            bound,
            claim="parameter gradient ⟨∂L/∂θ, V⟩ ≠ central finite difference",
            case=case,
            axes=("probe",),
        )

    prop()


def _own_precision(lstm):
    """The parameter-gradient check of a target without a float64 twin, in its own dtype."""

    @lstm.given(lstm.cases(max_steps=4))
    def prop(case):
        cell = case.cell
        be, dtype = cell.backend, cell.backend.dtype
        u_h = carry.probe(case.h0, 101, case.xs)
        u_c = carry.probe(case.c0, 102, case.xs)

        def run():
            return carry.rollout(cell, case.xs, be.asarray(case.h0), be.asarray(case.c0))[1:]

        grads = cell.parameter_vjp(run, (u_h, u_c))
        if grads is None:
            pytest.skip(f"{lstm.target.name}: the adapter does not reach parameter gradients")
        theta = case.params
        direction = _fields(
            theta,
            lambda k: (
                (1 + np.abs(getattr(theta, k)))
                * carry.probe(getattr(theta, k), 103 + FIELDS.index(k), case.xs)
            ),
        )

        def at(step):
            """fl(θ + step W), exactly what the cell holds once written"""
            return _combine(theta, direction, step).astype(be.array_dtype)

        def loss(step):
            cell.write_layout(at(step))
            h_t, c_t = run()
            return float((u_h * be.to_numpy(h_t)).sum() + (u_c * be.to_numpy(c_t)).sum())

        def fd(step):
            return (loss(step) - loss(-step)) / (2 * step)

        s = own.step(dtype)
        d1 = fd(s)
        cell.write_layout(theta)
        plus, minus = at(s), at(-s)
        w = _fields(theta, lambda k: (getattr(plus, k) - getattr(minus, k)) / (2 * s))
        got = _dot(grads, w)
        traj = carry.record(cell, case.xs, case.h0, case.c0)
        e_h, e_c, _ = own.forward_error(theta, traj, lstm.variant, dtype)
        err = float((np.abs(u_h) * e_h).sum() + (np.abs(u_c) * e_c).sum())
        backward = _backward_rounding(case, grads, w, dtype)
        truncation = _declared_truncation(
            lstm, case, traj, u_h, u_c, theta, plus, minus, s
        ) + trunc.reference_slack(dtype) * (err / s + backward)
        bound = tol.SAFETY * (err / s + truncation + backward)

        def along(side):
            """⟨∂L/∂θ, (fl(θ + side·s W) − θ)/(side·s)⟩: the direction one side took"""
            moved = at(side * s)
            return _dot(
                grads,
                _fields(theta, lambda k: (getattr(moved, k) - getattr(theta, k)) / (side * s)),
            )

        if kinks.has_clamps(theta):

            def states_at(k):
                moved = at(k * s)
                cell.write_layout(moved)
                traj = carry.record(cell, case.xs, case.h0, case.c0)
                return kinks.clamp_states(moved, traj, lstm.variant, dtype)

            settled = check_one_sided_where_clamps_change(
                kinks.smooth_stencil(states_at),
                along,
                loss,
                s,
                err / s,
                backward,
                derivative="parameter gradient",
                case=case,
            )
            cell.write_layout(theta)
            if settled:
                return
        check_close(
            np.array([got]),
            np.array([d1]),
            bound,
            claim="parameter gradient ⟨∂L/∂θ, w⟩ ≠ central finite difference (own precision)",
            case=case,
            axes=("probe",),
        )

    prop()
