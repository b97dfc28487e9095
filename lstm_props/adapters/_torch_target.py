"""A torch module as a target: a fixed-size instance or a factory of sizes, wrapped by
the calling convention it has (nn.LSTM layer by layer, anything else as a cell)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from lstm_props._errors import TargetError
from lstm_props.adapters._protocol import CellAdapter, CellSpec, Target, Views
from lstm_props.adapters._torch import TorchBackend, torch_dtype
from lstm_props.adapters._torch_cell import (
    TorchCellAdapter,
    _independent_copy,
    _NoIndependentCopy,
)
from lstm_props.adapters._torch_compiled import original
from lstm_props.adapters._torch_lstm import TorchLSTMLayer, TorchLSTMStack
from lstm_props.adapters._torch_quantized import is_dynamic_quantized_lstm, quantized_views
from lstm_props.maths.precision import PRECISIONS


def torch_views(module: nn.Module, name: str, dtype: str, device: str) -> Views:
    """Wrap a torch module: nn.LSTM by layers, anything else by the cell convention."""
    if is_dynamic_quantized_lstm(module):  # int8 weights in packed parameters
        return quantized_views(module, name, dtype, device)
    tensors = _autocast_tensors(module, name, dtype)
    backend = TorchBackend(dtype, device, name, tensors=tensors)
    if isinstance(module, torch.jit.ScriptModule):  # see _independent_copy
        with contextlib.suppress(_NoIndependentCopy):
            module = _independent_copy(module)
    module = module.to(device=device, dtype=tensors or torch_dtype(dtype))
    if isinstance(original(module), nn.LSTM):
        module = cast(nn.LSTM, module)  # compiled or not: the module given is what is called
        # nn.LSTM's fused CPU backward (oneDNN) computes every weight gradient whether asked
        # or not; vmapped over K rows it holds K of them: at H = 1024, 22 rows took 2.2x the
        # time of a loop over the kept graph and 22x its memory.
        backend.batch_rows = False
        stack = TorchLSTMStack(module, name, backend)
        directions = ("", " reverse") if module.bidirectional else ("",)
        layers: list[CellAdapter] = [
            TorchLSTMLayer(module, f"{name}[layer {k}{label}]", backend, k, d)
            for k in range(module.num_layers)
            for d, label in enumerate(directions)
        ]
        return Views(layers, stack)
    spec = _cell_spec(module)
    cell = TorchCellAdapter(module, name, backend, spec)
    return Views([cell], cell)


def _autocast_tensors(module: nn.Module, name: str, dtype: str) -> torch.dtype | None:
    """float32 for a module that declares ``lstm_autocast`` (adapters.torch_autocast): its
    parameters stay float32 and its forward rounds inside, which the run must declare as
    the matching mixed precision; None for any other module (its tensors in the run's)."""
    autocast = getattr(module, "lstm_autocast", None)
    if autocast is None:
        return None
    half = str(autocast).removeprefix("torch.")
    if f"{half}+float32" not in PRECISIONS:
        raise TargetError(
            f"target {name!r}: lstm_autocast = {autocast!r} is not a half dtype; declare "
            "torch.bfloat16 or torch.float16"
        )
    if dtype != f"{half}+float32":
        raise TargetError(
            f"target {name!r} runs under torch.autocast({half}) with float32 parameters: "
            f"run it with --lstm-dtype {half}+float32 (stored in {half}, summed in float32), "
            f"not {dtype}"
        )
    return torch.float32


def _cell_spec(module: nn.Module) -> CellSpec:
    input_size, hidden_size = (getattr(module, a, None) for a in ("input_size", "hidden_size"))
    if not isinstance(input_size, int) or not isinstance(hidden_size, int):
        raise ValueError(
            f"{type(module).__name__} does not say its sizes: give it integer attributes "
            "input_size and hidden_size (and proj_size if h is narrower than c)"
        )
    proj = getattr(module, "proj_size", 0) or hidden_size
    return CellSpec(input_size, hidden_size, proj)


class TorchTarget(Target):
    """A torch module instance (fixed sizes) or a factory taking input_size, hidden_size."""

    def __init__(
        self, name: str, make: Callable[..., nn.Module], sized: bool, dtype: str, device: str
    ) -> None:
        self.name, self._make, self.sized = name, make, sized
        self.dtype, self.device = dtype, device
        self._fixed: Views | None = None
        self.min_hidden_size = int(getattr(make, "min_hidden_size", 1))
        self.num_layers = len(self.probe().layers)

    def build(self, input_size: int | None = None, hidden_size: int | None = None) -> Views:
        if not self.sized:
            if self._fixed is None:
                self._fixed = torch_views(self._make(), self.name, self.dtype, self.device)
            return self._fixed
        module = self._make(input_size=input_size, hidden_size=hidden_size)
        return torch_views(module, self.name, self.dtype, self.device)
