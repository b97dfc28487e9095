"""nn.LSTMCell under ``torch.autocast``: declared mixed precision, on torch's own kernels.

    lstm-props check lstm_props.adapters.torch_autocast:lstm_cell --dtype bfloat16+float32
    lstm-props check lstm_props.adapters.torch_autocast:lstm_cell_float16 --dtype float16+float32

Any torch module that declares ``lstm_autocast = torch.bfloat16`` (or float16) is run this
way: its parameters stay float32, as autocast keeps them, and its run must declare the
matching mixed precision (``bfloat16+float32``); any other ``--lstm-dtype`` is refused in
one line.

What autocast rounds where, read from the ops torch 2.13's CPU dispatcher runs for one
``nn.LSTMCell`` step under ``torch.autocast("cpu", dtype=torch.bfloat16)``:

* ``linear`` is on autocast's lower-precision list: x, W_ih, b_ih (and h, W_hh, b_hh) are
  each cast to bfloat16 (``_to_copy``), then ``addmm`` in bfloat16, which sums in float32
  and rounds its result to bfloat16 once;
* ``igates + hgates`` (``add_``) in bfloat16: one more rounding; the four gates σ, σ, tanh,
  σ in bfloat16 (evaluated in float32, rounded to bfloat16);
* ``f * c``: bfloat16 times float32 promotes to float32; ``i * g`` is bfloat16 (rounded);
  c' = f c + i g in float32; tanh(c') and h' = o tanh(c') in float32.

So h and c come back float32. The declared model (tolerances.gamma, MIXED_ROUNDINGS) charges
every one of those roundings at bfloat16's u and the dot products γ_n at float32's, which
covers this: c' and h' are rounded in float32 only, less than the model allows. The suite
writes bfloat16-representable weights and inputs, so autocast's casts of them are exact; the
states it feeds back (recorded float32 c and h) are not, and the model's operand roundings
cover their casts.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class AutocastLSTMCell(nn.LSTMCell):
    """nn.LSTMCell whose forward runs under ``torch.autocast(device, dtype=lstm_autocast)``."""

    lstm_autocast: torch.dtype = torch.bfloat16

    def forward(self, x: torch.Tensor, hx: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(x.device.type, dtype=self.lstm_autocast):
            return super().forward(x, hx)


class AutocastFloat16LSTMCell(AutocastLSTMCell):
    """The same under float16 autocast (CPU autocast supports float16 since torch 2.3)."""

    lstm_autocast = torch.float16


def lstm_cell(input_size: int, hidden_size: int) -> nn.Module:
    """nn.LSTMCell under bfloat16 autocast: run it with --lstm-dtype bfloat16+float32."""
    return AutocastLSTMCell(input_size, hidden_size)


def lstm_cell_float16(input_size: int, hidden_size: int) -> nn.Module:
    """nn.LSTMCell under float16 autocast: run it with --lstm-dtype float16+float32."""
    return AutocastFloat16LSTMCell(input_size, hidden_size)


__all__ = ["AutocastFloat16LSTMCell", "AutocastLSTMCell", "lstm_cell", "lstm_cell_float16"]
