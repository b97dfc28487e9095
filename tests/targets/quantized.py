"""Dynamic-quantized LSTMs for the self-tests: torch's own, correct, and two broken by editing
the quantized module, so that its kernel computes something other than the LSTM of the
weights it says it holds (what ``_weight_bias()``, the adapter's read-back, reports)."""

from __future__ import annotations

import warnings

import torch
from torch import nn

with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices
    warnings.simplefilter("ignore")
    from torch.ao.nn.quantized.dynamic import LSTM as DynamicQuantizedLSTM


def _quantized(cls: type, input_size: int, hidden_size: int) -> nn.Module:
    """``cls`` (a DynamicQuantizedLSTM) holding quantize_dynamic's weights of an nn.LSTM."""
    torch.manual_seed(0)
    float_lstm = nn.LSTM(input_size, hidden_size)
    float_lstm.qconfig = torch.ao.quantization.default_dynamic_qconfig  # type: ignore[assignment]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = DynamicQuantizedLSTM.from_float(float_lstm)
    made.__class__ = cls  # the same packed parameters, the broken reading of them
    return made


class BiasDoubledLSTM(DynamicQuantizedLSTM):
    """Its kernel adds each bias twice: the packed bias is 2b while it reports (and takes
    in a write) b."""

    def _weight_bias(self):  # type: ignore[no-untyped-def]
        held = super()._weight_bias()
        held["bias"] = {k: v.detach() / 2 for k, v in held["bias"].items()}
        return held

    def set_weight_bias(self, weight_bias_dict):  # type: ignore[no-untyped-def]
        doubled = {
            k: (v.detach() * 2 if k.startswith("bias") else v) for k, v in weight_bias_dict.items()
        }
        super().set_weight_bias(doubled)


def _swap_if(w: torch.Tensor, hidden: int) -> torch.Tensor:
    """The i and f row blocks exchanged (its own inverse)."""
    i, f, g, o = w.split(hidden)
    return torch.cat([f, i, g, o])


class GatesSwappedLSTM(DynamicQuantizedLSTM):
    """Its packed weights and biases hold the i and f gates' rows exchanged while it reports
    (and takes in a write) the documented order i, f, g, o: a packing that reads another
    gate order."""

    def _weight_bias(self):  # type: ignore[no-untyped-def]
        held = super()._weight_bias()
        h = self.hidden_size
        for part in ("weight", "bias"):
            held[part] = {k: _swap_if(v.detach(), h) for k, v in held[part].items()}
        return held

    def set_weight_bias(self, weight_bias_dict):  # type: ignore[no-untyped-def]
        h = self.hidden_size
        swapped = {}
        for k, v in weight_bias_dict.items():
            if k.startswith("weight"):  # a quantized tensor: its int8 rows, same scale
                rows = _swap_if(v.int_repr(), h)
                swapped[k] = torch._make_per_tensor_quantized_tensor(
                    rows, v.q_scale(), v.q_zero_point()
                )
            else:
                swapped[k] = _swap_if(v.detach(), h)
        super().set_weight_bias(swapped)


def correct(input_size: int = 3, hidden_size: int = 4) -> nn.Module:
    return _quantized(DynamicQuantizedLSTM, input_size, hidden_size)


def bias_doubled(input_size: int = 3, hidden_size: int = 4) -> nn.Module:
    return _quantized(BiasDoubledLSTM, input_size, hidden_size)


def gates_swapped(input_size: int = 3, hidden_size: int = 4) -> nn.Module:
    return _quantized(GatesSwappedLSTM, input_size, hidden_size)
