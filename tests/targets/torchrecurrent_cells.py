"""torchrecurrent's PeepholeLSTMCell (weight_ih, weight_hh, bias_ih, bias_hh in nn.LSTMCell's
gate order, plus weight_ph (3H,)) with its layout declared on the instance: checked in full
as a peephole LSTM. Needs ``pip install torchrecurrent`` (not a dependency of the suite)."""

from __future__ import annotations

from torch import nn

import lstm_props


def peephole_cell(input_size: int, hidden_size: int) -> nn.Module:
    from torchrecurrent import PeepholeLSTMCell

    cell = PeepholeLSTMCell(input_size, hidden_size)
    cell.lstm_layout = lstm_props.stacked(
        "weight_ih", "weight_hh", "bias_ih", "bias_hh", peephole="weight_ph"
    )
    cell.lstm_variant = "peephole"
    return cell
