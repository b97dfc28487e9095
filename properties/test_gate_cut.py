"""Closing one forget gate cuts the gradient on that unit, and only on that unit."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.variants import DENSE_CARRY, FORCEABLE
from lstm_props.testing import FORCE_BIAS, check_close, check_true, lstm_property


def _chain(case, traj, u, last, params_at):
    """ūᵀ ∂c_last/∂c_0 |carry, writing params_at(t) before evaluating step t."""
    adj = u
    for t in range(last, 0, -1):
        case.cell.write_layout(params_at(t))
        adj = carry.carry_vjp(case.cell, traj.xs[t - 1], traj.hs[t - 1], traj.cs[t - 1], adj)
    return adj


def _draw_cut(case, data):
    """(s, k, base, cut): a step s and unit k drawn from the case, and its parameters with
    unit k's forget bias forced to −1e4 (f_s[k] = 0 exactly when written at step s)."""
    steps, hidden = case.xs.shape[0], case.c0.shape[1]
    s = data.draw(st.integers(1, steps), label="cut step s")
    k = data.draw(st.integers(0, hidden - 1), label="cut coordinate k")
    return s, k, case.params, case.params.with_forget_bias(-FORCE_BIAS, np.array([k]))


@lstm_property(
    "autograd",
    "writable",
    variants=FORCEABLE,
    why="no forget gate to close (no_forget), or peepholes keep p_i g i(1−i); " + DENSE_CARRY,
    relies_on=("carry_product_matches_oracle",),
)
def test_closed_forget_gate_cuts_the_carry(lstm):
    """f_s[k] = 0 at one step s (b_f[k] = −1e4 there only) ⇒ for every T ≥ s,
    (∂c_T/∂c_0 |carry)[k] = 0 exactly, and every other coordinate is unchanged.

    Derivative: the implementation's backward, teacher-forced h, parameters rewritten in
    place between steps. Tolerance on the other coordinates: the T-step backward's rounding.
    Failure: the forget bias of unit k lives elsewhere (gate-order or slice bug), a gate
    leaks into its neighbours, or the implementation caches stale weights.
    """

    @lstm.given(lstm.cases(min_steps=2, max_steps=5, regime="open"), st.data())
    def prop(case, data):
        s, k, base, cut = _draw_cut(case, data)
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        u = case.cell.backend.rounded(carry.probe(case.c0, 31, case.xs))
        for last in range(s, case.xs.shape[0] + 1):
            kept = _chain(case, traj, u, last, lambda t: base)
            gone = _chain(case, traj, u, last, lambda t: cut if t == s else base)
            check_true(
                gone[:, k] == 0,
                claim=f"coordinate {k} survives a closed gate at step {s} (T = {last})",
                case=case,
                axes=("batch row",),
                values=gone[:, k],
            )
            others = np.delete(np.arange(case.c0.shape[1]), k)
            bound = tol.SAFETY * tol.gamma(2 * last + 2, case.dtype) * np.abs(kept)
            check_close(
                gone[:, others],
                kept[:, others],
                bound[:, others] + tol.SMALLEST_NORMAL[case.dtype],
                claim=f"closing unit {k} at step {s} changed another unit (T = {last})",
                case=case,
            )
        case.cell.write_layout(base)

    prop()


@lstm_property(
    "writable",
    "deterministic",
    "forcing",
    variants=FORCEABLE,
    why="no forget gate to close (no_forget), or peepholes keep p_i g i(1−i); " + DENSE_CARRY,
    relies_on=("carry_map_is_affine_in_c",),
)
def test_closed_forget_gate_forgets_c0(lstm):
    """f_s[k] = 0 at one step s (b_f[k] = −1e4 there only), h teacher-forced ⇒ for every
    T ≥ s, c_T[:, k] is bitwise the same whatever c_0[:, k] was, and (the carry map being
    coordinatewise) whatever any coordinate of c_0 was (forward evaluations only).

    Derivative: none; the forward run twice from c_0 and from c_0 + δ, parameters rewritten
    in place between steps.
    Tolerance: none. At step s, f c_{s-1} = 0 · c_{s-1} is exactly 0 and c_s[:, k] = i ⊙ g
    reads only x_s and the recorded h_{s-1}, so the two runs agree bit for bit from there on.
    Failure: the forget bias of unit k lives elsewhere (gate order or slice bug), c leaks
    past a closed gate (a hidden constant added to f, c_{t-1} added outside the gate), or a
    stale weight cache ignores the rewrite.
    """

    @lstm.given(lstm.cases(min_steps=2, max_steps=5, regime="open"), st.data())
    def prop(case, data):
        s, k, base, cut = _draw_cut(case, data)
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)

        def params_at(t):
            case.cell.write_layout(cut if t == s else base)

        moved = case.cell.backend.rounded(case.c0 + carry.probe(case.c0, 61, case.xs))
        runs = [
            carry.teacher_forced_states(case.cell, traj, c0, params_at) for c0 in (case.c0, moved)
        ]
        case.cell.write_layout(base)
        check_true(
            runs[0][s - 1 :, :, k] == runs[1][s - 1 :, :, k],
            claim=f"c_T[:, {k}] still depends on c_0 after its forget gate closed at step {s}",
            case=case,
            axes=("T − s", "batch row"),
            values=runs[1][s - 1 :, :, k] - runs[0][s - 1 :, :, k],
        )

    prop()
