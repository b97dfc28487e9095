"""The T-step carry product: ∂c_T/∂c_s |carry = diag(∏_{t=s+1..T} f_t), h teacher-forced.

Compared in the log domain, log|ā_s/ū| = Σ_{t>s} log f_t, because the product of many
gates is far below what a linear comparison can resolve; where ū·∏f underflows the
target's dtype only an upper bound is asserted.
"""

from __future__ import annotations

import numpy as np

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.variants import BOUNDED, DENSE_CARRY
from lstm_props.testing import (
    assume_cell_clip_decided,
    check_close,
    check_true,
    lstm_property,
)

AXES = ("from step s", "batch row", "coordinate")


def _adjoints(case):
    traj = carry.record(case.cell, case.xs, case.h0, case.c0)
    u = case.cell.backend.rounded(carry.probe(case.c0, 11, case.xs, case.c0))
    return traj, u, carry.carry_adjoints(case.cell, traj, u)


@lstm_property(
    "autograd",
    "layout",
    variants=BOUNDED,
    why="a peephole carry derivative is not a product of gates in [0, 1]; " + DENSE_CARRY,
    relies_on=(
        "carry_jacobian_diagonal_equals_forget_gate",
        "carry_product_is_bounded_and_non_increasing",
    ),
)
def test_carry_product_matches_oracle(lstm):
    """log|(ūᵀ ∂c_T/∂c_s |carry)/ū| = Σ_{t=s+1..T} log f_t for every s, in the log domain.

    Derivative: the implementation's backward, composed step by step at the recorded states
    (ā_{t-1} = ā_t ∂c_t/∂c_{t-1}), and once through a single backward over all T steps.
    Tolerance: Σ_t (1 − f_t)δz_f,t + 5u per step (relative error of σ, see tolerances).
    Failure: the carry product decays or grows differently from the forget gates (a wrong
    forget gate, a backward that squares f or ignores the gradient of c).
    """

    @lstm.given(lstm.cases(max_steps=10))
    def prop(case):
        traj, u, adj = _adjoints(case)
        assume_cell_clip_decided(case, traj, lstm.variant)
        log_f = carry.oracle_log_forget(case.params, traj, lstm.variant)
        step_tol = np.stack(
            [
                tol.forget_log_error(
                    tol.step_error(
                        case.params,
                        traj.gate_xs[t],
                        traj.hs[t],
                        traj.cs[t],
                        lstm.variant,
                        case.dtype,
                    ),
                    np.exp(log_f[t]),
                    case.dtype,
                )
                for t in range(traj.steps)
            ]
        )
        # suffix sums: want_log[s] = Σ_{t>s} log f_t, s = 0..T
        want_log = np.concatenate([np.cumsum(log_f[::-1], 0)[::-1], np.zeros_like(log_f[:1])])
        bound = tol.SAFETY * np.concatenate(
            [np.cumsum(step_tol[::-1], 0)[::-1], np.zeros_like(step_tol[:1])]
        )
        ratio = adj / u
        ok, _ = tol.log_compare(ratio, want_log, bound, np.log(np.abs(u)), case.dtype)
        check_true(
            ok,
            claim="log|∂c_T/∂c_s| ≠ Σ_{t>s} log f_t (oracle)",
            case=case,
            axes=AXES,
            values=ratio,
            detail=f"oracle log-products {np.round(want_log[:, 0, 0], 4).tolist()}",
        )
        check_true(
            ratio >= 0, claim="carry product has the wrong sign", case=case, axes=AXES, values=ratio
        )
        one_shot = carry.teacher_forced_vjp(case.cell, traj, u)
        scale = tol.gamma(2 * traj.steps + 2, case.dtype) * np.abs(adj[0])
        check_close(
            one_shot,
            adj[0],
            tol.SAFETY * scale + tol.SMALLEST_NORMAL[case.dtype],
            claim="one backward over T steps ≠ composed one-step backwards",
            case=case,
        )

    prop()


@lstm_property(
    "autograd",
    variants=BOUNDED,
    why="a peephole carry derivative can exceed 1; " + DENSE_CARRY,
    relies_on=("carry_jacobian_entries_in_unit_interval",),
)
def test_carry_product_is_bounded_and_non_increasing(lstm):
    """|ūᵀ∂c_T/∂c_s| ≤ |ūᵀ∂c_T/∂c_{s+1}| (exactly) and 0 ≤ ā_s/ū ≤ 1, black-box.

    Derivative: the implementation's backward composed over the recorded states. Each step
    multiplies by some f ∈ [0, 1], and IEEE rounding of a product by f ≤ 1 never grows it.
    Failure: the carry path amplifies gradient (a forget gate above 1, a carry scaled by a
    weight), the property an LSTM is for.
    """

    @lstm.given(lstm.cases(max_steps=10))
    def prop(case):
        _, u, adj = _adjoints(case)
        check_true(
            np.abs(adj[:-1]) <= np.abs(adj[1:]),
            claim="|∂c_T/∂c_s| grew as s moved back one step",
            case=case,
            axes=AXES,
            values=adj[:-1] / u,
        )
        ratio = adj / u
        check_true(
            (ratio >= 0) & (ratio <= 1),
            claim="carry product outside [0, 1]",
            case=case,
            axes=AXES,
            values=ratio,
        )

    prop()
