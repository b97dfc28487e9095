"""Mutants of the fused sequence call (nn.LSTM): direction, packing, batch layout, the
states of deeper layers. Each single step is right; only the sequence machinery is not."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


class SequenceOutputsReversed(nn.LSTM):
    """A fused sequence whose outputs come back time-reversed (onnx #2881, onnxruntime #4187);
    every single step is right."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)

    def forward(self, x, state=None):
        y, (h, c) = super().forward(x, state)
        return (y.flip(0) if x.shape[0] > 1 else y), (h, c)


class BatchFirstReshapedNotTransposed(nn.LSTM):
    """batch_first honoured by reshape instead of transpose: (B, T, D) viewed as (T, B, D)
    (a wrapper bug as common as it is silent); one step (T = 1) is unaffected."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, batch_first=True)

    def forward(self, x, state=None):
        b, t = x.shape[:2]
        self.batch_first = False
        try:
            y, hc = super().forward(x.reshape(t, b, -1), state)
        finally:
            self.batch_first = True
        return y.reshape(b, t, -1), hc


class DeeperLayerStartsFromLayer0State(nn.LSTM):
    """Every layer initialised from layer 0's (h_0, c_0) (a stacked-RNN wrapper passing
    states[0] to all layers): layer 1 never reads its own state."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, num_layers=2)

    def forward(self, x, state=None):
        h0, c0 = state
        return super().forward(
            x, (h0[:1].expand_as(h0).contiguous(), c0[:1].expand_as(c0).contiguous())
        )


class ReverseDirectionNotFlipped(nn.LSTM):
    """A bidirectional LSTM whose reverse direction runs forward in time (the flip of the
    input forgotten, as in early ONNX bidirectional exports): one step is right."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, bidirectional=True)

    def forward(self, x, state=None):
        y, (h, c) = super().forward(x, state)
        y_rev, (h_rev, c_rev) = super().forward(x.flip(0), state)
        p = y.shape[-1] // 2
        y = torch.cat([y[..., :p], y_rev.flip(0)[..., p:]], dim=-1)
        return y, (torch.stack([h[0], h_rev[1]]), torch.stack([c[0], c_rev[1]]))


class PackedLengthsIgnored(nn.LSTM):
    """A packed batch run over its padding: the final (h, c) of a short row is the state
    after the padded steps, not after its last real step (pytorch #3584 family)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)

    def forward(self, x, state=None):
        if not isinstance(x, PackedSequence):
            return super().forward(x, state)
        padded, lengths = pad_packed_sequence(x)
        y, hc = super().forward(padded, state)
        return pack_padded_sequence(y, lengths, enforce_sorted=False), hc
