"""Targets that must be refused at load, each in one line (tests/test_load_errors.py)."""

from __future__ import annotations

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
