"""The documented parameter layout every oracle computation reads.

Gate order i, f, g, o along the rows, as torch.nn.LSTMCell::

    z   = W_ih x + b_ih + W_hh h + b_hh          (4H,)
    i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)

Optional pieces: ``w_hr`` (P, H), the projection of torch's ``proj_size``; ``peephole``
(3, H), the diagonal peephole weights p_i, p_f, p_o of Gers & Schmidhuber (2000); ``clip``,
a bound m on every pre-activation, z := clamp(z, −m, m), as the ONNX ``clip`` attribute;
``forget_bias``, a constant b the kernel adds to the forget pre-activation, f = σ(z_f + b)
(TensorFlow's ``forget_bias``, Haiku's +1); ``cell_clip``, a bound m on the carried state
itself, c' := clamp(f ⊙ c + i ⊙ g, −m, m) (TF 1's ``cell_clip``, the TF block kernels'),
whose carry derivative is diag(f ⊙ 1[|ĉ| < m]); ``quantization``, the activation rounding
of a dynamically quantized kernel (:class:`~lstm_props.maths.quantization.DynamicQuantization`:
x and h rounded per call to a few integer levels), which the error model takes as an input
perturbation. These and the layer norm's ε below are properties of the cell, not weights
(:data:`CONSTANTS`): read, never drawn or written.

Layer norm (the layer_norm variants, lstm_props.maths.variants): N(v) = (v − μ)/√(σ² + ε)
over the last axis, μ and σ² = mean((v − μ)²) (the biased variance, as torch's LayerNorm);
``ln_gain_ih``, ``ln_gain_hh`` (4H,) the gains of N(W_ih x) and N(W_hh h), whose biases are
``b_ih`` and ``b_hh``; ``ln_gain_c``, ``ln_bias_c`` (H,) the gain and bias of the cell's
norm; ``ln_eps`` the ε.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_props.maths.precision import round_to
from lstm_props.maths.quantization import DynamicQuantization

GATES = ("i", "f", "g", "o")
VARIANTS = ("standard", "no_forget", "cifg", "peephole", "layer_norm", "layer_norm_cell")

#: Forget pre-activation that makes σ exactly 1.0 (or, negated, exactly 0.0) in bfloat16
#: (where it is stored as 9984), float16, float32 and float64, without the inf − inf and
#: inf·0 NaNs a true ±inf would give; below float16's largest value 65504 with room for
#: the |W||x| the drawn weights add.
FORCE_BIAS = 1.0e4


def gate_slice(gate: str, hidden_size: int) -> slice:
    k = GATES.index(gate)
    return slice(k * hidden_size, (k + 1) * hidden_size)


@dataclass(frozen=True)
class LSTMParams:
    """One LSTM layer's parameters in float64, in the documented layout.

    Shapes: w_ih (4H, D), w_hh (4H, P), b_ih (4H,), b_hh (4H,), w_hr (P, H) or None,
    peephole (3, H) or None. P = H without projection. ``clip``: the pre-activation bound m,
    or None; ``forget_bias``: the constant the kernel adds to z_f (0: none); ``cell_clip``:
    the bound m of c' itself, or None; ``quantization``: the kernel's declared activation
    quantization (None: it computes in floating point throughout). Layer norm (None
    without): ln_gain_ih, ln_gain_hh (4H,), ln_gain_c, ln_bias_c (H,); ``ln_eps``: ε.
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    w_hr: np.ndarray | None = None
    peephole: np.ndarray | None = None
    clip: float | None = None
    forget_bias: float = 0.0
    cell_clip: float | None = None
    ln_gain_ih: np.ndarray | None = None
    ln_gain_hh: np.ndarray | None = None
    ln_gain_c: np.ndarray | None = None
    ln_bias_c: np.ndarray | None = None
    ln_eps: float = 1e-5
    quantization: DynamicQuantization | None = None

    @property
    def hidden_size(self) -> int:
        return self.w_ih.shape[0] // 4

    @classmethod
    def initial(cls, input_size: int, hidden_size: int, peephole: bool = False) -> LSTMParams:
        """Starting weights for an adapter that holds its own until the suite writes some:
        uniform(−0.5, 0.5) from seed 0 (W_ih, W_hh, then the peepholes), zero biases."""
        rng = np.random.default_rng(0)
        h4 = 4 * hidden_size
        return cls(
            rng.uniform(-0.5, 0.5, (h4, input_size)),
            rng.uniform(-0.5, 0.5, (h4, hidden_size)),
            np.zeros(h4),
            np.zeros(h4),
            peephole=rng.uniform(-0.5, 0.5, (3, hidden_size)) if peephole else None,
        )

    # The error model multiplies by |W| at every step of a trajectory; every change
    # (with_forget_bias and the rest) makes a new LSTMParams, so |W| never goes stale.
    @functools.cached_property
    def abs_w_ih(self) -> AbsWeights:
        return AbsWeights(self.w_ih)

    @functools.cached_property
    def abs_w_hh(self) -> AbsWeights:
        return AbsWeights(self.w_hh)

    def abs_row_sums(self) -> np.ndarray:
        """Σ_j |W_ih|_rj + Σ_j |W_hh|_rj for every gate row r, shape (4H,)."""
        return self.abs_w_ih.row_sums() + self.abs_w_hh.row_sums()

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

    def astype(self, dtype: str | np.dtype | type) -> LSTMParams:
        """Round every array to ``dtype`` (a precision name, maths.precision, or a NumPy
        dtype) and back to float64 (what the target will hold)."""
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name

        def rnd(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            # float64 as it is: at H = 4096 a copy of the weights is 0.5 GB
            return np.asarray(a, dtype=np.float64) if name == "float64" else round_to(a, name)

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

    @property
    def normalizes_gates(self) -> bool:
        """The gate pre-activations are layer-normalised (the gains are held)."""
        return self.ln_gain_ih is not None

    def gate_norm(self) -> tuple[np.ndarray, np.ndarray]:
        """(γ_ih, γ_hh), for a computation of a variant that normalises the gates."""
        if self.ln_gain_ih is None or self.ln_gain_hh is None:
            raise TypeError(
                "a layer-norm variant with normalizes_gates needs the gains ln_gain_ih and "
                "ln_gain_hh (4H,); these parameters have none"
            )
        return self.ln_gain_ih, self.ln_gain_hh

    def cell_norm(self) -> tuple[np.ndarray, np.ndarray]:
        """(γ_c, β_c), for a computation of a variant that normalises the cell."""
        if self.ln_gain_c is None or self.ln_bias_c is None:
            raise TypeError(
                "a layer-norm variant normalising the cell needs ln_gain_c and ln_bias_c "
                "(H,); these parameters have none"
            )
        return self.ln_gain_c, self.ln_bias_c


#: |W| up to this many bytes is computed once and kept (H = 1024: 34 MB a matrix, read at
#: every step of the error model); a larger one is taken a row block at a time for each
#: product, so that no copy of it exists: at H = 4096 the four |W| of a two-layer stack
#: would add 2 GB to a check that must stay within 8 GB.
ABS_KEPT_AT_MOST = 2**27
#: Rows per block of a larger |W|: blocks of about 16 MB.
_ABS_BLOCK_BYTES = 2**24


class AbsWeights:
    """|W| as the right operand of ``a @ |W|`` and ``a @ |W|ᵀ`` (``.T``), for a ≥ 0 in the
    error model: kept whole when small (ABS_KEPT_AT_MOST), else formed a row block at a time
    inside each product, never whole."""

    # numpy then leaves ``ndarray @ AbsWeights`` to __rmatmul__ (NEP 13)
    __array_ufunc__ = None

    def __init__(self, w: np.ndarray, transposed: bool = False) -> None:
        self._w, self._transposed = w, transposed
        self._kept: list[np.ndarray] = []  # shared with the transpose

    @property
    def T(self) -> AbsWeights:  # numpy's name for the transpose
        other = AbsWeights(self._w, not self._transposed)
        other._kept = self._kept
        return other

    def _whole(self) -> np.ndarray | None:
        """|W| kept, when small enough to keep (else None)."""
        if self._w.nbytes > ABS_KEPT_AT_MOST:
            return None
        if not self._kept:
            self._kept.append(np.abs(self._w))
        return self._kept[0]

    def _rows(self) -> int:
        return max(1, _ABS_BLOCK_BYTES // (self._w.itemsize * self._w.shape[1]))

    def row_sums(self) -> np.ndarray:
        """Σ_j |W|_rj for every row r of W (of W, not of the transpose)."""
        whole, w = self._whole(), self._w
        if whole is not None:
            return whole.sum(1)
        rows = self._rows()
        return np.concatenate([np.abs(w[r : r + rows]).sum(1) for r in range(0, len(w), rows)])

    def __rmatmul__(self, a: np.ndarray) -> np.ndarray:
        whole, w = self._whole(), self._w
        if whole is not None:
            return a @ (whole.T if self._transposed else whole)
        rows = self._rows()
        if self._transposed:  # (a |W|ᵀ)[:, r] = a |W_r|ᵀ
            out = np.empty((*a.shape[:-1], w.shape[0]))
            for r in range(0, w.shape[0], rows):
                out[..., r : r + rows] = a @ np.abs(w[r : r + rows]).T
            return out
        total = np.zeros((*a.shape[:-1], w.shape[1]))  # a |W| = Σ_r a[:, r] |W_r|
        for r in range(0, w.shape[0], rows):
            total += a[..., r : r + rows] @ np.abs(w[r : r + rows])
        return total


#: The array fields of LSTMParams, in order.
ARRAYS = (
    "w_ih",
    "w_hh",
    "b_ih",
    "b_hh",
    "w_hr",
    "peephole",
    "ln_gain_ih",
    "ln_gain_hh",
    "ln_gain_c",
    "ln_bias_c",
)
#: The cell's constants: what the kernel does, read from the target, never drawn or written.
CONSTANTS = ("clip", "forget_bias", "cell_clip", "ln_eps", "quantization")
