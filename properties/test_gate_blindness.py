"""The gates are blind to c_{t-1}: the carry map is affine in c_{t-1}.

With x_t and h_{t-1} fixed, c_t(c) = f ⊙ c + i ⊙ g where f, i, g do not depend on c, so
c_t(c + δ) − c_t(c) = f ⊙ δ for *every* δ, not just infinitesimal ones. This is checked by
forward evaluations alone, so it applies where no autograd exists.
"""

from __future__ import annotations

import numpy as np

from lstm_props.maths import carry, probed
from lstm_props.maths import tolerances as tol
from lstm_props.maths.reference import carry_derivative, lstm_step
from lstm_props.maths.variants import BOUNDED, DENSE_CARRY, DIAGONAL, PLAIN_OUTPUT
from lstm_props.testing import (
    assume_cell_clip_decided,
    check_close,
    check_true,
    lstm_property,
)

STEP_AXES = ("step", "batch row", "coordinate")


def _slopes(case, t, traj):
    """Secant slopes of c ↦ c_t(x_t, h_{t-1}, c) over [c, c+δ₁] and [c+δ₁, c+δ₁+δ₂]."""
    be = case.cell.backend
    x, h = be.asarray(traj.xs[t]), be.asarray(traj.hs[t])
    c0 = traj.cs[t]
    c1 = be.rounded(c0 + carry.probe(c0, 1, c0))
    c2 = be.rounded(c1 + carry.probe(c0, 2, c0))
    outs = [be.to_numpy(case.cell.step(x, h, be.asarray(c))[1]) for c in (c0, c1, c2)]
    return (c0, c1, c2), outs


@lstm_property(
    "unclipped_cell",
    variants=BOUNDED,
    why="peephole gates read c_{t-1}; " + DENSE_CARRY,
    relies_on=("carry_map_is_coordinatewise",),
)
def test_carry_map_is_affine_in_c(lstm):
    """c_t(c+δ) − c_t(c) = f_t ⊙ δ with f_t independent of c (forward evaluations only).

    Black-box: the secant slopes over two disjoint intervals agree and lie in [0, 1].
    With the layout: both equal the oracle's f_t.
    Tolerance: each evaluation's rounding, |f c| + |i g| + |c_t| times a few u, over |δ|
    (black-box: |f|, |i g| ≤ 1); with the layout, the oracle's error bound on c_t and f_t.
    Failure: a gate reads c_{t-1} (an undeclared peephole, h and c swapped), or the carry
    passes through a nonlinearity (clipping, tanh on c).
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        u = tol.unit_roundoff(case.dtype)
        for t in range(traj.steps):
            (c0, c1, c2), (y0, y1, y2) = _slopes(case, t, traj)
            s1, s2 = (y1 - y0) / (c1 - c0), (y2 - y1) / (c2 - c1)
            d1, d2 = np.abs(c1 - c0), np.abs(c2 - c1)
            if case.params is None:
                rnd = [
                    8 * u * (np.abs(c) + np.abs(y) + 1) for c, y in ((c0, y0), (c1, y1), (c2, y2))
                ]
                bound = tol.SAFETY * ((rnd[0] + rnd[1]) / d1 + (rnd[1] + rnd[2]) / d2)
                check_close(
                    s2,
                    s1,
                    bound,
                    claim="carry slope depends on c_{t-1}",
                    case=case,
                    axes=STEP_AXES,
                    offset=(t + 1,),
                )
                check_close(
                    np.clip(s1, 0, 1),
                    s1,
                    tol.SAFETY * (rnd[0] + rnd[1]) / d1,
                    claim="carry slope outside [0, 1]",
                    case=case,
                    axes=STEP_AXES,
                    offset=(t + 1,),
                )
                continue
            for c_a, c_b, y_a, y_b, d in ((c0, c1, y0, y1, d1), (c1, c2, y1, y2, d2)):
                args = (case.params, traj.gate_xs[t], traj.hs[t])
                err_a = tol.step_error(*args, c_a, lstm.variant, case.dtype)
                err_b = tol.step_error(*args, c_b, lstm.variant, case.dtype)
                f = lstm_step(*args, c_a, lstm.variant).f
                bound = tol.SAFETY * (err_a.df + (err_a.dc + err_b.dc) / d)
                check_close(
                    (y_b - y_a) / (c_b - c_a),
                    f,
                    bound,
                    claim="carry slope (c_t(c+δ) − c_t(c))/δ ≠ oracle f_t",
                    case=case,
                    axes=STEP_AXES,
                    offset=(t + 1,),
                )

    prop()


@lstm_property(
    "autograd",
    "layout",
    variants=PLAIN_OUTPUT,
    why="the output peephole adds p_o terms; a layer norm on c makes ∂h_t/∂c_t dense",
    relies_on=("carry_jacobian_diagonal_equals_forget_gate",),
)
def test_hidden_output_carry_derivative(lstm):
    """∂h_t/∂c_{t-1} |carry = W_hr · diag(o_t ⊙ tanh'(c_t) ⊙ f_t)  (W_hr = I unprojected).

    Derivative: the implementation's backward, h_{t-1} and x_t fixed; o_t, c_t, f_t from the
    oracle. Every other entry (other units, other batch rows) must vanish. One-hot rows up
    to DENSE_ROWS; above, probes (see _probed_hidden_carry).
    Failure: the output path reads the wrong state (h' = o ⊙ tanh(c_{t-1}), tanh missing,
    h and c swapped), or the projection is applied in the wrong place.
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        assume_cell_clip_decided(case, traj, lstm.variant)
        params = case.params
        for t in probed.examined_steps(traj.steps, max(case.h0.size, case.c0.size)):
            args = (params, traj.gate_xs[t], traj.hs[t], traj.cs[t])
            v = lstm_step(*args, lstm.variant)
            err = tol.step_error(*args, lstm.variant, case.dtype)
            # f ⊙ 1[|ĉ| < m] with a cell clip: carry_derivative, for these variants
            diag = v.o * (1 - np.tanh(v.c) ** 2) * carry_derivative(*args, lstm.variant)
            factor_err = tol.jacobian_factor_error(err, traj.cs[t], v.c, case.dtype)
            if max(traj.hs[t].size, traj.cs[t].size) > probed.DENSE_ROWS:
                _probed_hidden_carry(case, t, traj, diag, factor_err)
                continue
            got = carry.hidden_carry_jacobian(case.cell, traj.xs[t], traj.hs[t], traj.cs[t])
            b, _, _, h = got.shape
            w_hr = np.eye(h) if params.w_hr is None else params.w_hr
            want = np.zeros_like(got)
            bound = np.zeros_like(got)
            for row in range(b):
                want[row, :, row, :] = w_hr * diag[row]
                bound[row, :, row, :] = (
                    tol.SAFETY
                    * np.abs(w_hr)
                    * (factor_err[row] + tol.gamma(h + 2, case.dtype) * np.abs(diag[row]))
                )
            check_close(
                got,
                want,
                bound,
                claim="∂h_t/∂c_{t-1} ≠ W_hr diag(o tanh'(c_t) f)",
                case=case,
                axes=("step", "batch row b", "unit p", "batch row b'", "coordinate k"),
                offset=(t + 1,),
            )

    prop()


def _probed_hidden_carry(case, t, traj, diag, factor_err):
    """∂h_t/∂c_{t-1} |carry at large B·H without materialising it (lstm_props.maths.probed).

    Unprojected, the Jacobian is diag(o tanh'(c_t) f): coordinate-group probes prove every
    off-diagonal entry exactly 0 and read the diagonal, held to the dense path's bound.
    Projected (W_hr, P ≠ H), random cotangents ū (B, P): ūᵀJ = (ū W_hr) ⊙ d per batch row,
    within Σ_p |ū_p| times the dense entry bound, the backward's P-term sum adding γ_P.
    """
    be, params = case.cell.backend, case.params
    x_arr, h_arr = be.asarray(traj.xs[t]), be.asarray(traj.hs[t])

    def fn(cc):
        return (case.cell.step(x_arr, h_arr, cc)[0],)

    hidden = diag.shape[1]
    axes = ("step", "batch row", "coordinate")
    if params.w_hr is None:
        ev = probed.diagonal_evidence(case.cell, fn, traj.cs[t])
        check_true(
            ev.off == 0,
            claim="off-diagonal entry of ∂h_t/∂c_{t-1} is not 0",
            case=case,
            axes=ev.off_axes,
            offset=(t + 1,),
            values=ev.off,
        )
        bound = tol.SAFETY * (factor_err + tol.gamma(hidden + 2, case.dtype) * np.abs(diag))
        check_close(
            ev.diagonal,
            diag,
            bound,
            claim="∂h_t/∂c_{t-1} ≠ diag(o tanh'(c_t) f)",
            case=case,
            axes=axes,
            offset=(t + 1,),
        )
        return
    u = np.stack([carry.probe(traj.hs[t], 131 + k, traj.cs[t]) for k in range(2)])
    u = be.rounded(u)
    (got,) = be.vjp_rows(fn, (traj.cs[t],), (u,))
    want = (u @ params.w_hr) * diag
    n = hidden + 2 + params.w_hr.shape[0]
    bound = (
        tol.SAFETY
        * (np.abs(u) @ np.abs(params.w_hr))
        * (factor_err + tol.gamma(n, case.dtype) * np.abs(diag))
    )
    check_close(
        got,
        want,
        bound,
        claim=f"ūᵀ ∂h_t/∂c_{{t-1}} ≠ ūᵀ W_hr diag(o tanh'(c_t) f) at step {t + 1}",
        case=case,
        axes=("probe", "batch row", "coordinate"),
    )


@lstm_property(
    "autograd",
    "unclipped_cell",
    variants=BOUNDED,
    why="peephole gates read c_{t-1}; " + DENSE_CARRY,
    relies_on=("carry_map_is_affine_in_c",),
)
def test_carry_slope_matches_autograd(lstm):
    """(c_t(c+δ) − c_t(c))/δ = 1ᵀ ∂c_t/∂c_{t-1} |carry per coordinate: the forward's
    secant slope equals the backward's carry derivative (black-box, no oracle).

    Derivative: the implementation's backward with x_t and h_{t-1} fixed, cotangent 1 (the
    diagonal, since the carry Jacobian is diagonal); against its own forward.
    Tolerance: the secant's rounding, a few u·(|c| + |c_t| + 1) per evaluation over |δ|
    (the map is affine, so there is no truncation error), plus one u·|slope|.
    Failure: a backward that disagrees with its forward: the carry detached from the graph,
    f² or 0 in a custom backward, a gradient scaled or taken at the wrong step.
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        u = tol.unit_roundoff(case.dtype)
        for t in range(traj.steps):
            (c0, c1, _), (y0, y1, _) = _slopes(case, t, traj)
            slope = (y1 - y0) / (c1 - c0)
            grad = carry.carry_vjp(case.cell, traj.xs[t], traj.hs[t], c0, np.ones_like(c0))
            rnd = [8 * u * (np.abs(c) + np.abs(y) + 1) for c, y in ((c0, y0), (c1, y1))]
            bound = tol.SAFETY * ((rnd[0] + rnd[1]) / np.abs(c1 - c0) + u * np.abs(slope))
            check_close(
                grad,
                slope,
                bound,
                claim="backward carry derivative ≠ the forward's secant slope",
                case=case,
                axes=STEP_AXES,
                offset=(t + 1,),
            )

    prop()


@lstm_property("deterministic", variants=DIAGONAL, why=DENSE_CARRY)
def test_carry_map_is_coordinatewise(lstm):
    """c_t(c + δ_S) and c_t(c) agree bitwise on every coordinate (b, k) ∉ S: the carry map
    is coordinatewise, ∂c_t[b,k]/∂c_{t-1}[b',k'] |carry = 0 for (b,k) ≠ (b',k'), and that
    holds for finite δ, not only infinitesimally (forward evaluations only, no oracle).

    Derivative: none; the forward's own finite differences, x_t and h_{t-1} held fixed. The
    sets S split every pair of coordinates (carry.coordinate_groups), so m ≈ log₂ BH
    evaluations see every off-diagonal entry.
    Tolerance: none. With x_t and h_{t-1} unchanged the gates are bitwise the same, and
    c_t[b,k] = f c_{t-1}[b,k] + i g reads no other coordinate of c_{t-1} (peepholes too read
    c_{t-1}[b,k] alone), so a deterministic kernel must reproduce every bit of it.
    Failure: a gate reads c_{t-1} through a matrix (h and c swapped on the way in, c fed to
    W_hh), units or batch rows mixed in the carry, or a kernel that writes c_t with a wrong
    stride. Seen by any implementation with a forward: ONNX Runtime, exported models.
    """

    @lstm.given(lstm.cases(max_steps=3))
    def prop(case):
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        bk = case.cell.backend
        b, hidden = case.c0.shape
        for t in range(traj.steps):
            x, h, c = bk.asarray(traj.xs[t]), bk.asarray(traj.hs[t]), traj.cs[t]
            base = bk.to_numpy(case.cell.step(x, h, bk.asarray(c))[1])
            delta = carry.probe(c, 41, c, traj.xs[t])
            for group in carry.coordinate_groups(b * hidden):
                moved = c.reshape(-1).copy()
                moved[group] += delta.reshape(-1)[group]
                moved = bk.rounded(moved.reshape(b, hidden))
                out = bk.to_numpy(case.cell.step(x, h, bk.asarray(moved))[1])
                outside = np.ones(b * hidden, dtype=bool)
                outside[group] = False
                outside = outside.reshape(b, hidden)
                check_true(
                    ~outside | (out == base),
                    claim="c_t changed on a coordinate whose c_{t-1} was not moved "
                    "(the carry map is not coordinatewise)",
                    case=case,
                    axes=STEP_AXES,
                    offset=(t + 1,),
                    values=out - base,
                )

    prop()
