"""Wiring a JAX LSTM cell of your own: the backend (derivatives from jax.vjp, many cotangent
rows at once by jax.vmap) and the adapter that takes the cell as functions.

    from lstm_props.adapters.jax import JaxBackend, JaxCellAdapter

    def my_cell(input_size, hidden_size, dtype="float32"):
        params = ...                                   # your cell's own parameters
        apply = jax.jit(lambda p, x, h, c: ...)        # (params, x, h, c) -> (h', c')
        read = lambda p: {"w_ih": ..., "w_hh": ..., "b_ih": ..., "b_hh": ...}  # the layout
        write = lambda a, p: {...}                     # layout arrays -> params (linear)
        return JaxCellAdapter("my cell", CellSpec(input_size, hidden_size, hidden_size),
                              JaxBackend(dtype), params, apply, read, write)

lstm_props.adapters.flax, .equinox and .haiku are each written this way.
"""

from lstm_props.adapters._jax import (
    Apply,
    JaxBackend,
    JaxCellAdapter,
    LayoutArrays,
    ReadLayout,
    WriteLayout,
    gate_blocks,
)

__all__ = [
    "Apply",
    "JaxBackend",
    "JaxCellAdapter",
    "LayoutArrays",
    "ReadLayout",
    "WriteLayout",
    "gate_blocks",
]
