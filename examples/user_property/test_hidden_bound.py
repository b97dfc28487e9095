"""A property of the user's own, written with lstm_props.testing and run by the plugin:

    pytest examples/user_property/test_hidden_bound.py \
        --lstm-adapter examples/user_property/my_cells.py:MyLSTMCell
"""

from __future__ import annotations

import pytest

from lstm_props.testing import check_true, lstm_property, record


@lstm_property("layout")
def test_hidden_state_lies_in_the_unit_interval(lstm):
    """|h_t| ≤ 1 for every t, exactly: h = o ⊙ tanh(c) with o ∈ [0, 1] and tanh ∈ [−1, 1],
    and a rounded product of two numbers of magnitude ≤ 1 stays ≤ 1.

    Derivative: none; the forward.
    Failure: the output squashing is missing or misplaced (h = o ⊙ c), so h grows with the
    carry and the next step's gates saturate.
    """

    @lstm.given(lstm.cases(max_steps=6, regime="open"))
    def prop(case):
        if case.params.w_hr is not None:
            pytest.skip("a projection W_hr maps h out of [−1, 1]")
        traj = record(case.cell, case.xs, case.h0, case.c0)
        for t, h in enumerate(traj.hs[1:]):
            check_true(
                abs(h) <= 1,
                claim="|h_t| > 1",
                case=case,
                values=h,
                axes=("step", "batch row", "coordinate"),
                offset=(t + 1,),
            )

    prop()
