"""Forward values against the reference cell on the same weights.

The Jacobian properties are blind to some bugs (i + g instead of i ⊙ g keeps the carry
Jacobian diag(f)); the values are not.
"""

from __future__ import annotations

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.testing import check_close, lstm_property


@lstm_property("layout")
def test_step_values_match_reference(lstm):
    """(h_t, c_t) = reference step at the recorded (x_t, h_{t-1}, c_{t-1}), every step.

    Teacher-forced: the oracle sees exactly the implementation's inputs, so no error
    propagates between steps. Tolerance: tolerances.step_error (γ_n for the pre-activation
    dot products, a few ulps per activation, first-order propagation through the update).
    Failure: layout, bias or activation bugs: gates in another framework's order, a bias
    doubled or dropped, a hard-sigmoid or ReLU where σ or tanh belong, h and c swapped,
    cell clipping that was not declared.
    """

    @lstm.given(lstm.cases())
    def prop(case):
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        steps = carry.oracle_steps(case.params, traj, lstm.variant)
        for t, v in enumerate(steps):
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
