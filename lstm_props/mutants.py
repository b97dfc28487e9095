"""A zoo of broken LSTMs, each modelled on a bug that shipped in a real framework.

Every mutant has nn.LSTMCell's calling convention and parameter names, so the suite writes
its weights like any standard target. ``KILLS`` names, for each mutant, the property that
was written to catch it; tests/test_mutants.py asserts that it does.
"""

from __future__ import annotations

from typing import Any

import torch

from lstm_props.reference import ReferenceLSTMCell

Tensor = torch.Tensor


class _Mutant(ReferenceLSTMCell):
    """Standard cell split into overridable pieces: pre-activations, gates, update, output."""

    def preact(self, x: Tensor, h: Tensor) -> Tensor:
        return x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh

    def gates(self, z: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
        return torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)

    def update(self, i: Tensor, f: Tensor, g: Tensor, c: Tensor) -> Tensor:
        return f * c + i * g

    def output(self, o: Tensor, c_new: Tensor, c: Tensor) -> Tensor:
        return o * torch.tanh(c_new)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, g, o = self.gates(self.preact(x, h), c)
        c_new = self.update(i, f, g, c)
        return self.output(o, c_new, c), c_new


class CarryMixedAcrossUnits(_Mutant):
    """The carry crosses a matrix: c_{t-1} leaks 10% into the neighbouring unit before the
    forget gate (a fused kernel indexing c with the wrong stride)."""

    def update(self, i, f, g, c):
        return f * (c + 0.1 * torch.roll(c, 1, dims=1)) + i * g


class CarryMixedAcrossBatch(_Mutant):
    """Batch rows share carry: a kernel that reads c of the wrong batch row (layout bug)."""

    def update(self, i, f, g, c):
        return f * (c + 0.1 * torch.roll(c, 1, dims=0)) + i * g


class GateOrderIOFG(_Mutant):
    """ONNX's i, o, f, c gate order read as torch's i, f, g, o (CrispASR PR #106)."""

    def gates(self, z, c):
        z_i, z_o, z_f, z_g = z.chunk(4, dim=1)
        return torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)


class ForgetBiasDoubled(_Mutant):
    """The forget bias applied twice (DeepLearningTutorials #81, coremltools #309)."""

    def preact(self, x, h):
        z = super().preact(x, h)
        hidden = self.hidden_size
        extra = torch.zeros_like(z)
        extra[:, hidden : 2 * hidden] = self.bias_ih[hidden : 2 * hidden]
        return z + extra


class TanhForgetGate(_Mutant):
    """tanh where σ belongs on the forget gate: f ∈ (−1, 1), the carry can flip sign."""

    def gates(self, z, c):
        i, _, g, o = super().gates(z, c)
        return i, torch.tanh(z.chunk(4, dim=1)[1]), g, o


class PeepholeAfterSigmoid(_Mutant):
    """A peephole term added after the sigmoid, f = σ(z_f) + 0.3 tanh(c) (Lasagne #448)."""

    def gates(self, z, c):
        i, f, g, o = super().gates(z, c)
        return i, f + 0.3 * torch.tanh(c), g, o


class ForgetReadsCell(_Mutant):
    """An undeclared peephole: the forget gate reads c_{t-1}, z_f += 0.5 c."""

    def gates(self, z, c):
        hidden = self.hidden_size
        z = z.clone()
        z[:, hidden : 2 * hidden] = z[:, hidden : 2 * hidden] + 0.5 * c
        return super().gates(z, c)


class OutputReadsOldCell(_Mutant):
    """h_t = o ⊙ tanh(c_{t-1}): the output reads the state before the update."""

    def output(self, o, c_new, c):
        return o * torch.tanh(c)


class _SquaredForgetBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, f: Tensor, c: Tensor) -> Tensor:
        ctx.save_for_backward(f, c)
        return f * c

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        f, c = ctx.saved_tensors
        return grad * c, grad * f * f


class BackwardSquaresForget(_Mutant):
    """A custom backward kernel returning f² ⊙ dc for dc_{t-1} (forward correct)."""

    def update(self, i, f, g, c):
        return _SquaredForgetBackward.apply(f, c) + i * g


class _DroppedCarryBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, f: Tensor, c: Tensor) -> Tensor:
        ctx.save_for_backward(c)
        return f * c

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        (c,) = ctx.saved_tensors
        return grad * c, torch.zeros_like(grad)


class BackwardDropsCarryGradient(_Mutant):
    """The backward ignores the gradient of c (deeplearning4j #8838, PaddlePaddle #6970)."""

    def update(self, i, f, g, c):
        return _DroppedCarryBackward.apply(f, c) + i * g


class CarryGain(_Mutant):
    """The carry amplifies: c' = 1.25 f ⊙ c + i ⊙ g (a mis-scaled fused kernel)."""

    def update(self, i, f, g, c):
        return 1.25 * f * c + i * g


class HalvedCarry(_Mutant):
    """A leaky carry, c' = ½ f ⊙ c + i ⊙ g: gradient vanishes like a vanilla RNN's."""

    def update(self, i, f, g, c):
        return 0.5 * f * c + i * g


class UndeclaredCellClipping(_Mutant):
    """The cell state clipped to [−3, 3] without declaring it (onnxruntime #27224 family)."""

    def update(self, i, f, g, c):
        return torch.clamp(f * c + i * g, -3.0, 3.0)


class ForgetGateLeftIn(_Mutant):
    """Declared as the 1997 no-forget-gate LSTM, but still scales the carry by f."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.lstm_variant = "no_forget"


class StaleWeightCache(_Mutant):
    """Weights copied on the first call and never re-read (mxnet #16037)."""

    def preact(self, x, h):
        if not hasattr(self, "_cache"):
            self._cache = [p.detach().clone() for p in
                           (self.weight_ih, self.bias_ih, self.weight_hh, self.bias_hh)]
        w_ih, b_ih, w_hh, b_hh = self._cache
        return x @ w_ih.T + b_ih + h @ w_hh.T + b_hh


class HiddenGradientDetached(_Mutant):
    """The c-update's gates computed from a detached h_{t-1}: ∂c_t/∂h_{t-1} silently 0."""

    def forward(self, x, state):
        h, c = state
        i, f, g, _ = self.gates(self.preact(x, h.detach()), c)
        o = self.gates(self.preact(x, h), c)[3]
        c_new = self.update(i, f, g, c)
        return self.output(o, c_new, c), c_new


_SHARED: dict[str, Tensor] = {}


class _ClobberedBuffer(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, f: Tensor, c: Tensor) -> Tensor:
        _SHARED["f"], _SHARED["c"] = f.detach(), c.detach()
        return f * c

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        return grad * _SHARED["c"], grad * _SHARED["f"]


class ClobberedBackwardBuffer(_Mutant):
    """Backward reads a workspace the next step's forward overwrote (PyTorch PR #95137)."""

    def update(self, i, f, g, c):
        return _ClobberedBuffer.apply(f, c) + i * g


class SumInsteadOfProduct(_Mutant):
    """c' = f ⊙ c + i + g instead of f ⊙ c + i ⊙ g (torchrecurrent #22): the carry
    Jacobian is still diag(f), only the values see it."""

    def update(self, i, f, g, c):
        return f * c + i + g


class SequenceOutputsReversed(torch.nn.LSTM):
    """A fused sequence whose outputs come back time-reversed (onnx #2881, onnxruntime #4187);
    every single step is right."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)

    def forward(self, x, state=None):  # type: ignore[override]
        y, (h, c) = super().forward(x, state)
        return (y.flip(0) if x.shape[0] > 1 else y), (h, c)


#: mutant name -> the property (test function name) written to catch it.
KILLS = {
    "CarryMixedAcrossUnits": "test_carry_jacobian_is_diagonal",
    "CarryMixedAcrossBatch": "test_carry_jacobian_is_diagonal",
    "GateOrderIOFG": "test_carry_jacobian_diagonal_equals_forget_gate",
    "ForgetBiasDoubled": "test_carry_jacobian_diagonal_equals_forget_gate",
    "TanhForgetGate": "test_carry_jacobian_entries_in_unit_interval",
    "PeepholeAfterSigmoid": "test_carry_jacobian_entries_in_unit_interval",
    "ForgetReadsCell": "test_carry_map_is_affine_in_c",
    "OutputReadsOldCell": "test_hidden_output_carry_derivative",
    "BackwardSquaresForget": "test_carry_product_matches_oracle",
    "CarryGain": "test_carry_product_is_bounded_and_non_increasing",
    "UndeclaredCellClipping": "test_open_forget_gate_gives_identity_carry",
    "ForgetGateLeftIn": "test_no_forget_variant_carry_is_identity",
    "StaleWeightCache": "test_closed_forget_gate_cuts_the_carry",
    "HalvedCarry": "test_lstm_carry_survives_where_rnn_vanishes",
    "HiddenGradientDetached": "test_one_step_vjp_splits_into_carry_and_hidden_tracks",
    "ClobberedBackwardBuffer": "test_bptt_equals_product_of_step_jacobians",
    "SumInsteadOfProduct": "test_step_values_match_reference",
    "BackwardDropsCarryGradient": "test_carry_backward_matches_finite_differences",
    "SequenceOutputsReversed": "test_fused_sequence_equals_composed_steps",
}
