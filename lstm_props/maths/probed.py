"""Diagonal Jacobians at the target's own size: exact structural claims by cheap probes.

The small-size properties materialise ∂c_t/∂c_{t-1} with one-hot cotangents, n = B·H rows
and (B·H)² entries: right at H ≤ 7, hopeless at a user's H = 1024. For a map claimed to be
coordinatewise (J diagonal) the same two claims follow from m ≈ log₂ n cotangents (the
sets of :func:`carry.coordinate_groups`, 14 at n = 2048):

* the cotangent w_S (random weights w on the index set S of :func:`carry.coordinate_groups`,
  0 elsewhere) gives g = w_Sᵀ J with g_k = Σ_{j ∈ S} w_j J[j, k]. Every entry outside S must
  be exactly 0, bitwise: a backward through an elementwise graph never adds anything there.
  For any two indices j ≠ k some set holds j and not k, so each off-diagonal entry J[j, k]
  shows in some g_k with k ∉ S, weighted by a generic w_j (random magnitudes, so entries of
  a coupled map do not cancel, as ±1 indicator weights could for a symmetric coupling);
* once every off-set entry is 0 the on-set entries are g_k = fl(w_k J[k, k]): the diagonal,
  up to the one rounding of a probe's product, which the error model already allows a VJP.

Up to ``DENSE_ROWS`` rows the dense Jacobian is cheap and kept (its messages name both
coordinates of an off-diagonal entry); above it, memory is O(n log n) and the backward runs
m rows of elementwise work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_props.maths.carry import _rows, coordinate_groups, probe

#: Jacobians with at most this many rows (B·H) are materialised; larger ones are probed.
DENSE_ROWS = 64


@dataclass(frozen=True)
class DiagonalEvidence:
    """What the cell's backward says about a square Jacobian J claimed to be diagonal.

    diagonal (B, H): J[k, k]. off: the off-diagonal evidence, which must be exactly 0 —
    dense: the entries themselves, shape (B, H, B, H), axes ``OFF_AXES_DENSE``; probed:
    for each column (b', k'), the largest |w_Sᵀ J|_{(b', k')}| over the sets S without it,
    shape (B, H), axes ``OFF_AXES_PROBED``. entries: what the unit-interval claim reads
    (dense: all of J; probed: the diagonal, the off-diagonal ones being 0 by ``off``).
    """

    diagonal: np.ndarray
    off: np.ndarray
    entries: np.ndarray
    dense: bool

    @property
    def off_axes(self) -> tuple[str, ...]:
        return OFF_AXES_DENSE if self.dense else OFF_AXES_PROBED


OFF_AXES_DENSE = ("step", "batch row b", "coordinate k", "batch row b'", "coordinate k'")
OFF_AXES_PROBED = ("step", "batch row b'", "coordinate k' (column of ∂c_t/∂c_{t-1})")


def examined_steps(steps: int, rows: int) -> range:
    """The steps of a trajectory whose Jacobian a property examines: every step while it is
    materialised, the last step alone once it is probed. A probed step costs m ≈ log₂ n
    backward calls, and a fused kernel's backward is dear (nn.LSTM's CPU kernel: about
    90 ms a layer at H = 1024, 9× LSTMCell's); the last step is reached through every
    earlier call, so state a kernel keeps between calls shows there, and the values of
    every step are still compared where a property compares them."""
    return range(steps) if rows <= DENSE_ROWS else range(steps - 1, steps)


def diagonal_evidence(
    cell: Any, fn_of_c: Callable[[Any], tuple[Any]], c: np.ndarray, dense_rows: int | None = None
) -> DiagonalEvidence:
    """Diagonal and off-diagonal evidence of J = ∂fn(c)/∂c (fn(c) shaped like c); dense up
    to ``dense_rows`` rows (default: the module's DENSE_ROWS, read at call time)."""
    if c.size <= (DENSE_ROWS if dense_rows is None else dense_rows):
        jac = _rows(cell, fn_of_c, c, c.shape)
        n = c.size
        flat = jac.reshape(n, n)
        diagonal = flat.diagonal().reshape(c.shape).copy()
        off = np.where(np.eye(n, dtype=bool), 0.0, flat).reshape(jac.shape)
        return DiagonalEvidence(diagonal, off, jac, True)
    n = c.size
    groups = coordinate_groups(n)
    weights = cell.backend.rounded(probe(c, 97, c)).reshape(n)
    member = np.zeros((len(groups), n), dtype=bool)
    for r, group in enumerate(groups):
        member[r, group] = True
    rows = np.where(member, weights, 0.0)
    (grads,) = cell.backend.vjp_rows(fn_of_c, (c,), (rows.reshape(len(groups), *c.shape),))
    grads = grads.reshape(len(groups), n)
    off = np.abs(np.where(member, 0.0, grads)).max(axis=0)
    first = member.argmax(axis=0)  # every index lies in some set
    diagonal = (grads[first, np.arange(n)] / weights).reshape(c.shape)
    return DiagonalEvidence(diagonal, off.reshape(c.shape), diagonal, False)


def carry_evidence(
    cell: Any, x: np.ndarray, h: np.ndarray, c: np.ndarray, dense_rows: int | None = None
) -> DiagonalEvidence:
    """:func:`diagonal_evidence` of ∂c_t/∂c_{t-1} |carry (x_t and h_{t-1} held fixed)."""
    be = cell.backend
    x_arr, h_arr = be.asarray(x), be.asarray(h)
    return diagonal_evidence(cell, lambda cc: (cell.step(x_arr, h_arr, cc)[1],), c, dense_rows)


__all__ = [
    "DENSE_ROWS",
    "DiagonalEvidence",
    "carry_evidence",
    "diagonal_evidence",
    "examined_steps",
]
