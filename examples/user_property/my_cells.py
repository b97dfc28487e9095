"""A user's own LSTM cell (nn.LSTMCell's parameter names and calling convention, so the
suite reads its layout), and the same cell with a bug: the output tanh forgotten."""

from __future__ import annotations

import torch
from torch import nn


class MyLSTMCell(nn.Module):
    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        k = hidden_size**-0.5
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size).uniform_(-k, k))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size).uniform_(-k, k))
        self.bias_ih = nn.Parameter(torch.zeros(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.zeros(4 * hidden_size))

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = z.chunk(4, dim=-1)  # nn.LSTMCell's gate order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return self.output(torch.sigmoid(o), c), c

    def output(self, o: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return o * torch.tanh(c)


class NoOutputTanhCell(MyLSTMCell):
    """h = o ⊙ c: the output squashing forgotten, so |h| grows with the carry."""

    def output(self, o: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return o * c
