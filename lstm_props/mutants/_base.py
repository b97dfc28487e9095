"""The standard cell split into overridable pieces, so a mutant changes one of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lstm_props.maths.reference import ReferenceLSTMCell

Tensor = torch.Tensor


class Mutant(ReferenceLSTMCell):
    """nn.LSTMCell's calling convention and parameter names; forward = output ∘ update ∘
    gates ∘ preact, each overridable."""

    def preact(self, x: Tensor, h: Tensor) -> Tensor:
        return x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh

    def gates(self, z: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
        return torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)

    def update(self, i: Tensor, f: Tensor, g: Tensor, c: Tensor) -> Tensor:
        return f * c + i * g

    def output(self, o: Tensor, c_new: Tensor, c: Tensor) -> Tensor:
        return o * torch.tanh(c_new)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, g, o = self.gates(self.preact(x, h), c)
        c_new = self.update(i, f, g, c)
        return self.output(o, c_new, c), c_new


def reorder(z: Tensor, order: str) -> Tensor:
    """Blocks of z stored in ``order`` (e.g. "iofg"), returned in torch's i, f, g, o."""
    blocks = dict(zip(order, z.chunk(4, dim=-1)))
    return torch.cat([blocks[k] for k in "ifgo"], dim=-1)


def carry_product(carry_grad: Callable[[Tensor, Tensor], Tensor]) -> type:
    """An autograd Function computing f ⊙ c exactly, whose backward returns
    ``carry_grad(dc', f)`` for dc_{t-1} (the correct one being dc' ⊙ f): a custom backward
    kernel with a bug in the carry only."""

    class CarryProduct(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, f: Tensor, c: Tensor) -> Tensor:
            ctx.save_for_backward(f, c)
            return f * c

        @staticmethod
        def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
            f, c = ctx.saved_tensors
            return grad * c, carry_grad(grad, f)

    return CarryProduct
