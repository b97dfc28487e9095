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
        rows = np.concatenate([np.arange(k * hid, (k + 1) * hid) for k in gates])
        # [x, h] @ [W_ih; W_hh]ᵀ in one product (a plain mm: addmm's fused bias is slower)
        weights = np.concatenate([params.w_ih[rows], params.w_hh[rows]], axis=1)
        self._weights = torch.tensor(weights.T, dtype=working)
        self._bias = torch.tensor(bias[rows], dtype=working)
        self._peep = (
            None if params.peephole is None else torch.tensor(params.peephole, dtype=working)
        )

    @property
    def needs_cell(self) -> bool:
        """Whether the gates read c_{t-1} (peepholes) or the carry is clipped."""
        return self.kind.reads_cell or self.params.cell_clip is not None

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.working)

    def _preactivations(self, x: np.ndarray, h: np.ndarray) -> torch.Tensor:
        if self.params.normalizes_gates:
            z = torch.from_numpy(preactivations(self.params, x, h))
            hid = self.params.hidden_size
            return z if self.needs_cell else torch.cat([z[:, : 2 * hid], z[:, 3 * hid :]], 1)
        z = torch.mm(self._tensor(np.concatenate([x, h], axis=1)), self._weights)
        return z.add_(self._bias)

    def _clamp(self, z: torch.Tensor, bound: float | None) -> torch.Tensor:
        return z if bound is None else z.clamp(-bound, bound)

    @torch.no_grad()
    def __call__(self, steps: LayerSteps) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """({input, forget, output} gates, log f, log d), each (C, B, H) NumPy."""
        chunk, batch = steps.x.shape[:2]
        flat = (chunk * batch, -1)
        p, kind, m, hid = self.params, self.kind, self.params.clip, self.params.hidden_size
        z = self._preactivations(steps.x.reshape(flat), steps.h_prev.reshape(flat))
        if self.needs_cell:
            z_i, z_f, z_g, z_o = z.split(hid, dim=1)
        else:  # g's rows were not computed: nothing reads it
            (z_i, z_f, z_o), z_g = z.split(hid, dim=1), torch.zeros(())
        c = torch.zeros(())
        if self.needs_cell:
            assert steps.c_prev is not None
            c = torch.from_numpy(steps.c_prev.reshape(flat)).to(z.dtype)
        if self._peep is not None and kind.reads_cell:
            z_i, z_f = z_i + self._peep[0] * c, z_f + self._peep[1] * c
        z_i, z_f, z_g = self._clamp(z_i, m), self._clamp(z_f, m), self._clamp(z_g, m)
        log_f = (
            torch.nn.functional.logsigmoid(z_f) if kind.has_forget_gate else torch.zeros_like(z_f)
        )
        f = log_f.exp()
        i = 1.0 - f if kind.coupled_input else torch.sigmoid(z_i)
        log_d = log_f
        if self.needs_cell:
            c_hat = f * c + i * torch.tanh(z_g)  # the carried state before a clip
            if self._peep is not None and kind.reads_cell:
                z_o = z_o + self._peep[2] * self._clamp(c_hat, p.cell_clip)
            if p.cell_clip is not None:
                log_d = torch.where(c_hat.abs() < p.cell_clip, log_f, -torch.inf)
        o = torch.sigmoid(self._clamp(z_o, m))
        shape = (chunk, batch, hid)
        gates = {n: g.reshape(shape).numpy() for n, g in zip(GATE_NAMES, (i, f, o))}
        return gates, log_f.reshape(shape).numpy(), log_d.reshape(shape).numpy()
