"""torch's dynamic-quantized LSTM (``torch.ao.nn.quantized.dynamic.LSTM``, what
``torch.ao.quantization.quantize_dynamic`` puts in place of an nn.LSTM inside a model).

Its int8 weights live in packed parameters, not in attributes: the layout is read back from
them exactly (W̃ = s_w (q_w − zp_w) in float64, per tensor or per output row) and written by
quantizing as ``quantize_dynamic`` does (its default per-tensor symmetric observer, or the
per-channel one when the module holds per-row scales), so the oracle runs on the weights
the kernel multiplies by. What remains is the rounding of x and h to 128 levels at every
call, declared as the layout's ``quantization`` (lstm_props.maths.quantization) and taken
by the error model as an input perturbation.

It has no backward through its int8 products: torch's autograd skips them (with a
UserWarning at backward, no error), so x and h_0 get no gradient and c_0 gets the carry path
alone, ∂c_T/∂c_0 |carry, in place of the total derivative through h (docs/frameworks.md,
"Quantized models"); the views therefore declare no autograd, and every derivative property
is skipped with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lstm_props._errors import TargetError
from lstm_props.adapters._protocol import CellAdapter, CellSpec, Views
from lstm_props.adapters._torch import TorchBackend
from lstm_props.adapters._torch_lstm import StackedStates
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.quantization import DynamicQuantization

#: What the fbgemm / x86 kernel does to x and h at every call (reduce_range: 0..127).
FBGEMM_DYNAMIC = DynamicQuantization(levels=127, min_scale=6.1e-5, weights="int8")

NO_AUTOGRAD = (
    "torch's dynamic-quantized LSTM has no backward through its int8 matrix products: "
    "autograd gives no gradient for x or h_0 and only the carry path for c_0, with a "
    "warning, no error (docs/frameworks.md: Quantized models)"
)


def is_dynamic_quantized_lstm(module: object) -> bool:
    """torch.ao.nn.quantized.dynamic.LSTM (or a subclass), without importing torch.ao."""
    return any(
        c.__name__ == "LSTM" and c.__module__.startswith("torch.ao.nn.quantized.dynamic")
        for c in type(module).__mro__
    )


class QuantizedBackend(TorchBackend):
    """torch's conversions, float32 on the CPU, and no autograd (see NO_AUTOGRAD)."""

    autograd = False
    autograd_note = NO_AUTOGRAD

    def like(self, dtype: str | None = None, device: str | None = None) -> TorchBackend:
        return QuantizedBackend(dtype or self.dtype, device or self.device, self.target)


def _dequantized(q: torch.Tensor) -> np.ndarray:
    """The real values an int8 tensor stands for, exactly, in float64."""
    ints = q.int_repr().to(torch.float64)
    if q.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        shape = [-1 if d == q.q_per_channel_axis() else 1 for d in range(q.dim())]
        scales = q.q_per_channel_scales().to(torch.float64).reshape(shape)
        zeros = q.q_per_channel_zero_points().to(torch.float64).reshape(shape)
        return ((ints - zeros) * scales).numpy()
    return ((ints - q.q_zero_point()) * q.q_scale()).numpy()


def _quantized_like(w: np.ndarray, held: torch.Tensor) -> torch.Tensor:
    """``w`` quantized as quantize_dynamic quantizes a weight of ``held``'s scheme."""
    from torch.ao.nn.quantized.modules.utils import _quantize_weight
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    per_channel = held.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    observer = qconfig.weight()
    weight = torch.as_tensor(w, dtype=torch.float32)
    observer(weight)
    return _quantize_weight(weight, observer)


class QuantizedLSTMLayer(CellAdapter):
    """One direction of one layer, one step at a time (a length-1 sequence of the whole
    module, the other layers' states held at a fixed context, as TorchLSTMLayer does for a
    module it cannot run layer by layer)."""

    quantization_note = FBGEMM_DYNAMIC.describe()
    #: torch.ao.nn.quantized.dynamic.LSTM (Any: torch.ao's attributes are untyped)
    module: Any

    def __init__(
        self, module: Any, name: str, backend: QuantizedBackend, layer: int, direction: int
    ) -> None:
        self.module, self.name, self.backend = module, name, backend
        self.layer, self.direction = layer, direction
        self.dirs = 2 if module.bidirectional else 1
        self.index = layer * self.dirs + direction
        hidden = module.hidden_size
        # run whole: every view's step input is the module's input; gate_input gives what
        # this layer's gates read (the layer below's output in the same call)
        self.spec = CellSpec(module.input_size, hidden, hidden)
        self._context: tuple[np.ndarray, np.ndarray] | None = None

    def _suffix(self) -> str:
        return f"_l{self.layer}" + ("_reverse" if self.direction else "")

    def set_context(self, h_all: np.ndarray, c_all: np.ndarray) -> None:
        self._context = (h_all, c_all)

    def _states(self, h: Any, c: Any) -> tuple[Any, Any]:
        layers = self.module.num_layers * self.dirs
        if self._context is None:
            h_all = torch.zeros((layers, *h.shape), dtype=h.dtype)
            c_all = torch.zeros((layers, *c.shape), dtype=c.dtype)
        else:
            h_all, c_all = (self.backend.asarray(a) for a in self._context)
        idx = torch.arange(layers)[:, None, None] == self.index
        return torch.where(idx, h[None], h_all), torch.where(idx, c[None], c_all)

    def _run(self, x: Any, h_all: Any, c_all: Any) -> tuple[Any, Any]:
        seq = x[:, None] if self.module.batch_first else x[None]
        _, (h_n, c_n) = self.module(seq, (h_all.contiguous(), c_all.contiguous()))
        return h_n, c_n

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        h_n, c_n = self._run(x, *self._states(h, c))
        return h_n[self.index], c_n[self.index]

    def gate_input(self, x: np.ndarray) -> np.ndarray:
        if self.layer == 0:
            return x
        b = x.shape[0]
        h0 = self.backend.asarray(np.zeros((b, self.spec.output_size)))
        c0 = self.backend.asarray(np.zeros((b, self.spec.hidden_size)))
        with torch.no_grad():
            h_n, _ = self._run(self.backend.asarray(x), *self._states(h0, c0))
        below = (self.layer - 1) * self.dirs
        return np.concatenate(
            [self.backend.to_numpy(h_n[below + d]) for d in range(self.dirs)], axis=-1
        )

    def read_layout(self) -> LSTMParams:
        held = self.module._weight_bias()
        s = self._suffix()
        return LSTMParams(
            _dequantized(held["weight"]["weight_ih" + s]),
            _dequantized(held["weight"]["weight_hh" + s]),
            self.backend.to_numpy(held["bias"]["bias_ih" + s]),
            self.backend.to_numpy(held["bias"]["bias_hh" + s]),
            quantization=FBGEMM_DYNAMIC,
        )

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        held = self.module._weight_bias()
        weights: dict[str, Any] = {**held["weight"], **held["bias"]}
        s = self._suffix()
        for key, name in (("w_ih", "weight_ih"), ("w_hh", "weight_hh")):
            weights[name + s] = _quantized_like(getattr(params, key), weights[name + s])
        for key, name in (("b_ih", "bias_ih"), ("b_hh", "bias_hh")):
            weights[name + s] = torch.as_tensor(getattr(params, key), dtype=torch.float32)
        self.module.set_weight_bias(weights)


class QuantizedLSTMStack(StackedStates, CellAdapter):
    """The whole module as one cell: states concatenated over layers, its fused call and
    its packed call (as TorchLSTMStack for nn.LSTM)."""

    def __init__(self, module: Any, name: str, backend: QuantizedBackend) -> None:
        self.module, self.name, self.backend = module, name, backend
        self.directions = 2 if module.bidirectional else 1
        layers = module.num_layers * self.directions
        hidden = module.hidden_size
        self.spec = CellSpec(module.input_size, layers * hidden, layers * hidden)

    def sequence(self, xs: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        first = self.module.batch_first
        seq = xs.transpose(0, 1).contiguous() if first else xs
        y, (h_n, c_n) = self.module(seq, self._split(h0, c0))
        y = y.transpose(0, 1) if first else y
        return y, self._join(h_n), self._join(c_n)

    @property
    def has_packed(self) -> bool:
        return True

    def packed_sequence(
        self, xs: Any, lengths: Sequence[int], h0: Any, c0: Any
    ) -> tuple[Any, Any, Any]:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        first = self.module.batch_first
        seq = xs.transpose(0, 1) if first else xs
        packed = pack_padded_sequence(
            seq, torch.as_tensor(list(lengths)), batch_first=first, enforce_sorted=False
        )
        out, (h_n, c_n) = self.module(packed, self._split(h0, c0))
        y, _ = pad_packed_sequence(out, batch_first=first, total_length=xs.shape[0])
        y = y.transpose(0, 1) if first else y
        return y, self._join(h_n), self._join(c_n)


def quantized_views(module: Any, name: str, dtype: str, device: str) -> Views:
    """Views of a dynamic-quantized LSTM; a run it cannot serve is refused in one line."""
    if getattr(module, "dtype", None) != torch.qint8:
        raise TargetError(
            f"target {name!r}: a dynamic-quantized LSTM with {module.dtype} weights is not "
            "supported (only int8: quantize_dynamic(model, {nn.LSTM}, dtype=torch.qint8))"
        )
    if dtype != "float32" or device != "cpu":
        raise TargetError(
            f"target {name!r}: torch's dynamic-quantized LSTM runs in float32 on the CPU "
            f"only (asked: {dtype} on {device}): run with --lstm-dtype float32 "
            "--lstm-device cpu"
        )
    backend = QuantizedBackend(dtype, device, name)
    directions = ("", " reverse") if module.bidirectional else ("",)
    layers: list[CellAdapter] = [
        QuantizedLSTMLayer(module, f"{name}[layer {k}{label}]", backend, k, d)
        for k in range(module.num_layers)
        for d, label in enumerate(directions)
    ]
    return Views(layers, QuantizedLSTMStack(module, name, backend))
