"""The documented parameter layout every oracle computation reads.

Gate order i, f, g, o along the rows, as torch.nn.LSTMCell::

    z   = W_ih x + b_ih + W_hh h + b_hh          (4H,)
    i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)

Optional pieces: ``w_hr`` (P, H), the projection of torch's ``proj_size``; ``peephole``
(3, H), the diagonal peephole weights p_i, p_f, p_o of Gers & Schmidhuber (2000); ``clip``,
a bound m on every pre-activation, z := clamp(z, −m, m), as the ONNX ``clip`` attribute (a
property of the cell, not a weight: it is read, never drawn or written).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

GATES = ("i", "f", "g", "o")
VARIANTS = ("standard", "no_forget", "cifg", "peephole")

#: Forget pre-activation that makes σ exactly 1.0 (or, negated, exactly 0.0) in float16,
#: float32 and float64, without the inf − inf and inf·0 NaNs a true ±inf would give.
FORCE_BIAS = 1.0e4


def gate_slice(gate: str, hidden_size: int) -> slice:
    k = GATES.index(gate)
    return slice(k * hidden_size, (k + 1) * hidden_size)


@dataclass(frozen=True)
class LSTMParams:
    """One LSTM layer's parameters in float64, in the documented layout.

    Shapes: w_ih (4H, D), w_hh (4H, P), b_ih (4H,), b_hh (4H,), w_hr (P, H) or None,
    peephole (3, H) or None. P = H without projection. ``clip``: the pre-activation bound m,
    or None.
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    w_hr: np.ndarray | None = None
    peephole: np.ndarray | None = None
    clip: float | None = None

    @property
    def hidden_size(self) -> int:
        return self.w_ih.shape[0] // 4

    # The error model reads |W| at every step of a trajectory, and at a user's H = 1024 each
    # is 8M entries: computed once per parameter set (whose arrays are never written: every
    # change, with_forget_bias and the rest, makes a new LSTMParams).
    @functools.cached_property
    def abs_w_ih(self) -> np.ndarray:
        return np.abs(self.w_ih)

    @functools.cached_property
    def abs_w_hh(self) -> np.ndarray:
        return np.abs(self.w_hh)

    @property
    def input_size(self) -> int:
        return self.w_ih.shape[1]

    @property
    def output_size(self) -> int:
        return self.hidden_size if self.w_hr is None else self.w_hr.shape[0]

    def gate_rows(self, gate: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(W_ih, W_hh, b_ih + b_hh) restricted to one gate's rows."""
        s = gate_slice(gate, self.hidden_size)
        return self.w_ih[s], self.w_hh[s], self.b_ih[s] + self.b_hh[s]

    def with_forget_bias(self, value: float, coords: np.ndarray | None = None) -> LSTMParams:
        """Force the forget pre-activation: b_ih[f] := value, b_hh[f] := 0 on ``coords``.

        With value = ±FORCE_BIAS the gate is exactly 1 or 0 whatever x, h (and peepholes) add.
        """
        s = gate_slice("f", self.hidden_size)
        rows = s.start + (np.arange(self.hidden_size) if coords is None else np.asarray(coords))
        b_ih, b_hh = self.b_ih.copy(), self.b_hh.copy()
        b_ih[rows] = value
        b_hh[rows] = 0.0
        return dataclasses.replace(self, b_ih=b_ih, b_hh=b_hh)

    def astype(self, dtype: np.dtype | type) -> LSTMParams:
        """Round every array to ``dtype`` and back to float64 (what the target will hold)."""

        def rnd(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.asarray(a, dtype=dtype).astype(np.float64, copy=False)

        # Any: mypy checks a ** mapping's values against every field (the clip included).
        changes: dict[str, Any] = {name: rnd(getattr(self, name)) for name in ARRAYS}
        return dataclasses.replace(self, **changes)

    def map_arrays(self, fn: Callable[[np.ndarray], np.ndarray]) -> LSTMParams:
        """``fn`` applied to every array present (the clip bound is kept as it is)."""
        changes: dict[str, Any] = {
            name: None if getattr(self, name) is None else fn(getattr(self, name))
            for name in ARRAYS
        }
        return dataclasses.replace(self, **changes)

    def peephole_weights(self) -> np.ndarray:
        """``peephole``, for a computation of the peephole variant, which reads them."""
        if self.peephole is None:
            raise TypeError(
                "the peephole variant needs peephole weights (3, H); these "
                "parameters have none (peephole is None)"
            )
        return self.peephole


#: The array fields of LSTMParams, in order.
ARRAYS = ("w_ih", "w_hh", "b_ih", "b_hh", "w_hr", "peephole")
