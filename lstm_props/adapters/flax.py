"""Flax targets: nnx.LSTMCell, nnx.OptimizedLSTMCell, linen.LSTMCell, linen.OptimizedLSTMCell.

    lstm-props check lstm_props.adapters.flax:nnx_lstm_cell [--dtype float64]

Flax differs from torch in three ways the mapping must get right: the carry is (c, h), not
(h, c); kernels are (in, out), the transpose of torch's (out, in); and each gate has an
input Dense without bias plus a hidden Dense with one, so the layout reads b_ih = 0 and
b_hh = the bias (and writes b_ih + b_hh into it). The Optimized cells keep one (in, 4H)
kernel with columns i, f, g, o; linen's OptimizedLSTMCell keeps LSTMCell's parameter names.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np
from flax import linen, nnx

from lstm_props.adapters._jax import JaxBackend, JaxCellAdapter, LayoutArrays, gate_blocks
from lstm_props.adapters._protocol import CellSpec

_GATES = ("i", "f", "g", "o")


def _split_gates(params: Any, f_name: str) -> LayoutArrays:
    """Per-gate Dense layers ('ii', 'if' | 'if_', ..., 'hi', 'hf', ...) -> the layout."""
    inputs = ["i" + (g if g != "f" else f_name) for g in _GATES]
    w_ih = np.concatenate([np.asarray(params[n]["kernel"]).T for n in inputs])
    w_hh = np.concatenate([np.asarray(params["h" + g]["kernel"]).T for g in _GATES])
    b_hh = np.concatenate([np.asarray(params["h" + g]["bias"]) for g in _GATES])
    return {"w_ih": w_ih, "w_hh": w_hh, "b_ih": np.zeros_like(b_hh), "b_hh": b_hh}


def _write_split_gates(arrays: LayoutArrays, params: Any, f_name: str) -> Any:
    hidden = arrays["w_hh"].shape[1]
    blocks = {k: gate_blocks(arrays[k], hidden) for k in ("w_ih", "w_hh")}
    bias = gate_blocks(arrays["b_ih"] + arrays["b_hh"], hidden)
    new = dict(params)
    for k, g in enumerate(_GATES):
        new["i" + (g if g != "f" else f_name)] = {"kernel": blocks["w_ih"][k].T}
        new["h" + g] = {"kernel": blocks["w_hh"][k].T, "bias": bias[k]}
    return new


# One function object each: the jitted adjoint of a write is cached on it (JaxCellAdapter).
_write_nnx_gates = functools.partial(_write_split_gates, f_name="f_")
_write_linen_gates = functools.partial(_write_split_gates, f_name="f")


@functools.partial(jax.jit, static_argnums=0)
def _nnx_call(graphdef: Any, state: Any, params: Any, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
    # Rebuilding the module is inside the jit: eager nnx.merge costs more than the step.
    fresh = jax.tree.map(lambda a: a, state)
    nnx.replace_by_pure_dict(fresh, params)
    (c_new, h_new), _ = nnx.merge(graphdef, fresh)((c, h), x)
    return h_new, c_new


@functools.lru_cache(maxsize=64)
def _nnx_template(cls: type, input_size: int, hidden_size: int, dtype: str) -> tuple[Any, Any]:
    # One initialisation per shape: the suite overwrites every parameter anyway, and each
    # fresh init would compile JAX's random initialisers again.
    module = cls(input_size, hidden_size, rngs=nnx.Rngs(0), param_dtype=np.dtype(dtype))
    return nnx.split(module)


def _nnx_cell(
    cls: type, input_size: int, hidden_size: int, dtype: str, read: Any, write: Any, name: str
) -> JaxCellAdapter:
    backend = JaxBackend(dtype)
    graphdef, state = _nnx_template(cls, input_size, hidden_size, dtype)

    spec = CellSpec(input_size, hidden_size, hidden_size)
    return JaxCellAdapter(
        name,
        spec,
        backend,
        nnx.to_pure_dict(state),
        functools.partial(_nnx_call, graphdef, state),
        read,
        write,
    )


def nnx_lstm_cell(input_size: int, hidden_size: int, dtype: str = "float32") -> JaxCellAdapter:
    """flax.nnx.LSTMCell: eight Dense layers, ii..io (no bias) and hi..ho (bias)."""
    return _nnx_cell(
        nnx.LSTMCell,
        input_size,
        hidden_size,
        dtype,
        lambda p: _split_gates(p, "f_"),
        _write_nnx_gates,
        "flax.nnx.LSTMCell",
    )


def _read_fused(params: Any) -> LayoutArrays:
    b_hh = np.asarray(params["dense_h"]["bias"])
    return {
        "w_ih": np.asarray(params["dense_i"]["kernel"]).T,
        "w_hh": np.asarray(params["dense_h"]["kernel"]).T,
        "b_ih": np.zeros_like(b_hh),
        "b_hh": b_hh,
    }


def _write_fused(arrays: LayoutArrays, params: Any) -> Any:
    return {
        "dense_i": {"kernel": arrays["w_ih"].T},
        "dense_h": {"kernel": arrays["w_hh"].T, "bias": arrays["b_ih"] + arrays["b_hh"]},
    }


def nnx_optimized_lstm_cell(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> JaxCellAdapter:
    """flax.nnx.OptimizedLSTMCell: one (D, 4H) and one (H, 4H) kernel, columns i, f, g, o."""
    return _nnx_cell(
        nnx.OptimizedLSTMCell,
        input_size,
        hidden_size,
        dtype,
        _read_fused,
        _write_fused,
        "flax.nnx.OptimizedLSTMCell",
    )


@functools.partial(jax.jit, static_argnums=0)
def _linen_call(module: Any, params: Any, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
    (c_new, h_new), _ = module.apply({"params": params}, (c, h), x)
    return h_new, c_new


@functools.lru_cache(maxsize=64)
def _linen_template(cls: type, input_size: int, hidden_size: int, dtype: str) -> tuple[Any, Any]:
    module = cls(hidden_size, param_dtype=np.dtype(dtype))
    zeros = np.zeros((1, hidden_size), dtype)
    variables = module.init(jax.random.key(0), (zeros, zeros), np.zeros((1, input_size), dtype))
    return module, variables["params"]


def _linen_cell(
    cls: type, input_size: int, hidden_size: int, dtype: str, name: str
) -> JaxCellAdapter:
    backend = JaxBackend(dtype)
    module, params = _linen_template(cls, input_size, hidden_size, dtype)
    spec = CellSpec(input_size, hidden_size, hidden_size)
    return JaxCellAdapter(
        name,
        spec,
        backend,
        params,
        functools.partial(_linen_call, module),
        lambda p: _split_gates(p, "f"),
        _write_linen_gates,
    )


def linen_lstm_cell(input_size: int, hidden_size: int, dtype: str = "float32") -> JaxCellAdapter:
    """flax.linen.LSTMCell (parameters 'ii', 'if', ..., 'ho')."""
    return _linen_cell(linen.LSTMCell, input_size, hidden_size, dtype, "flax.linen.LSTMCell")


def linen_optimized_lstm_cell(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> JaxCellAdapter:
    """flax.linen.OptimizedLSTMCell: LSTMCell's parameters, concatenated before the matmul."""
    return _linen_cell(
        linen.OptimizedLSTMCell, input_size, hidden_size, dtype, "flax.linen.OptimizedLSTMCell"
    )
