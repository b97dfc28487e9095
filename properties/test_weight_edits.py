"""Weights edited in place take effect on the very next call."""

from __future__ import annotations

import numpy as np

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.testing import check_close, lstm_property


@lstm_property("writable", relies_on=("step_values_match_reference",))
def test_in_place_weight_edits_take_effect(lstm):
    """After a forward at θ, writing θ' = −θ in place (same tensors, new values) makes the
    next steps equal the reference at θ': (h_t, c_t) = reference step at θ', every step.

    Derivative: none; forward values, teacher-forced against the oracle at θ'.
    Tolerance: tolerances.step_error at θ', as for the values property.
    Failure: a packed or fused weight buffer built on the first call and never refreshed
    (stale weight caches, mxnet #16037; flatten_parameters-style copies), a compiled
    graph that captured the weights as constants.
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        carry.record(case.cell, case.xs, case.h0, case.c0)  # builds whatever it caches
        p = case.params
        flipped = p.map_arrays(np.negative)
        held = case.with_params(flipped)
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        for t, v in enumerate(carry.oracle_steps(held, traj, lstm.variant)):
            err = tol.step_error(
                held, traj.gate_xs[t], traj.hs[t], traj.cs[t], lstm.variant, case.dtype
            )
            axes = ("step", "batch row", "coordinate")
            check_close(
                traj.cs[t + 1],
                v.c,
                tol.SAFETY * err.dc,
                claim="c_t after an in-place weight edit ≠ reference at the new weights",
                case=case,
                axes=axes,
                offset=(t + 1,),
            )
            check_close(
                traj.hs[t + 1],
                v.h,
                tol.SAFETY * err.dh,
                claim="h_t after an in-place weight edit ≠ reference at the new weights",
                case=case,
                axes=axes,
                offset=(t + 1,),
            )

    prop()
