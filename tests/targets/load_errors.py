"""Targets that must be refused at load, each in one line (tests/test_load_errors.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from lstm_props.adapters import CellAdapter, CellSpec, TorchBackend


class NumpyReturningAdapter(CellAdapter):
    """A torch-backed adapter whose step hands back NumPy arrays instead of tensors."""

    spec = CellSpec(3, 4, 4)
    backend = TorchBackend()

    def step(self, x, h, c):
        return np.zeros((x.shape[0], 4)), np.zeros((x.shape[0], 4))


class AdapterWithoutSpec(CellAdapter):
    backend = TorchBackend()

    def step(self, x, h, c):
        return h, c


class UpcastingCell(nn.Module):
    """A correct LSTMCell whose outputs leave in float64 whatever it computes in."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)
        self.input_size, self.hidden_size = 3, 4

    def forward(self, x, state):
        h, c = self.cell(x, state)
        return h.double(), c.double()


class DowncastingCell(UpcastingCell):
    def forward(self, x, state):
        h, c = self.cell(x, state)
        return h.float(), c.float()


numpy_adapter = NumpyReturningAdapter()
no_spec_adapter = AdapterWithoutSpec()
upcasting_cell = UpcastingCell()
downcasting_cell = DowncastingCell()
gru_cell = nn.GRUCell(3, 4)
gru = nn.GRU(3, 4)
rnn_cell = nn.RNNCell(3, 4)
assert torch.get_default_dtype() == torch.float32


#: nn.LSTM applies dropout between layers in training mode, the default of a new module.
dropout_lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)


class _NondeterministicTorchBackend(TorchBackend):
    deterministic = False  # shadows TorchBackend's property: declared, like cuDNN's


class JitteryAdapter(CellAdapter):
    """An LSTMCell whose step adds a last-bits jitter (as atomics in a GPU reduction do).

    The jitter follows a call counter, not a random draw: two calls always differ, so the
    test of the refusal cannot pass or fail by chance."""

    spec = CellSpec(3, 4, 4)

    def __init__(self, declared_nondeterministic: bool) -> None:
        self.cell = nn.LSTMCell(3, 4)
        self.calls = 0
        self.backend = (
            _NondeterministicTorchBackend() if declared_nondeterministic else TorchBackend()
        )

    def step(self, x, h, c):
        h, c = self.cell(x, (h, c))
        self.calls += 1
        return h * (1 + 1e-6 * (self.calls % 7)), c


jittery_declared = JitteryAdapter(declared_nondeterministic=True)
jittery_undeclared = JitteryAdapter(declared_nondeterministic=False)


class HangingCell(nn.LSTMCell):
    """A correct LSTMCell that blocks forever on its ``hang_on``-th call (a deadlock)."""

    def __init__(self, hang_on: int) -> None:
        super().__init__(3, 4)
        self.calls, self.hang_on = 0, hang_on

    def forward(self, x, state):
        self.calls += 1
        if self.calls == self.hang_on:
            threading.Event().wait()  # never set: blocks in a lock, not in Python code
        return super().forward(x, state)


# Loading makes four calls (the smoke test's two, the precision and forward agreement
# checks' one each); the sixth is a property's.
hangs_on_sixth_call = HangingCell(hang_on=6)
hangs_on_first_call = HangingCell(hang_on=1)


class DiesWithEveryWorker(nn.LSTMCell):
    """A correct LSTMCell that ends its process on its sixth call, at the same moment in
    every xdist worker: each waits (60 s at most) until $LSTM_PROPS_TEST_BARRIER holds one
    file per worker. Two workers that end together raced xdist's controller into an
    INTERNALERROR (it handed the first one's tests to the second, already gone)."""

    def __init__(self) -> None:
        super().__init__(3, 4)
        self.calls = 0

    def forward(self, x, state):
        self.calls += 1
        if self.calls == 6:  # a property's (see hangs_on_sixth_call)
            barrier = Path(os.environ["LSTM_PROPS_TEST_BARRIER"])
            (barrier / str(os.getpid())).touch()
            deadline = time.monotonic() + 60
            while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            os._exit(3)
        return super().forward(x, state)


dies_with_every_worker = DiesWithEveryWorker()


class _UnreachableDeviceBackend(TorchBackend):
    def asarray(self, a):
        raise RuntimeError("device 7 is not reachable")


class UnreachableDeviceAdapter(CellAdapter):
    """Its backend cannot even make the smoke test's inputs (outside any adapter call)."""

    spec = CellSpec(3, 4, 4)
    backend = _UnreachableDeviceBackend()

    def step(self, x, h, c):
        return h, c


unreachable_device_adapter = UnreachableDeviceAdapter()


class _Sizes(NamedTuple):
    input_size: int
    hidden_size: int
    output_size: int


class DuckSpecAdapter(CellAdapter):
    """A correct LSTMCell adapter whose spec is its own record with the three sizes."""

    backend = TorchBackend()

    def __init__(self, spec: object) -> None:
        self.spec = spec  # type: ignore[assignment]
        self.cell = nn.LSTMCell(3, 4)

    def step(self, x, h, c):
        return self.cell(x, (h, c))


duck_spec_adapter = DuckSpecAdapter(_Sizes(3, 4, 4))
tuple_spec_adapter = DuckSpecAdapter((3, 4, 4))


class MisdeclaredLayoutCell(nn.Module):
    """A fused-Linear cell whose lstm_layout names a path that does not resolve."""

    def __init__(self) -> None:
        from lstm_props import fused

        super().__init__()
        self.input_size, self.hidden_size = 3, 4
        self.lin = nn.Linear(7, 16)
        self.lstm_layout = fused(weight="linear.weight", bias="lin.bias")

    def forward(self, x, state):
        h, c = state
        i, f, g, o = self.lin(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


misdeclared_layout = MisdeclaredLayoutCell()
