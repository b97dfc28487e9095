"""Equinox target: eqx.nn.LSTMCell.

    lstm-props check lstm_props.adapters.equinox:lstm_cell [--dtype float64]

Equinox's cell is unbatched, ``cell(x (D,), (h, c)) -> (h, c)``, so the adapter vmaps it
over the batch. Its parameters are already in torch's layout, weight_ih (4H, D),
weight_hh (4H, H), gates i, f, g, o, but with one fused bias: it reads as b_ih = bias,
b_hh = 0 and is written as b_ih + b_hh.
"""

from __future__ import annotations

import functools
from typing import Any

import equinox as eqx
import jax
import numpy as np

from lstm_props.adapters._jax import JaxBackend, JaxCellAdapter, LayoutArrays
from lstm_props.adapters._protocol import CellSpec


def _read(params: Any) -> LayoutArrays:
    bias = np.asarray(params["bias"])
    return {
        "w_ih": params["weight_ih"],
        "w_hh": params["weight_hh"],
        "b_ih": bias,
        "b_hh": np.zeros_like(bias),
    }


def _write(arrays: LayoutArrays, params: Any) -> Any:
    return {
        "weight_ih": arrays["w_ih"],
        "weight_hh": arrays["w_hh"],
        "bias": arrays["b_ih"] + arrays["b_hh"],
    }


@eqx.filter_jit
def _batched_step(cell: eqx.nn.LSTMCell, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
    # filter_jit keys its cache on the module's structure: cells of one shape share it.
    return jax.vmap(lambda xb, hb, cb: cell(xb, (hb, cb)))(x, h, c)


@functools.lru_cache(maxsize=64)
def _template(input_size: int, hidden_size: int, dtype: str) -> eqx.nn.LSTMCell:
    return eqx.nn.LSTMCell(input_size, hidden_size, dtype=np.dtype(dtype), key=jax.random.key(0))


def lstm_cell(input_size: int, hidden_size: int, dtype: str = "float32") -> JaxCellAdapter:
    """equinox.nn.LSTMCell, vmapped over the batch."""
    backend = JaxBackend(dtype)
    module = _template(input_size, hidden_size, dtype)

    def apply(params: Any, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        cell = eqx.tree_at(
            lambda m: (m.weight_ih, m.weight_hh, m.bias),
            module,
            (params["weight_ih"], params["weight_hh"], params["bias"]),
        )
        return _batched_step(cell, x, h, c)

    params = {"weight_ih": module.weight_ih, "weight_hh": module.weight_hh, "bias": module.bias}
    spec = CellSpec(input_size, hidden_size, hidden_size)
    return JaxCellAdapter("equinox.nn.LSTMCell", spec, backend, params, apply, _read, _write)
