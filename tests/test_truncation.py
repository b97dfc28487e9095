"""lstm_props.maths.truncation: the truncation of a central difference, computed on the declared
model. A false alarm on a correct float32 layer-norm cell (PyTorch's fastrnns
LayerNormLSTMCell, a cell norm over close entries) came from Richardson's estimate, which
assumes the step lies in the asymptotic range; there it missed a truncation of 1.96 by 20×."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_props.maths import truncation as trunc
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import lstm_step

CASE = Path(__file__).parent / "data" / "layer_norm_cell_fd_case.npz"


@pytest.fixture(params=["reverse", "forward"])
def slope_mode(request, monkeypatch):
    """Every test of :func:`declared` runs in both of its modes (forward mode is taken from a
    size on; here from 0 bytes)."""
    if request.param == "forward":
        monkeypatch.setattr(trunc, "FORWARD_MODE_FROM_BYTES", 0)
    return request.param


def test_declared_is_the_central_difference_error_of_a_cubic(slope_mode):
    """L(p) = Σp³: D(η) = Σ(3p²w + η²w³) along w exactly, so τ = η²Σw³."""
    rng = np.random.default_rng(0)
    p, v, eta = rng.normal(size=5), rng.normal(size=5), 1e-2
    tau = trunc.declared(lambda q: (q[0] ** 3).sum(), [p], [p + eta * v], [p - eta * v], eta)
    w = ((p + eta * v) - (p - eta * v)) / (2 * eta)
    assert tau == pytest.approx(abs(eta**2 * (w**3).sum()), rel=1e-6)


def test_declared_reads_a_bend_below_the_step_that_richardson_misses(slope_mode):
    """L(p) = δ tanh(p/δ), δ = η/50, at p = δ/3: the differences at η, 2η, 4η all see the
    flat tails (D ≈ δ/kη), so Richardson reads ≈ δ/6η while D(η) misses L'(p) by ≈ 0.9."""
    eta = 1e-2
    delta, p = eta / 50, eta / 150

    def loss(q):
        return delta * torch.tanh(q[0] / delta).sum()

    def d(k):
        x = np.array([p])
        with torch.no_grad():
            plus, minus = loss([torch.tensor(x + k * eta)]), loss([torch.tensor(x - k * eta)])
        return float(plus - minus) / (2 * k * eta)

    exact = 1 / np.cosh(p / delta) ** 2
    x = np.array([p])
    tau = trunc.declared(loss, [x], [x + eta], [x - eta], eta)
    assert tau == pytest.approx(abs(d(1) - exact), rel=1e-9)
    assert trunc.richardson(d(1), d(2), d(4)) < abs(d(1) - exact) / 10


def _case() -> tuple[LSTMParams, dict[str, np.ndarray]]:
    data = dict(np.load(CASE))
    names = ("w_ih", "w_hh", "b_ih", "b_hh", "ln_gain_ih", "ln_gain_hh", "ln_gain_c", "ln_bias_c")
    return LSTMParams(**{k: data.pop(k) for k in names}), data  # type: ignore[arg-type]


def test_the_layer_norm_cells_false_alarm_is_covered(slope_mode):
    """The recorded float32 case (B=3, T=5, H=4; its backward 15.0097 was right): the float32
    central difference 16.9649 is off by τ ≈ 1.956 from the exact derivative, which
    Richardson's |D(η) − D(2η)|/3 = 0.10 did not cover; the computed τ does."""
    params, case = _case()
    eta = float(case["eta"])

    def c_t(c0):
        _, c = trunc.reference_rollout(
            params, "layer_norm_cell", case["xs"], case["hs"][0], c0, hs=case["hs"]
        )
        return c

    def loss(q):
        return trunc.probed(None, case["u"], None, c_t(q[0]))

    def rounded(a):
        return a.astype(np.float32).astype(np.float64)  # what the float32 target took

    c0, v = case["c0"], case["v"]
    plus, minus = rounded(c0 + eta * v), rounded(c0 - eta * v)
    w = (plus - minus) / (2 * eta)
    start = torch.tensor(c0, requires_grad=True)
    (grad,) = torch.autograd.grad(loss([start]), start)
    exact = float((grad.numpy() * w).sum())
    assert exact == pytest.approx(float(case["got"]), abs=1e-3)  # the backward was right
    missed = abs(float(case["d1"]) - exact)
    assert trunc.richardson(float(case["d1"]), float(case["d2"])) < missed / 10
    tau = trunc.declared(loss, [c0], [plus], [minus], eta)
    assert tau == pytest.approx(missed, rel=1e-3)  # D(η) in float32 vs float64: 2·10⁻⁴


def test_both_modes_take_the_same_slope_over_every_array_and_skip_an_unused_one(monkeypatch):
    """An LSTM rollout's slope along every parameter and the start state at once, plus an
    array the loss never reads (its gradient is None in reverse mode, its tangent unused in
    forward mode): the two modes agree to float64 rounding."""
    params, case = _case()
    eta = float(case["eta"])
    names = ("w_ih", "w_hh", "b_ih", "b_hh", "ln_gain_ih", "ln_gain_hh", "ln_gain_c", "ln_bias_c")
    base = [*(getattr(params, k) for k in names), case["c0"], np.ones(3)]
    rng = np.random.default_rng(1)
    steps = [rng.normal(size=np.shape(a)) for a in base]
    plus = [a + eta * v for a, v in zip(base, steps)]
    minus = [a - eta * v for a, v in zip(base, steps)]

    def loss(q):
        p = LSTMParams(**dict(zip(names, q[:8])))  # type: ignore[arg-type]
        _, c = trunc.reference_rollout(p, "layer_norm_cell", case["xs"], case["hs"][0], q[8])
        return trunc.probed(None, case["u"], None, c)

    reverse = trunc.declared(loss, base, plus, minus, eta)
    monkeypatch.setattr(trunc, "FORWARD_MODE_FROM_BYTES", 0)
    forward = trunc.declared(loss, base, plus, minus, eta)
    # two float64 evaluations of one sum: they differ by rounding, u_64 = 1.1e-16 times the
    # rollout's condition (T = 5, H = 4: far below 10⁶); a dropped array moves τ by O(1)
    assert reverse == pytest.approx(forward, rel=1e-10)
    assert reverse > 1


@pytest.mark.parametrize("teacher_forced", [False, True])
def test_reference_rollout_is_the_reference_cell_step_by_step(teacher_forced):
    params, case = _case()
    xs, hs = case["xs"], case["hs"]
    h, c = hs[0], case["c0"]
    for t in range(xs.shape[0]):
        step = lstm_step(params, xs[t], hs[t] if teacher_forced else h, c, "layer_norm_cell")
        h, c = step.h, step.c
    got_h, got_c = trunc.reference_rollout(
        params, "layer_norm_cell", xs, hs[0], case["c0"], hs=hs if teacher_forced else None
    )
    np.testing.assert_allclose(got_h.numpy(), h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_c.numpy(), c, rtol=1e-12, atol=1e-12)
