"""|J_t|, the absolute one-step state Jacobian, as an operator: dense when small, matrix-free
from the oracle when large.

Value and gradient bounds of composed steps (lstm_props.maths.composed, test_two_track) carry
errors forward as E_t = |J_t| E_{t−1} + e_t and backward as |ū|ᵀ∏|J_t|. Materialising J_t
takes B·(P+H) backward rows and (B·(P+H))² memory: 6 GFLOP and 300 MB a step at H = 1024.
Above ``DENSE_STATE_ROWS`` rows the operator is instead an entrywise upper bound M_t ≥ |J_t|
applied in O(B·H·(D+P)), written from the step's chain rule with every term made
non-negative (|Σ a| ≤ Σ |a|, |AB| ≤ |A||B|), at the float64 oracle's gate values on the
recorded states, per layer (layer l reads layer l−1's fresh output):

    δz   = |W_h| δh + |W_x| δx  (+ |p_i| δc, |p_f| δc into z_i, z_f with peepholes)
    δc'  = f δc + |c| σ'_f δz_f + |g| σ'_i δz_i + i tanh'_g δz_g   (cifg: δi = σ'_f δz_f)
    δz_o += |p_o| δc' (peepholes),  δh' = |W_hr| (|tanh c'| σ'_o δz_o + o tanh'(c') δc')

σ' = σ(1−σ) and tanh' = 1 − tanh² at the (clamped) argument bound the derivative where a
clip makes it 0. A layer norm's Jacobian J_LN = r diag(γ)(I − 11ᵀ/n − x̂x̂ᵀ/n) is bounded by
r diag|γ|(I + 11ᵀ/n + |x̂||x̂|ᵀ/n), applied in O(n): after |W_h|δh and |W_x|δx with gate
norms, after the update with the carried cell normalised, before o tanh'(·) with Ba's norm
on what h reads (whose tanh is then of the normalised cell). This bounds the exact
Jacobian, which is what first-order error propagation uses; the dense path's |J_t| is the
implementation's rounded version of the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import clamp, layer_norm, lstm_step
from lstm_props.maths.variants import as_variant

#: State Jacobians with at most this many rows B·(P+H) (all layers) are materialised.
DENSE_STATE_ROWS = 256


class DenseAbs:
    """|J| materialised: (n, n) over the packed state (carry.pack order)."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix

    def matvec(self, e: np.ndarray) -> np.ndarray:
        return self.matrix @ e

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        return v @ self.matrix


@dataclass(frozen=True)
class _Layer:
    params: LSTMParams
    slope_i: np.ndarray  # (B, H) multipliers of δz_i, δz_f, δz_g, δz_o in δc' and δh'
    slope_f: np.ndarray
    slope_g: np.ndarray
    slope_o: np.ndarray
    f: np.ndarray
    out: np.ndarray  # o tanh'(q): δq -> δh_pre, q = c' or Ba's N(c')
    peep: np.ndarray | None  # |p_i|, |p_f|, |p_o| (3, H) for the peephole variant
    #: bounds on |J_LN| of N(W_ih x), N(W_hh h) and the cell's norm, where the variant has them
    norm_ih: _AbsNorm | None = None
    norm_hh: _AbsNorm | None = None
    norm_c: _AbsNorm | None = None
    #: the carried c' is normalised (else only what h reads is, if norm_c is set)
    carried_norm: bool = False


@dataclass(frozen=True)
class _AbsNorm:
    """r diag|γ| (I + 11ᵀ/n + |x̂||x̂|ᵀ/n) ≥ |J_LN| entrywise, per row: r (B, 1), ax = |x̂|."""

    r: np.ndarray
    ax: np.ndarray
    g: np.ndarray

    @classmethod
    def at(cls, v: np.ndarray, gain: np.ndarray, eps: float) -> _AbsNorm:
        d = v - v.mean(-1, keepdims=True)
        r = 1.0 / np.sqrt((d * d).mean(-1, keepdims=True) + eps)
        return cls(r, np.abs(d * r), np.abs(gain))

    def matvec(self, e: np.ndarray) -> np.ndarray:
        inner = e + e.mean(-1, keepdims=True) + self.ax * (self.ax * e).mean(-1, keepdims=True)
        return self.r * self.g * inner

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        w = self.g * v
        return self.r * (
            w + w.mean(-1, keepdims=True) + self.ax * (self.ax * w).mean(-1, keepdims=True)
        )


class OracleAbsBound:
    """M_t ≥ |J_t| entrywise for a stack of unidirectional layers, matrix-free.

    Vectors are packed like :func:`carry.pack` of the stack's state: per batch row,
    [h of every layer (L·P), c of every layer (L·H)].
    """

    def __init__(
        self,
        layers: list[LSTMParams],
        variant: str,
        gate_x: np.ndarray,
        h: np.ndarray,
        c: np.ndarray,
        h_new: np.ndarray,
        slack: float = 0.0,
    ) -> None:
        """``slack`` ≥ 0 is added to every gate-derivative weight (f, the slopes, o tanh'):
        the operator then bounds a Jacobian whose weights are each off by at most ``slack``
        (the implementation's, built from its own rounded gate values)."""
        self.variant = variant
        self.p, self.hid = layers[0].output_size, layers[0].hidden_size
        self.batch = h.shape[0]
        self.layers: list[_Layer] = []
        x = gate_x
        kind = as_variant(variant)
        for k, params in enumerate(layers):
            hk = slice(k * self.p, (k + 1) * self.p)
            ck = slice(k * self.hid, (k + 1) * self.hid)
            v = lstm_step(params, x, h[:, hk], c[:, ck], variant)
            s_f = v.f * (1 - v.f) if kind.has_forget_gate else np.zeros_like(v.f)
            s_i = v.i * (1 - v.i)
            norms: dict[str, Any] = {}
            if kind.normalizes_gates:
                g_ih, g_hh = params.gate_norm()
                norms["norm_ih"] = _AbsNorm.at(x @ params.w_ih.T, g_ih, params.ln_eps)
                norms["norm_hh"] = _AbsNorm.at(h[:, hk] @ params.w_hh.T, g_hh, params.ln_eps)
            q = v.c  # what h's tanh reads
            if kind.normalizes_cell or kind.normalizes_cell_output:
                g_c, b_c = params.cell_norm()
                c_hat = clamp(v.f * c[:, ck] + v.i * v.g, params.cell_clip)
                norms["norm_c"] = _AbsNorm.at(c_hat, g_c, params.ln_eps)
                norms["carried_norm"] = kind.normalizes_cell
                q = layer_norm(c_hat, g_c, b_c, params.ln_eps)
            tau = np.tanh(q)
            slope_f = np.abs(c[:, ck]) * s_f + (np.abs(v.g) * s_f if kind.coupled_input else 0)
            slope_i = np.zeros_like(s_i) if kind.coupled_input else np.abs(v.g) * s_i
            r = slack
            self.layers.append(
                _Layer(
                    params,
                    slope_i + r,
                    slope_f + r,
                    np.abs(v.i) * (1 - v.g**2) + r,
                    np.abs(tau) * v.o * (1 - v.o) + r,
                    np.abs(v.f) + r,
                    np.abs(v.o) * (1 - tau**2) + r,
                    None
                    if not kind.reads_cell or params.peephole is None
                    else np.abs(params.peephole),
                    **norms,
                )
            )
            x = h_new[:, hk]

    def _split(self, vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = vec.reshape(self.batch, -1)
        n_h = len(self.layers) * self.p
        return s[:, :n_h], s[:, n_h:]

    def matvec(self, e: np.ndarray) -> np.ndarray:
        """M e for e ≥ 0: bounds on |δ(h_t, c_t)| from |δ(h_{t-1}, c_{t-1})| ≤ e."""
        e_h, e_c = self._split(e)
        out_h, out_c = np.zeros_like(e_h), np.zeros_like(e_c)
        dx: np.ndarray | float = 0.0
        for k, lay in enumerate(self.layers):
            p, hk, ck = (
                lay.params,
                slice(k * self.p, (k + 1) * self.p),
                slice(k * self.hid, (k + 1) * self.hid),
            )
            dz = _through(lay.norm_hh, e_h[:, hk] @ p.abs_w_hh.T)
            if isinstance(dx, np.ndarray):
                dz = dz + _through(lay.norm_ih, dx @ p.abs_w_ih.T)
            dz_i, dz_f, dz_g, dz_o = (dz[:, j * self.hid : (j + 1) * self.hid] for j in range(4))
            dc_prev, peep = e_c[:, ck], lay.peep
            if peep is not None:
                dz_i, dz_f = dz_i + peep[0] * dc_prev, dz_f + peep[1] * dc_prev
            dc = lay.f * dc_prev + lay.slope_f * dz_f + lay.slope_i * dz_i + lay.slope_g * dz_g
            dq = dc if lay.norm_c is None else lay.norm_c.matvec(dc)
            if lay.carried_norm:
                dc = dq
            if peep is not None:
                dz_o = dz_o + peep[2] * dc
            dh = lay.slope_o * dz_o + lay.out * dq
            if p.w_hr is not None:
                dh = dh @ np.abs(p.w_hr).T
            out_h[:, hk], out_c[:, ck], dx = dh, dc, dh
        return np.concatenate([out_h, out_c], axis=1).reshape(-1)

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        """vᵀM for v ≥ 0 (the transpose of :meth:`matvec`, layer by layer from the top)."""
        return self.rmatvec_with_input(v)[0]

    def rmatvec_with_input(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(vᵀM, vᵀM_x) for v ≥ 0: M_x ≥ |∂(h_t, c_t)/∂x_t| bounds the step's Jacobian with
        respect to the bottom layer's gate input, shape (B, D)."""
        v_h, v_c = self._split(v)
        out_h, out_c = np.zeros_like(v_h), np.zeros_like(v_c)
        from_above: np.ndarray | float = 0.0
        for k in range(len(self.layers) - 1, -1, -1):
            lay, hid = self.layers[k], self.hid
            p, hk, ck = (
                lay.params,
                slice(k * self.p, (k + 1) * self.p),
                slice(k * hid, (k + 1) * hid),
            )
            g_h = v_h[:, hk] + from_above
            if p.w_hr is not None:
                g_h = g_h @ np.abs(p.w_hr)
            g_zo = g_h * lay.slope_o
            g_q, peep = g_h * lay.out, lay.peep
            if lay.norm_c is None:
                g_c = v_c[:, ck] + g_q
            elif lay.carried_norm:
                g_c = lay.norm_c.rmatvec(v_c[:, ck] + g_q)
            else:
                g_c = v_c[:, ck] + lay.norm_c.rmatvec(g_q)
            if peep is not None:
                g_c = g_c + g_zo * peep[2]
            g_z = np.concatenate(
                [g_c * lay.slope_i, g_c * lay.slope_f, g_c * lay.slope_g, g_zo], axis=1
            )
            c_prev = g_c * lay.f
            if peep is not None:
                c_prev = c_prev + g_z[:, :hid] * peep[0] + g_z[:, hid : 2 * hid] * peep[1]
            out_h[:, hk] = _through_t(lay.norm_hh, g_z) @ p.abs_w_hh
            out_c[:, ck] = c_prev
            from_above = _through_t(lay.norm_ih, g_z) @ p.abs_w_ih
        # cast: the constructor reads layers[0], so the loop ran at least once and from_above
        # is g_z @ |W_ih| of the bottom layer, an array.
        return np.concatenate([out_h, out_c], axis=1).reshape(-1), cast(np.ndarray, from_above)


def _through(norm: _AbsNorm | None, e: np.ndarray) -> np.ndarray:
    return e if norm is None else norm.matvec(e)


def _through_t(norm: _AbsNorm | None, v: np.ndarray) -> np.ndarray:
    return v if norm is None else norm.rmatvec(v)


def abs_step_jacobian(
    cell: Any,
    layers: list[LSTMParams] | None,
    variant: str,
    traj: carry.Trajectory,
    t: int,
    dense_rows: int | None = None,
) -> DenseAbs | OracleAbsBound | None:
    """|J_{t+1}| (step t+1 from the recorded states t) as an operator; None when it is too
    large to materialise and there is no layout to bound it from (black-box mode)."""
    n = traj.hs[t].size + traj.cs[t].size
    if n <= (DENSE_STATE_ROWS if dense_rows is None else dense_rows):
        return DenseAbs(np.abs(carry.state_jacobian(cell, traj.xs[t], traj.hs[t], traj.cs[t])))
    if layers is None:
        return None
    return OracleAbsBound(layers, variant, traj.gate_xs[t], traj.hs[t], traj.cs[t], traj.hs[t + 1])


def chain_gradient_bound(
    u_abs: np.ndarray, jacs: list[Any], entry_error: list[float], n: int, dtype: str
) -> np.ndarray:
    """:func:`tolerances.chain_gradient_bound` with operators and per-step entry errors that
    are the same for every entry (ρ_t, an all-ρ_t matrix): |ū|ᵀ∏(|J_t| + ρ_t 11ᵀ) −
    |ū|ᵀ∏|J_t| + (T + 1)γ_n |ū|ᵀ∏|J_t|."""
    exact, perturbed = u_abs.copy(), u_abs.copy()
    for j, rho in zip(reversed(jacs), reversed(entry_error)):
        exact = j.rmatvec(exact)
        perturbed = j.rmatvec(perturbed) + rho * perturbed.sum()
    return (perturbed - exact) + (len(jacs) + 1) * tol.gamma(n, dtype) * exact


__all__ = [
    "DENSE_STATE_ROWS",
    "DenseAbs",
    "OracleAbsBound",
    "abs_step_jacobian",
    "chain_gradient_bound",
]
