"""Mutants whose forward is wrong: gate layout, biases, state plumbing, the update,
activations. Each docstring names the bug pattern and where it was reported."""

from __future__ import annotations

import torch

from lstm_props.mutants._base import Mutant, reorder

# -- gate layout --------------------------------------------------------------------------


class GateOrderIOFG(Mutant):
    """ONNX's i, o, f, c gate order read as torch's i, f, g, o (CrispASR PR #106)."""

    def gates(self, z, c):
        return super().gates(reorder(z, "iofg"), c)


class GateOrderIGFO(Mutant):
    """TensorFlow 1's BasicLSTMCell order i, j, f, o read as torch's (tf→torch converters)."""

    def gates(self, z, c):
        return super().gates(reorder(z, "igfo"), c)


class GateOrderIFOG(Mutant):
    """Caffe's i, f, o, g order read as torch's (caffe→pytorch weight converters)."""

    def gates(self, z, c):
        return super().gates(reorder(z, "ifog"), c)


class KernelReshapedNotTransposed(Mutant):
    """A Keras kernel (D, 4H) reshaped to (4H, D) instead of transposed (keras→torch
    conversion scripts): the weights land on the wrong gates and inputs."""

    def preact(self, x, h):
        w_ih = self.weight_ih.T.reshape(self.weight_ih.shape)
        w_hh = self.weight_hh.T.reshape(self.weight_hh.shape)
        return x @ w_ih.T + self.bias_ih + h @ w_hh.T + self.bias_hh


class CarryMixedAcrossUnits(Mutant):
    """The carry crosses a matrix: c_{t-1} leaks 10% into the neighbouring unit before the
    forget gate (a fused kernel indexing c with the wrong stride)."""

    def update(self, i, f, g, c):
        return f * (c + 0.1 * torch.roll(c, 1, dims=1)) + i * g


class CarryMixedAcrossBatch(Mutant):
    """Batch rows share carry: a kernel that reads c of the wrong batch row (layout bug)."""

    def update(self, i, f, g, c):
        return f * (c + 0.1 * torch.roll(c, 1, dims=0)) + i * g


# -- biases -------------------------------------------------------------------------------


class ForgetBiasDoubled(Mutant):
    """The forget bias applied twice (DeepLearningTutorials #81, coremltools #309)."""

    def preact(self, x, h):
        hidden = self.hidden_size
        extra = torch.zeros_like(self.bias_ih)
        extra[hidden : 2 * hidden] = self.bias_ih[hidden : 2 * hidden]
        return super().preact(x, h) + extra


class BiasAddedTwice(Mutant):
    """b_hh added twice: a converter folding b_ih + b_hh into one bias, then adding b_hh
    again (ONNX Wb/Rb and Keras' single bias confuse exporters)."""

    def preact(self, x, h):
        return super().preact(x, h) + self.bias_hh


class HiddenBiasDropped(Mutant):
    """b_hh dropped: only one of torch's two biases loaded (Keras has one bias)."""

    def preact(self, x, h):
        return super().preact(x, h) - self.bias_hh


class BiasWrongSlice(Mutant):
    """The bias sliced one gate off: each gate gets the next gate's b_ih (an off-by-H
    offset into the fused bias buffer)."""

    def preact(self, x, h):
        return super().preact(x, h) - self.bias_ih + torch.roll(self.bias_ih, self.hidden_size)


class HiddenForgetBiasOne(Mutant):
    """TensorFlow's forget_bias=1.0 added inside the cell on top of loaded weights that
    already include it (tf.contrib.rnn.LSTMBlockCell → torch ports)."""

    def preact(self, x, h):
        hidden = self.hidden_size
        extra = torch.zeros_like(self.bias_ih)
        extra[hidden : 2 * hidden] = 1.0
        return super().preact(x, h) + extra


# -- state plumbing -----------------------------------------------------------------------


class StatesSwapped(Mutant):
    """Returns (c, h) where (h, c) is expected (TF's (c, h) LSTMStateTuple vs torch's
    (h, c); Flax's carry is (c, h) too)."""

    def forward(self, x, state):
        h, c = super().forward(x, state)
        return c, h


class InitialCellIgnored(Mutant):
    """c_{t-1} replaced by zeros: an initial state c0 that is never read (a kernel that
    zero-initialises its cell buffer instead of loading it)."""

    def forward(self, x, state):
        h, c = state
        return super().forward(x, (h, torch.zeros_like(c)))


# -- the update and the output -------------------------------------------------------------


class SumInsteadOfProduct(Mutant):
    """c' = f ⊙ c + i + g instead of f ⊙ c + i ⊙ g (torchrecurrent #22): the carry
    Jacobian is still diag(f), only the values see it."""

    def update(self, i, f, g, c):
        return f * c + i + g


class ReluCandidate(Mutant):
    """relu instead of tanh on the candidate g (an 'activation' argument applied to the
    wrong gate, Keras-style activation/recurrent_activation mix-up)."""

    def gates(self, z, c):
        i, f, _, o = super().gates(z, c)
        return i, f, torch.relu(z.chunk(4, dim=1)[2]), o


class UndeclaredCellClipping(Mutant):
    """The cell state clipped to [−3, 3] without declaring it (onnxruntime #27224 family)."""

    def update(self, i, f, g, c):
        return torch.clamp(f * c + i * g, -3.0, 3.0)


class CarryGain(Mutant):
    """The carry amplifies: c' = 1.25 f ⊙ c + i ⊙ g (a mis-scaled fused kernel)."""

    def update(self, i, f, g, c):
        return 1.25 * f * c + i * g


class HalvedCarry(Mutant):
    """A leaky carry, c' = ½ f ⊙ c + i ⊙ g: gradient vanishes like a vanilla RNN's."""

    def update(self, i, f, g, c):
        return 0.5 * f * c + i * g


class OutputReadsOldCell(Mutant):
    """h_t = o ⊙ tanh(c_{t-1}): the output reads the state before the update."""

    def output(self, o, c_new, c):
        return o * torch.tanh(c)


# -- activations --------------------------------------------------------------------------


class TanhForgetGate(Mutant):
    """tanh where σ belongs on the forget gate: f ∈ (−1, 1), the carry can flip sign."""

    def gates(self, z, c):
        i, _, g, o = super().gates(z, c)
        return i, torch.tanh(z.chunk(4, dim=1)[1]), g, o


class HardSigmoidForget(Mutant):
    """Keras' old default recurrent_activation="hard_sigmoid" where torch's σ is expected
    (Keras 2 → torch ports): f = clip(0.2 z + 0.5, 0, 1)."""

    def gates(self, z, c):
        i, _, g, o = super().gates(z, c)
        return i, torch.clamp(0.2 * z.chunk(4, dim=1)[1] + 0.5, 0.0, 1.0), g, o


class PeepholeAfterSigmoid(Mutant):
    """A peephole term added after the sigmoid, f = σ(z_f) + 0.3 tanh(c) (Lasagne #448)."""

    def gates(self, z, c):
        i, f, g, o = super().gates(z, c)
        return i, f + 0.3 * torch.tanh(c), g, o


class ForgetReadsCell(Mutant):
    """An undeclared peephole: the forget gate reads c_{t-1}, z_f += 0.5 c."""

    def gates(self, z, c):
        hidden = self.hidden_size
        z = z.clone()
        z[:, hidden : 2 * hidden] = z[:, hidden : 2 * hidden] + 0.5 * c
        return super().gates(z, c)


class ForgetGateLeftIn(Mutant):
    """Declared as the 1997 no-forget-gate LSTM, but still scales the carry by f."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.lstm_variant = "no_forget"
