"""Write a property of your own: everything a property of the library uses, in one place.

A property is a test function declared with :func:`lstm_property`, taking the ``lstm``
fixture (one layer view of the target under test, with the run's declarations). It draws
cases with ``lstm.cases(...)`` under ``lstm.given(...)`` (the run's profile and seed, on
this test only), records a trajectory, and states its claim with :func:`check_close` or
:func:`check_true`, which fail in one line naming the step, the coordinate, what was
expected and what came::

    from lstm_props.testing import check_true, lstm_property, record

    @lstm_property("layout")
    def test_hidden_state_lies_in_the_unit_interval(lstm):
        \"\"\"|h_t| ≤ 1 for every t: h = o ⊙ tanh(c) with o ∈ [0, 1], tanh ∈ [−1, 1].\"\"\"

        @lstm.given(lstm.cases(max_steps=4))
        def prop(case):
            traj = record(case.cell, case.xs, case.h0, case.c0)
            for t, h in enumerate(traj.hs[1:]):
                check_true(abs(h) <= 1, claim="|h_t| > 1", case=case, offset=(t + 1,),
                           axes=("step", "batch row", "coordinate"), values=h)

        prop()

Run it with ``pytest my_properties/ --lstm-adapter TARGET``; examples/user_property/ is a
complete example. The bounds below are the error model's (lstm_props.maths.tolerances), finished:
the safety factor is applied inside, so a property compares against them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import assume

from lstm_props._errors import PropertyFailure
from lstm_props._harness.checks import check_close, check_true
from lstm_props._harness.declared import NEEDS, Declaration, declaration_of, lstm_property
from lstm_props._harness.kink_checks import check_one_sided_where_clamps_change
from lstm_props._harness.strategies import LSTMCase
from lstm_props._harness.under_test import BOUNDED_VARIANTS, LSTMUnderTest
from lstm_props.maths import tolerances as _tol
from lstm_props.maths.carry import Trajectory, oracle_steps, record, rollout
from lstm_props.maths.composed import composed_steps
from lstm_props.maths.layout import FORCE_BIAS, LSTMParams, gate_slice
from lstm_props.maths.probed import carry_evidence, examined_steps
from lstm_props.maths.reference import carry_derivative, lstm_step


@dataclass(frozen=True)
class StepBounds:
    """How far an implementation's (h_t, c_t) may lie from the oracle's at one step, per
    entry (shape (B, P) and (B, H)), safety factor included."""

    h: np.ndarray
    c: np.ndarray


def step_bounds(case: LSTMCase, traj: Trajectory, t: int, variant: str) -> StepBounds:
    """The bound on step t + 1 of ``traj`` (computed from the recorded inputs of step t):
    the forward error model of the case's dtype, times the safety factor. Needs the layout
    (``case.params``)."""
    if case.params is None:
        raise ValueError(
            "step_bounds needs the target's layout (case.params is None); "
            'declare the property with @lstm_property("layout")'
        )
    err = _tol.step_error(case.params, traj.gate_xs[t], traj.hs[t], traj.cs[t], variant, case.dtype)
    return StepBounds(h=_tol.SAFETY * err.dh, c=_tol.SAFETY * err.dc)


def assume_cell_clip_decided(case: LSTMCase, traj: Trajectory, variant: str) -> None:
    """Discard the example (hypothesis.assume) when a declared cell clip's clamp is within
    its error bound at some recorded step (tolerances.cell_clip_undecided): the oracle's
    derivatives through c_t are then not the implementation's to within any bound. The
    band has width 2δc' around ±m, so a few examples in a million fall in it; a property
    whose every example did would end in Hypothesis' Unsatisfiable, never a pass."""
    params = case.params
    if params is None or params.cell_clip is None:
        return
    for t in range(traj.steps):
        args = (params, traj.gate_xs[t], traj.hs[t], traj.cs[t])
        err = _tol.step_error(*args, variant, case.dtype)
        v = lstm_step(*args, variant)
        assume(not _tol.cell_clip_undecided(params, traj.cs[t], v, err).any())


def unit_roundoff(dtype: str) -> float:
    """u of ``dtype`` ("float32": 2⁻²⁴, "float64": 2⁻⁵³, "float16": 2⁻¹¹, "bfloat16": 2⁻⁸;
    a mixed "bfloat16+float32": its storage format's)."""
    return _tol.unit_roundoff(dtype)


__all__ = [
    "BOUNDED_VARIANTS",
    "FORCE_BIAS",
    "NEEDS",
    "Declaration",
    "LSTMCase",
    "LSTMParams",
    "LSTMUnderTest",
    "PropertyFailure",
    "StepBounds",
    "Trajectory",
    "assume_cell_clip_decided",
    "carry_derivative",
    "carry_evidence",
    "check_close",
    "check_one_sided_where_clamps_change",
    "check_true",
    "composed_steps",
    "declaration_of",
    "examined_steps",
    "gate_slice",
    "lstm_property",
    "lstm_step",
    "oracle_steps",
    "record",
    "rollout",
    "step_bounds",
    "unit_roundoff",
]
