"""The error model is sound (bounds every observed float32 deviation) and not vacuous."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm_props.maths import tolerances as tol
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import log_sigmoid, lstm_step, sigmoid


def _case(seed: int, variant: str, scale: float):
    rng = np.random.default_rng(seed)
    b, d, h = 3, 5, 6
    p = LSTMParams(
        rng.uniform(-1, 1, (4 * h, d)) * scale,
        rng.uniform(-1, 1, (4 * h, h)) * scale,
        rng.uniform(-20, 20, 4 * h),
        rng.uniform(-1, 1, 4 * h),
        peephole=rng.uniform(-1, 1, (3, h)) * scale if variant == "peephole" else None,
    )
    p = p.astype(np.float32)
    arrays = [
        rng.uniform(-5, 5, s).astype(np.float32).astype(float) for s in ((b, d), (b, h), (b, h))
    ]
    return p, arrays


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    variant=st.sampled_from(["standard", "cifg", "peephole"]),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
)
def test_step_error_bounds_the_float32_reference(seed, variant, scale):
    """|float32 step − float64 step| ≤ step_error, coordinate by coordinate."""
    p, (x, h, c) = _case(seed, variant, scale)
    want = lstm_step(p, x, h, c, variant)
    t32 = [torch.tensor(a, dtype=torch.float32) for a in (x, h, c)]
    got = lstm_step(p, *t32, variant, xp=torch)
    err = tol.step_error(p, x, h, c, variant, "float32")
    assert np.all(np.abs(got.c.numpy() - want.c) <= err.dc)
    assert np.all(np.abs(got.h.numpy() - want.h) <= err.dh)
    assert np.all(np.abs(got.f.numpy() - want.f) <= err.df)


def test_step_error_is_not_vacuous():
    """The bound sits within a few hundred of the observed error, and far below a bug's."""
    ratios = []
    for seed in range(40):
        p, (x, h, c) = _case(seed, "standard", 1.0)
        want = lstm_step(p, x, h, c)
        got = lstm_step(p, *[torch.tensor(a, dtype=torch.float32) for a in (x, h, c)], xp=torch)
        err = tol.step_error(p, x, h, c, "standard", "float32")
        seen = np.abs(got.c.numpy() - want.c)
        ratios.append(np.median(err.dc[seen > 0] / seen[seen > 0]))
        assert err.dc.max() < 1e-4  # a 1e-3 relative bug in c is always caught
    assert 1 <= np.median(ratios) < 1e3


def test_log_sigmoid_and_sigmoid_do_not_overflow():
    z = np.array([-1e4, -745.0, -40.0, 0.0, 40.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(z, np)
        ls = log_sigmoid(z)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    np.testing.assert_allclose(ls[2], -40.0 - np.log1p(np.exp(-40.0)), rtol=1e-15)
    assert ls[0] == -1e4


def test_forced_gate_is_exact_in_float32_and_float64():
    for dtype in (torch.float32, torch.float64):
        assert torch.sigmoid(torch.tensor(1e4 - 50, dtype=dtype)).item() == 1.0
        assert torch.sigmoid(torch.tensor(-1e4 + 50, dtype=dtype)).item() == 0.0
