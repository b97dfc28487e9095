"""Edge shapes: B = 1, H = 1, D ≠ H, B ≠ T, odd sizes."""

from __future__ import annotations

import pytest

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.probed import carry_evidence, examined_steps
from lstm_props.maths.variants import DENSE_CARRY, DIAGONAL
from lstm_props.testing import check_close, check_true, lstm_property

#: (B, T, D, H): a single row, a single unit, one step, wide and narrow inputs, odd sizes.
SHAPES = [(1, 1, 1, 1), (1, 4, 3, 1), (3, 2, 1, 5), (2, 5, 7, 3), (5, 1, 2, 4), (4, 3, 5, 7)]


@lstm_property(
    "autograd",
    variants=DIAGONAL,
    why=DENSE_CARRY,
    relies_on=("step_values_match_reference", "carry_jacobian_is_diagonal"),
)
@pytest.mark.parametrize("shape", SHAPES, ids=["B{}-T{}-D{}-H{}".format(*s) for s in SHAPES])
def test_edge_shapes_keep_a_diagonal_carry_and_the_values(lstm, shape):
    """At each edge shape (B, T, D, H): step returns h (B, P) and c (B, H);
    ∂c_t[b,k]/∂c_{t-1}[b',k'] |carry = 0 for (b,k) ≠ (b',k'); with the layout, (h_t, c_t)
    = the reference step within tolerances.step_error. (D, H apply to sized targets.)

    Derivative: the implementation's backward: one-hot rows of the carry Jacobian at every
    step, or its coordinate-group probes at the last step at large B·H (lstm_props.maths.probed).
    Failure: a kernel specialised for some sizes (B = 1 fast paths, H = 1 broadcasting,
    D = H assumed, batch and time axes confused when B ≠ T, vectorised tails of odd sizes).
    """

    @lstm.given(lstm.cases(sizes=shape))
    def prop(case):
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)  # shapes checked there
        for t in examined_steps(traj.steps, case.c0.size):
            jac = carry_evidence(case.cell, traj.xs[t], traj.hs[t], traj.cs[t])
            check_true(
                jac.off == 0,
                claim="off-diagonal carry Jacobian entry is not 0",
                case=case,
                axes=jac.off_axes,
                offset=(t + 1,),
                values=jac.off,
            )
        if case.params is None:
            return
        for t, v in enumerate(carry.oracle_steps(case.params, traj, lstm.variant)):
            err = tol.step_error(
                case.params, traj.gate_xs[t], traj.hs[t], traj.cs[t], lstm.variant, case.dtype
            )
            axes = ("step", "batch row", "coordinate")
            check_close(
                traj.cs[t + 1],
                v.c,
                tol.SAFETY * err.dc,
                claim="c_t ≠ reference",
                case=case,
                axes=axes,
                offset=(t + 1,),
            )
            check_close(
                traj.hs[t + 1],
                v.h,
                tol.SAFETY * err.dh,
                claim="h_t ≠ reference",
                case=case,
                axes=axes,
                offset=(t + 1,),
            )

    prop()
