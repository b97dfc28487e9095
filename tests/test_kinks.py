"""lstm_props.maths.kinks: which clamps bite along a trajectory, and where L is smooth over a
finite difference's stencil. A false alarm on a correct clipped cell came from a clamp
within the step of the base point: the central difference averaged two slopes while its
Richardson estimate looked smooth. With the layout, the stencil now reads the clamps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lstm_props.maths import kinks
from lstm_props.maths.carry import Trajectory
from lstm_props.maths.layout import LSTMParams

H = 2


def _open_cell(cell_clip: float | None = 1.0, clip: float | None = None) -> LSTMParams:
    """Zero weights, biases making f = σ(0) = 1/2, i = σ(0), g = tanh(0) = 0: ĉ = c/2."""
    zero = np.zeros
    return LSTMParams(
        zero((4 * H, 1)), zero((4 * H, H)), zero(4 * H), zero(4 * H), cell_clip=cell_clip, clip=clip
    )


def _trajectory(c0: np.ndarray) -> Trajectory:
    xs = np.zeros((1, 1, 1))
    hs = np.zeros((2, 1, H))
    return Trajectory(xs, xs, hs, np.stack([c0, c0 / 2]))


def test_a_cell_clip_reads_as_biting_free_or_undecided():
    states = kinks.clamp_states(
        _open_cell(), _trajectory(np.array([[4.0, 1.0]])), "standard", "float32"
    )
    assert states.shape == (1, 1, 5 * H)
    assert states[0, 0, : 4 * H].tolist() == [0] * 4 * H  # no gate clip declared
    assert states[0, 0, 4 * H :].tolist() == [1, 0]  # ĉ = 2 > 1 bites; ĉ = 1/2 does not
    at_the_bound = kinks.clamp_states(
        _open_cell(), _trajectory(np.array([[2.0, -2.0]])), "standard", "float32"
    )
    assert at_the_bound[0, 0, 4 * H :].tolist() == [-1, -1]  # |ĉ| = m: either way in float32


def test_a_gate_clip_reads_each_gates_argument():
    params = _open_cell(cell_clip=None, clip=0.5)
    b = np.zeros(4 * H)
    b[H] = 3.0  # the first unit's forget argument beyond the clip
    states = kinks.clamp_states(
        dataclasses.replace(params, b_ih=b), _trajectory(np.zeros((1, H))), "standard", "float64"
    )
    want = np.zeros(5 * H, dtype=np.int8)
    want[H] = 1
    np.testing.assert_array_equal(states[0, 0], want)


@pytest.mark.parametrize(
    ("changes_at", "want"),
    [
        ((), kinks.CENTRAL),
        # 4η is read by the central difference's Richardson estimate only: the side +1's
        # own points 0, η, 2η are smooth
        ((4.0,), 1.0),
        ((1.0,), -1.0),
        ((-2.0,), 1.0),
        ((1.0, -1.0), None),
        ((0.0,), None),  # an undecided clamp at the base point
    ],
)
def test_the_stencil_is_smooth_where_no_clamp_changes(changes_at, want):
    def states_at(k: float) -> np.ndarray:
        if k in changes_at:
            return np.array([-1 if k == 0.0 else 1], dtype=np.int8)
        return np.zeros(1, dtype=np.int8)

    assert kinks.smooth_stencil(states_at) == want


def test_the_one_sided_difference_of_a_corner_is_the_slope_of_its_side():
    """L(t) = 3t for t ≤ 0.1η, 0.3η + 5(t − 0.1η) beyond: a corner inside the stencil. The
    central difference mixes 3 and 5; the side −1 is 3 to rounding."""
    eta = 1e-3

    def loss(t: float) -> float:
        corner = 0.1 * eta
        return 3 * t if t <= corner else 3 * corner + 5 * (t - corner)

    central = (loss(eta) - loss(-eta)) / (2 * eta)
    assert abs(central - 3) > 0.5
    d, bound = kinks.one_sided(loss, eta, -1.0, rounding=1e-12, backward=0.0)
    assert abs(d - 3) <= bound < 1e-6
    d_up, bound_up = kinks.one_sided(loss, eta, 1.0, rounding=1e-12, backward=0.0)
    assert abs(d_up - 3) > bound_up  # the side that crosses the corner does not meet 3
