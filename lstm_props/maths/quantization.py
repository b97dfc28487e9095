"""The error a dynamically quantized kernel adds: its inputs rounded to a few integer levels.

A dynamic-quantized LSTM (torch's ``torch.ao.nn.quantized.dynamic.LSTM`` with int8 weights,
on the fbgemm / x86 CPU backend) computes each of its two matrix products as

    W x ≈ s_w s_a Σ_j q_w[r, j] (q_a[j] − zp_a) + b,

with int8 weights q_w (per tensor or per output row, scale s_w, zero point zp_w) fixed when the
module is built, and the activation a (x, or h_{t−1}) quantized afresh at every call, per
tensor, affine, to the integers 0..L (L = 127: fbgemm's ``reduce_range`` halves uint8's 255):

    lo = min(min a, 0), hi = max(max a, 0), s_a = max(fl₃₂((hi − lo)/L), 6.1e-5),
    zp_a = clamp(round(−lo/s_a), 0, L),  q_a = clamp(round(a/s_a) + zp_a, 0, L).

The int32 accumulation is exact, so the kernel's product is the exact product of the held
weights W̃ = s_w (q_w − zp_w), which the adapter reads back, and of the rounded activation
ã = s_a (q_a − zp_a), followed by a few float32 roundings (the scale product, the int32 to
float conversion, the bias add: within the γ_n term of the error model, n ≥ 4).

Derivation of the one new term. a/s_a lies in [lo/s_a, hi/s_a], an interval of length ≤ L
(≤ L(1 + u) with s_a rounded to float32); zp_a rounds −lo/s_a by at most ½, so a/s_a + zp_a
lies in [−½, L + ½] up to those roundings, and the rounding to the nearest integer and the
clamp to [0, L] each move it by at most ½ in total:

    |ã − a| ≤ s_a (½ + ε),   ε = 256 u₃₂ (u₃₂ = 2⁻²⁴)

where ε covers the float32 roundings of s_a and of a/s_a (|a/s_a| ≤ 128: 128u each). An
all-zero tensor is exact (it quantizes to zp_a). The step's error model takes it as an input
perturbation δx = |x̃ − x|, δh = |h̃ − h| of the pre-activations, δz += |W̃| δx + |W̃| δh
(``tolerances.step_error``); the scale comes from the tensor the call quantizes, which for a
fused sequence call is the whole (T, B, D) input (torch quantizes it in one piece) and for one
step the step's (B, D) input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: float32's unit roundoff, the precision the quantized kernel's scales are held in.
_U32 = 2.0**-24


@dataclass(frozen=True)
class DynamicQuantization:
    """A kernel's declared activation quantization: per call, per tensor, affine to the
    integers 0..``levels`` with a scale of at least ``min_scale``; ``weights`` says how the
    held weights are stored (read back exactly, so they add no error of their own)."""

    levels: int = 127
    min_scale: float = 6.1e-5
    weights: str = "int8"

    def scale(self, a: np.ndarray, widen: float = 0.0) -> float:
        """s_a for a tensor whose entries lie within ``widen`` of ``a``'s (a bound on the
        kernel's own tensor, when only the oracle's is known)."""
        if a.size == 0:
            return 0.0
        lo = min(float(a.min()) - widen, 0.0)
        hi = max(float(a.max()) + widen, 0.0)
        if hi == lo:
            return 0.0
        return max((hi - lo) / self.levels * (1 + _U32), self.min_scale)

    def input_error(self, a: np.ndarray, widen: float = 0.0) -> float:
        """Bound on |ã − a| for every entry of ``a`` quantized as one tensor (0 when ``a`` is
        all zero, as it then quantizes exactly)."""
        if widen == 0.0 and not np.any(a):
            return 0.0
        return self.scale(a, widen) * (0.5 + 256 * _U32)

    def describe(self) -> str:
        return (
            f"{self.weights} weights read back as held; x and h rounded per call to "
            f"{self.levels + 1} levels (|δ| ≤ s/2, s = range/{self.levels})"
        )
