"""TorchBackend's batched VJPs, stop_gradient and all_finite against the protocol's
plain definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_props.adapters._protocol import Backend
from lstm_props.adapters._torch import FEW_ROWS, TorchBackend


def _step(cell: torch.nn.LSTMCell, x: torch.Tensor):
    return lambda h, c: cell(x, (h, c))


@pytest.mark.parametrize("rows", [2, FEW_ROWS + 3])  # the plain and the vmapped path
def test_vjp_rows_equals_one_vjp_per_row(rows):
    torch.manual_seed(0)
    be = TorchBackend("float64")
    cell = torch.nn.LSTMCell(3, 4).double()
    x = be.asarray(np.random.default_rng(0).standard_normal((2, 3)))
    h, c = (np.random.default_rng(k).standard_normal((2, 4)) for k in (1, 2))
    u_h, u_c = (np.random.default_rng(k).standard_normal((rows, 2, 4)) for k in (3, 4))
    got = be.vjp_rows(_step(cell, x), (h, c), (u_h, u_c))
    want = Backend.vjp_rows(be, _step(cell, x), (h, c), (u_h, u_c))  # the default loop
    for g, w in zip(got, want):
        assert g.shape == (rows, 2, 4)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("how", ["torch", "protocol default"])
def test_stop_gradient_keeps_the_value_and_cuts_the_derivative(how):
    be = TorchBackend("float32")
    stop = be.stop_gradient if how == "torch" else (lambda a: Backend.stop_gradient(be, a))
    v0 = np.array([1.5, -2.0])
    (grad,) = be.vjp(lambda v: (v * stop(v),), (v0,), (np.ones(2),))
    np.testing.assert_array_equal(grad, v0)  # d(v·sg(v))/dv = sg(v), not 2v
    np.testing.assert_array_equal(be.to_numpy(stop(be.asarray(v0))), v0)


def test_a_torch_backend_takes_a_declared_nondeterminism():
    """The loader's nondeterminism message says `backend.deterministic = False`: a torch
    backend takes it (it was a read-only property), and its twins keep it."""
    from lstm_props.adapters._torch import TorchBackend

    backend = TorchBackend("float32", "cpu")
    assert backend.deterministic  # CPU kernels are
    backend.deterministic = False
    assert not backend.deterministic and not backend.like("float64").deterministic


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_all_finite_agrees_with_the_protocols_default(dtype, bad):
    """torch's isfinite answers what the default's float64 copy answers, NaN and ±inf alike,
    and through a tensor that requires grad."""
    be = TorchBackend(dtype)
    values = np.array([[0.5, -3.0, 1e30], [2.0, 0.0, -1e-30]])
    if bad is not None:
        values[1, 2] = bad
    a = be.asarray(values).requires_grad_(True)
    assert be.all_finite(a) is Backend.all_finite(be, a) is (bad is None)
