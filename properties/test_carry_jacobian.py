"""The one-step carry Jacobian ∂c_t/∂c_{t-1}, x_t and h_{t-1} held fixed.

The gates read x_t and h_{t-1}, never c_{t-1}, and c_{t-1} enters c_t = f ⊙ c_{t-1} + i ⊙ g
only elementwise, so this partial derivative is diag(f_t). (The *total* derivative, through
h_{t-1} = o_{t-1} ⊙ tanh(c_{t-1}), is not diagonal; see test_two_track.py.)
"""

from __future__ import annotations

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.probed import carry_evidence, examined_steps
from lstm_props.maths.reference import carry_derivative, lstm_step
from lstm_props.maths.variants import BOUNDED, DENSE_CARRY, DIAGONAL
from lstm_props.testing import (
    assume_cell_clip_decided,
    check_close,
    check_true,
    lstm_property,
)


def _jacobians(case):
    """(t, the carry Jacobian's diagonal and off-diagonal evidence at step t + 1): the whole
    Jacobian of every step at small B·H, coordinate-group probes of the last step above
    (lstm_props.maths.probed)."""
    traj = carry.record(case.cell, case.xs, case.h0, case.c0)
    jacs = [
        (t, carry_evidence(case.cell, traj.xs[t], traj.hs[t], traj.cs[t]))
        for t in examined_steps(traj.steps, case.c0.size)
    ]
    return traj, jacs


@lstm_property(
    "autograd",
    variants=DIAGONAL,
    why=DENSE_CARRY,
    relies_on=("carry_map_is_coordinatewise",),
)
def test_carry_jacobian_is_diagonal(lstm):
    """∂c_t[b,k]/∂c_{t-1}[b',k'] |carry = 0 exactly whenever (b,k) ≠ (b',k').

    Derivative: the implementation's own backward: one-hot cotangents at every step up to
    DENSE_ROWS = B·H rows; above, at the last step, m ≈ log₂ BH cotangents on the coordinate
    groups S, where every entry of w_Sᵀ ∂c_t/∂c_{t-1} outside S must be exactly 0
    (lstm_props.maths.probed).
    Failure: the carry crosses a matrix or mixes batch rows, so gradient on the carry no
    longer flows unit by unit (e.g. c mixed through a weight, h and c swapped).
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        _, jacs = _jacobians(case)
        for t, jac in jacs:
            check_true(
                jac.off == 0,
                claim="off-diagonal carry Jacobian entry is not 0",
                case=case,
                axes=jac.off_axes,
                offset=(t + 1,),
                values=jac.off,
            )

    prop()


@lstm_property(
    "autograd",
    "layout",
    variants=DIAGONAL,
    why=DENSE_CARRY,
    relies_on=(
        "step_values_match_reference",
        "carry_jacobian_is_diagonal",
        "carry_slope_matches_autograd",
    ),
)
def test_carry_jacobian_diagonal_equals_forget_gate(lstm):
    """diag(∂c_t/∂c_{t-1} |carry) = f_t, with f_t from the reference cell and the documented
    layout (peepholes: f + p_f c f(1−f) + p_i g i(1−i); no forget gate: 1; a declared
    cell clip m: times 1[|ĉ_t| < m], ĉ_t = f ⊙ c_{t-1} + i ⊙ g before the clamp).

    Derivative: the implementation's backward; f_t: the float64 oracle on the recorded
    inputs, never read back from the implementation.
    Failure: the gate that scales the carry is not the forget gate of the layout (gate order
    read in another framework's order, bias doubled or dropped, c0 ignored, a detached carry).
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        traj, jacs = _jacobians(case)
        assume_cell_clip_decided(case, traj, lstm.variant)
        for t, jac in jacs:
            args = (case.params, traj.gate_xs[t], traj.hs[t], traj.cs[t])
            want = carry_derivative(*args, lstm.variant)
            err = tol.step_error(*args, lstm.variant, case.dtype)
            v = lstm_step(*args, lstm.variant)
            bound = tol.SAFETY * tol.carry_derivative_error(
                err, case.params, traj.cs[t], v, lstm.variant, case.dtype
            )
            check_close(
                jac.diagonal,
                want,
                bound,
                claim="carry Jacobian diagonal ≠ oracle f_t",
                case=case,
                axes=("step", "batch row", "coordinate"),
                offset=(t + 1,),
            )

    prop()


@lstm_property(
    "autograd",
    variants=BOUNDED,
    why="peepholes make the carry derivative leave [0, 1]; " + DENSE_CARRY,
    relies_on=("carry_jacobian_is_diagonal", "carry_map_is_affine_in_c"),
)
def test_carry_jacobian_entries_in_unit_interval(lstm):
    """Every entry of ∂c_t/∂c_{t-1} |carry lies in [0, 1] (exactly: σ ∈ [0, 1] in IEEE).

    Derivative: the implementation's backward. Holds for standard, no-forget and CIFG
    cells; not for peepholes (variants.md), where the property is skipped.
    Failure: a forget gate outside [0, 1] (a peephole added after the sigmoid, a tanh or
    linear forget gate), so the carry can amplify.
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        _, jacs = _jacobians(case)
        for t, jac in jacs:
            entries = jac.entries
            axes = jac.off_axes if jac.dense else ("step", "batch row", "coordinate")
            check_true(
                (entries >= 0) & (entries <= 1),
                claim="carry Jacobian entry outside [0, 1]",
                case=case,
                axes=axes,
                offset=(t + 1,),
                values=entries,
            )

    prop()
