"""Torch configurations for the self-tests: correct cells in unusual setups, and broken ones."""

from __future__ import annotations

import torch
from torch import nn


class PeepholeWithExtraWeight(nn.Module):
    """nn.LSTMCell's four parameters plus ``weight_ph`` (3, H) peepholes feeding the gates,
    named as torchrecurrent's PeepholeLSTMCell names them: a correct peephole LSTM that is
    not the standard cell its first four parameter names suggest."""

    def __init__(self, input_size: int = 3, hidden_size: int = 4) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = hidden_size**-0.5
        self.weight_ih = nn.Parameter(
            torch.empty(4 * hidden_size, input_size).uniform_(-bound, bound)
        )
        self.weight_hh = nn.Parameter(
            torch.empty(4 * hidden_size, hidden_size).uniform_(-bound, bound)
        )
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))
        self.weight_ph = nn.Parameter(torch.empty(3, hidden_size).uniform_(-1, 1))

    def forward(self, x, state):
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        zi, zf, zg, zo = z.chunk(4, dim=-1)
        i = torch.sigmoid(zi + self.weight_ph[0] * c)
        f = torch.sigmoid(zf + self.weight_ph[1] * c)
        c_new = f * c + i * torch.tanh(zg)
        o = torch.sigmoid(zo + self.weight_ph[2] * c_new)
        return o * torch.tanh(c_new), c_new


class QuantizedDynamicCell(nn.Module):
    """torch.ao.nn.quantized.dynamic.LSTM, one step of one layer: outputs that claim to
    require grad, yet no gradient reaches x or h_0 (the op has no backward for them)."""

    def __init__(self, input_size: int = 3, hidden_size: int = 4) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.lstm = torch.ao.nn.quantized.dynamic.LSTM(input_size, hidden_size)

    def forward(self, x, state):
        h, c = state
        _, (h_n, c_n) = self.lstm(x[None], (h[None], c[None]))
        return h_n[0], c_n[0]


class _RaisesAfterFirstBackward(torch.autograd.Function):
    """Identity whose backward works once, then raises as TorchScript's interpreter does."""

    calls = 0

    @staticmethod
    def forward(ctx, c):
        return c.clone()

    @staticmethod
    def backward(ctx, grad):
        _RaisesAfterFirstBackward.calls += 1
        if _RaisesAfterFirstBackward.calls > 1:
            raise RuntimeError(
                "The following operation failed in the TorchScript interpreter.\n"
                "Traceback of TorchScript (most recent call last):\n"
                "RuntimeError: expected a saved tensor, found none"
            )
        return grad


class RaisingBackwardCell(nn.LSTMCell):
    """nn.LSTMCell whose backward raises on every call after the first (as PyTorch's own
    TorchScript LSTMCell of benchmarks/fastrnns does in some releases)."""

    def forward(self, x, state):
        h, c = state
        h_new, c_new = super().forward(x, (h, c))
        return h_new, _RaisesAfterFirstBackward.apply(c_new)


def _float32_only(module: nn.Module, dtype: str) -> object:
    """``module`` behind an adapter with no float64 twin: astype to another dtype is None,
    as for ONNX Runtime or a float32-only kernel."""
    from lstm_props.adapters._torch_cell import TorchCellAdapter
    from lstm_props.adapters._torch_target import torch_views

    class Float32OnlyAdapter(TorchCellAdapter):
        def astype(self, to: str):
            return None if to != self.backend.dtype else super().astype(to)

    cell = torch_views(module, "float32-only", dtype, "cpu").layers[0]
    assert isinstance(cell, TorchCellAdapter)
    return Float32OnlyAdapter(cell.module, cell.name, cell.backend, cell.spec)


def float32_only_lstm_cell(input_size: int, hidden_size: int, dtype: str = "float32"):
    """A correct nn.LSTMCell without a float64 twin."""
    return _float32_only(nn.LSTMCell(input_size, hidden_size), dtype)


def float32_only_dropped_carry_gradient(input_size: int, hidden_size: int, dtype: str = "float32"):
    """A float32-only kernel whose backward ignores the gradient of c (forward exact)."""
    from lstm_props.mutants import BackwardDropsCarryGradient

    return _float32_only(BackwardDropsCarryGradient(input_size, hidden_size), dtype)


def float32_only_squared_forget(input_size: int, hidden_size: int, dtype: str = "float32"):
    """A float32-only kernel whose backward returns f² dc for dc_{t-1} (forward exact)."""
    from lstm_props.mutants import BackwardSquaresForget

    return _float32_only(BackwardSquaresForget(input_size, hidden_size), dtype)


def float32_only_ba_layer_norm_cell(input_size: int, hidden_size: int, dtype: str = "float32"):
    """Ba et al.'s layer-norm cell (tests/targets/layer_norm_cells.py) without a float64 twin:
    its backward is checked in its own precision, through the J_LN factors."""
    from tests.targets.layer_norm_cells import BaLayerNormCell

    return _float32_only(BaLayerNormCell(input_size, hidden_size), dtype)


def float32_only_fastrnns_layer_norm_cell(
    input_size: int, hidden_size: int, dtype: str = "float32"
):
    """fastrnns' LayerNormLSTMCell's step (the carried c normalised; eager: TorchScript's
    autodiff of layer_norm fails when only c requires grad) without a float64 twin."""
    from tests.targets.layer_norm_cells import FastrnnsEagerLayerNormCell

    return _float32_only(FastrnnsEagerLayerNormCell(input_size, hidden_size), dtype)


class DeclaredPeepholeWithExtraWeight(PeepholeWithExtraWeight):
    """The same cell with its variant declared: checked black-box as a peephole LSTM."""

    lstm_variant = "peephole"


class PeepholeDeclared(PeepholeWithExtraWeight):
    """The same cell declared the documented way: its peephole weights named ``peephole``
    (p_i, p_f, p_o) and lstm_variant = "peephole", so the layout is read and written."""

    lstm_variant = "peephole"

    def __init__(self, input_size: int = 3, hidden_size: int = 4) -> None:
        super().__init__(input_size, hidden_size)
        self.peephole = self.weight_ph
        del self.weight_ph

    def forward(self, x, state):
        self.weight_ph = self.peephole
        try:
            return super().forward(x, state)
        finally:
            del self.weight_ph


class ScriptModuleLSTMCell(torch.jit.ScriptModule):
    """A TorchScript LSTM cell written as torch.jit.ScriptModule with a script_method
    forward, the style of PyTorch's own benchmarks/fastrnns cell: correct values, but in
    torch 2.x its differentiable graph raises inside the backward when only c' receives a
    cotangent, from the graph executor's second run on."""

    def __init__(self, input_size: int = 3, hidden_size: int = 4) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.w_x = nn.Parameter(torch.randn(4 * hidden_size, input_size) * 0.5)
        self.w_h = nn.Parameter(torch.randn(4 * hidden_size, hidden_size) * 0.5)
        self.b = nn.Parameter(torch.randn(4 * hidden_size) * 0.5)

    @torch.jit.script_method
    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        z = torch.nn.functional.linear(x, self.w_x, self.b) + h.mm(self.w_h.t())
        i, f, g, o = z.chunk(4, 1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


def float32_only_hidden_gradient_detached(
    input_size: int, hidden_size: int, dtype: str = "float32"
):
    """A float32-only kernel whose i, f, g read a detached h_{t-1}: ∂c_t/∂h_{t-1} = 0 in the
    backward (forward exact)."""
    from lstm_props.mutants import HiddenGradientDetached

    return _float32_only(HiddenGradientDetached(input_size, hidden_size), dtype)


class _InputGradientDropsCandidate(torch.autograd.Function):
    """x W_ihᵀ whose backward leaves the candidate gate's rows out of ∂L/∂x (a fused kernel
    that sums three of the four gate blocks); the weight gradient is right."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w.T

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        d_i, d_f, _, d_o = grad.chunk(4, dim=-1)
        kept = torch.cat([d_i, d_f, torch.zeros_like(d_o), d_o], dim=-1)
        return kept @ w, grad.T @ x


def float32_only_input_gradient_drops_candidate(
    input_size: int, hidden_size: int, dtype: str = "float32"
):
    """A float32-only kernel whose ∂L/∂x misses the candidate gate's rows (forward exact)."""
    from lstm_props.mutants._base import Mutant

    class InputGradientDropsCandidate(Mutant):
        def preact(self, x, h):
            return (
                _InputGradientDropsCandidate.apply(x, self.weight_ih)
                + self.bias_ih
                + h @ self.weight_hh.T
                + self.bias_hh
            )

    return _float32_only(InputGradientDropsCandidate(input_size, hidden_size), dtype)


def float32_only_wrong_weight_gradient(input_size: int, hidden_size: int, dtype: str = "float32"):
    """A float32-only kernel whose ∂L/∂W_ih uses δz_i for the forget rows (state gradients
    and forward exact)."""
    from lstm_props.mutants import WrongGateDeltaInWeightGradient

    return _float32_only(WrongGateDeltaInWeightGradient(input_size, hidden_size), dtype)


def declared_nondeterministic_ba_layer_norm_cell(
    input_size: int, hidden_size: int, dtype: str = "float32"
):
    """Ba et al.'s layer-norm cell whose backend declares itself nondeterministic (as torch on
    CUDA does): determinism compares its two backwards within the backward's error bound
    (lstm_props.maths.step_vjp) instead of bitwise."""
    from lstm_props.adapters._torch_target import torch_views
    from tests.targets.layer_norm_cells import BaLayerNormCell

    module = BaLayerNormCell(input_size, hidden_size)
    cell = torch_views(module, "declared-nondeterministic", dtype, "cpu").layers[0]
    cell.backend.deterministic = False
    return cell
