"""Broken cells behind torch.compile, torch.export and TorchScript: each must fail the
property written for its bug, as the same bug fails it in eager mode."""

from __future__ import annotations

import torch
import torch.jit as jit
from torch import Tensor, nn
from torch.nn import Parameter

from lstm_props import targets
from lstm_props.mutants import BackwardSquaresForget, GateOrderIOFG


def compiled_backward_squares_forget(input_size: int, hidden_size: int) -> nn.Module:
    """torch.compile of a cell whose custom backward returns f² ⊙ dc for dc_{t-1} (forward
    exact): dynamo keeps the autograd.Function's backward, so the compiled backward is wrong."""
    targets.allow_recompiles()
    return torch.compile(
        BackwardSquaresForget(input_size, hidden_size), dynamic=True, fullgraph=True
    )


def exported_gates_swapped(input_size: int, hidden_size: int) -> nn.Module:
    """torch.export of a cell reading its gate blocks as i, o, f, g (values wrong)."""
    cell = GateOrderIOFG(input_size, hidden_size)
    batch = torch.export.Dim("batch")
    x, h = torch.zeros(2, input_size), torch.zeros(2, hidden_size)
    module = torch.export.export(
        cell, (x, (h, h.clone())), dynamic_shapes=({0: batch}, ({0: batch}, {0: batch}))
    ).module()
    module.input_size, module.hidden_size = input_size, hidden_size
    return module


class ScriptedSquaredForgetCell(jit.ScriptModule):
    """The fastrnns TorchScript cell (lstm_props.adapters._fastrnns) with c' = f² ⊙ c + i ⊙ g."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = Parameter(torch.randn(4 * hidden_size, input_size))
        self.weight_hh = Parameter(torch.randn(4 * hidden_size, hidden_size))
        self.bias_ih = Parameter(torch.randn(4 * hidden_size))
        self.bias_hh = Parameter(torch.randn(4 * hidden_size))
        self.lstm_call = "m(x, (h, c)) -> (h, (h, c))"

    @jit.script_method
    def forward(
        self, input: Tensor, state: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        hx, cx = state
        gates = (
            torch.mm(input, self.weight_ih.t())
            + self.bias_ih
            + torch.mm(hx, self.weight_hh.t())
            + self.bias_hh
        )
        ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)
        ingate = torch.sigmoid(ingate)
        forgetgate = torch.sigmoid(forgetgate)
        cellgate = torch.tanh(cellgate)
        outgate = torch.sigmoid(outgate)
        cy = (forgetgate * forgetgate * cx) + (ingate * cellgate)
        hy = outgate * torch.tanh(cy)
        return hy, (hy, cy)
