"""Drive a trained model over the data and hand each layer's inputs to the oracle.

The whole model runs as its stack view (lstm_props.adapters: one cell whose state is every
layer's, concatenated), forward only, from zero states, one step at a time; a chunk of steps
at a time its states come back to NumPy. Layer l's gates read x_t (layer 0) or layer l − 1's
new output h_t, and its own h_{t-1}, c_{t-1}: all recorded, so the oracle's gates are the
model's own, teacher-forced, computed for a whole chunk in one matrix product. That the
recorded states are what the declared layout computes from these inputs is checked on the
first chunk (:func:`check_reproduced`): a residual connection or dropout between layers, or a
misdeclared layout, is refused there rather than measured wrongly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lstm_props._errors import TargetError
from lstm_props.adapters._protocol import CellAdapter, Views
from lstm_props.maths import tolerances as tol
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import lstm_step


@dataclass(frozen=True)
class LayerSteps:
    """One layer over steps t0 + 1 … t0 + C: its gate input x_t and the states around it,
    each (C, B, ·): float64 NumPy from a stepped record; from a fused call, CPU torch
    tensors in the model's own dtype (a float32 model's 4 bytes a value, not 8)."""

    x: np.ndarray | torch.Tensor
    h_prev: np.ndarray | torch.Tensor
    c_prev: np.ndarray | None  # None: a fused call's chunk (its c_t are not exposed)
    h: np.ndarray | torch.Tensor
    c: np.ndarray | None


def _host(be: Any, a: Any) -> torch.Tensor:
    """A backend array as a CPU torch tensor: a torch model's own tensor as it is (no copy
    on the CPU), any other backend's through NumPy."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu()
    return torch.from_numpy(be.to_numpy(a))


def layer_blocks(views: Views) -> list[tuple[slice, slice]]:
    """Each layer's (h slice, c slice) of the stack view's concatenated state."""
    if getattr(views.stack, "directions", 1) != 1:
        raise TargetError(
            "horizon follows a causal carry forward in time; this model is bidirectional: "
            "measure its forward direction as a model of its own (a unidirectional copy "
            "with the same weights)"
        )
    blocks, ph, pc = [], 0, 0
    for view in views.layers:
        out, hid = view.spec.output_size, view.spec.hidden_size
        blocks.append((slice(ph, ph + out), slice(pc, pc + hid)))
        ph, pc = ph + out, pc + hid
    spec = views.stack.spec
    if (ph, pc) != (spec.output_size, spec.hidden_size):
        raise TargetError(
            f"the stack's state is (B, {spec.output_size}), (B, {spec.hidden_size}) but its "
            f"layers' add up to (B, {ph}), (B, {pc}): the adapter's views disagree"
        )
    return blocks


#: A layer's fused call over a chunk: (xs, h, c) -> (ys, h_T, c_T), framework arrays.
LayerCall = Callable[[Any, Any, Any], tuple[Any, Any, Any]]


def fused_calls(views: Views) -> list[LayerCall] | None:
    """The model's own sequence kernel, per layer, if it has one: the stack's fused call for
    a single layer, each layer view's ``layer_sequence`` for a stack; None: step by step."""
    if len(views.layers) == 1 and views.stack.has_sequence:
        return [views.stack.sequence]
    if len(views.layers) > 1 and all(v.has_layer_sequence for v in views.layers):
        return [v.layer_sequence for v in views.layers]
    return None


def record(
    stack: CellAdapter,
    blocks: list[tuple[slice, slice]],
    xs: np.ndarray,
    chunk: int,
    keep: frozenset[int] = frozenset(),
    start: tuple[np.ndarray, np.ndarray] | None = None,
    fused: list[LayerCall] | None = None,
) -> Iterator[tuple[int, list[LayerSteps], dict[int, tuple[np.ndarray, np.ndarray]]]]:
    """(t0, per-layer steps, kept stack states) chunk by chunk over xs (T, B, D), from
    ``start`` (zero states by default). ``keep``: chunk starts s (multiples of ``chunk``) whose
    whole stack state (h_s, c_s) is handed back, for the two-track measurement.

    ``fused``: each layer's chunk runs as one call of the model's own sequence kernel
    (:func:`fused_calls`; its ys are the h_t the gates read; the c_t in between are not
    recorded, so only for gates that do not read c); otherwise the stack step by step."""
    be = stack.backend
    steps, batch = xs.shape[0], xs.shape[1]
    if start is None:
        h = np.zeros((batch, stack.spec.output_size))
        c = np.zeros((batch, stack.spec.hidden_size))
    else:
        h, c = start
    with be.no_grad():
        h_fw, c_fw = be.asarray(h), be.asarray(c)
        states = [(be.asarray(h[:, hb]), be.asarray(c[:, cb])) for hb, cb in blocks]
        for t0 in range(0, steps, chunk):
            kept = {t0: (h, c)} if t0 in keep else {}
            x_fw = be.asarray(xs[t0 : t0 + chunk])  # rounded to the model's dtype
            layers = []
            if fused is not None:  # tensors as the kernel returned them: no float64 copies
                below_fw, below_host = x_fw, _host(be, x_fw)
                for k, call in enumerate(fused):
                    h_start = _host(be, states[k][0])
                    ys, h_k, c_k = call(below_fw, *states[k])
                    states[k] = (h_k, c_k)
                    ys_host = _host(be, ys)
                    h_prev = torch.cat([h_start[None], ys_host[:-1]])
                    layers.append(LayerSteps(below_host, h_prev, None, ys_host, None))
                    below_fw, below_host = ys, ys_host
                h = np.concatenate([be.to_numpy(h_k) for h_k, _ in states], axis=-1)
                c = np.concatenate([be.to_numpy(c_k) for _, c_k in states], axis=-1)
                yield t0, layers, kept
                continue
            x_np = be.rounded(xs[t0 : t0 + chunk])
            hs_, cs_ = [h], [c]
            for t in range(x_np.shape[0]):
                h_fw, c_fw = stack.step(x_fw[t], h_fw, c_fw)
                hs_.append(be.to_numpy(h_fw))
                cs_.append(be.to_numpy(c_fw))
            h_all, c_all = np.stack(hs_), np.stack(cs_)  # (C + 1, B, ·): t0 … t0 + C
            h, c = hs_[-1], cs_[-1]
            below = x_np
            for hb, cb in blocks:
                layers.append(
                    LayerSteps(
                        below,
                        h_all[:-1, :, hb],
                        c_all[:-1, :, cb],
                        h_all[1:, :, hb],
                        c_all[1:, :, cb],
                    )
                )
                below = h_all[1:, :, hb]
            yield t0, layers, kept


def check_reproduced(
    params: LSTMParams, steps: LayerSteps, variant: str, dtype: str, name: str
) -> None:
    """The layout, stepped from the recorded inputs, gives the recorded c_t and h_t within
    the error model (tolerances.step_error, SAFETY); a one-line TargetError if not."""
    assert steps.c_prev is not None and steps.c is not None  # a stepped record: NumPy
    x, h, c = (
        np.asarray(a).reshape(-1, a.shape[-1]) for a in (steps.x, steps.h_prev, steps.c_prev)
    )
    v = lstm_step(params, x, h, c, variant)
    err = tol.step_error(params, x, h, c, variant, dtype)
    for got, want, bound, what in (
        (steps.c.reshape(v.c.shape), v.c, err.dc, "c"),
        (np.asarray(steps.h).reshape(v.h.shape), v.h, err.dh, "h"),
    ):
        excess = np.abs(got - want) / (tol.SAFETY * bound + tol.SMALLEST_NORMAL[dtype])
        if np.max(excess, initial=0.0) > 1:
            step = int(np.argmax(np.max(excess, axis=-1))) // steps.x.shape[1] + 1
            raise TargetError(
                f"{name}: at step {step} its {what}_t is not what its declared layout "
                f"computes from the layer's input and states ({np.max(excess):.3g} times "
                "the error bound): its input is not the layer below's output (a residual "
                "connection, dropout in training mode: call model.eval()), or its layout "
                "is misdeclared (lstm-props check tells which)"
            )
