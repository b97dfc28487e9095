"""JAX adapters with one mapping mistake each, of the kinds that ship in real adapters: the
suite must fail on every one (tests/test_frameworks.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_props.adapters import equinox, flax
from lstm_props.adapters._jax import JaxCellAdapter


def equinox_h_and_c_swapped(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> JaxCellAdapter:
    """Equinox's state is (h, c); this adapter hands the cell (c, h)."""
    cell = equinox.lstm_cell(input_size, hidden_size, dtype)
    right = cell._apply

    def apply(params: Any, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        h_new, c_new = right(params, x, c, h)
        return c_new, h_new

    cell._apply = apply
    return cell


def flax_gates_read_in_keras_order(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> JaxCellAdapter:
    """The fused kernel's columns read as i, f, o, g (a mix-up with another framework's
    order) instead of Flax's i, f, g, o."""
    cell = flax.nnx_optimized_lstm_cell(input_size, hidden_size, dtype)
    read, write = cell._read, cell._write
    order = np.r_[0:2, 3, 2] * hidden_size

    def permute(a: Any) -> Any:
        return np.concatenate([a[k : k + hidden_size] for k in order])

    cell._read = lambda p: {k: permute(np.asarray(v)) for k, v in read(p).items()}
    cell._write = lambda a, p: write({k: permute(v) for k, v in a.items()}, p)
    return cell


def flax_carry_read_as_h_c(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> JaxCellAdapter:
    """Flax's carry is (c, h), returned as (c', h'); this adapter takes it as (h, c)."""
    cell = flax.nnx_lstm_cell(input_size, hidden_size, dtype)
    right = cell._apply

    def apply(params: Any, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        return right(params, x, c, h)[::-1]

    cell._apply = apply
    return cell


def haiku_forget_bias_left_out(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> JaxCellAdapter:
    """Haiku's kernel adds 1 to z_f; this adapter does not say so (forget_bias 0)."""
    from lstm_props.adapters import haiku

    cell = haiku.lstm(input_size, hidden_size, dtype)
    cell.forget_bias = 0.0
    return cell


def haiku_gates_read_in_torch_order(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> JaxCellAdapter:
    """Haiku's columns i, g, f, o read as torch's i, f, g, o."""
    from lstm_props.adapters import haiku

    cell = haiku.lstm(input_size, hidden_size, dtype)
    read, write = cell._read, cell._write
    order = np.r_[0, 2, 1, 3] * hidden_size  # swaps the f and g blocks back

    def permute(a: Any) -> Any:
        return np.concatenate([a[k : k + hidden_size] for k in order])

    cell._read = lambda p: {k: permute(np.asarray(v)) for k, v in read(p).items()}
    cell._write = lambda a, p: write({k: permute(v) for k, v in a.items()}, p)
    return cell
