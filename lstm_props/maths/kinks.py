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

That evidence is statistical, and a black-box target has nothing better. With the layout
the clamps themselves are visible: :func:`clamp_states` reads, at every recorded step, on
which side of ±m each declared clamp's argument lies, and :func:`smooth_stencil` says
whether any changed between the finite-difference points. No change: L is smooth over the
stencil and the central difference is the check, with no escape. A change on one side
only: the other side's one-sided difference is. A change on both: the example cannot be
decided. A clamp whose argument lies within one step's error bound of ±m (teacher-forced
on the target's own recorded states, as tolerances.cell_clip_undecided) counts as a change:
the implementation may have clamped where the oracle did not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lstm_props.maths.carry import Trajectory
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import lstm_step, preactivations
from lstm_props.maths.tolerances import SAFETY, step_error
from lstm_props.maths.variants import as_variant

#: :func:`smooth_stencil`'s answer when no clamp changes over the central stencil.
CENTRAL = 0.0
#: The central stencil's points, in steps η: D(η), D(2η), D(4η) (Richardson) read all six.
CENTRAL_POINTS = (1.0, -1.0, 2.0, -2.0, 4.0, -4.0)
#: One side's points, times the side s = ±1: D_s(η) and D_s(2η).
SIDE_POINTS = (1.0, 2.0)


def has_clamps(params: LSTMParams | None) -> bool:
    """Whether the layout declares a clamp (a gate clip or a cell clip): L may have kinks."""
    return params is not None and (params.clip is not None or params.cell_clip is not None)


def clamp_states(params: LSTMParams, traj: Trajectory, variant: str, dtype: str) -> np.ndarray:
    """Every declared clamp along a recorded trajectory, int8 (T, B, 5H): 1 where it bites
    (|argument| > m), 0 where it does not, −1 where it could go either way in ``dtype``
    (|argument| within one step's error bound of m). Columns: the gates' arguments i, f, g,
    o (peephole terms included) under ``params.clip``, then ĉ = f ⊙ c + i ⊙ g under
    ``params.cell_clip``; a clamp the layout does not declare is 0 throughout."""
    hidden = params.hidden_size
    reads_cell = as_variant(variant).reads_cell
    steps = []
    for t in range(traj.steps):
        args = (params, traj.gate_xs[t], traj.hs[t], traj.cs[t])
        v, err = lstm_step(*args, variant), step_error(*args, variant, dtype)
        state = np.zeros((traj.hs.shape[1], 5 * hidden), dtype=np.int8)
        if params.clip is not None:
            z = preactivations(params, traj.gate_xs[t], traj.hs[t])
            if reads_cell:
                peep = params.peephole_weights()
                z[:, :hidden] += peep[0] * traj.cs[t]
                z[:, hidden : 2 * hidden] += peep[1] * traj.cs[t]
                z[:, 3 * hidden :] += peep[2] * v.c
            state[:, : 4 * hidden] = _sides(z, params.clip, err.dz)
        if params.cell_clip is not None:
            c_hat = v.f * traj.cs[t] + v.i * v.g
            state[:, 4 * hidden :] = _sides(c_hat, params.cell_clip, err.dc)
        steps.append(state)
    return np.stack(steps)


def _sides(arg: np.ndarray, bound: float, err: np.ndarray) -> np.ndarray:
    margin = np.abs(arg) - bound
    return np.where(np.abs(margin) <= err, -1, margin > 0).astype(np.int8)


def smooth_stencil(states_at: Callable[[float], np.ndarray]) -> float | None:
    """Where L is smooth, read from the clamps at the stencil's points: ``states_at(k)``
    is :func:`clamp_states` at the base point moved by kη (k = 0: the base point).

    CENTRAL: no clamp changes (nor is undecided) at 0 and ±η, ±2η, ±4η; s = ±1.0: only
    the side s's points 0, sη, 2sη are free of a change; None: both sides hold one."""
    seen: dict[float, np.ndarray] = {}

    def at(k: float) -> np.ndarray:  # each point runs the target once, however often asked
        if k not in seen:
            seen[k] = states_at(k)
        return seen[k]

    base = at(0.0)
    if (base < 0).any():
        return None

    def unchanged(points: Sequence[float]) -> bool:
        return all(np.array_equal(at(k), base) for k in points)

    if unchanged(CENTRAL_POINTS):
        return CENTRAL
    for side in (1.0, -1.0):
        if unchanged([side * k for k in SIDE_POINTS]):
            return side
    return None


def one_sided(
    loss: Callable[[float], float], eta: float, side: float, rounding: float, backward: float
) -> tuple[float, float]:
    """(D_s(η), its bound with the safety factor): s·(L(sη) − L(0))/η, truncation by
    Richardson |D_s(η) − D_s(2η)|, rounding twice the central difference's (over η, not
    2η), plus the backward's own error term."""
    l0 = loss(0.0)
    d1 = side * (loss(side * eta) - l0) / eta
    d2 = side * (loss(2 * side * eta) - l0) / (2 * eta)
    return d1, SAFETY * (2 * rounding + abs(d1 - d2) + backward)


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
    for s in (1.0, -1.0):
        d1, side_bound = one_sided(loss, eta, s, rounding, backward)
        kink = abs(d1 - d_central) > side_bound + central_bound
        if kink and abs(derivative_along(s) - d1) <= side_bound:
            return True
    return False
