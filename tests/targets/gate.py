"""Targets for the gate's self-tests: what must never end in exit 0 or in a shrunk 'failure'.

Each is tiny (input 2, hidden 3) and fails fast: a run against it should take seconds.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec
from lstm_props.adapters._torch import TorchBackend
from lstm_props.adapters._torch_cell import TorchCellAdapter


class NumpyBackend(Backend):
    """Plain NumPy arrays, no autograd: what a black-box adapter of a C kernel would give."""

    def __init__(self, dtype: str = "float32") -> None:
        self.dtype = dtype

    def asarray(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=self.np_dtype)

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.array(a, dtype=np.float64)


class IdentityAdapter(CellAdapter):
    """h' = h, c' = c: no LSTM at all. No layout, no autograd: black-box only."""

    name = "identity"

    def __init__(self, dtype: str = "float32") -> None:
        self.spec = CellSpec(2, 3, 3)
        self.backend = NumpyBackend(dtype)

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        return h, c


def identity_adapter(dtype: str = "float32") -> IdentityAdapter:
    return IdentityAdapter(dtype)


class ExitsOnBatchThree(nn.LSTMCell):
    """Passes the smoke test (batch 2), then ends the process with status 0 mid-run."""

    def __init__(self) -> None:
        super().__init__(2, 3)

    def forward(self, x, state):
        if x.shape[0] == 3:
            os._exit(0)
        return super().forward(x, state)


exits_on_batch_three = ExitsOnBatchThree


class _RaisingBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c):
        return c.clone()

    @staticmethod
    def backward(ctx, grad):
        count = os.environ.get("LSTM_PROPS_COUNT_BACKWARDS")
        if count:  # a test counts the calls: a fault must not be shrunk (re-run many times)
            with open(count, "a") as out:
                out.write("backward\n")
        raise RuntimeError("backward kernel not implemented for this layout")


class BackwardRaises(nn.LSTMCell):
    """A correct forward whose backward raises."""

    def __init__(self) -> None:
        super().__init__(2, 3)

    def forward(self, x, state):
        h, c = super().forward(x, state)
        return h, _RaisingBackward.apply(c)


backward_raises = BackwardRaises


class MutatesItsInput(nn.LSTMCell):
    """Writes into the caller's c in place (a 'fused' update): torch's autograd refuses."""

    def __init__(self) -> None:
        super().__init__(2, 3)

    def forward(self, x, state):
        h, c = state
        h_new, c_new = super().forward(x, (h, c))
        c.mul_(1.0)  # in place on a tensor that needs grad
        return h_new, c_new


mutates_its_input = MutatesItsInput


class WrongShapeVjpBackend(TorchBackend):
    """Torch's conversions, but a VJP that drops the last coordinate of every cotangent."""

    def vjp(self, fn, primals, cotangents):
        return tuple(g[..., :-1] for g in super().vjp(fn, primals, cotangents))

    def vjp_rows(self, fn, primals, cotangent_rows):
        return tuple(g[..., :-1] for g in super().vjp_rows(fn, primals, cotangent_rows))


def wrong_shape_vjp(dtype: str = "float32") -> CellAdapter:
    torch.manual_seed(0)
    module = nn.LSTMCell(2, 3).to(getattr(torch, dtype))
    return TorchCellAdapter(
        module, "wrong_shape_vjp", WrongShapeVjpBackend(dtype), CellSpec(2, 3, 3)
    )


class ReturnsNumpy(nn.LSTMCell):
    """Returns NumPy arrays instead of tensors (right shapes, finite values)."""

    def __init__(self) -> None:
        super().__init__(2, 3)

    def forward(self, x, state):
        h, c = super().forward(x, state)
        return h.detach().numpy(), c.detach().numpy()


returns_numpy = ReturnsNumpy


class NondeterministicBackend(NumpyBackend):
    deterministic = False


def nothing_verifiable(dtype: str = "float32") -> IdentityAdapter:
    """Declares the peephole variant and a nondeterministic backend, without autograd or
    layout: every property that calls the target is skipped."""
    adapter = IdentityAdapter(dtype)
    adapter.backend = NondeterministicBackend(dtype)
    adapter.variant = "peephole"
    return adapter


class SlowCell(nn.LSTMCell):
    """A correct cell taking 20 ms a step: a run long enough to interrupt."""

    def __init__(self) -> None:
        super().__init__(2, 3)

    def forward(self, x, state):
        import time

        time.sleep(0.02)
        return super().forward(x, state)


slow_cell = SlowCell


def fails_to_build_most_sizes(input_size: int, hidden_size: int) -> nn.Module:
    """A sized factory with a kernel for input size 3 only: building at another size, inside
    a property's strategy, raises."""
    if input_size != 3:
        raise ValueError(f"no kernel for input size {input_size}")
    return nn.LSTMCell(input_size, hidden_size)
