"""Layer-norm LSTMs: the oracle against torch.nn.LayerNorm, the error model of layer norm,
the declared norms of a torch cell, and planted faults the properties must catch."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lstm_props
from lstm_props._errors import TargetError
from lstm_props._harness.checked import CheckedCell
from lstm_props._harness.loading import load_target
from lstm_props.adapters._torch_target import torch_views
from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.maths.abs_jacobian import DenseAbs, OracleAbsBound
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import carry_derivative, carry_jacobian, lstm_step
from lstm_props.maths.step_vjp import (
    NORM_VJP_ROUNDINGS,
    Cotangent,
    chain_vjp_error,
    jacobian_chain_error,
    norm_vjp,
    step_vjp_error,
)
from lstm_props.maths.variants import DIAGONAL, FORCEABLE, PLAIN_OUTPUT, Variant, as_variant
from tests.conftest import outcomes_by_name
from tests.targets.layer_norm_cells import BaLayerNormCell, FastrnnsLayerNormCell

CELLS = str(Path(__file__).parent / "targets" / "layer_norm_cells.py")
TARGETS = str(Path(__file__).parent / "targets" / "torch_configs.py")
VARIANTS = ("layer_norm", "layer_norm_cell")


def _params(d: int, h: int, seed: int, scale: float = 1.0) -> LSTMParams:
    """float32-representable parameters with every LN field."""
    rng = np.random.default_rng(seed)

    def draw(*shape: int) -> np.ndarray:
        return rng.uniform(-scale, scale, shape).astype(np.float32).astype(np.float64)

    return LSTMParams(
        draw(4 * h, d),
        draw(4 * h, h),
        draw(4 * h),
        draw(4 * h),
        ln_gain_ih=draw(4 * h),
        ln_gain_hh=draw(4 * h),
        ln_gain_c=draw(h),
        ln_bias_c=draw(h),
    )


def _torch_step(p: LSTMParams, variant: str, dtype: torch.dtype):
    """The cell written with torch.nn.LayerNorm, independently of the oracle."""
    h = p.hidden_size
    norms = [nn.LayerNorm(n).to(dtype) for n in (4 * h, 4 * h, h)]
    with torch.no_grad():
        for norm, gain, bias in zip(
            norms, (p.ln_gain_ih, p.ln_gain_hh, p.ln_gain_c), (p.b_ih, p.b_hh, p.ln_bias_c)
        ):
            norm.weight.copy_(torch.tensor(gain))
            norm.bias.copy_(torch.tensor(bias))

    def step(x, hh, c):
        t = [torch.as_tensor(a, dtype=dtype) for a in (p.w_ih, p.w_hh)]
        z = norms[0](x @ t[0].T) + norms[1](hh @ t[1].T)
        i, f, g, o = z.chunk(4, 1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if variant == "layer_norm_cell":
            c_new = norms[2](c_new)
            return torch.sigmoid(o) * torch.tanh(c_new), c_new
        return torch.sigmoid(o) * torch.tanh(norms[2](c_new)), c_new

    return step


def _inputs(d: int, h: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(-s, s, (3, n)).astype(np.float32).astype(np.float64)
        for s, n in ((3, d), (1, h), (5, h))
    ]


# -- the variants and the oracle ---------------------------------------------------------------


def test_the_variant_sets_read_the_flags():
    assert "layer_norm" in DIAGONAL and "layer_norm_cell" not in DIAGONAL
    assert "layer_norm" in FORCEABLE and "layer_norm_cell" not in FORCEABLE
    assert "layer_norm" not in PLAIN_OUTPUT and "standard" in PLAIN_OUTPUT
    with pytest.raises(ValueError, match="exclude each other"):
        Variant("both", normalizes_cell=True, normalizes_cell_output=True)
    with pytest.raises(ValueError, match="peepholes with layer norm"):
        Variant("peep_ln", reads_cell=True, normalizes_gates=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_oracle_is_torch_layer_norm_and_its_carry_jacobian_is_autograds(variant):
    p = _params(3, 5, seed=1)
    x, h, c = _inputs(3, 5, seed=2)
    step = _torch_step(p, variant, torch.float64)
    cc = torch.tensor(c, requires_grad=True)
    got_h, got_c = step(torch.tensor(x), torch.tensor(h), cc)
    want = lstm_step(p, x, h, c, variant)
    np.testing.assert_allclose(want.h, got_h.detach().numpy(), atol=1e-14)
    np.testing.assert_allclose(want.c, got_c.detach().numpy(), atol=1e-14)
    # the torch path of the oracle (autograd's Jacobians) computes the same
    on_torch = lstm_step(p, *(torch.tensor(a) for a in (x, h, c)), variant, xp=torch)
    np.testing.assert_allclose(on_torch.c.numpy(), want.c, atol=1e-14)
    full = torch.autograd.functional.jacobian(
        lambda a: step(torch.tensor(x), torch.tensor(h), a)[1], cc
    )
    rows = np.stack([full[b, :, b, :].numpy() for b in range(3)])
    np.testing.assert_allclose(carry_jacobian(p, x, h, c, variant), rows, atol=1e-14)
    off = rows - rows * np.eye(5)
    if variant == "layer_norm":
        assert not off.any()
        np.testing.assert_allclose(carry_derivative(p, x, h, c, variant), want.f, atol=0)
    else:
        assert np.abs(off).max() > 1e-3  # J_LN · diag(f): dense
        with pytest.raises(ValueError, match="dense"):
            carry_derivative(p, x, h, c, variant)


def test_parameters_and_variant_must_agree():
    p = _params(2, 3, seed=0)
    x, h, c = _inputs(2, 3, seed=0)
    with pytest.raises(TypeError, match="does not normalise its gates"):
        lstm_step(p, x, h, c, "standard")
    plain = LSTMParams(p.w_ih, p.w_hh, p.b_ih, p.b_hh)
    with pytest.raises(TypeError, match="ln_gain_ih"):
        lstm_step(plain, x, h, c, "layer_norm")


# -- the error model -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_float32_deviations_lie_within_the_bound_and_the_bound_is_not_vacuous(variant):
    """torch float32 against the float64 oracle over drawn cells: every deviation within
    SAFETY·step_error, and the largest ratio above 1e-3 (the bound is not loose by 1000)."""
    worst = 0.0
    for seed in range(40):
        d, h = 1 + seed % 5, 2 + seed % 5
        p = _params(d, h, seed, scale=(0.3, 1.0, 3.0)[seed % 3])
        x, hh, c = _inputs(d, h, seed + 100)
        with torch.no_grad():
            got_h, got_c = _torch_step(p, variant, torch.float32)(
                *(torch.tensor(a, dtype=torch.float32) for a in (x, hh, c))
            )
        want = lstm_step(p, x, hh, c, variant)
        err = tol.step_error(p, x, hh, c, variant, "float32")
        for got, exact, bound in ((got_h, want.h, err.dh), (got_c, want.c, err.dc)):
            ratio = np.abs(got.numpy().astype(np.float64) - exact) / (tol.SAFETY * bound)
            worst = max(worst, float(ratio.max()))
    assert 1e-3 < worst <= 1.0, worst


def test_where_var_plus_eps_is_lost_the_bound_is_the_whole_range():
    """ε = 0 and a constant row: 0/0; the first-order model says nothing there, and the
    bound is the range of the normalised value, 2√n|γ|, not NaN or 0."""
    v = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    gain, bias = np.full(4, 2.0), np.zeros(4)
    _, dy = tol.layer_norm_error(v, 0.0, gain, bias, 0.0, "float32")
    assert np.all(np.isfinite(dy))
    np.testing.assert_allclose(dy[0], 2 * np.sqrt(4) * 2.0, rtol=1e-6)
    assert dy[1].max() < 1e-4  # a well-spread row keeps its first-order bound (~200u here)


def test_the_gate_factor_model_refuses_a_layer_norm_step_and_names_the_one_that_holds():
    p = _params(2, 3, seed=0)
    x, h, c = _inputs(2, 3, seed=0)
    err = tol.step_error(p, x, h, c, "layer_norm", "float32")
    assert err.normalized and err.gate_norms is not None and err.cell_norm is not None
    with pytest.raises(
        ValueError, match=r"J_LN factors: bound its backward with lstm_props\.maths\.step_vjp"
    ):
        tol.jacobian_factor_error(err, c, c, "float32")


# -- the error of the backward through a layer norm (lstm_props.maths.step_vjp) ---------------


def _vjp(step, x, h, c, u_h, u_c, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(h̄, c̄) = ūᵀ∂(h', c')/∂(h, c) of ``step`` by torch autograd in ``dtype``."""
    hh = torch.tensor(h, dtype=dtype, requires_grad=True)
    cc = torch.tensor(c, dtype=dtype, requires_grad=True)
    out = step(torch.tensor(x, dtype=dtype), hh, cc)
    cot = tuple(torch.tensor(a, dtype=dtype) for a in (u_h, u_c))
    grad_h, grad_c = torch.autograd.grad(out, (hh, cc), cot)
    return grad_h.double().numpy(), grad_c.double().numpy()


def _oracle_step(p: LSTMParams, variant: str):
    def step(x, h, c):
        v = lstm_step(p, x, h, c, variant, xp=torch)
        return v.h, v.c

    return step


def _f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("variant", VARIANTS)
def test_float32_vjp_deviations_lie_within_the_bound_and_the_bound_is_not_vacuous(variant):
    """The one-step VJP of the torch cell (nn.LayerNorm's own backward) in float32 against
    the float64 oracle's over drawn cells: every deviation of h̄ and c̄ within
    SAFETY·step_vjp_error, and the largest ratio above 1e-3 (not loose by 1000); the exact
    cotangents the model carries (where its first-order terms are taken) are the oracle's."""
    worst = 0.0
    for seed in range(40):
        d, h = 1 + seed % 5, 2 + seed % 5
        p = _params(d, h, seed, scale=(0.3, 1.0, 3.0)[seed % 3])
        x, hh, c = _inputs(d, h, seed + 100)
        rng = np.random.default_rng(seed + 200)
        u_h, u_c = (_f32(rng.uniform(-2, 2, a.shape)) for a in (hh, c))
        got = _vjp(_torch_step(p, variant, torch.float32), x, hh, c, u_h, u_c, torch.float32)
        want = _vjp(_oracle_step(p, variant), x, hh, c, u_h, u_c, torch.float64)
        bars = step_vjp_error(
            p, x, hh, c, variant, "float32", Cotangent.exact(u_h), Cotangent.exact(u_c)
        )
        for g, w, bar in zip(got, want, bars):
            # the exact cotangent the model carries alongside is the oracle's VJP
            np.testing.assert_allclose(bar.value, w, rtol=1e-9, atol=1e-12)
            worst = max(worst, float((np.abs(g - w) / (tol.SAFETY * bar.err)).max()))
    assert 1e-3 < worst <= 1.0, worst


@pytest.mark.parametrize("shift", [0.0, 10.0, 1000.0])
def test_the_norm_vjp_bound_holds_where_the_mean_dwarfs_the_spread(shift):
    """torch's CPU layer-norm backward sums w ⊙ v over the un-centred v: its rounding is
    relative to |v| ≤ (|x̂| + r|μ|)/r, which the bound's μ̂ = r|μ| terms carry. The norm's VJP
    alone, rows shifted by up to 1000 spreads, float32 against float64."""
    rng = np.random.default_rng(7)
    for _ in range(100):
        n = int(rng.integers(2, 64))
        v = _f32(rng.normal(size=(3, n)) * rng.uniform(0.1, 3) + shift)
        gain, y_bar = _f32(rng.normal(size=n)), _f32(rng.normal(size=(3, n)))
        got, want = (
            _norm_vjp_by_torch(v, gain, y_bar, dtype) for dtype in (torch.float32, torch.float64)
        )
        norm = tol.normalized_error(v, 0.0, 1e-5, "float32")
        bound = tol.SAFETY * norm_vjp(Cotangent.exact(y_bar), norm, gain, "float32").err
        assert np.all(np.abs(got - want) <= bound)


def _float32_norm_backwards(v, w, mu, r, order) -> tuple[np.ndarray, np.ndarray]:
    """v̄ of a layer norm in float32, every operation rounded, sums in ``order``: the centred
    form (x̂ recomputed, two means) and the un-centred one of torch's CPU kernel
    (ds = Σ w v, db = Σ w, b = (db μ − ds) r³/n, c = −b μ − db r/n, v̄ = r w + b v + c)."""
    f, n = np.float32, len(v)
    xhat = f(v - mu) * r
    m1 = m2 = ds = db = f(0)
    for j in order:
        m1, m2 = f(m1 + w[j]), f(m2 + f(w[j] * xhat[j]))
        ds, db = f(ds + f(w[j] * v[j])), f(db + w[j])
    m1, m2 = f(m1 / f(n)), f(m2 / f(n))
    centred = r * f(f(w - m1) - f(xhat * m2))
    scale = f(1.0 / n)
    b = f(f(f(db * mu) - ds) * r) * f(f(r * r) * scale)
    c = f(f(-b * mu) - f(db * f(r * scale)))
    return centred, f(f(r * w) + f(b * v)) + c


def test_the_rounding_term_covers_the_centred_and_the_raw_backward():
    """Both forms of a norm's backward emulated in float32 at the same inputs (w, v, μ, r),
    rows up to 1000 spreads off 0 and spreads down to 0.01: each within the rounding term
    γ_{n+11} r (M_w,k + S1 + (|x̂_k| + 2μ̂) S2 + 2μ̂|x̂_k| S1) of the exact value there, before
    SAFETY (the raw form's b reused by c: its error reaches v̄_k as δb (v_k − μ)), and the
    largest ratio above 0.01."""
    f = np.float32
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(300):
        n = int(rng.integers(2, 80))
        spread, shift = rng.uniform(0.01, 3), rng.choice([0, 1, 10, 100, 1000])
        v, w = (rng.normal(size=n) * spread + shift).astype(f), rng.normal(size=n).astype(f)
        mu = f(v.astype(np.float64).mean())
        d = v.astype(np.float64) - float(mu)
        r = f(1 / np.sqrt((d * d).mean() + 1e-5))
        forms = _float32_norm_backwards(v, w, mu, r, rng.permutation(n))
        xhat, big_r = d * float(r), float(r)
        exact = big_r * (w - w.mean() - xhat * (w * xhat).mean())
        m_w, ax, mu_hat = np.abs(w.astype(np.float64)), np.abs(xhat), big_r * abs(float(mu))
        s1, s2 = m_w.mean(), (m_w * ax).mean()
        raw = (ax + 2 * mu_hat) * s2 + 2 * mu_hat * ax * s1
        term = tol.gamma(n + NORM_VJP_ROUNDINGS, "float32") * big_r * (m_w + s1 + raw)
        for got in forms:
            worst = max(worst, float((np.abs(got - exact) / term).max()))
    assert 0.01 < worst <= 1.0, worst


def _norm_vjp_by_torch(v, gain, y_bar, dtype: torch.dtype) -> np.ndarray:
    vv = torch.tensor(v, dtype=dtype, requires_grad=True)
    y = torch.nn.functional.layer_norm(
        vv, (v.shape[-1],), torch.tensor(gain, dtype=dtype), None, 1e-5
    )
    (grad,) = torch.autograd.grad(y, vv, torch.tensor(y_bar, dtype=dtype))
    return grad.double().numpy()


@pytest.mark.parametrize("variant", VARIANTS)
def test_where_a_norm_is_lost_the_vjp_bound_is_inf_on_its_row_never_nan(variant):
    """ε = 0 and h = 0 on batch row 0: N(W_hh h) is 0/0 there, the first order (and the step
    itself: its gates are NaN) says nothing, and both bounds on that row are inf (no claim),
    through W_hh's zeros too; the other rows keep finite bounds; nothing is NaN."""
    p = dataclasses.replace(_params(2, 3, seed=4), ln_eps=0.0)
    p.w_hh[:, 0] = 0.0  # a zero column: inf · 0 in h̄ = N-VJP(z̄) W_hh
    x, h, c = _inputs(2, 3, seed=4)
    h[0] = 0.0
    ones = np.ones_like(h)
    with np.errstate(invalid="ignore", divide="ignore"):
        bars = step_vjp_error(
            p, x, h, c, variant, "float32", Cotangent.exact(ones), Cotangent.exact(ones)
        )
    for bar in bars[:2]:
        assert not np.isnan(bar.err).any() and not np.isnan(bar.mag).any()
        assert np.all(bar.err[0] == np.inf) and np.all(np.isfinite(bar.err[1:]))


def _stack_step(steps, x, h, c):
    """One step of a stack (layer k reads layer k−1's fresh h), states packed per batch row
    [h of every layer], [c of every layer]."""
    depth = len(steps)
    below, outs_h, outs_c = x, [], []
    for step, h_k, c_k in zip(steps, h.chunk(depth, 1), c.chunk(depth, 1)):
        h_new, c_new = step(below, h_k, c_k)
        outs_h.append(h_new)
        outs_c.append(c_new)
        below = h_new
    return torch.cat(outs_h, 1), torch.cat(outs_c, 1)


def _bptt(layers, variant, xs, h0, c0, u_h, u_c):
    """(the recorded run, ∂L/∂h_0, ∂L/∂c_0) of L = ū_hᵀh_T + ū_cᵀc_T by BPTT through T
    free-running steps of a stack of torch LN cells in float32."""
    steps = [_torch_step(q, variant, torch.float32) for q in layers]
    h = torch.tensor(h0, dtype=torch.float32, requires_grad=True)
    c = torch.tensor(c0, dtype=torch.float32, requires_grad=True)
    hs, cs, state = [h0], [c0], (h, c)
    for x in xs:
        state = _stack_step(steps, torch.tensor(x, dtype=torch.float32), *state)
        hs.append(state[0].detach().double().numpy())
        cs.append(state[1].detach().double().numpy())
    cot = tuple(torch.tensor(a, dtype=torch.float32) for a in (u_h, u_c))
    grad_h, grad_c = torch.autograd.grad(state, (h, c), cot)
    traj = carry.Trajectory(xs, xs, np.stack(hs), np.stack(cs))
    return traj, grad_h.double().numpy(), grad_c.double().numpy()


def _oracle_stack_step(layers, variant, traj, s, h, c):
    """The oracle's step of the stack from the recorded state s, in float64: a deeper layer
    reads the recorded h_{s+1} of the layer below (its value), through which the oracle's
    derivative flows."""
    depth = len(layers)
    recorded = torch.tensor(traj.hs[s + 1]).chunk(depth, 1)
    below, outs_h, outs_c = torch.tensor(traj.xs[s]), [], []
    for k, (q, h_k, c_k) in enumerate(zip(layers, h.chunk(depth, 1), c.chunk(depth, 1))):
        v = lstm_step(q, below, h_k, c_k, variant, xp=torch)
        outs_h.append(v.h)
        outs_c.append(v.c)
        below = recorded[k] + (v.h - v.h.detach())
    return torch.cat(outs_h, 1), torch.cat(outs_c, 1)


def _oracle_chain(layers, variant, traj, u_h, u_c):
    """ūᵀJ_T···J_1 in float64, J_t the oracle's step Jacobian at the recorded state t − 1."""
    a_h, a_c = torch.tensor(u_h), torch.tensor(u_c)
    for s in range(traj.steps - 1, -1, -1):
        h = torch.tensor(traj.hs[s], requires_grad=True)
        c = torch.tensor(traj.cs[s], requires_grad=True)
        out = _oracle_stack_step(layers, variant, traj, s, h, c)
        a_h, a_c = torch.autograd.grad(out, (h, c), (a_h, a_c))
    return a_h.numpy(), a_c.numpy()


def _oracle_abs_jacobian(layers, variant, traj, s) -> DenseAbs:
    """|J| of the oracle's stacked step at the recorded state s, (B·S, B·S) in pack order."""
    p = traj.hs.shape[-1]

    def step(state):
        h, c = _oracle_stack_step(layers, variant, traj, s, state[:, :p], state[:, p:])
        return torch.cat([h, c], 1)

    state = torch.tensor(np.concatenate([traj.hs[s], traj.cs[s]], 1))
    jac = torch.autograd.functional.jacobian(step, state).numpy()
    return DenseAbs(np.abs(jac.reshape(state.numel(), state.numel())))


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_chain_bound_holds_for_bptt_through_a_stack_and_is_not_vacuous(variant, depth):
    """BPTT in float32 through T = 3 free-running steps of one or two torch LN cells, against
    the float64 oracle's chain of step Jacobians at the recorded states: within
    SAFETY·jacobian_chain_error with the oracle's |J_t| (what bptt_equals_product_of_step_
    jacobians and the fused-sequence gradients use, twice, for two computations), the largest
    ratio above 1e-4; and within SAFETY·chain_vjp_error (each stage's magnitude bounded by
    the triangle inequality, as the own-precision finite differences use it)."""
    worst = {"jacobian": 0.0, "stages": 0.0}
    for seed in range(12):
        d, h = 1 + seed % 4, 2 + seed % 4
        scale = (0.3, 1.0, 3.0)[seed % 3]
        layers = [_params(d if k == 0 else h, h, 10 * seed + k, scale) for k in range(depth)]
        rng = np.random.default_rng(seed)
        xs = _f32(rng.uniform(-3, 3, (3, 3, d)))
        h0, c0 = _f32(rng.uniform(-1, 1, (3, depth * h))), _f32(rng.uniform(-5, 5, (3, depth * h)))
        u_h, u_c = _f32(rng.uniform(-2, 2, h0.shape)), _f32(rng.uniform(-2, 2, c0.shape))
        traj, got_h, got_c = _bptt(layers, variant, xs, h0, c0, u_h, u_c)
        want_h, want_c = _oracle_chain(layers, variant, traj, u_h, u_c)
        deviation = np.abs(carry.pack(got_h, got_c) - carry.pack(want_h, want_c))
        jacs = [_oracle_abs_jacobian(layers, variant, traj, s) for s in range(traj.steps)]
        chain = jacobian_chain_error(layers, variant, traj, jacs, u_h, u_c, "float32")
        stages = carry.pack(*chain_vjp_error(layers, variant, traj, u_h, u_c, "float32")[:2])
        for name, bound in (("jacobian", chain), ("stages", stages)):
            worst[name] = max(worst[name], float((deviation / (tol.SAFETY * bound)).max()))
    assert 1e-4 < worst["jacobian"] <= 1.0 and worst["stages"] <= 1.0, worst


@pytest.mark.parametrize("cls", [BaLayerNormCell, FastrnnsLayerNormCell])
def test_the_oracle_bound_dominates_the_absolute_state_jacobian_through_the_norms(cls):
    """OracleAbsBound (|J_t| at large sizes) with the norms: M_t ≥ |J_t| entrywise against the
    torch cell's own float64 Jacobian, rmatvec the transpose of matvec."""
    target = load_target(f"{CELLS}:{cls.__name__}", "float64")
    views = target.build(3, 5)
    views.layers[0].write_layout(_params(3, 5, seed=3))
    cell = CheckedCell(views.stack, "test")
    rng = np.random.default_rng(1)
    traj = carry.record(
        cell, rng.uniform(-1, 1, (3, 2, 3)), rng.uniform(-1, 1, (2, 5)), rng.uniform(-2, 2, (2, 5))
    )
    jac = np.abs(carry.state_jacobian(cell, traj.xs[1], traj.hs[1], traj.cs[1]))
    bound = OracleAbsBound(
        [views.layers[0].read_layout()],
        cls.lstm_variant,
        traj.gate_xs[1],
        traj.hs[1],
        traj.cs[1],
        traj.hs[2],
    )
    eye = np.eye(jac.shape[0])
    forward = np.stack([bound.matvec(e) for e in eye], axis=1)
    backward = np.stack([bound.rmatvec(e) for e in eye], axis=0)
    assert np.all(forward >= jac * (1 - 1e-12))
    np.testing.assert_allclose(backward, forward, rtol=1e-12, atol=0)


# -- declaring the norms of a torch cell -----------------------------------------------------


def _view(module: nn.Module):
    return torch_views(module, "t", "float64", "cpu").layers[0]


@pytest.mark.parametrize("cls", [BaLayerNormCell, FastrnnsLayerNormCell])
def test_declared_norms_read_write_and_compute_as_the_oracle(cls):
    module = cls(3, 4)
    view = _view(module)
    variant = module.lstm_variant
    assert view.writable_layout
    drawn = _params(3, 4, seed=5)
    view.write_layout(drawn)
    back = view.read_layout()
    for name in ("w_ih", "w_hh", "b_ih", "b_hh", "ln_gain_ih", "ln_gain_hh", "ln_gain_c"):
        assert np.array_equal(getattr(back, name), getattr(drawn, name)), name
    assert back.ln_eps == 1e-5
    x, h, c = _inputs(3, 4, seed=6)
    be = view.backend
    with torch.no_grad():
        got_h, got_c = (be.to_numpy(a) for a in view.step(*(be.asarray(a) for a in (x, h, c))))
    want = lstm_step(back, x, h, c, variant)
    np.testing.assert_allclose(got_h, want.h, atol=1e-13)
    np.testing.assert_allclose(got_c, want.c, atol=1e-13)


class _Declared(BaLayerNormCell):
    def __init__(self, layout, variant: str | Variant = "layer_norm") -> None:
        super().__init__(3, 4)
        self.lstm_layout, self.lstm_variant = layout, variant


NORMS = {"ln_ih": "norm_x", "ln_hh": "norm_h", "ln_c": "norm_c"}


@pytest.mark.parametrize(
    ("module", "says"),
    [
        (
            _Declared(lstm_props.stacked("w_x", "w_h", gates="ifog", **NORMS), "standard"),
            "lstm_variant = 'standard' does not normalise",
        ),
        (
            _Declared(
                lstm_props.stacked("w_x", "w_h", gates="ifog", **NORMS),
                Variant("ln_gates_only", normalizes_gates=True),
            ),
            "declares a cell norm (ln_c) but lstm_variant = 'ln_gates_only' does not",
        ),
        (
            _Declared(lstm_props.stacked("w_x", "w_h", b_ih="norm_x.bias", gates="ifog", **NORMS)),
            "declare no other bias",
        ),
        (
            _Declared(
                lstm_props.stacked(
                    "w_x", "w_h", gates="ifog", ln_ih="norm_x", ln_hh="nope", ln_c="norm_c"
                )
            ),
            "'nope' does not resolve",
        ),
    ],
    ids=["variant", "surplus-cell-norm", "extra-bias", "bad-path"],
)
def test_a_declaration_that_does_not_fit_is_refused_in_one_line(module, says):
    with pytest.raises(TargetError) as info:
        _view(module)
    message = str(info.value)
    assert "\n" not in message and says in message, message


# -- the properties on the cells -------------------------------------------------------------

DIAGONAL_CLAIMS = {
    "test_carry_jacobian_is_diagonal",
    "test_carry_jacobian_diagonal_equals_forget_gate",
    "test_carry_map_is_coordinatewise",
    "test_edge_shapes_keep_a_diagonal_carry_and_the_values",
    "test_carry_jacobian_entries_in_unit_interval",
    "test_carry_map_is_affine_in_c",
}
RUNS = (
    "step_values_match_reference or bptt_equals_product or carry_backward_matches or "
    "parameter_gradients_match or forward_and_backward_are or one_step_vjp or "
)


def test_the_fastrnns_cell_skips_the_diagonal_claims_with_the_reason_and_passes_the_rest(
    run_properties,
):
    diagonal = " or ".join(n.removeprefix("test_") for n in DIAGONAL_CLAIMS)
    result = run_properties(
        f"{CELLS}:FastrnnsLayerNormCell", "-k", RUNS + diagonal, "--lstm-max-examples", "5"
    )
    out = result.stdout.str()
    outcomes = outcomes_by_name(result)
    assert result.ret == 0, out[-3000:]
    assert outcomes["skipped"] == DIAGONAL_CLAIMS
    assert "does not hold for the layer_norm_cell variant" in out
    assert "J_LN · diag(f) is dense" in out
    assert {
        "test_step_values_match_reference",
        "test_bptt_equals_product_of_step_jacobians",
        "test_one_step_vjp_splits_into_carry_and_hidden_tracks",
        "test_carry_backward_matches_finite_differences",
        "test_parameter_gradients_match_finite_differences",
    } <= outcomes["passed"]


BACKWARD = (
    "one_step_vjp or bptt_equals_product or carry_backward_matches or input_backward_matches "
    "or parameter_gradients_match"
)


@pytest.mark.parametrize(
    "target",
    [
        f"{CELLS}:BaHandWrittenNormCell",
        f"{CELLS}:FastrnnsHandWrittenNormCell",
        f"{TARGETS}:float32_only_ba_layer_norm_cell",
        f"{TARGETS}:float32_only_fastrnns_layer_norm_cell",
    ],
    ids=["ba-hand-written", "fastrnns-hand-written", "ba-own-precision", "fastrnns-own-precision"],
)
def test_correct_norm_backwards_pass_the_backward_properties(run_properties, target):
    """A norm whose backward is written by hand (correctly), and the cells without a float64
    twin (finite differences in float32 through J_LN: lstm_props.maths.own_precision), pass
    every backward property that applies."""
    result = run_properties(target, "-k", BACKWARD, "--lstm-max-examples", "10")
    outcomes = outcomes_by_name(result)
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert {
        "test_one_step_vjp_splits_into_carry_and_hidden_tracks",
        "test_bptt_equals_product_of_step_jacobians",
        "test_carry_backward_matches_finite_differences",
        "test_parameter_gradients_match_finite_differences",
    } <= outcomes["passed"]
    if "float32_only" in target:
        assert "test_input_backward_matches_finite_differences" in outcomes["passed"]


def test_a_declared_nondeterministic_layer_norm_cell_is_compared_within_the_backward_bound(
    run_properties,
):
    """On a backend that declares itself nondeterministic (torch on CUDA), two backwards of
    a layer-norm cell are compared within 2·SAFETY·step_vjp.jacobian_chain_error, not the
    reordering term (which the norms' cancelling means escape): the CPU's identical
    backwards pass it."""
    result = run_properties(
        f"{TARGETS}:declared_nondeterministic_ba_layer_norm_cell",
        "-k",
        "forward_and_backward_are_deterministic",
        "--lstm-max-examples",
        "10",
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("cell", ["BaNormBackwardDropsProjection", "FastrnnsNormBackwardUnbiasedR"])
def test_a_wrong_norm_backward_is_killed_by_the_one_step_vjp(run_properties, cell):
    """The norms' backward dropping −x̂ mean(w ⊙ x̂), or taking r from the unbiased variance
    (the forward right): ∂/∂(h_{t-1}, c_{t-1}) is off the oracle's by far more than the
    bound of lstm_props.maths.step_vjp."""
    result = run_properties(
        f"{CELLS}:{cell}", "-k", "one_step_vjp", "--lstm-max-examples", "10", profile="mutants"
    )
    assert result.ret == 1, result.stdout.str()[-3000:]
    assert outcomes_by_name(result)["failed"] == {
        "test_one_step_vjp_splits_into_carry_and_hidden_tracks"
    }
    assert "≠ oracle" in result.stdout.str()


def test_a_wrong_eps_fails_the_values(run_properties):
    """Norms computing with ε = 1e-2 declared as 1e-5: the value property fails."""
    result = run_properties(
        f"{CELLS}:BaWrongEpsCell",
        "-k",
        "step_values_match_reference",
        "--lstm-max-examples",
        "10",
        profile="mutants",
    )
    assert result.ret == 1, result.stdout.str()[-3000:]
    assert outcomes_by_name(result)["failed"] == {"test_step_values_match_reference"}


def test_a_normalised_carry_declared_ba_style_fails_the_diagonal(run_properties):
    """A cell carrying LN(c') while declaring layer_norm (carry diag(f)): the diagonal carry
    claims and the values fail."""
    props = "carry_jacobian_is_diagonal or carry_map_is_coordinatewise or step_values_match"
    result = run_properties(
        f"{CELLS}:BaCarryingNormedCell", "-k", props, "--lstm-max-examples", "10", profile="mutants"
    )
    assert result.ret == 1, result.stdout.str()[-3000:]
    assert outcomes_by_name(result)["failed"] == {
        "test_carry_jacobian_is_diagonal",
        "test_carry_map_is_coordinatewise",
        "test_step_values_match_reference",
    }


def test_the_variants_are_known_by_name():
    assert as_variant("layer_norm").normalizes_cell_output
    assert as_variant("layer_norm_cell").normalizes_cell
