"""The implementation's own backward against central finite differences: in float64 through
the target's float64 twin, or in the target's own precision when it has none."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event

from lstm_props.maths import carry, kinks, step_vjp
from lstm_props.maths import own_precision as own
from lstm_props.maths import tolerances as tol
from lstm_props.maths import truncation as trunc
from lstm_props.maths.variants import as_variant
from lstm_props.testing import check_close, check_one_sided_where_clamps_change, lstm_property

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
        return (
            steps * BLACK_BOX_ROUNDINGS * u * (np.abs(traj.cs).max(0) + 1),
            steps * BLACK_BOX_ROUNDINGS * u,
        )
    dc, gates = 0.0, 0.0
    peep = 0.0 if params.peephole is None else float(np.abs(params.peephole).max())
    for t in range(traj.steps):
        err = tol.step_error(
            params, traj.gate_xs[t], traj.hs[t], traj.cs[t], variant, dtype, dc_in=dc
        )
        dc = err.dc
        slopes = float((err.df + err.di + err.dg).max())
        gates += slopes * (1 + peep * (1 + float(np.abs(traj.cs[t]).max())))
    return dc, gates


@lstm_property(
    "autograd", relies_on=("carry_slope_matches_autograd", "step_values_match_reference")
)
def test_carry_backward_matches_finite_differences(lstm):
    """ūᵀ (∂c_T/∂c_0 |carry) w from the backward = (ūᵀc_T(c_0⁺) − ūᵀc_T(c_0⁻))/2η, with
    c_0^± = fl(c_0 ± ηv) and w = (c_0⁺ − c_0⁻)/2η (v itself, up to that rounding).

    Derivative: the implementation's backward through the teacher-forced T-step carry chain,
    run in float64 (the target converted with its astype capability), or, for a target
    without a float64 twin (ONNX Runtime, a quantized or float32-only kernel), in its own
    precision, so that its backward is still checked.
    Tolerance: rounding |ū|ᵀE_T/η (E_T the forward error bound of c_T in the precision the
    chain runs in, η = u^{1/3}·(1+|c_0|) with u that precision's unit roundoff), plus the
    central difference's truncation τ = D(η) − ⟨∇L, w⟩ computed on the declared model (the
    reference cell in float64 at the same points, lstm_props.maths.truncation; black-box:
    Richardson's estimate |D(η) − D(2η)|/3), plus the backward's own
    (T+1)γ_4 rounding and its gates' forward errors G_T·|ū|ᵀ|w| (with a layer norm, whose
    J_LN factors these do not bound: E_c0·|w|, the carry chain's backward error of
    lstm_props.maths.step_vjp.chain_vjp_error).
    Kink (a clamp between the points: a central difference there is a mean of two slopes,
    lstm_props.maths.kinks): with the layout, where a declared clamp changes side between
    the stencil's points, the backward must match the one-sided difference of the side free
    of a change (both sides changing: the example is rejected); black-box, where a
    one-sided difference disagrees with the central one beyond both bounds, the backward
    must match that one-sided difference instead.
    Failure: a custom backward kernel that is wrong (f² instead of f, the gradient of c
    dropped, a carry detached from the graph). With the layout, τ is the declared model's,
    so a forward that is not that model can fail here too: step_values_match_reference,
    which this relies on, then names the root cause.
    """
    has_twin = lstm.view().astype("float64") is not None

    @lstm.given(lstm.cases(max_steps=5))
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

        def point(s):
            """fl(c_0 + s v), as a float64 copy"""
            return be.rounded(case.c0 + s * v)

        def loss(s):
            """ūᵀc_T from fl(c_0 + s v), in float64"""
            c_t = be.to_numpy(carry.teacher_forced_c(wide, traj, be.asarray(point(s))))
            return float((u * c_t).sum())

        def fd(step):
            """(the central difference, the direction it was taken along)"""
            diff = (loss(step) - loss(-step)) / (2 * step)
            return diff, (point(step) - point(-step)) / (2 * step)

        d1, w = fd(eta)
        got = float((grad * w).sum())
        err, gates = _forward_errors(traj, case.params, lstm.variant, dtype)
        rounding = float((np.abs(u) * err).sum()) / eta
        uw = float((np.abs(u) * np.abs(w)).sum())
        backward = (traj.steps + 1) * tol.gamma(4, dtype) * (
            float((np.abs(grad) * np.abs(w)).sum()) + uw
        ) + gates * uw
        if case.params is not None and as_variant(lstm.variant).layer_norm:
            handed = step_vjp.Cotangent(u, np.abs(u - be.rounded(u)))  # it is handed fl(ū)
            _, e_c, _ = step_vjp.chain_vjp_error(
                [case.params],
                lstm.variant,
                traj,
                np.zeros_like(case.h0),
                handed,
                dtype,
                carry_only=True,
            )
            backward = float((e_c * np.abs(w)).sum())
        if case.params is None:
            truncation = trunc.richardson(d1, fd(2 * eta)[0])
        else:

            def declared_loss(p):
                _, c_t = trunc.reference_rollout(
                    case.params, lstm.variant, traj.gate_xs, traj.hs[0], p[0], hs=traj.hs
                )
                return trunc.probed(None, u, None, c_t)

            truncation = trunc.declared(
                declared_loss, [case.c0], [point(eta)], [point(-eta)], eta
            ) + trunc.reference_slack(dtype) * (rounding + backward)
        bound = tol.SAFETY * (rounding + truncation + backward)

        def along(s):
            return float((grad * (point(s * eta) - case.c0)).sum()) / (s * eta)

        if kinks.has_clamps(case.params):

            def states_at(k):
                c0 = point(k * eta)
                cs = carry.teacher_forced_states(wide, traj, c0)
                moved = carry.Trajectory(traj.xs, traj.gate_xs, traj.hs, np.concatenate([[c0], cs]))
                return kinks.clamp_states(case.params, moved, lstm.variant, dtype)

            where = kinks.smooth_stencil(states_at)
            if check_one_sided_where_clamps_change(
                where, along, loss, eta, rounding, backward, derivative="backward ūᵀJv", case=case
            ):
                return
        elif (
            case.params is None
            and abs(got - d1) > bound
            and kinks.matches_a_side_of_a_kink(loss, along, eta, (d1, bound), rounding, backward)
        ):
            event("a kink between the finite-difference points: checked one-sided")
            return
        check_close(
            np.array([got]),
            np.array([d1]),
            bound,
            claim="backward ūᵀJv ≠ central finite difference",
            case=case,
            axes=("probe",),
        )

    prop()


@lstm_property(
    "autograd",
    "no_float64_twin",
    relies_on=("carry_backward_matches_finite_differences", "step_values_match_reference"),
)
def test_input_backward_matches_finite_differences(lstm):
    """⟨∂L/∂h_0, w_h⟩ + Σ_t ⟨∂L/∂x_t, w_x,t⟩ from the backward = (L(p⁺) − L(p⁻))/2η for
    L = ū_hᵀh_T + ū_cᵀc_T over T free-running steps, p = (h_0, x_1..x_T), p^± = fl(p ± ηv),
    w = (p⁺ − p⁻)/2η, η = u^{1/3} (h and x are O(1): an absolute step), in the target's own
    precision, for a target without a float64 twin.

    Derivative: the implementation's backward with respect to the initial hidden state and
    every input (x on the bottom layer's view only; a deeper view's gates read the layer
    below, so only h_0 there), through the full recurrence (h fed back).
    Tolerance: SAFETY·(ε/η + truncation + the backward's error), lstm_props.maths.own_precision:
    ε, the error of one evaluation of L, from the written model (tol.step_error chained over
    the T steps) when the layout is known, or measured by ECnoise (never below the carry
    finite difference's black-box rounding count) in black-box mode, where an example
    whose noise ECnoise cannot estimate is not checked (it says why); truncation computed
    on the declared model (lstm_props.maths.truncation.declared), or in black-box mode
    estimated by Richardson over η, 2η, 4η.
    Failure: a backward that is wrong for h_{t-1} (the gates' hidden path detached, W_hh
    not transposed) or for x (a gate's rows dropped, a wrong scale), where no float64 run
    could check it. With the layout, τ is the declared model's: a forward that is not that
    model can fail here too, and step_values_match_reference then names the root cause.
    """
    checked: list[bool] = []

    @lstm.given(lstm.cases(max_steps=4))
    def prop(case):
        cell = case.cell
        be, dtype = cell.backend, cell.backend.dtype
        steps = case.xs.shape[0]
        u_h, u_c = carry.probe(case.h0, 111, case.xs), carry.probe(case.c0, 112, case.xs)
        v_h = carry.probe(case.h0, 113, case.xs)
        v_x = carry.probe(case.xs, 114, case.xs) if case.layer == 0 else np.zeros_like(case.xs)
        c0 = be.asarray(case.c0)

        def run(h0, xs):
            h, c = h0, c0
            for t in range(steps):
                h, c = cell.step(xs[t], h, c)
            return h, c

        def at(s):
            """fl(p + s v), as float64 copies"""
            return tuple(be.rounded(a + s * v) for a, v in ((case.h0, v_h), (case.xs, v_x)))

        def states(point):
            return tuple(be.to_numpy(a) for a in run(*(be.asarray(a) for a in point)))

        def loss(point):
            h_t, c_t = states(point)
            return float((u_h * h_t).sum() + (u_c * c_t).sum())

        def fd(step):
            plus, minus = at(step), at(-step)
            return (
                (loss(plus) - loss(minus)) / (2 * step),
                [(a - b) / (2 * step) for a, b in zip(plus, minus)],
            )

        def derivative(point, w):
            g_h, g_x = be.vjp(run, point, (u_h, u_c))
            return float((g_h * w[0]).sum() + (g_x * w[1]).sum()), g_h, g_x

        eta = own.step(dtype)
        d1, w = fd(eta)
        got, g_h, g_x = derivative((case.h0, case.xs), w)
        if case.params is not None:
            traj = carry.record(cell, case.xs, case.h0, case.c0)
            e_h, e_c, rho = own.forward_error(case.params, traj, lstm.variant, dtype)
            noise = float((np.abs(u_h) * e_h).sum() + (np.abs(u_c) * e_c).sum())
            backward = own.backward_error(
                case.params, lstm.variant, traj, rho, u_h, u_c, w[0], w[1], dtype
            )

            def declared_loss(p):
                gate_xs = p[1] if case.layer == 0 else traj.gate_xs
                states = trunc.reference_rollout(case.params, lstm.variant, gate_xs, p[0], case.c0)
                return trunc.probed(u_h, u_c, *states)

            truncation = trunc.declared(
                declared_loss, [case.h0, case.xs], at(eta), at(-eta), eta
            ) + trunc.reference_slack(dtype) * (noise / eta + backward)
        else:
            delta = eta * own.NOISE_SPACING
            measured, why = own.measured_noise(lambda k: loss(at(k * delta)))
            g_noise, g_why = own.measured_noise(lambda k: derivative(at(k * delta), w)[0])
            if measured is None or g_noise is None:
                event(f"not checked: ECnoise found no noise level ({why or g_why})")
                return
            noise = max(
                measured, own.black_box_floor(steps, u_h, u_c, *states((case.h0, case.xs)), dtype)
            )
            uw = float((np.abs(g_h) * np.abs(w[0])).sum() + (np.abs(g_x) * np.abs(w[1])).sum())
            backward = max(g_noise, (steps + 1) * tol.gamma(4, dtype) * uw)
            truncation = trunc.richardson(d1, fd(2 * eta)[0], fd(4 * eta)[0])
        checked.append(True)
        bound = tol.SAFETY * (noise / eta + truncation + backward)
        check_close(
            np.array([got]),
            np.array([d1]),
            bound,
            claim="backward ⟨∂L/∂(h_0, x), w⟩ ≠ central finite difference",
            case=case,
            axes=("probe",),
        )

    prop()
    if not checked:
        pytest.skip(
            f"{lstm.target.name}: ECnoise found no noise level in any example, so "
            "no finite difference could be bounded (see the Hypothesis events)"
        )
