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
