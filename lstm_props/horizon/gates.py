"""The model's gates recomputed for a chunk of recorded steps: one matrix product for all
C·B rows, in the model's own working precision (float32 for a float32 or half model, float64
for a float64 one), by torch on the CPU: a measurement of what the model computes needs no
more digits than the model keeps, and the product then costs about what the forward's own
products cost.

Error model: each pre-activation is off by δz ≤ γ_n(|W_ih||x| + |W_hh||h| + |b|) in that
precision (n = D + P + 2), so log f = log σ(z_f) is off by (1 − f)δz_f ≤ δz_f relative to
|log f| ≥ (1 − f): a timescale's relative error is at most max δz_f (≈ 10⁻⁵ in float32 at
unit magnitudes); a saturation fraction moves only by gates within δz/4 of 0.1 or 0.9.

log f is taken from the pre-activation, log σ(z_f) = −log(1 + e^{−z_f}), never from f: a
forget gate of 1 − 10⁻¹² rounds to 1, and its timescale (10¹² steps) would read ∞. Layer-norm
gates go through the reference's preactivations (float64). The carry-path derivative d is f
(1 for no_forget), cut to 0 where a cell clip clamps ĉ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lstm_props.horizon.record import LayerSteps
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import preactivations
from lstm_props.maths.variants import as_variant

GATE_NAMES = ("input", "forget", "output")


class GateRecompute:
    """One layer's gates from its recorded inputs (see the module docstring)."""

    def __init__(self, params: LSTMParams, variant: str, working: torch.dtype) -> None:
        self.params, self.kind, self.working = params, as_variant(variant), working
        hid = params.hidden_size
        bias = params.b_ih + params.b_hh
        bias[hid : 2 * hid] += params.forget_bias
        # without a cell to update, g is never needed: the rows of i, f and o only
        gates = (0, 1, 2, 3) if self.needs_cell else (0, 1, 3)
        rows = [np.arange(k * hid, (k + 1) * hid) for k in gates]
        # per gate k, x W_ih,kᵀ + h W_hh,kᵀ + b_k into its own contiguous block (no copy of
        # [x, h]; a gate sliced out of one wide product is strided, and every later pass
        # over it runs at half speed)
        self._w_x = torch.tensor(np.stack([params.w_ih[r].T for r in rows]), dtype=working)
        self._w_h = torch.tensor(np.stack([params.w_hh[r].T for r in rows]), dtype=working)
        self._bias = torch.tensor(np.stack([bias[r] for r in rows]), dtype=working)
        self._peep = (
            None if params.peephole is None else torch.tensor(params.peephole, dtype=working)
        )

    @property
    def needs_cell(self) -> bool:
        """Whether the gates read c_{t-1} (peepholes) or the carry is clipped."""
        return self.kind.reads_cell or self.params.cell_clip is not None

    def _tensor(self, a: np.ndarray | torch.Tensor) -> torch.Tensor:
        if isinstance(a, torch.Tensor):
            return a.to(self.working)
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.working)

    def _preactivations(
        self, x: np.ndarray | torch.Tensor, h: np.ndarray | torch.Tensor
    ) -> torch.Tensor:
        """(G, C·B, H): each computed gate's pre-activation, contiguous."""
        hid = self.params.hidden_size
        if self.params.normalizes_gates:
            z = torch.from_numpy(preactivations(self.params, _float64(x), _float64(h)))
            z = z.reshape(len(z), 4, hid).transpose(0, 1)
            return (z if self.needs_cell else z[[0, 1, 3]]).contiguous()
        x_t, h_t = self._tensor(x), self._tensor(h)
        z = torch.empty((len(self._w_x), len(x_t), hid), dtype=self.working)
        for k in range(len(z)):
            torch.mm(x_t, self._w_x[k], out=z[k])
            z[k].addmm_(h_t, self._w_h[k]).add_(self._bias[k])
        return z

    def _clamp(self, z: torch.Tensor, bound: float | None) -> torch.Tensor:
        return z if bound is None else z.clamp(-bound, bound)

    @torch.no_grad()
    def __call__(self, steps: LayerSteps) -> ChunkGates:
        """The chunk's gates, (C, B, H) each (see :class:`ChunkGates`)."""
        chunk, batch = steps.x.shape[:2]
        flat = (chunk * batch, -1)
        p, kind, m, hid = self.params, self.kind, self.params.clip, self.params.hidden_size
        z = self._preactivations(steps.x.reshape(flat), steps.h_prev.reshape(flat))
        if self.needs_cell:
            z_i, z_f, z_g, z_o = z
        else:  # g's rows were not computed: nothing reads it
            (z_i, z_f, z_o), z_g = z, torch.zeros(())
        c = torch.zeros(())
        if self.needs_cell:
            assert steps.c_prev is not None
            c = torch.from_numpy(steps.c_prev.reshape(flat)).to(z.dtype)
        if self._peep is not None and kind.reads_cell:
            z_i, z_f = z_i + self._peep[0] * c, z_f + self._peep[1] * c
        z_i, z_f, z_g = self._clamp(z_i, m), self._clamp(z_f, m), self._clamp(z_g, m)
        if not kind.has_forget_gate:  # f ≡ 1: σ(+∞)
            z_f = torch.full_like(z_f, torch.inf)
        log_f = torch.nn.functional.logsigmoid(z_f)
        # i = 1 − f = σ(−z_f) for a coupled input gate
        z_i = -z_f if kind.coupled_input else z_i
        log_d = None
        if self.needs_cell:
            c_hat = log_f.exp() * c + torch.sigmoid(z_i) * torch.tanh(z_g)  # before a clip
            if self._peep is not None and kind.reads_cell:
                z_o = z_o + self._peep[2] * self._clamp(c_hat, p.cell_clip)
            if p.cell_clip is not None:
                log_d = torch.where(c_hat.abs() < p.cell_clip, log_f, -torch.inf)
        z_o = self._clamp(z_o, m)
        shape = (chunk, batch, hid)
        logits = {n: g.reshape(shape) for n, g in zip(GATE_NAMES, (z_i, z_f, z_o))}
        return ChunkGates(
            logits, log_f.reshape(shape), None if log_d is None else log_d.reshape(shape)
        )


@dataclass(frozen=True)
class ChunkGates:
    """A chunk's gates: each of i, f, o as its logit ℓ (the gate is σ(ℓ): a saturation test
    σ(ℓ) < 0.1 is ℓ < −log 9, with no activation evaluated; +∞ for a forget gate fixed at
    1), log f, and log d, the carry-path derivative's log (None: it is log f, no cell clip;
    −∞ where a clip clamps)."""

    logits: dict[str, torch.Tensor]
    log_forget: torch.Tensor
    log_carry: torch.Tensor | None


def _float64(a: np.ndarray | torch.Tensor) -> np.ndarray:
    return a.double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, np.float64)
