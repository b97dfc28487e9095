"""The reference cells as torch modules, so that they can be targets themselves."""

from __future__ import annotations

import math

import torch
from torch import nn

from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference._cells import lstm_step
from lstm_props.maths.variants import as_variant


class ReferenceLSTMCell(nn.Module):
    """nn.LSTMCell's calling convention and parameter names, computing :func:`lstm_step`.

    Parameters: weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,), and for
    the peephole variant peephole (3, H) holding p_i, p_f, p_o.
    """

    def __init__(self, input_size: int, hidden_size: int, variant: str = "standard") -> None:
        super().__init__()
        as_variant(variant)  # an unknown name: ValueError naming the known ones
        self.input_size, self.hidden_size, self.lstm_variant = input_size, hidden_size, variant
        bound = 1.0 / math.sqrt(hidden_size)

        def init(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        self.weight_ih = init(4 * hidden_size, input_size)
        self.weight_hh = init(4 * hidden_size, hidden_size)
        self.bias_ih = init(4 * hidden_size)
        self.bias_hh = init(4 * hidden_size)
        if as_variant(variant).reads_cell:
            self.peephole = init(3, hidden_size)

    def params(self) -> LSTMParams:
        """The module's parameters as an LSTMParams whose arrays are the live tensors."""
        # Not a stub defect: LSTMParams declares NumPy arrays and these are tensors on purpose
        # (lstm_step reads them with xp = torch, so autograd reaches the parameters). Typing
        # it honestly needs LSTMParams generic in its array type; left for now.
        return LSTMParams(
            self.weight_ih,  # type: ignore[arg-type]  # tensors, not ndarrays
            self.weight_hh,  # type: ignore[arg-type]
            self.bias_ih,  # type: ignore[arg-type]
            self.bias_hh,  # type: ignore[arg-type]
            peephole=getattr(self, "peephole", None),
        )

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        out = lstm_step(self.params(), x, h, c, self.lstm_variant, xp=torch)
        return out.h, out.c
