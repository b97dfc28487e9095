"""The carry product at production sizes: chunked, probed, teacher-forced.

The small-size properties materialise Jacobians; at H = 1024 and T = 10⁵ that is neither
affordable nor needed. Three facts make the check cost about one forward pass:

* Teacher forcing for free. Feeding each step the free run's own h_{t-1} with its gradient
  stopped leaves the forward values unchanged, so a single forward records the trajectory
  *and* builds the carry-path graph, which holds only elementwise work (the gates read x_t and
  h_{t-1}, both constants), so its backward costs no matrix product.
* Probes, not Jacobians. For a diagonal J = diag(d), ūᵀJ = ū ⊙ d; k random probes ū (batched
  through one backward) estimate d, and any off-diagonal entry of J moves ūᵀJ away from
  ū ⊙ d with probability 1 (Hutchinson-style). So one backward checks diagonality and values.
* Chunks. The T-step product is diagonal, so it is checked chunk by chunk,
  ∂c_{t₁}/∂c_{t₀} = diag(∏_{t₀<t≤t₁} f_t), with the oracle's forget gates and error bounds for
  the whole chunk computed at once (one matrix product over chunk × batch rows). The chunks'
  diagonals multiply to the T-step product, and memory is O(chunk · H · probes) whatever T.

The comparison is the one of ``test_carry_product_matches_oracle`` (log domain, tolerance
Σ_t (1 − f_t)δz_f,t + 5u per step, upper bound only where ū·∏f underflows); the test suite
checks :class:`ForgetOracle` against the reference cell and :func:`tolerances.step_error`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lstm_props.maths import tolerances as tol
from lstm_props.maths.carry import probe
from lstm_props.maths.layout import LSTMParams, gate_slice
from lstm_props.maths.variants import BOUNDED, as_variant

#: Variants whose carry derivative is a product of forget gates in [0, 1].
PRODUCT_VARIANTS = BOUNDED  # the product of forget gates (or of ones): no peepholes

Inputs = Callable[[int, int], np.ndarray]  # (start, stop) -> xs[start:stop], (stop−start, B, D)


@dataclass
class ChunkedCarry:
    """What :func:`verify_carry_product` found over T steps.

    log_product (B, H): Σ_t log f_t by the oracle (None in black-box mode);
    implementation_log_product (B, H): Σ over chunks of log(ūᵀJ/ū) from the implementation's
    backward, −inf where a chunk's product underflowed; worst: the largest
    |error| / tolerance of any compared entry (≤ 1 passes); failures: one line per failed
    chunk and claim.
    """

    steps: int
    chunk: int
    probes: int
    log_product: np.ndarray | None
    implementation_log_product: np.ndarray
    worst: float = 0.0
    compared: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _chunk_pass(
    cell: Any, xs: np.ndarray, h: np.ndarray, c: np.ndarray, probes: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """One forward over the chunk with h fed back gradient-stopped, one batched backward.

    Returns ūᵀ ∂c_end/∂c_start for each probe (k, B, H) and the recorded h_{t-1} (C, B, P)
    (what the oracle's gates read) plus the chunk's final (h, c), all float64.
    """
    be = cell.backend
    seen: dict[str, Any] = {}

    def run(c_start: Any) -> tuple[Any]:
        hh, cc = be.asarray(h), c_start
        hs = []
        for x in xs:
            hs.append(be.to_numpy(hh))
            hh, cc = cell.step(be.asarray(x), hh, cc)
            hh = be.stop_gradient(hh)
        seen.update(hs=np.stack(hs), h=be.to_numpy(hh), c=be.to_numpy(cc))
        return (cc,)

    (grads,) = be.vjp_rows(run, (c,), (probes,))
    return grads, seen


@dataclass(frozen=True)
class ForgetOracle:
    """The forget-gate rows of the layout, their magnitudes, and n of the δz sum, once.

    Only z_f = x W_ifᵀ + h W_hfᵀ + b_if + b_hf is needed for the carry product, a quarter
    of the gates' matrix product; its bound is the δz_f of :func:`tolerances.step_error`
    with exact inputs (teacher forcing feeds the recorded values):
    δz_f = γ_n (|x||W_if|ᵀ + |h||W_hf|ᵀ + |b_if| + |b_hf| [+ |b_f const|]), n = D + P + 2
    (+ 1 with the cell's forget-bias constant).
    """

    w_x: np.ndarray
    w_h: np.ndarray
    bias: np.ndarray
    w_x_abs: np.ndarray
    w_h_abs: np.ndarray
    bias_abs: np.ndarray
    n: int
    clip: float | None = None

    @classmethod
    def of(cls, params: LSTMParams) -> ForgetOracle:
        f = gate_slice("f", params.hidden_size)
        w_x, w_h = params.w_ih[f], params.w_hh[f]
        bias = params.b_ih[f] + params.b_hh[f] + params.forget_bias
        bias_abs = np.abs(params.b_ih[f]) + np.abs(params.b_hh[f]) + abs(params.forget_bias)
        n = params.input_size + params.output_size + 2 + bool(params.forget_bias)
        return cls(w_x, w_h, bias, np.abs(w_x), np.abs(w_h), bias_abs, n, params.clip)

    def chunk(
        self, gate_xs: np.ndarray, hs: np.ndarray, variant: str, dtype: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """(Σ_t log f_t, Σ_t its error bound (1 − f_t)δz_f,t + 5u) over a chunk, (B, H).

        gate_xs (C, B, D), hs (C, B, P): every step of the chunk in one matrix product.
        """
        x, h = torch.from_numpy(gate_xs), torch.from_numpy(hs)
        z = _mm(x, self.w_x).add_(_mm(h, self.w_h)).add_(torch.from_numpy(self.bias))
        if self.clip is not None:
            z.clamp_(-self.clip, self.clip)
        mag = _mm(x.abs(), self.w_x_abs).add_(_mm(h.abs(), self.w_h_abs))
        mag.add_(torch.from_numpy(self.bias_abs))
        if not as_variant(variant).has_forget_gate:
            log_f, f = torch.zeros_like(z), torch.ones_like(z)
        else:  # torch's log σ is −softplus(−z), exact where σ underflows
            log_f, f = torch.nn.functional.logsigmoid(z), torch.sigmoid(z)
        bound = (1.0 - f).mul_(mag).mul_(tol.gamma(self.n, dtype))
        bound.add_((tol.ACTIVATION_ULPS + 1) * tol.unit_roundoff(dtype))
        return log_f.sum(0).numpy(), bound.sum(0).numpy()


def _mm(a: torch.Tensor, w: np.ndarray) -> torch.Tensor:
    """a @ wᵀ in float64 by torch (its BLAS twice NumPy's speed on the machines measured,
    its elementwise passes on every thread: the oracle is the verification's largest cost
    after the forward itself)."""
    return torch.matmul(a, torch.from_numpy(w).T)


def _probes_agree(ratio: np.ndarray, u: np.ndarray, steps: int, dtype: str) -> np.ndarray:
    """Black-box diagonality: every probe must see the same d = ūᵀJ/ū where comparable.

    Each backward step rounds once per product, so two probes' estimates of the same d differ
    by at most 2γ_{2C+2}|d| (plus the subnormal floor where ū·d underflows).
    """
    slack = tol.SAFETY * 2 * tol.gamma(2 * steps + 2, dtype)
    floor = 4 * tol.SMALLEST_NORMAL[dtype] / np.abs(u).min(axis=0)
    spread = ratio.max(axis=0) - ratio.min(axis=0)
    return spread <= slack * np.abs(ratio).max(axis=0) + floor


def _exact_chunk(
    cell: Any, xs: np.ndarray, h: np.ndarray, c: np.ndarray, where: str, failures: list[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The chunk's whole carry Jacobian by one-hot rows: off-diagonal entries must be exactly
    0 (an elementwise backward cannot make them otherwise); returns its diagonal as the
    single "probe" (1, B, H) with ū = 1."""
    n = c.size
    rows, seen = _chunk_pass(cell, xs, h, c, np.eye(n).reshape(n, *c.shape))
    jac = rows.reshape(n, n)
    diag = np.diag(jac).copy()
    off = jac - np.diag(diag)
    if np.any(off != 0):
        failures.append(
            f"{where}: {int(np.count_nonzero(off))} off-diagonal entries of "
            f"∂c/∂c are nonzero (largest {np.abs(off).max():.3g}): the carry "
            "Jacobian is not diagonal"
        )
    return diag.reshape(1, *c.shape), np.ones((1, *c.shape)), seen


def verify_carry_product(
    cell: Any,
    params: LSTMParams | None,
    inputs: Inputs,
    h0: np.ndarray,
    c0: np.ndarray,
    *,
    steps: int,
    chunk: int = 64,
    probes: int = 2,
    variant: str = "standard",
    exact: bool = False,
) -> ChunkedCarry:
    """Check ∂c_T/∂c_0 |carry = diag(∏_t f_t) chunk by chunk through ``cell``'s own backward.

    ``cell`` is a (checked) layer view; ``params`` its layout, or None for black-box mode,
    where only the oracle-free claims are checked: every probe sees the same diagonal (no
    off-diagonal coupling) and each chunk's product lies in [0, 1]. ``inputs(start, stop)``
    supplies the gate inputs for steps [start, stop) so that T never has to fit in memory.
    h0 (B, P), c0 (B, H). ``exact`` materialises each chunk's whole (B·H)² Jacobian instead
    of probing it (one vmapped backward of B·H rows) and asserts its off-diagonal entries
    are exactly 0, as the small-size property does.
    """
    if variant not in PRODUCT_VARIANTS:
        raise ValueError(
            f"variant={variant!r}: the chunked carry product is a product of "
            f"forget gates only for variants with a {PRODUCT_VARIANTS}: "
            f"{', '.join(PRODUCT_VARIANTS.names())}"
        )
    impl_log = np.zeros_like(c0)
    oracle_log = None if params is None else np.zeros_like(c0)
    result = ChunkedCarry(steps, chunk, probes, oracle_log, impl_log)
    oracle = None if params is None else ForgetOracle.of(params)
    with cell.frozen_parameters():  # the backward is with respect to c alone
        _chunks(cell, oracle, inputs, h0, c0, steps, chunk, probes, variant, exact, result)
    return result


def _chunks(
    cell: Any,
    oracle: ForgetOracle | None,
    inputs: Inputs,
    h0: np.ndarray,
    c0: np.ndarray,
    steps: int,
    chunk: int,
    probes: int,
    variant: str,
    exact: bool,
    result: ChunkedCarry,
) -> None:
    dtype = cell.backend.dtype
    h, c = h0, c0
    impl_log, oracle_log = result.implementation_log_product, result.log_product
    for start in range(0, steps, chunk):
        stop = min(start + chunk, steps)
        xs = inputs(start, stop)
        where = f"steps {start}..{stop}"
        if exact:
            ratio, u, seen = _exact_chunk(cell, xs, h, c, where, result.failures)
        else:
            u = np.stack([probe(c0, 101 + k, c, np.array([start])) for k in range(probes)])
            u = cell.backend.rounded(u)
            grads, seen = _chunk_pass(cell, xs, h, c, u)
            ratio = grads / u
        with np.errstate(divide="ignore", invalid="ignore"):
            impl_log += np.log(np.abs(ratio)).mean(axis=0)
        if not np.all((ratio >= 0) & (ratio <= 1)):
            result.failures.append(
                f"{where}: carry product outside [0, 1] "
                f"(range {ratio.min():.6g}..{ratio.max():.6g})"
            )
        agree = _probes_agree(ratio, u, stop - start, dtype)
        if not agree.all():
            result.failures.append(
                f"{where}: probes disagree on the diagonal at "
                f"{int((~agree).sum())} entries: the carry Jacobian is "
                "not diagonal (coupled carry or batch rows)"
            )
        if oracle is not None:
            gate_xs = np.stack([cell.gate_input(x) for x in xs])
            want, bound = oracle.chunk(gate_xs, seen["hs"], variant, dtype)
            oracle_log += want
            ok, comparable = tol.log_compare(
                ratio, want, tol.SAFETY * bound, np.log(np.abs(u)), dtype
            )
            with np.errstate(divide="ignore"):
                err = np.abs(np.log(np.abs(ratio)) - want) / (tol.SAFETY * bound)
            if comparable.any():
                result.worst = max(result.worst, float(err[comparable].max()))
            result.compared += int(comparable.sum())
            if not ok.all():
                worst = float(np.where(comparable, err, 0).max())
                result.failures.append(
                    f"{where}: log|∂c/∂c| ≠ Σ log f (oracle) at {int((~ok).sum())} entries, "
                    f"worst {worst:.3g}× the tolerance"
                )
        h, c = seen["h"], seen["c"]


__all__ = ["PRODUCT_VARIANTS", "ChunkedCarry", "verify_carry_product"]
