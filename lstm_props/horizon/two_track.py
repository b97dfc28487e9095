"""The seed's two-track claim, measured: what share of the long-range gradient the carry
line carries.

From a recorded state (h_s, c_s) of the data, the model runs Δ steps on the data's own
inputs, and one backward of the implementation gives the total derivative of layer l's
c_{s+Δ} with respect to its c_s, through both tracks (every (h, c) → (h, c) step Jacobian,
so paths that leave the carry for h and come back through W_hh):

    g_total = ūᵀ ∂c_{s+Δ}/∂c_s                 (the implementation's backward)
    g_carry = ū ⊙ ∏_{t=s+1}^{s+Δ} d_t          (the carry line alone, d_t the oracle's carry
                                                derivative at the recorded states: f_t, or
                                                f_t plus its peephole terms, 0 where clipped)

ū a fixed random cotangent per sequence. The share of the carry line is
‖g_carry‖ / (‖g_carry‖ + ‖g_total − g_carry‖): 1 when every other path is zero (W_hh = 0),
→ 0 as the hidden track dominates. Quantiles are over start positions and sequences.
"""

from __future__ import annotations

import numpy as np

from lstm_props.adapters._protocol import CellAdapter
from lstm_props.horizon.record import LayerSteps, record
from lstm_props.horizon.result import TwoTrack
from lstm_props.horizon.stats import QUANTILES
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import carry_derivative
from lstm_props.maths.variants import as_variant

#: Why the share is not measured for a variant or a target.
DENSE = (
    "the carried c is normalised (layer_norm_cell): its carry Jacobian is J_LN · diag(f), "
    "not a line"
)
NO_BACKWARD = (
    "the target has no backward (a forward-only runtime): there is no total gradient to compare"
)


def _carry_products(params: LSTMParams, steps: LayerSteps, variant: str) -> np.ndarray:
    """∏_{t ≤ τ} d_t for τ = 1 … W along a recorded window, (W, B, H)."""
    assert steps.c_prev is not None  # a stepped record
    x, h, c = (a.reshape(-1, a.shape[-1]) for a in (steps.x, steps.h_prev, steps.c_prev))
    d = carry_derivative(params, x, h, c, variant)
    return np.cumprod(d.reshape(steps.c_prev.shape), axis=0)


def measure_two_track(
    stack: CellAdapter,
    blocks: list[tuple[slice, slice]],
    params: list[LSTMParams],
    variant: str,
    xs: np.ndarray,
    starts: dict[int, tuple[np.ndarray, np.ndarray]],
    spans: np.ndarray,
    seed: int = 0,
) -> list[TwoTrack]:
    """The share per layer over ``spans``, from each kept start state (h_s, c_s) of xs."""
    be = stack.backend
    layers = len(blocks)
    if not be.autograd:
        return [
            TwoTrack(
                spans[:0], np.zeros((len(QUANTILES), 0)), np.zeros(0), np.zeros(0), 0, NO_BACKWARD
            )
        ] * layers
    if not as_variant(variant).diagonal_carry:
        return [
            TwoTrack(spans[:0], np.zeros((len(QUANTILES), 0)), np.zeros(0), np.zeros(0), 0, DENSE)
        ] * layers
    width_c = stack.spec.hidden_size
    shares: list[list[list[float]]] = [[[] for _ in spans] for _ in range(layers)]
    carry_n: list[list[list[float]]] = [[[] for _ in spans] for _ in range(layers)]
    total_n: list[list[list[float]]] = [[[] for _ in spans] for _ in range(layers)]
    rng = np.random.default_rng(seed)
    for s, (h_s, c_s) in sorted(starts.items()):
        window = xs[s : s + int(spans.max())]
        batch = window.shape[1]
        # the window's recorded steps, from the kept state (the free run's own trajectory)
        ((_, recorded, _),) = record(stack, blocks, window, len(window), start=(h_s, c_s))
        products = [_carry_products(p, r, variant) for p, r in zip(params, recorded)]
        u = np.zeros((layers, batch, width_c))
        for layer, (_, cb) in enumerate(blocks):
            u[layer][:, cb] = be.rounded(rng.standard_normal((batch, cb.stop - cb.start)))
        for j, span in enumerate(spans):
            if span > len(window):
                continue
            x_fw = be.asarray(be.rounded(window[:span]))

            def run(h0, c0, x_fw=x_fw):
                h, c = h0, c0
                for t in range(x_fw.shape[0]):
                    h, c = stack.step(x_fw[t], h, c)
                return (c,)

            _, grad_c = be.vjp_rows(run, (h_s, c_s), (u,))
            for layer, (_, cb) in enumerate(blocks):
                total = grad_c[layer][:, cb]
                carry = u[layer][:, cb] * products[layer][span - 1]
                rest = np.linalg.norm(total - carry, axis=-1)
                car = np.linalg.norm(carry, axis=-1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    shares[layer][j] += list(car / (car + rest))
                    carry_n[layer][j] += list(np.log10(car))
                    total_n[layer][j] += list(np.log10(np.linalg.norm(total, axis=-1)))
    out = []
    for layer in range(layers):
        kept = [j for j in range(len(spans)) if shares[layer][j]]
        q = np.array([[np.nanquantile(shares[layer][j], p) for j in kept] for p in QUANTILES])
        out.append(
            TwoTrack(
                spans[kept],
                q.reshape(len(QUANTILES), len(kept)),
                np.array([np.nanmedian(carry_n[layer][j]) for j in kept]),
                np.array([np.nanmedian(total_n[layer][j]) for j in kept]),
                len(shares[layer][kept[0]]) if kept else 0,
            )
        )
    return out
