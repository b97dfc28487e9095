"""Cells that compute below the precision they declare, and one that is merely sloppy.

Each narrow cell is nn.LSTMCell whose forward casts its inputs and weights to a narrower
type, runs the step there and casts the result back: its outputs carry the declared dtype
(the loader's dtype check passes) but the narrower type's rounding, as OpenVINO's CPU
plugin at its default bf16 inference precision, or Keras' float64 cell computed in float32.
"""

from __future__ import annotations

import torch
from torch import nn


class _NarrowInside(nn.LSTMCell):
    inside: torch.dtype

    def forward(self, x, state):
        h, c = state
        narrow = [t.to(self.inside) for t in (x, h, c)]
        weights = [p.to(self.inside) for p in (self.weight_ih, self.weight_hh)]
        biases = [p.to(self.inside) for p in (self.bias_ih, self.bias_hh)]
        h_new, c_new = torch._VF.lstm_cell(*narrow[:1], narrow[1:], *weights, *biases)
        return h_new.to(x.dtype), c_new.to(x.dtype)


class Bfloat16InsideCell(_NarrowInside):
    """Declares the run's dtype, computes in bfloat16 (u = 2⁻⁸)."""

    inside = torch.bfloat16


class Float16InsideCell(_NarrowInside):
    """Declares the run's dtype, computes in float16 (u = 2⁻¹¹)."""

    inside = torch.float16


class Float32InsideCell(_NarrowInside):
    """Computes in float32 whatever it declares: below precision in a float64 run only."""

    inside = torch.float32


class SloppySigmoidCell(nn.LSTMCell):
    """A correct float32 cell whose σ carries an absolute error of 1.66e-7 (ONNX Runtime's
    rational approximation has up to that): far outside the error model's few ulps where σ
    is small, yet a float32 computation, not a narrower one."""

    def forward(self, x, state):
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        zi, zf, zg, zo = z.chunk(4, dim=1)
        off = 1.66e-7

        def sigma(t):
            return (torch.sigmoid(t) + off).clamp(max=1.0)

        c_new = sigma(zf) * c + sigma(zi) * torch.tanh(zg)
        return sigma(zo) * torch.tanh(c_new), c_new


class SlightlyOffForgetCell(nn.LSTMCell):
    """A float32 cell with a wrong formula whose error is bfloat16-sized on every coordinate
    (f = σ(z_f + 2⁻⁸), an undeclared forget-bias constant): the precision check must leave
    it to the forward agreement check, which names a wrong forward."""

    def forward(self, x, state):
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        zi, zf, zg, zo = z.chunk(4, dim=1)
        c_new = torch.sigmoid(zf + 2.0**-8) * c + torch.sigmoid(zi) * torch.tanh(zg)
        return torch.sigmoid(zo) * torch.tanh(c_new), c_new
