"""The constant error carousel (Hochreiter & Schmidhuber 1997).

With the forget gate forced fully open (f ≡ 1: b_f = +1e4, for which σ is exactly 1.0 in
every float format) the carry Jacobian is exactly the identity at every step and over any
T, and the cell state is a pure accumulator, c_T = c_0 + Σ_t i_t ⊙ g_t.
"""

from __future__ import annotations

import numpy as np

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.probed import carry_evidence, examined_steps
from lstm_props.maths.variants import BOUNDED, DENSE_CARRY, FORCEABLE, FORGETLESS, as_variant
from lstm_props.testing import FORCE_BIAS, check_close, check_true, lstm_property


def _check_identity(case, traj):
    for t in examined_steps(traj.steps, case.c0.size):
        jac = carry_evidence(case.cell, traj.xs[t], traj.hs[t], traj.cs[t])
        check_true(
            jac.off == 0,
            claim="carry Jacobian is not exactly the identity (an off-diagonal entry is not 0)",
            case=case,
            axes=jac.off_axes,
            offset=(t + 1,),
            values=jac.off,
        )
        check_true(
            jac.diagonal == 1,
            claim="carry Jacobian is not exactly the identity",
            case=case,
            axes=("step", "batch row", "coordinate"),
            offset=(t + 1,),
            values=jac.diagonal,
        )
    u = case.cell.backend.rounded(carry.probe(case.c0, 21, case.xs))
    adj = carry.carry_adjoints(case.cell, traj, u)
    check_true(
        adj == adj[-1],
        claim="T-step carry product is not exactly the identity",
        case=case,
        axes=("from step s", "batch row", "coordinate"),
        values=adj / u,
    )


@lstm_property(
    "autograd",
    "writable",
    "unclipped_cell",
    variants=FORCEABLE,
    why="no_forget needs no forcing (own test); peepholes add p_i g i(1−i); " + DENSE_CARRY,
    relies_on=("carry_product_matches_oracle", "step_values_match_reference"),
)
def test_open_forget_gate_gives_identity_carry(lstm):
    """f ≡ 1 (forced) ⇒ ∂c_t/∂c_{t-1} |carry = I exactly, ∂c_T/∂c_0 |carry = I exactly, and
    c_T = c_0 + Σ_t i_t ⊙ g_t (i_t, g_t from the oracle on the recorded inputs).

    Derivative: the implementation's backward. Tolerance on c_T: the accumulated rounding
    and gate errors Σ_t (|g|δi + |i|δg + 2u(|c_t| + |i g|)); the Jacobians are exact.
    Failure: the carry has a leak or gain beside f (a hidden constant, a squared or
    clipped f, a backward that drops the gradient of c), or the forget bias is read from the
    wrong slice so forcing it does not open the gate.
    """

    @lstm.given(lstm.cases())
    def prop(case):
        params = case.with_params(case.params.with_forget_bias(FORCE_BIAS))
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        _check_identity(case, traj)
        steps = carry.oracle_steps(params, traj, lstm.variant)
        want = traj.cs[0] + sum(v.i * v.g for v in steps)
        bound = 0.0
        for t in range(len(steps)):
            err = tol.step_error(
                params, traj.gate_xs[t], traj.hs[t], traj.cs[t], lstm.variant, case.dtype
            )
            bound = bound + err.dc + 2 * tol.unit_roundoff(case.dtype) * np.abs(traj.cs[t + 1])
        check_close(
            traj.cs[-1],
            want,
            tol.SAFETY * bound,
            claim="c_T ≠ c_0 + Σ i_t ⊙ g_t with the forget gate open",
            case=case,
        )

    prop()


@lstm_property(
    "autograd",
    "unclipped_cell",
    variants=FORGETLESS,
    why="only the 1997 variant has f ≡ 1",
    relies_on=("carry_jacobian_is_diagonal",),
)
def test_no_forget_variant_carry_is_identity(lstm):
    """Without a forget gate (the 1997 LSTM) ∂c_t/∂c_{t-1} |carry = I exactly, unforced.

    Derivative: the implementation's backward, every step and over T.
    Failure: a cell declared forget-gate-free still scales its carry.
    """

    @lstm.given(lstm.cases())
    def prop(case):
        _check_identity(case, carry.record(case.cell, case.xs, case.h0, case.c0))

    prop()


@lstm_property(
    "writable",
    "forcing",
    "unclipped_cell",
    variants=BOUNDED,
    why="peepholes add p_i g i(1−i) to the carry slope; " + DENSE_CARRY,
    relies_on=("carry_map_is_affine_in_c",),
)
def test_open_forget_gate_translates_the_carry(lstm):
    """f ≡ 1 (forced; unforced for no_forget), h teacher-forced ⇒ the T-step carry map is a
    translation: c_T(c_0 + δ) − c_T(c_0) = δ, every step's error carried without decay or
    gain (forward evaluations only: the carousel as an implementation without a backward
    shows it).

    Derivative: none; the forward's own difference over T steps, x_t and h_{t-1} fixed.
    Tolerance: with f exactly 1 each step is c + i⊙g, i⊙g the same bits in both runs, so
    only the additions round: Σ_t u(|c_t(c_0)| + |c_t(c_0 + δ)|).
    Failure: a leak or gain beside f (a hidden constant, f², clipping of c), c_0 ignored, or
    the forget bias read from the wrong slice so that forcing it does not open the gate.
    """

    @lstm.given(lstm.cases())
    def prop(case):
        if as_variant(lstm.variant).has_forget_gate:
            case.with_params(case.params.with_forget_bias(FORCE_BIAS))
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        moved = case.cell.backend.rounded(case.c0 + carry.probe(case.c0, 51, case.xs))
        base = carry.teacher_forced_states(case.cell, traj, case.c0)
        shifted = carry.teacher_forced_states(case.cell, traj, moved)
        u = tol.unit_roundoff(case.dtype)
        bound = tol.SAFETY * u * (np.abs(base) + np.abs(shifted)).sum(0)
        check_close(
            shifted[-1] - base[-1],
            moved - case.c0,
            bound,
            claim="c_T(c_0 + δ) − c_T(c_0) ≠ δ with the forget gate open",
            case=case,
        )

    prop()
