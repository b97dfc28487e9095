"""Haiku target: hk.LSTM.

    lstm-props check lstm_props.adapters.haiku:lstm [--dtype float64]

Haiku's LSTM (haiku/_src/recurrent.py) is one ``hk.Linear(4H)`` over the concatenation
[x, h]: w (D + H, 4H), b (4H,), its columns split into the gates in the order i, g, f, o,
and ``f = σ(z_f + 1)`` ("Forget bias, as in sonnet"): a constant inside the kernel, read as
the layout's ``forget_bias = 1``, so the oracle and the error model add it too. The one bias
reads as b_ih = b, b_hh = 0 and is written b_ih + b_hh. The state is ``hk.LSTMState(hidden,
cell)``; the function is transformed once per size (``hk.without_apply_rng``) and jitted.
Derivatives from jax.vjp.
"""

from __future__ import annotations

import functools
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from lstm_props.adapters._protocol import CellSpec
from lstm_props.adapters.jax import JaxBackend, JaxCellAdapter, LayoutArrays

#: Layout gate k (i, f, g, o) is Haiku's column block _FROM_HAIKU[k] (Haiku: i, g, f, o).
_FROM_HAIKU = (0, 2, 1, 3)
#: Haiku adds this to the forget pre-activation.
HAIKU_FORGET_BIAS = 1.0
_LINEAR = "lstm/linear"


def _blocks(a: Any, hidden: int, order: tuple[int, ...]) -> Any:
    """The last axis's H-wide blocks in ``order``."""
    parts = [a[..., k * hidden : (k + 1) * hidden] for k in order]
    return jnp.concatenate(parts, -1) if isinstance(a, jax.Array) else np.concatenate(parts, -1)


def _reader(input_size: int, hidden: int) -> Any:
    def read(params: Any) -> LayoutArrays:
        w, b = np.asarray(params[_LINEAR]["w"]), np.asarray(params[_LINEAR]["b"])
        w = _blocks(w, hidden, _FROM_HAIKU).T  # (4H, D + H), layout rows
        b = _blocks(b, hidden, _FROM_HAIKU)
        return {"w_ih": w[:, :input_size], "w_hh": w[:, input_size:], "b_ih": b, "b_hh": 0 * b}

    return read


@functools.lru_cache(maxsize=64)  # one function a size: its jitted adjoint is cached on it
def _writer(hidden: int) -> Any:
    # Haiku's block k is layout block _FROM_HAIKU[k] (the permutation is its own inverse)
    def write(arrays: LayoutArrays, params: Any) -> Any:
        cat = jnp.concatenate if isinstance(arrays["w_ih"], jax.Array) else np.concatenate
        w = cat([arrays["w_ih"], arrays["w_hh"]], 1).T  # (D + H, 4H), layout columns
        b = arrays["b_ih"] + arrays["b_hh"]
        return {
            _LINEAR: {"w": _blocks(w, hidden, _FROM_HAIKU), "b": _blocks(b, hidden, _FROM_HAIKU)}
        }

    return write


@functools.lru_cache(maxsize=64)
def _transformed(hidden_size: int) -> tuple[Any, Any]:
    def forward(x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        _, state = hk.LSTM(hidden_size)(x, hk.LSTMState(hidden=h, cell=c))
        return state.hidden, state.cell

    # Any: haiku's stubs type without_apply_rng's result as the union of both transforms
    model: Any = hk.without_apply_rng(hk.transform(forward))
    return model, jax.jit(model.apply)


@functools.lru_cache(maxsize=64)
def _initial_params(input_size: int, hidden_size: int, dtype: str) -> Any:
    # Haiku's own initialisers, jitted: run eagerly they compile an XLA program per op and
    # per drawn size. NumPy leaves, so a cached tree is never shared as device buffers.
    model, _ = _transformed(hidden_size)
    zeros = [np.zeros((1, n), dtype) for n in (input_size, hidden_size, hidden_size)]
    params = jax.jit(model.init)(jax.random.PRNGKey(0), *zeros)
    return jax.tree.map(np.asarray, params)


def lstm(input_size: int, hidden_size: int, dtype: str = "float32") -> JaxCellAdapter:
    """haiku.LSTM(hidden_size), called on x (B, D) and LSTMState(h, c)."""
    backend = JaxBackend(dtype)
    _, apply = _transformed(hidden_size)
    params = _initial_params(input_size, hidden_size, dtype)
    spec = CellSpec(input_size, hidden_size, hidden_size)
    return JaxCellAdapter(
        "haiku.LSTM",
        spec,
        backend,
        params,
        apply,
        _reader(input_size, hidden_size),
        _writer(hidden_size),
        forget_bias=HAIKU_FORGET_BIAS,
    )
