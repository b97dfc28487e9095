"""Carry-path machinery: teacher-forced rollouts, carry Jacobians and their products.

The *carry path* is the partial derivative of the step map with x_t and h_{t-1} held fixed.
Teacher forcing makes that concrete over T steps: the recorded h_{t-1} of a plain forward
run is fed back as a constant, so the only dependence of c_T on c_0 is through the carry,

    ∂c_T/∂c_0 |carry = ∂c_T/∂c_{T-1} ··· ∂c_1/∂c_0 = diag(∏_t f_t)   (standard LSTM).

Every derivative here comes from the implementation's own backward (``Backend.vjp``); the
oracle's gates come from :mod:`lstm_props.maths.reference`, evaluated on the recorded inputs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from itertools import combinations, islice
from math import comb
from typing import Any

import numpy as np

from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import GateValues, log_forget, lstm_step, unclipped_cell


@dataclass(frozen=True)
class Trajectory:
    """A recorded forward run. xs (T, B, D); gate_xs (T, B, D_layer) what the layer's gates
    read; hs (T+1, B, P) and cs (T+1, B, H) with hs[0] = h_0, cs[0] = c_0."""

    xs: np.ndarray
    gate_xs: np.ndarray
    hs: np.ndarray
    cs: np.ndarray

    @property
    def steps(self) -> int:
        return self.xs.shape[0]


def record(cell: Any, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> Trajectory:
    """Run ``cell.step`` T times from (h0, c0) and record every state (float64 copies)."""
    be = cell.backend
    h, c = be.asarray(h0), be.asarray(c0)
    hs, cs = [h0], [c0]
    for x in xs:
        h, c = cell.step(be.asarray(x), h, c)
        hs.append(be.to_numpy(h))
        cs.append(be.to_numpy(c))
    gate_xs = np.stack([cell.gate_input(x) for x in xs])
    return Trajectory(xs, gate_xs, np.stack(hs), np.stack(cs))


def oracle_steps(params: LSTMParams, traj: Trajectory, variant: str) -> list[GateValues]:
    """The reference cell at each recorded (gate input, h_{t-1}, c_{t-1}): teacher-forced."""
    return [
        lstm_step(params, traj.gate_xs[t], traj.hs[t], traj.cs[t], variant)
        for t in range(traj.steps)
    ]


def oracle_log_forget(params: LSTMParams, traj: Trajectory, variant: str) -> np.ndarray:
    """log f_t for t = 1..T, shape (T, B, H), computed without underflow; with a cell clip,
    log of the carry derivative f_t ⊙ 1[|ĉ_t| < m]: −inf where step t clamps."""
    logs = np.stack(
        [log_forget(params, traj.gate_xs[t], traj.hs[t], variant) for t in range(traj.steps)]
    )
    if params.cell_clip is not None:
        for t, v in enumerate(oracle_steps(params, traj, variant)):
            clamped = np.abs(unclipped_cell(v, traj.cs[t])) >= params.cell_clip
            logs[t][clamped] = -np.inf
    return logs


def step_vjp(
    cell: Any,
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    u_h: np.ndarray | None,
    u_c: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(ū_hᵀ ∂h_t/∂h_{t-1} + ū_cᵀ ∂c_t/∂h_{t-1}, same for c_{t-1}) at one step, x fixed."""
    be = cell.backend
    x_arr = be.asarray(x)
    u_h = np.zeros_like(h) if u_h is None else u_h
    u_c = np.zeros_like(c) if u_c is None else u_c
    grad_h, grad_c = be.vjp(lambda hh, cc: cell.step(x_arr, hh, cc), (h, c), (u_h, u_c))
    return grad_h, grad_c


def carry_vjp(cell: Any, x: np.ndarray, h: np.ndarray, c: np.ndarray, u: np.ndarray) -> np.ndarray:
    """ūᵀ ∂c_t/∂c_{t-1} with x_t and h_{t-1} held fixed: the carry path, one step."""
    be = cell.backend
    x_arr, h_arr = be.asarray(x), be.asarray(h)
    (grad,) = be.vjp(lambda cc: (cell.step(x_arr, h_arr, cc)[1],), (c,), (u,))
    return grad


def _rows(cell: Any, fn_of_c: Any, c: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """Materialise a Jacobian with one-hot cotangents: shape (*out_shape, *c.shape)."""
    n = int(np.prod(out_shape))
    (rows,) = cell.backend.vjp_rows(fn_of_c, (c,), (np.eye(n).reshape(n, *out_shape),))
    return rows.reshape(*out_shape, *c.shape)


def carry_jacobian(cell: Any, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> np.ndarray:
    """∂c_t/∂c_{t-1} |carry, all of it, shape (B, H, B, H): for small sizes only."""
    be = cell.backend
    x_arr, h_arr = be.asarray(x), be.asarray(h)
    return _rows(cell, lambda cc: (cell.step(x_arr, h_arr, cc)[1],), c, c.shape)


def hidden_carry_jacobian(cell: Any, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> np.ndarray:
    """∂h_t/∂c_{t-1} |carry, shape (B, P, B, H): for small sizes only."""
    be = cell.backend
    x_arr, h_arr = be.asarray(x), be.asarray(h)
    return _rows(cell, lambda cc: (cell.step(x_arr, h_arr, cc)[0],), c, h.shape)


def carry_adjoints(cell: Any, traj: Trajectory, u: np.ndarray) -> np.ndarray:
    """ā_s = ūᵀ ∂c_T/∂c_s |carry for s = T, ..., 0, shape (T+1, B, H), ā_T = ū.

    Composed from one-step VJPs at the recorded states, so memory is one step's whatever T.
    """
    adj = [u]
    for t in range(traj.steps, 0, -1):
        adj.append(carry_vjp(cell, traj.xs[t - 1], traj.hs[t - 1], traj.cs[t - 1], adj[-1]))
    return np.stack(adj[::-1])


def teacher_forced_c(cell: Any, traj: Trajectory, c0: Any) -> Any:
    """c_T as a function of c_0 with every h_{t-1} fixed at its recorded value."""
    be = cell.backend
    c = c0
    for t in range(traj.steps):
        c = cell.step(be.asarray(traj.xs[t]), be.asarray(traj.hs[t]), c)[1]
    return c


def teacher_forced_states(
    cell: Any, traj: Trajectory, c0: np.ndarray, before_step: Any = None
) -> np.ndarray:
    """c_1, ..., c_T from ``c0`` with every h_{t-1} fixed at its recorded value, by forward
    evaluations alone, shape (T, B, H); ``before_step(t)`` runs before step t (1-based), e.g.
    to rewrite the parameters."""
    be = cell.backend
    c, cs = be.asarray(c0), []
    for t in range(traj.steps):
        if before_step is not None:
            before_step(t + 1)
        c = cell.step(be.asarray(traj.xs[t]), be.asarray(traj.hs[t]), c)[1]
        cs.append(be.to_numpy(c))
    return np.stack(cs)


def coordinate_groups(n: int) -> list[np.ndarray]:
    """Index sets S_1, ..., S_m over range(n) such that for any two distinct indices j ≠ k
    some set holds j and not k, with m ≈ log₂ n + ½ log₂ log₂ n (14 sets at n = 2048).

    Index i gets the i-th m-bit codeword of weight ⌊m/2⌋ and S_b = {i : bit b of i's
    codeword is 1}, m the least length with C(m, ⌊m/2⌋) ≥ n. Two distinct codewords of one
    weight are never nested (a Sperner family), so j's codeword has a 1 where k's has a 0:
    perturbing each set in turn and finding every coordinate outside it bitwise unchanged
    proves the map has no off-diagonal dependence, with m evaluations instead of n (the
    plain bit sets and their complements need 2⌈log₂ n⌉: 22 at n = 2048). Every index lies
    in ⌊m/2⌋ ≥ 1 sets.
    """
    index = np.arange(n)
    if n < 2:
        return [index]
    m = 2
    while comb(m, m // 2) < n:
        m += 1
    codewords = np.zeros((n, m), dtype=bool)
    for i, ones in enumerate(islice(combinations(range(m), m // 2), n)):
        codewords[i, list(ones)] = True
    return [index[codewords[:, b]] for b in range(m)]


def teacher_forced_vjp(cell: Any, traj: Trajectory, u: np.ndarray) -> np.ndarray:
    """ūᵀ ∂c_T/∂c_0 |carry through one backward over the whole T-step graph."""
    (grad,) = cell.backend.vjp(lambda c0: (teacher_forced_c(cell, traj, c0),), (traj.cs[0],), (u,))
    return grad


def rollout(cell: Any, xs: np.ndarray, h0: Any, c0: Any) -> tuple[list[Any], Any, Any]:
    """Free-running T steps (h fed back, not teacher-forced): (ys, h_T, c_T) as arrays."""
    be = cell.backend
    h, c, ys = h0, c0, []
    for x in xs:
        h, c = cell.step(be.asarray(x), h, c)
        ys.append(h)
    return ys, h, c


def probe(like: np.ndarray, salt: int, *arrays: np.ndarray) -> np.ndarray:
    """A cotangent or direction shaped like ``like``: entries ±[0.5, 2], never 0.

    Derived deterministically from the case's own arrays, so a shrunk failing case replays
    with the same probes. Random directions make ūᵀJ see every off-diagonal entry of J with
    probability 1 (Hutchinson-style), at the cost of one backward.
    """
    seed = zlib.crc32(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)) ^ salt
    rng = np.random.default_rng(seed)
    mag = rng.uniform(0.5, 2.0, like.shape)
    # The signs drawn and applied a block at a time, in place: a direction in every weight
    # of an H = 4096 layer is 1 GB, and np.where(rng.random(...) < 0.5, -mag, mag) held four
    # of its size at once. The generator's stream is the same drawn in blocks or at once.
    flat = mag.reshape(-1)
    for start in range(0, flat.size, _SIGN_BLOCK):
        block = flat[start : start + _SIGN_BLOCK]
        np.negative(block, out=block, where=rng.random(block.size) < 0.5)
    return mag


#: Entries whose signs are drawn at a time by ``probe`` (8 MB of float64).
_SIGN_BLOCK = 1 << 20


def state_jacobian(cell: Any, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The whole one-step Jacobian ∂(h_t, c_t)/∂(h_{t-1}, c_{t-1}), x_t fixed.

    State vector per batch row is [h (P), c (H)]; result (B·(P+H), B·(P+H)) with rows and
    columns ordered (row b, then h before c). Small sizes only.
    """
    be = cell.backend
    x_arr = be.asarray(x)
    b, p, hid = h.shape[0], h.shape[1], c.shape[1]
    n = b * (p + hid)
    e = np.eye(n).reshape(n, b, p + hid)
    gh, gc = be.vjp_rows(
        lambda hh, cc: cell.step(x_arr, hh, cc), (h, c), (e[:, :, :p], e[:, :, p:])
    )
    return np.concatenate([gh, gc], axis=2).reshape(n, n)


def pack(h: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(B, P), (B, H) -> the flat state vector of :func:`state_jacobian`."""
    return np.concatenate([h, c], axis=1).reshape(-1)
