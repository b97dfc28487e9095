"""PyTorch's own TorchScript LSTM cell, as benchmarks/fastrnns/custom_lstms.py in
pytorch/pytorch writes it (the "custom TorchScript LSTMs" the JIT's RNN benchmarks run;
commit 02ed7257, BSD-3-Clause): a ``torch.jit.ScriptModule`` whose ``@jit.script_method``
forward computes the standard step in gate order i, f, g, o,

    gates = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh,  i, f, g, o = chunk(gates, 4)
    c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g),            h' = σ(o) ⊙ tanh(c'),

and returns ``(h', (h', c'))``: the output beside the state. The class keeps the file's
structure, names and order of operations; only ``lstm_call`` is added (so the suite knows
the output comes first), as a module attribute so it survives jit save/load.

Its sequence layer (``LSTMLayer``: a scripted loop over ``input.unbind(0)``) is not bound:
the suite runs a fused sequence call only for nn.LSTM.
"""

from __future__ import annotations

import torch
import torch.jit as jit
from torch import Tensor
from torch.nn import Parameter

#: how the suite calls it (lstm_props.adapters._torch_call)
CALL = "m(x, (h, c)) -> (h, (h, c))"


class LSTMCell(jit.ScriptModule):
    """benchmarks/fastrnns/custom_lstms.py's LSTMCell (weights drawn N(0, 1), as there)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = Parameter(torch.randn(4 * hidden_size, input_size))
        self.weight_hh = Parameter(torch.randn(4 * hidden_size, hidden_size))
        self.bias_ih = Parameter(torch.randn(4 * hidden_size))
        self.bias_hh = Parameter(torch.randn(4 * hidden_size))
        self.lstm_call = CALL

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

        cy = (forgetgate * cx) + (ingate * cellgate)
        hy = outgate * torch.tanh(cy)

        return hy, (hy, cy)
