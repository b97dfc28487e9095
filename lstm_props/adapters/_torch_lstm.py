"""nn.LSTM as the suite sees it: each layer and direction a cell of its own, and the whole
stack as one cell with its fused sequence and packed calls."""

from __future__ import annotations

import copy
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_props.adapters._protocol import CellSpec
from lstm_props.adapters._torch import TorchBackend
from lstm_props.adapters._torch_cell import _TorchCellBase
from lstm_props.maths.layout import LSTMParams


def _runs_its_own_kernel(module: nn.LSTM, device: str) -> bool:
    """Whether a layer view may call the layer's kernel alone: the module's forward is
    nn.LSTM's own (a subclass that overrides it must be run whole), on CPU (cuDNN runs a
    stack as one call over its flattened weights, so on CUDA the whole module runs)."""
    return (
        type(module).forward is nn.LSTM.forward
        and not isinstance(module, torch.jit.ScriptModule)
        and device == "cpu"
    )


class TorchLSTMLayer(_TorchCellBase):
    """One direction of one layer of an nn.LSTM stack, one step at a time (a length-1
    sequence, which is one step of either direction).

    When the module's forward is nn.LSTM's own, the view calls the kernel that forward calls
    (``torch._VF.lstm``) with this layer's weights alone, so a step costs one layer, not
    the stack (a backward of nn.LSTM's CPU kernel costs about 90 ms a layer at H = 1024);
    the view's input is then the layer's own input (the layer below's output, both
    directions). A subclass that overrides forward is run whole: the other layers' states
    held at a fixed context, the gate input the output of layer − 1 in the same call,
    teacher-forced into the oracle. The stack view always runs the whole module.
    """

    module: nn.LSTM

    def __init__(
        self, module: nn.LSTM, name: str, backend: TorchBackend, layer: int, direction: int = 0
    ) -> None:
        super().__init__(module, name, backend)
        self.layer, self.direction = layer, direction
        self.dirs = 2 if module.bidirectional else 1
        self.index = layer * self.dirs + direction  # its row in h_n, c_n
        hidden, proj = module.hidden_size, module.proj_size or module.hidden_size
        self.alone = _runs_its_own_kernel(module, backend.device)
        below = module.input_size if layer == 0 or not self.alone else self.dirs * proj
        self.spec = CellSpec(below, hidden, proj)
        self._context: tuple[np.ndarray, np.ndarray] | None = None

    def _layout_names(self) -> dict[str, str]:
        s = f"_l{self.layer}" + ("_reverse" if self.direction else "")
        names = {"w_ih": "weight_ih" + s, "w_hh": "weight_hh" + s}
        if self.module.bias:
            names |= {"b_ih": "bias_ih" + s, "b_hh": "bias_hh" + s}
        if self.module.proj_size:
            names["w_hr"] = "weight_hr" + s
        return names

    def _copy_module(self, dtype: str, device: str) -> nn.Module:
        if not (self.alone and device == "cpu"):
            return super()._copy_module(dtype, device)
        # Alone, the view's kernel sees this layer's weights only, so its twin holds only
        # those: the other layers of an H = 4096 stack are 1 GB each in float64. The module
        # is an nn.LSTM still (its flags, its forward); the others are empty parameters
        # (on CPU: cuDNN would flatten them with the rest).
        own = set(self._layout_names().values())
        memo: dict[int, Any] = {
            id(p): nn.Parameter(p.new_empty(0), requires_grad=p.requires_grad)
            for n, p in self.module.named_parameters()
            if n not in own
        }
        twin = copy.deepcopy(self.module, memo)
        return twin.to(device=device, dtype=self.backend.like(dtype, device).torch_dtype)

    def set_context(self, h_all: np.ndarray, c_all: np.ndarray) -> None:
        self._context = (h_all, c_all)

    def _stack_states(self, h: Any, c: Any) -> tuple[Any, Any]:
        layers = self.module.num_layers * self.dirs
        if self._context is None:
            h_all = torch.zeros((layers, *h.shape), dtype=h.dtype, device=h.device)
            c_all = torch.zeros((layers, *c.shape), dtype=c.dtype, device=c.device)
        else:
            h_all, c_all = (self.backend.asarray(a) for a in self._context)
        idx = torch.arange(layers, device=h.device)[:, None, None] == self.index
        return torch.where(idx, h[None], h_all), torch.where(idx, c[None], c_all)

    def _run(self, x: Any, h_all: Any, c_all: Any) -> tuple[Any, Any, Any]:
        seq = x[:, None] if self.module.batch_first else x[None]
        y, (h_n, c_n) = self.module(seq, (h_all, c_all))
        return y, h_n, c_n

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        if self.alone:  # a length-1 sequence (T = 1 is one step of either direction)
            _, h_n, c_n = self.layer_sequence(x[None], h, c)
            return h_n, c_n
        _, h_n, c_n = self._run(x, *self._stack_states(h, c))
        return h_n[self.index], c_n[self.index]

    @property
    def has_layer_sequence(self) -> bool:
        # a reverse direction's kernel call would run it forward in time over T > 1 steps
        return self.alone and self.direction == 0

    def layer_sequence(self, xs: Any, h: Any, c: Any) -> tuple[Any, Any, Any]:
        # nn.LSTM.forward's own call for this layer and direction over T steps (time-first)
        weights = [getattr(self.module, n) for n in self._layout_names().values()]
        ys, h_n, c_n = torch._VF.lstm(
            xs,
            (h[None], c[None]),
            weights,
            bool(self.module.bias),
            1,
            0.0,
            self.module.training,
            False,
            False,
        )
        return ys, h_n[0], c_n[0]

    def gate_input(self, x: np.ndarray) -> np.ndarray:
        if self.layer == 0 or self.alone:
            return x
        b = x.shape[0]
        h0 = np.zeros((b, self.spec.output_size))
        c0 = np.zeros((b, self.spec.hidden_size))
        with torch.no_grad():
            _, h_n, _ = self._run(
                self.backend.asarray(x),
                *self._stack_states(self.backend.asarray(h0), self.backend.asarray(c0)),
            )
        below = (self.layer - 1) * self.dirs
        return np.concatenate(
            [self.backend.to_numpy(h_n[below + d]) for d in range(self.dirs)], axis=-1
        )

    def read_layout(self) -> LSTMParams:
        return self._read(self._layout_names())

    @property
    def writable_layout(self) -> bool:
        return bool(self.module.bias)  # bias=False: zero biases, read and checked, not written

    def write_layout(self, params: LSTMParams) -> None:
        self._write(self._layout_names(), params)

    @property
    def same_call_key(self) -> Hashable | None:
        # Alone, a view calls torch._VF.lstm with its own weights (written by every case),
        # so the layer index and the direction never enter the call, only the sizes do.
        if not (self.alone and self.writable_layout):
            return None
        m = self.module
        return ("torch._VF.lstm", id(m), self.spec, m.proj_size, m.training)


class StackedStates:
    """A sequence module's (layers · directions, B, H) states as one cell's (B, L·H): a step is
    a length-1 sequence. For a stack view with ``module`` (num_layers), ``directions`` and
    ``sequence``."""

    module: Any
    directions: int

    def _split(self, h: Any, c: Any) -> tuple[Any, Any]:
        layers, b = self.module.num_layers * self.directions, h.shape[0]
        h_all = h.reshape(b, layers, -1).transpose(0, 1).contiguous()
        c_all = c.reshape(b, layers, -1).transpose(0, 1).contiguous()
        return h_all, c_all

    @staticmethod
    def _join(state: Any) -> Any:
        return state.transpose(0, 1).reshape(state.shape[1], -1)

    def sequence(self, xs: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        raise NotImplementedError

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        _, h_n, c_n = self.sequence(x[None], h, c)
        return h_n, c_n

    @property
    def has_sequence(self) -> bool:
        return True


class TorchLSTMStack(StackedStates, _TorchCellBase):
    """A whole nn.LSTM as one cell: states concatenated over layers, plus its fused call."""

    module: nn.LSTM

    def __init__(self, module: nn.LSTM, name: str, backend: TorchBackend) -> None:
        super().__init__(module, name, backend)
        self.directions = 2 if module.bidirectional else 1
        layers, hidden = module.num_layers * self.directions, module.hidden_size
        proj = module.proj_size or hidden
        self.spec = CellSpec(module.input_size, layers * hidden, layers * proj)

    def sequence(self, xs: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        seq = xs.transpose(0, 1) if self.module.batch_first else xs
        y, (h_n, c_n) = self.module(seq, self._split(h0, c0))
        y = y.transpose(0, 1) if self.module.batch_first else y
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
