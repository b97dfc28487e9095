"""JAX: a Backend on jax.vjp, and one adapter for every pure-function JAX LSTM cell.

Flax (nnx, linen), Equinox and Haiku cells differ only in how their parameters are stored
and how they are called; :class:`JaxCellAdapter` takes both as functions, so each framework
module (:mod:`lstm_props.adapters.flax`, :mod:`lstm_props.adapters.equinox`,
:mod:`lstm_props.adapters.haiku`) is a few mappings. Public as :mod:`lstm_props.adapters.jax`.
Derivatives come from JAX's own autodiff, never from converting to torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec
from lstm_props.maths.layout import LSTMParams

#: The layout as a dict of arrays (what a write function reads; JAX can trace through it).
LayoutArrays = dict[str, Any]
#: framework params -> the layout (float64 NumPy is fine: it is only read).
ReadLayout = Callable[[Any], LayoutArrays]
#: (layout arrays, framework params) -> new framework params; must be jnp-traceable and
#: linear in the layout arrays, so its VJP maps parameter gradients into the layout.
WriteLayout = Callable[[LayoutArrays, Any], Any]
#: (framework params, x (B, D), h (B, P), c (B, H)) -> (h', c'), a pure function.
Apply = Callable[[Any, Any, Any, Any], tuple[Any, Any]]

_LAYOUT_FIELDS = ("w_ih", "w_hh", "b_ih", "b_hh")


class JaxBackend(Backend):
    """jnp arrays on one JAX device; VJPs by jax.vjp, many rows at once by jax.vmap."""

    autograd = True
    deterministic = True  # XLA's CPU kernels; a GPU run reorders no reduction per call

    def __init__(self, dtype: str = "float32", device: str = "cpu") -> None:
        if dtype == "float64":  # JAX silently computes float64 requests in float32 without it
            jax.config.update("jax_enable_x64", True)
        self.dtype, self.device = dtype, device
        self._device = jax.devices("gpu" if device.startswith("cuda") else device)[0]

    def asarray(self, a: np.ndarray) -> jax.Array:
        return jax.device_put(np.asarray(a, dtype=self.np_dtype), self._device)

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.array(a, dtype=np.float64)

    def is_concrete(self, a: Any) -> bool:
        return not isinstance(a, jax.core.Tracer)

    def _pullback(
        self, fn: Callable[..., Sequence[Any]], primals: Sequence[np.ndarray]
    ) -> tuple[list[Any], Callable[..., Any]]:
        outs, pullback = jax.vjp(lambda *a: tuple(fn(*a)), *(self.asarray(p) for p in primals))
        return list(outs), pullback

    def _cotangents(
        self, outs: Sequence[Any], given: Sequence[np.ndarray], lead: tuple[int, ...] = ()
    ) -> tuple[Any, ...]:
        # jax.vjp needs a cotangent for every output: missing ones are zero. Built in NumPy:
        # an eager jnp op would compile once for every shape the suite draws.
        return tuple(
            self.asarray(given[k] if k < len(given) else np.zeros(lead + o.shape))
            for k, o in enumerate(outs)
        )

    def vjp(
        self,
        fn: Callable[..., Sequence[Any]],
        primals: Sequence[np.ndarray],
        cotangents: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        outs, pullback = self._pullback(fn, primals)
        return tuple(self.to_numpy(g) for g in pullback(self._cotangents(outs, cotangents)))

    def vjp_rows(
        self,
        fn: Callable[..., Sequence[Any]],
        primals: Sequence[np.ndarray],
        cotangent_rows: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        outs, pullback = self._pullback(fn, primals)
        k = len(cotangent_rows[0])
        rows = jax.vmap(pullback)(self._cotangents(outs, cotangent_rows, (k,)))
        return tuple(self.to_numpy(g) for g in rows)

    def stop_gradient(self, a: Any) -> Any:
        return jax.lax.stop_gradient(a)


class JaxCellAdapter(CellAdapter):
    """A JAX LSTM cell given as ``apply(params, x, h, c) -> (h', c')`` over its own params.

    ``read`` and ``write`` map the framework's parameters to and from the documented layout
    (gate order i, f, g, o in rows; W (4H, ·), the transpose of a Dense kernel). A framework
    with one bias reads as b_ih = bias, b_hh = 0 and writes b_ih + b_hh.
    """

    backend: JaxBackend

    def __init__(
        self,
        name: str,
        spec: CellSpec,
        backend: JaxBackend,
        params: Any,
        apply: Apply,
        read: ReadLayout,
        write: WriteLayout,
        forget_bias: float = 0.0,
    ) -> None:
        self.name, self.spec, self.backend = name, spec, backend
        #: a constant the cell adds to z_f itself (Haiku's +1): LSTMParams.forget_bias
        self.forget_bias = forget_bias
        # ``apply`` should call a jitted function shared by every cell of the same framework
        # and config: eager JAX dispatches op by op (~30 ms a Flax step), and a jit made per
        # instance would compile again for every example the suite draws.
        self._apply, self._read, self._write = apply, read, write
        self.params = jax.tree.map(lambda a: backend.asarray(np.asarray(a)), params)

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        return self._apply(self.params, x, h, c)

    def read_layout(self) -> LSTMParams:
        arrays = self._read(jax.tree.map(self.backend.to_numpy, self.params))
        # Any: mypy checks a ** mapping's values against every field (the clip included).
        fields: dict[str, Any] = {k: np.asarray(arrays[k], np.float64) for k in _LAYOUT_FIELDS}
        return LSTMParams(**fields, forget_bias=self.forget_bias)

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        # ``write`` is NumPy-and-jnp generic (+, .T, slices): run in NumPy, then convert once.
        arrays: LayoutArrays = {
            k: np.asarray(getattr(params, k), self.backend.np_dtype) for k in _LAYOUT_FIELDS
        }
        host = jax.tree.map(np.asarray, self.params)
        self.params = jax.tree.map(self.backend.asarray, self._write(arrays, host))

    def parameter_vjp(
        self, run: Callable[[], Sequence[Any]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams:
        def outputs_of(params: Any) -> tuple[Any, ...]:
            # `run` calls self.step, which reads self.params: trace through it with these.
            saved, self.params = self.params, params
            try:
                return tuple(run())
            finally:
                self.params = saved

        outs, pullback = jax.vjp(outputs_of, self.params)
        (grads,) = pullback(self.backend._cotangents(outs, cotangents))
        # The adjoint of `write` carries the framework's gradients into the layout (a fused
        # bias's gradient reaches both b_ih and b_hh, as a finite difference of either sees).
        layout = {
            k: self.backend.asarray(np.zeros(np.shape(v)))
            for k, v in self._read(jax.tree.map(np.asarray, self.params)).items()
            if k in _LAYOUT_FIELDS
        }
        in_layout = _write_adjoint(self._write, layout, self.params, grads)
        fields: dict[str, Any] = {  # Any: see read_layout
            k: self.backend.to_numpy(in_layout[k]) for k in _LAYOUT_FIELDS
        }
        return LSTMParams(**fields)

    def astype(self, dtype: str) -> JaxCellAdapter:
        backend = JaxBackend(dtype, self.backend.device)
        params = jax.tree.map(self.backend.to_numpy, self.params)
        return JaxCellAdapter(
            self.name,
            self.spec,
            backend,
            params,
            self._apply,
            self._read,
            self._write,
            self.forget_bias,
        )


def _write_adjoint_eager(write: WriteLayout, layout: LayoutArrays, params: Any, grads: Any) -> Any:
    _, adjoint = jax.vjp(lambda a: write(a, params), layout)
    (in_layout,) = adjoint(grads)
    return in_layout


# Jitted: run eagerly, the transpose of write's slices and concatenations compiles an XLA
# program per op and per drawn shape (a dozen a case); keyed on the write function, which
# each framework module defines once.
_write_adjoint_jitted = jax.jit(_write_adjoint_eager, static_argnums=0)


def _write_adjoint(write: WriteLayout, layout: LayoutArrays, params: Any, grads: Any) -> Any:
    try:
        hash(write)
    except TypeError:  # a callable object without __hash__ cannot key jit's cache
        return _write_adjoint_eager(write, layout, params, grads)
    return _write_adjoint_jitted(write, layout, params, grads)


def gate_blocks(w: Any, hidden: int) -> list[Any]:
    """Split a (4H, ·) or (4H,) array into its i, f, g, o blocks."""
    return [w[k * hidden : (k + 1) * hidden] for k in range(4)]
