"""Wiring a JAX LSTM cell of your own: the backend (derivatives from jax.vjp, many cotangent
rows at once by jax.vmap) and the adapter that takes the cell as functions.

    from lstm_props.adapters.jax import JaxBackend, JaxCellAdapter

    apply = jax.jit(lambda p, x, h, c: ...)            # (params, x, h, c) -> (h', c')
    read = lambda p: {"w_ih": ..., "w_hh": ..., "b_ih": ..., "b_hh": ...}  # the layout
    write = lambda a, p: {...}                         # layout arrays -> params (linear)

    def my_cell(input_size, hidden_size, dtype="float32"):
        params = ...                                   # your cell's own parameters
        return JaxCellAdapter("my cell", CellSpec(input_size, hidden_size, hidden_size),
                              JaxBackend(dtype), params, apply, read, write)

``apply`` and ``write`` are made once, not per cell: JAX caches what it compiles on the
function object (``apply``'s jit, and the jitted adjoint of ``write`` that carries parameter
gradients into the layout), so functions made per cell compile again for every case drawn.

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
