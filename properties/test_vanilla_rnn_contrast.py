"""Why the carry matters: the vanilla RNN's only path crosses W_hh every step.

For h_t = tanh(W_ih x_t + W_hh h_{t-1} + b) the one-step Jacobian diag(1 − h_t²) W_hh is
as dense as W_hh, and ‖∏_t J_t‖₂ ≤ (σ_max(W_hh) · max tanh')^T = σ_max(W_hh)^T, which
vanishes geometrically when σ_max < 1. The LSTM's carry product with forget gates near 1
does not.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lstm_props.maths import carry
from lstm_props.maths.reference import rnn_jacobian, rnn_step
from lstm_props.maths.variants import BOUNDED, DENSE_CARRY
from lstm_props.testing import check_true, gate_slice, lstm_property

#: σ_max of the contrast RNN's recurrent matrix, and the length at which its bound has
#: vanished: 0.5^20 < 1e-6.
RHO, STEPS, VANISHED = 0.5, 20, 1e-6


def _rnn_product(w_hh: np.ndarray, xs: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, bool]:
    """‖∂h_T/∂h_0‖₂ per batch row for the reference RNN driven by xs (W_ih = I-ish: x added)."""
    b, hidden = h0.shape
    w_ih = np.eye(hidden, xs.shape[-1])
    h, prods, dense = h0, [np.eye(hidden)] * b, True
    for x in xs:
        h = rnn_step(w_ih, w_hh, np.zeros(hidden), x, h)
        jacs = [rnn_jacobian(w_hh, h[r]) for r in range(b)]
        dense &= all(np.array_equal(j != 0, w_hh != 0) for j in jacs)
        prods = [j @ p for j, p in zip(jacs, prods)]
    return np.array([np.linalg.norm(p, 2) for p in prods]), dense


#: Above this width the contrast RNN's product is bounded, not materialised: ∏_t J_t costs
#: O(T·B·H³) and its exact 2-norm an SVD, hopeless at a user's H = 1024.
DENSE_RNN_HIDDEN = 64


def _rnn_product_bound(
    w_hh: np.ndarray, sigma_bound: float, xs: np.ndarray, h0: np.ndarray
) -> np.ndarray:
    """An upper bound on ‖∂h_T/∂h_0‖₂ per batch row, in O(T·B·H²): the norm is
    submultiplicative and ‖diag(1 − h_t²) W_hh‖₂ ≤ max_k(1 − h_t[k]²)·σ_max(W_hh)."""
    hidden = h0.shape[1]
    w_ih = np.eye(hidden, xs.shape[-1])
    h, bound = h0, np.ones(h0.shape[0])
    for x in xs:
        h = rnn_step(w_ih, w_hh, np.zeros(hidden), x, h)
        bound = bound * (1.0 - h**2).max(axis=1) * sigma_bound
    return bound


@lstm_property()
def test_reference_rnn_jacobian_is_dense_and_vanishes(lstm_settings):
    """J_t = diag(1 − h_t²) W_hh has W_hh's sparsity pattern (dense, never diagonal unless
    W_hh is), and ‖∏_{t≤T} J_t‖₂ ≤ σ_max(W_hh)^T.

    Derivative: the reference RNN's analytic Jacobian, float64. This checks the contrast
    model itself; the LSTM side is the next property.
    Failure: the reference RNN is wrong, and so would be every contrast it is used for.
    """

    @lstm_settings.given(hidden=st.integers(2, 6), data=st.data())
    def prop(hidden, data):
        eighths = st.integers(-8, 8).map(lambda k: k / 8)  # no subnormals: the pattern stays
        w = data.draw(hnp.arrays(np.float64, (hidden, hidden), elements=eighths, fill=st.nothing()))
        sigma = np.linalg.norm(w, 2)
        assume(sigma > 0)
        w = w * (RHO / sigma)
        xs = data.draw(
            hnp.arrays(np.float64, (STEPS, 2, hidden), elements=st.floats(-3, 3), fill=st.nothing())
        )
        norms, dense = _rnn_product(w, xs, np.zeros((2, hidden)))
        assert dense, "reference RNN Jacobian lost W_hh's sparsity pattern"
        bound = (np.linalg.norm(w, 2) ** STEPS) * (1 + 1e-12)
        assert np.all(norms <= bound + 1e-300), f"RNN product {norms} above σ_max^T = {bound}"

    prop()


@lstm_property(
    "autograd",
    "writable",
    "unclipped_cell",
    variants=BOUNDED,
    why="the carry is a product of forget gates in [0, 1] only without peepholes; " + DENSE_CARRY,
    relies_on=("carry_product_matches_oracle", "reference_rnn_jacobian_is_dense_and_vanishes"),
)
def test_lstm_carry_survives_where_rnn_vanishes(lstm):
    """With forget gates near 1 (b_f ∈ [6, 20], forget-gate weights × 0.01), over T = 20
    steps: ∂c_T/∂c_0 |carry ≥ ½ on every unit, while the vanilla RNN built on the same
    cell's candidate weights W_hg (rescaled to σ_max = ½) has ‖∂h_T/∂h_0‖ ≤ 2⁻²⁰ < 1e-6.

    Derivative: the implementation's backward, teacher-forced, composed over 20 steps. Above
    H = 64 the RNN's norm is bounded (∏_t max(1 − h_t²)·σ_max, σ_max ≤ √(‖W‖₁‖W‖_∞)).
    Failure: the carry path vanishes like an RNN's (the carry crosses a contracting weight,
    a leak multiplies c each step, the backward squares f).
    """

    @lstm.given(
        lstm.cases(min_steps=STEPS, max_steps=STEPS, regime="open", weight_scales=(0.3, 1.0))
    )
    def prop(case):
        p = case.params
        f = gate_slice("f", p.hidden_size)
        w_ih, w_hh, b_ih = p.w_ih.copy(), p.w_hh.copy(), p.b_ih.copy()
        w_ih[f] *= 0.01
        w_hh[f] *= 0.01
        b_ih[f] = np.maximum(np.abs(b_ih[f]), 6.0)
        case.with_params(dataclasses.replace(p, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih))
        traj = carry.record(case.cell, case.xs, case.h0, case.c0)
        u = np.ones_like(case.c0)
        ratio = carry.carry_adjoints(case.cell, traj, u)[0]
        check_true(
            ratio >= 0.5,
            claim="LSTM carry product vanished over 20 steps with forget gates near 1",
            case=case,
            values=ratio,
        )
        w_g = p.w_hh[gate_slice("g", p.hidden_size)]
        w_rnn = w_g if p.w_hr is None else w_g @ p.w_hr
        xs_rnn = case.xs[..., :1] * np.ones((1, 1, p.hidden_size))
        if p.hidden_size <= DENSE_RNN_HIDDEN:
            sigma = np.linalg.norm(w_rnn, 2)
            w_rnn = w_rnn * (RHO / sigma) if sigma > 0 else w_rnn
            norms, _ = _rnn_product(w_rnn, xs_rnn, np.zeros_like(case.c0))
        else:  # σ_max ≤ √(‖W‖₁‖W‖_∞), so rescaling by it leaves σ_max ≤ ½
            sigma = np.sqrt(np.abs(w_rnn).sum(0).max() * np.abs(w_rnn).sum(1).max())
            w_rnn = w_rnn * (RHO / sigma) if sigma > 0 else w_rnn
            norms = _rnn_product_bound(w_rnn, RHO, xs_rnn, np.zeros_like(case.c0))
        check_true(
            norms <= VANISHED,
            claim="contrast RNN did not vanish",
            case=case,
            axes=("batch row",),
            values=norms,
        )

    prop()
