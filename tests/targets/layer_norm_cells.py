"""Layer-norm LSTM cells declaring their layout: correct ones of both kinds and broken ones.

``FastrnnsLayerNormCell`` follows PyTorch's benchmarks/fastrnns/custom_lstms.py
LayerNormLSTMCell (a TorchScript ScriptModule; no biases but the norms'; the carried c
normalised): z = LN_i(W_ih x) + LN_h(W_hh h), c' = LN_c(f ⊙ c + i ⊙ g), h' = o ⊙ tanh(c'),
called as ``m(x, (h, c)) -> (h, (h, c))``. ``BaLayerNormCell`` is Ba et al. (2016)'s form:
the same gates, c' = f ⊙ c + i ⊙ g carried as it is, h' = o ⊙ tanh(LN_c(c')).
"""

from __future__ import annotations

import torch
from torch import Tensor, jit, nn

from lstm_props import stacked

_FASTRNNS_LAYOUT = stacked(
    "weight_ih", "weight_hh", ln_ih="layernorm_i", ln_hh="layernorm_h", ln_c="layernorm_c"
)


class FastrnnsLayerNormCell(jit.ScriptModule):
    """fastrnns' LayerNormLSTMCell (nn.LayerNorm, ε = 1e-5): the carried c is normalised."""

    lstm_call = "m(x, (h, c)) -> (h, (h, c))"
    lstm_variant = "layer_norm_cell"
    lstm_layout = _FASTRNNS_LAYOUT

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.randn(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, hidden_size))
        self.layernorm_i = nn.LayerNorm(4 * hidden_size)
        self.layernorm_h = nn.LayerNorm(4 * hidden_size)
        self.layernorm_c = nn.LayerNorm(hidden_size)

    @jit.script_method
    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state
        z = self.layernorm_i(torch.mm(x, self.weight_ih.t())) + self.layernorm_h(
            torch.mm(h, self.weight_hh.t())
        )
        i, f, g, o = z.chunk(4, 1)
        c_new = self.layernorm_c(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g))
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        return h_new, (h_new, c_new)


class BaLayerNormCell(nn.Module):
    """Ba et al. (2016): LN on W_ih x and W_hh h, the carried c not normalised, h reads
    LN(c). Gates in the order i, f, o, g, to exercise the declared order."""

    lstm_variant = "layer_norm"
    lstm_layout = stacked("w_x", "w_h", gates="ifog", ln_ih="norm_x", ln_hh="norm_h", ln_c="norm_c")

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.w_x = nn.Parameter(torch.randn(4 * hidden_size, input_size) * 0.5)
        self.w_h = nn.Parameter(torch.randn(4 * hidden_size, hidden_size) * 0.5)
        self.norm_x = nn.LayerNorm(4 * hidden_size)
        self.norm_h = nn.LayerNorm(4 * hidden_size)
        self.norm_c = nn.LayerNorm(hidden_size)

    def cell(self, c_hat: Tensor) -> Tensor:
        """The carried cell: Ba's is the update itself."""
        return c_hat

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        z = self.norm_x(x @ self.w_x.T) + self.norm_h(h @ self.w_h.T)
        i, f, o, g = z.chunk(4, 1)
        c_new = self.cell(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g))
        return torch.sigmoid(o) * torch.tanh(self.norm_c(c_new)), c_new


# -- broken: each a planted fault the suite must catch ---------------------------------------


class BaWrongEpsCell(BaLayerNormCell):
    """Its norms compute with ε = 1e-2, the declaration says 1e-5."""

    lstm_layout = stacked(
        "w_x", "w_h", gates="ifog", ln_ih="norm_x", ln_hh="norm_h", ln_c="norm_c", ln_eps=1e-5
    )

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        for norm in (self.norm_x, self.norm_h, self.norm_c):
            norm.eps = 1e-2


class BaCarryingNormedCell(BaLayerNormCell):
    """Declared Ba-style (layer_norm) but carries LN(c'), fastrnns' way: the carry mixes units."""

    def cell(self, c_hat: Tensor) -> Tensor:
        return self.norm_c(c_hat)


# -- a layer norm with a hand-written backward: correct, and two wrong ones ------------------


class _NormFunction(torch.autograd.Function):
    """y = γ ⊙ x̂ + β, x̂ = (v − μ) r, r = 1/√(σ² + ε), σ² the biased variance, with the
    backward written out: v̄ = r (w − mean(w) − x̂ mean(w ⊙ x̂)), w = γ ⊙ ȳ, γ̄ = Σ ȳ ⊙ x̂,
    β̄ = Σ ȳ (over the batch). ``fault`` plants a wrong backward (the forward stays right)."""

    @staticmethod
    def forward(ctx, v: Tensor, gain: Tensor, bias: Tensor, eps: float, fault: str) -> Tensor:  # type: ignore[override]
        mu = v.mean(-1, keepdim=True)
        d = v - mu
        r = torch.rsqrt((d * d).mean(-1, keepdim=True) + eps)
        xhat = d * r
        ctx.save_for_backward(xhat, r, gain, d)
        ctx.eps, ctx.fault = eps, fault
        return xhat * gain + bias

    @staticmethod
    def backward(ctx, y_bar: Tensor):  # type: ignore[override]
        xhat, r, gain, d = ctx.saved_tensors
        w = y_bar * gain
        if ctx.fault == "unbiased_r":  # r from torch.var's default, the unbiased variance
            r = torch.rsqrt(d.var(-1, keepdim=True) + ctx.eps)
        v_bar = w - w.mean(-1, keepdim=True)
        if ctx.fault != "drops_projection":  # the σ path: −x̂ mean(w ⊙ x̂)
            v_bar = v_bar - xhat * (w * xhat).mean(-1, keepdim=True)
        return r * v_bar, (y_bar * xhat).sum(0), y_bar.sum(0), None, None


class HandWrittenLayerNorm(nn.Module):
    """nn.LayerNorm's weight, bias and eps, computed by :class:`_NormFunction`."""

    def __init__(self, n: int, fault: str = "") -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))
        self.eps = 1e-5
        self.fault = fault

    def forward(self, v: Tensor) -> Tensor:
        return _NormFunction.apply(v, self.weight, self.bias, self.eps, self.fault)


class BaHandWrittenNormCell(BaLayerNormCell):
    """Ba's cell with every norm's backward written by hand, correctly: it must pass."""

    fault = ""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        four, one = 4 * hidden_size, hidden_size
        self.norm_x = HandWrittenLayerNorm(four, self.fault)
        self.norm_h = HandWrittenLayerNorm(four, self.fault)
        self.norm_c = HandWrittenLayerNorm(one, self.fault)


class BaNormBackwardDropsProjection(BaHandWrittenNormCell):
    """The norms' backward drops −x̂ mean(w ⊙ x̂) (the path through σ): v̄ = r (w − mean(w))."""

    fault = "drops_projection"


class FastrnnsEagerLayerNormCell(nn.Module):
    """fastrnns' LayerNormLSTMCell's step (the carried c normalised) as a plain module,
    without TorchScript."""

    lstm_call = "m(x, (h, c)) -> (h, (h, c))"
    lstm_variant = "layer_norm_cell"
    lstm_layout = _FASTRNNS_LAYOUT

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.randn(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, hidden_size))
        self.layernorm_i = self.norm(4 * hidden_size)
        self.layernorm_h = self.norm(4 * hidden_size)
        self.layernorm_c = self.norm(hidden_size)

    def norm(self, n: int) -> nn.Module:
        return nn.LayerNorm(n)

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state
        z = self.layernorm_i(x @ self.weight_ih.t()) + self.layernorm_h(h @ self.weight_hh.t())
        i, f, g, o = z.chunk(4, 1)
        c_new = self.layernorm_c(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g))
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        return h_new, (h_new, c_new)


class FastrnnsHandWrittenNormCell(FastrnnsEagerLayerNormCell):
    """The same cell with every norm's backward written by hand, correctly: it must pass."""

    fault = ""

    def norm(self, n: int) -> nn.Module:
        return HandWrittenLayerNorm(n, self.fault)


class FastrnnsNormBackwardUnbiasedR(FastrnnsHandWrittenNormCell):
    """Its norms' backward takes r from the unbiased variance (torch.var's default, n − 1),
    the forward from the biased one."""

    fault = "unbiased_r"
