"""Mutants whose forward is right and whose gradients or runtime behaviour are wrong:
custom backward kernels, detached graphs, caches, nondeterminism, reduced precision."""

from __future__ import annotations

from typing import Any

import torch

from lstm_props.mutants._base import Mutant, Tensor, carry_product

_SquaredForgetBackward = carry_product(lambda grad, f: grad * f * f)


class BackwardSquaresForget(Mutant):
    """A custom backward kernel returning f² ⊙ dc for dc_{t-1} (forward correct)."""

    def update(self, i, f, g, c):
        return _SquaredForgetBackward.apply(f, c) + i * g


_DroppedCarryBackward = carry_product(lambda grad, f: torch.zeros_like(grad))


class BackwardDropsCarryGradient(Mutant):
    """The backward ignores the gradient of c (deeplearning4j #8838, PaddlePaddle #6970)."""

    def update(self, i, f, g, c):
        return _DroppedCarryBackward.apply(f, c) + i * g


class DetachedCarry(Mutant):
    """c_{t-1} detached in the update (a `.detach()` or `.data` left in from truncated-BPTT
    code): the forward is exact, no gradient reaches c_{t-1} through the carry."""

    def update(self, i, f, g, c):
        return f * c.detach() + i * g


class _OverwrittenCellGradient(torch.autograd.Function):
    """h, c' = o tanh(f c + i g), f c + i g with the two contributions to dc' overwritten."""

    @staticmethod
    def forward(ctx: Any, i: Tensor, f: Tensor, g: Tensor, o: Tensor, c: Tensor) -> Any:
        c_new = f * c + i * g
        ctx.save_for_backward(i, f, g, o, c, c_new)
        return o * torch.tanh(c_new), c_new

    @staticmethod
    def backward(ctx: Any, grad_h: Tensor, grad_c: Tensor) -> tuple[Tensor, ...]:
        i, f, g, o, c, c_new = ctx.saved_tensors
        t = torch.tanh(c_new)
        from_h = grad_h * o * (1 - t * t)
        # the bug: dc' = (contribution from h) if there is one, else dc; not their sum
        dc_new = torch.where(grad_h != 0, from_h, grad_c)
        return dc_new * g, dc_new * c, dc_new * i, grad_h * t, dc_new * f


class OverwrittenCellGradient(Mutant):
    """A fused cell backward that writes dc' = dh·o·tanh'(c') over the incoming dc instead
    of adding to it (the accumulate-vs-assign bug of hand-written RNN backward kernels)."""

    def forward(self, x, state):
        h, c = state
        i, f, g, o = self.gates(self.preact(x, h), c)
        return _OverwrittenCellGradient.apply(i, f, g, o, c)


class HiddenGradientDetached(Mutant):
    """The c-update's gates computed from a detached h_{t-1}: ∂c_t/∂h_{t-1} silently 0."""

    def forward(self, x, state):
        h, c = state
        i, f, g, _ = self.gates(self.preact(x, h.detach()), c)
        o = self.gates(self.preact(x, h), c)[3]
        c_new = self.update(i, f, g, c)
        return self.output(o, c_new, c), c_new


class _WrongDeltaLinear(torch.autograd.Function):
    """x Wᵀ whose weight gradient uses the input gate's delta for the forget gate's rows."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, w: Tensor) -> Tensor:
        ctx.save_for_backward(x, w)
        return x @ w.T

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        x, w = ctx.saved_tensors
        d_i, _, d_g, d_o = grad.chunk(4, dim=-1)
        wrong = torch.cat([d_i, d_i, d_g, d_o], dim=-1)
        return grad @ w, wrong.T @ x


class WrongGateDeltaInWeightGradient(Mutant):
    """A custom backward whose ∂L/∂W_ih uses δz_i for the forget rows (a copy-paste slip
    in hand-written gate deltas): state gradients and the forward are exact."""

    def preact(self, x, h):
        return (
            _WrongDeltaLinear.apply(x, self.weight_ih)
            + self.bias_ih
            + h @ self.weight_hh.T
            + self.bias_hh
        )


_SHARED: dict[str, Tensor] = {}


class _ClobberedBuffer(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, f: Tensor, c: Tensor) -> Tensor:
        _SHARED["f"], _SHARED["c"] = f.detach(), c.detach()
        return f * c

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        return grad * _SHARED["c"], grad * _SHARED["f"]


class ClobberedBackwardBuffer(Mutant):
    """Backward reads a workspace the next step's forward overwrote (PyTorch PR #95137)."""

    def update(self, i, f, g, c):
        return _ClobberedBuffer.apply(f, c) + i * g


class _NoisyBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, f: Tensor, c: Tensor) -> Tensor:
        ctx.save_for_backward(f, c)
        return f * c

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        f, c = ctx.saved_tensors
        eps = torch.finfo(grad.dtype).eps
        jitter = 1 + 4 * eps * torch.randn_like(grad)  # atomics: a different order each run
        return grad * c * jitter, grad * f * jitter


class NondeterministicBackward(Mutant):
    """A backward whose rounding changes run to run, as atomic-add accumulation does
    (cuDNN RNN backward without CUBLAS_WORKSPACE_CONFIG, pytorch #35661)."""

    def update(self, i, f, g, c):
        return _NoisyBackward.apply(f, c) + i * g


class StaleWeightCache(Mutant):
    """Weights copied on the first call and never re-read (mxnet #16037)."""

    def preact(self, x, h):
        if not hasattr(self, "_cache"):
            self._cache = [
                p.detach().clone()
                for p in (self.weight_ih, self.bias_ih, self.weight_hh, self.bias_hh)
            ]
        w_ih, b_ih, w_hh, b_hh = self._cache
        return x @ w_ih.T + b_ih + h @ w_hh.T + b_hh


class ReducedInternalPrecision(Mutant):
    """float32 pre-activations computed in reduced precision and cast back, float64 ones
    not: TF32 matmuls (torch.backends.cuda.matmul.allow_tf32, on by default for cuDNN
    convolutions and once for matmuls) touch only float32. Here bfloat16, ~3 digits."""

    def preact(self, x, h):
        if x.dtype != torch.float32:
            return super().preact(x, h)
        low = torch.bfloat16
        z = (
            x.to(low) @ self.weight_ih.to(low).T
            + self.bias_ih.to(low)
            + h.to(low) @ self.weight_hh.to(low).T
            + self.bias_hh.to(low)
        )
        return z.to(x.dtype)
