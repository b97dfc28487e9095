"""Finite differences across a kink: a clamp (TF's cell_clip on c, ONNX's clip on the gates'
arguments) makes L piecewise smooth, and a central difference whose points straddle the
corner is a mean of the two slopes, which no backward computes.

Each side s = ±1 of the base point gives the one-sided difference

    D_s(η) = s·(L(sη) − L(0))/η,     first order: truncation ≈ |D_s(η) − D_s(2η)| (Richardson),

with twice the central difference's rounding (over η, not 2η). Were L smooth on [−2η, 2η],
D_s and the central difference D would both lie within their bounds of L′; a side that
disagrees with D beyond both bounds is the evidence of a kink between the points, and a
side on which L is smooth is then the estimate the backward must meet. On a smooth map no
side disagrees, so a wrong backward still fails on the central difference.
"""

from __future__ import annotations

from collections.abc import Callable

from lstm_props.maths.tolerances import SAFETY


def matches_a_side_of_a_kink(
    loss: Callable[[float], float],
    derivative_along: Callable[[float], float],
    eta: float,
    central: tuple[float, float],
    rounding: float,
    backward: float,
) -> bool:
    """Whether a kink lies between the finite-difference points and the backward matches
    the one-sided difference of a side that disagrees with the central one.

    ``loss(t)``: L at the point moved by t along the direction (t = 0: the base point);
    ``derivative_along(s)``: the backward's directional derivative along the direction
    side s = ±1 really took, (fl(p + sηv) − p)/sη; ``central``: (D, its bound, safety
    included); ``rounding``: the central difference's rounding term, ε/η; ``backward``:
    the backward's own error term (both before the safety factor)."""
    d_central, central_bound = central
    l0 = loss(0.0)
    for s in (1.0, -1.0):
        d1 = s * (loss(s * eta) - l0) / eta
        d2 = s * (loss(2 * s * eta) - l0) / (2 * eta)
        side_bound = SAFETY * (2 * rounding + abs(d1 - d2) + backward)
        kink = abs(d1 - d_central) > side_bound + central_bound
        if kink and abs(derivative_along(s) - d1) <= side_bound:
            return True
    return False
