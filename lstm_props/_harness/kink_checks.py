"""A finite-difference property's check where a declared clamp changes side between its
points (lstm_props.maths.kinks.smooth_stencil): the one-sided difference of the side free of
a change, or no check at all when both sides hold one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import event, reject

from lstm_props._harness.checks import check_close
from lstm_props.maths import kinks


def check_one_sided_where_clamps_change(
    where: float | None,
    along: Callable[[float], float],
    loss: Callable[[float], float],
    eta: float,
    rounding: float,
    backward: float,
    *,
    derivative: str,
    case: Any,
) -> bool:
    """Whether the example was settled here (the central difference is then not its check).

    ``where``: smooth_stencil's answer; CENTRAL: nothing to do (False). None: a clamp
    changes on both sides, the example is not decided (rejected). A side s = ±1: the
    backward's directional derivative ``along(s)`` must meet that side's one-sided
    difference within its bound (kinks.one_sided), or the property fails naming
    ``derivative``."""
    if where == kinks.CENTRAL:
        return False
    if where is None:
        event("a clamp changes on both sides of the finite-difference points: not decided")
        reject()
    event("a clamp changes between the finite-difference points: checked one-sided")
    d_side, side_bound = kinks.one_sided(loss, eta, where, rounding, backward)
    check_close(
        np.array([along(where)]),
        np.array([d_side]),
        side_bound,
        claim=f"{derivative} ≠ one-sided finite difference (side {where:+.0f}; a clamp "
        "changes on the other side)",
        case=case,
        axes=("probe",),
    )
    return True
