"""Built-in targets, named ``lstm_props.targets:<name>`` on the command line.

Each is a factory taking ``input_size`` and ``hidden_size`` so the suite draws sizes per
example. ``torch.nn:LSTMCell`` and ``torch.nn:LSTM`` work directly as well.
"""

from __future__ import annotations

from torch import nn

from lstm_props.reference import ReferenceLSTMCell


def lstm_cell(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTMCell."""
    return nn.LSTMCell(input_size, hidden_size)


def lstm(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM, one layer, (T, B, D) inputs; one step is a length-1 sequence."""
    return nn.LSTM(input_size, hidden_size)


def lstm_two_layer(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM with two layers, batch_first: checked layer by layer."""
    return nn.LSTM(input_size, hidden_size, num_layers=2, batch_first=True)


def lstm_proj(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM with proj_size = H // 2 (h narrower than c)."""
    return nn.LSTM(input_size, hidden_size, proj_size=hidden_size // 2)


lstm_proj.min_hidden_size = 2  # type: ignore[attr-defined]


def lstm_bidirectional(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM, bidirectional, one layer: each direction checked as a cell, and the
    fused call against flip ∘ LSTM ∘ flip."""
    return nn.LSTM(input_size, hidden_size, bidirectional=True)


def lstm_bidirectional_two_layer(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM, bidirectional, two layers, batch_first: four cells (layer × direction),
    layer 1 reading both directions of layer 0."""
    return nn.LSTM(input_size, hidden_size, num_layers=2, bidirectional=True,
                   batch_first=True)


def lstm_no_bias(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTM with bias=False: the layout read with zero biases (not writable)."""
    return nn.LSTM(input_size, hidden_size, bias=False)


def lstm_cell_frozen(input_size: int, hidden_size: int) -> nn.Module:
    """torch.nn.LSTMCell with requires_grad=False on every parameter (a frozen layer)."""
    return nn.LSTMCell(input_size, hidden_size).requires_grad_(False)


def lstm_cell_scripted(input_size: int, hidden_size: int) -> nn.Module:
    """torch.jit.script(nn.LSTMCell): a TorchScript module, copied through jit save/load."""
    import torch

    return torch.jit.script(nn.LSTMCell(input_size, hidden_size))


def reference_standard(input_size: int, hidden_size: int) -> nn.Module:
    """The reference cell, standard variant."""
    return ReferenceLSTMCell(input_size, hidden_size, "standard")


def reference_no_forget(input_size: int, hidden_size: int) -> nn.Module:
    """The 1997 LSTM: no forget gate (f ≡ 1)."""
    return ReferenceLSTMCell(input_size, hidden_size, "no_forget")


def reference_cifg(input_size: int, hidden_size: int) -> nn.Module:
    """Coupled input-forget gate: i = 1 − f."""
    return ReferenceLSTMCell(input_size, hidden_size, "cifg")


def reference_peephole(input_size: int, hidden_size: int) -> nn.Module:
    """Peephole connections p_i, p_f (read c_{t-1}) and p_o (reads c_t)."""
    return ReferenceLSTMCell(input_size, hidden_size, "peephole")


#: name -> (factory, variant) for `lstm-props list` and the self-tests.
BUILTIN = {
    "torch.nn:LSTMCell": "standard",
    "lstm_props.targets:lstm_cell": "standard",
    "lstm_props.targets:lstm": "standard",
    "lstm_props.targets:lstm_two_layer": "standard",
    "lstm_props.targets:lstm_proj": "standard",
    "lstm_props.targets:lstm_bidirectional": "standard",
    "lstm_props.targets:lstm_bidirectional_two_layer": "standard",
    "lstm_props.targets:lstm_no_bias": "standard",
    "lstm_props.targets:lstm_cell_frozen": "standard",
    "lstm_props.targets:lstm_cell_scripted": "standard",
    "lstm_props.targets:reference_standard": "standard",
    "lstm_props.targets:reference_no_forget": "no_forget",
    "lstm_props.targets:reference_cifg": "cifg",
    "lstm_props.targets:reference_peephole": "peephole",
}
