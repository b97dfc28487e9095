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

from typing import Any

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


def span_gradients(
    stack: CellAdapter,
    blocks: list[tuple[slice, slice]],
    params: list[LSTMParams],
    variant: str,
    window: np.ndarray,
    state: tuple[np.ndarray, np.ndarray],
    spans: np.ndarray,
    cotangents: np.ndarray,
) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """For each span Δ ≤ len(window): per layer l, (g_total, g_carry), each (B, H_l), from
    the stack state ``state`` = (h_s, c_s) over the window's inputs, with ``cotangents``
    (L, B, H_total): row l is ū on layer l's block of c_{s+Δ} (zero elsewhere)."""
    be = stack.backend
    # the window's own trajectory from the state, for the oracle's carry derivatives
    ((_, recorded, _),) = record(stack, blocks, window, len(window), start=state)
    products = [_carry_products(p, r, variant) for p, r in zip(params, recorded)]
    out: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for span in (int(d) for d in spans if d <= len(window)):
        x_fw = be.asarray(be.rounded(window[:span]))

        def run(h0: Any, c0: Any, x_fw: Any = x_fw) -> tuple[Any]:
            h, c = h0, c0
            for t in range(x_fw.shape[0]):
                h, c = stack.step(x_fw[t], h, c)
            return (c,)

        _, grad_c = be.vjp_rows(run, state, (cotangents,))
        out[span] = [
            (grad_c[k][:, cb], cotangents[k][:, cb] * products[k][span - 1])
            for k, (_, cb) in enumerate(blocks)
        ]
    return out


def carry_share(total: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """‖g_carry‖ / (‖g_carry‖ + ‖g_total − g_carry‖) per row (NaN where both vanish)."""
    car = np.linalg.norm(carry, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return car / (car + np.linalg.norm(total - carry, axis=-1))


def _not_measured(layers: int, spans: np.ndarray, note: str) -> list[TwoTrack]:
    empty = np.zeros((len(QUANTILES), 0))
    return [TwoTrack(spans[:0], empty, np.zeros(0), np.zeros(0), 0, note)] * layers


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
        return _not_measured(layers, spans, NO_BACKWARD)
    if not as_variant(variant).diagonal_carry:
        return _not_measured(layers, spans, DENSE)
    # per layer, per span: shares, log10 ‖g_carry‖, log10 ‖g_total‖ over starts × rows
    seen: list[dict[int, list[np.ndarray]]] = [{} for _ in range(layers)]
    rng = np.random.default_rng(seed)
    for s, state in sorted(starts.items()):
        window = xs[s : s + int(spans.max())]
        batch = window.shape[1]
        u = np.zeros((layers, batch, stack.spec.hidden_size))
        for k, (_, cb) in enumerate(blocks):
            u[k][:, cb] = be.rounded(rng.standard_normal((batch, cb.stop - cb.start)))
        grads = span_gradients(stack, blocks, params, variant, window, state, spans, u)
        for span, per_layer in grads.items():
            for k, (total, carry) in enumerate(per_layer):
                with np.errstate(divide="ignore"):
                    row = np.stack(
                        [
                            carry_share(total, carry),
                            np.log10(np.linalg.norm(carry, axis=-1)),
                            np.log10(np.linalg.norm(total, axis=-1)),
                        ]
                    )
                seen[k].setdefault(span, []).append(row)
    out = []
    for k in range(layers):
        measured = sorted(seen[k])
        rows = [np.concatenate(seen[k][d], axis=1) for d in measured]
        with np.errstate(invalid="ignore"):
            share = np.array([[np.nanquantile(r[0], q) for r in rows] for q in QUANTILES])
            out.append(
                TwoTrack(
                    np.array(measured, dtype=np.int64),
                    share.reshape(len(QUANTILES), len(rows)),
                    np.array([np.nanmedian(r[1]) for r in rows]),
                    np.array([np.nanmedian(r[2]) for r in rows]),
                    rows[0].shape[1] if rows else 0,
                )
            )
    return out
