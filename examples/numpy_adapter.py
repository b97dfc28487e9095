"""A framework-neutral adapter: an LSTM written in NumPy, with no autograd at all.

    pytest properties --lstm-adapter examples/numpy_adapter.py:make_adapter

The forward-only properties run (affine-in-c, values against the reference); every property
that needs a backward is skipped with the reason. A JAX, Keras or ONNX Runtime adapter has
the same shape: a Backend for its arrays (plus vjp if it has autograd) and a CellAdapter.
"""

from __future__ import annotations

import numpy as np

from lstm_props import Backend, CellAdapter, CellSpec, LSTMParams


class NumpyBackend(Backend):
    autograd = False

    def __init__(self, dtype: str = "float32") -> None:
        self.dtype = dtype

    def asarray(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=self.np_dtype)

    def to_numpy(self, a: np.ndarray) -> np.ndarray:
        return np.array(a, dtype=np.float64)


class NumpyLSTMCell(CellAdapter):
    """Gate order i, f, g, o; parameters held in the documented layout."""

    def __init__(self, input_size: int = 3, hidden_size: int = 5, dtype: str = "float32"):
        rng = np.random.default_rng(0)
        self.name = "numpy LSTM"
        self.spec = CellSpec(input_size, hidden_size, hidden_size)
        self.backend = NumpyBackend(dtype)
        self.params = LSTMParams(
            rng.normal(size=(4 * hidden_size, input_size)) * 0.3,
            rng.normal(size=(4 * hidden_size, hidden_size)) * 0.3,
            np.zeros(4 * hidden_size),
            np.zeros(4 * hidden_size),
        ).astype(self.backend.np_dtype)

    def step(self, x, h, c):
        p, dt = self.params, self.backend.np_dtype
        z = (
            x @ p.w_ih.T.astype(dt)
            + p.b_ih.astype(dt)
            + h @ p.w_hh.T.astype(dt)
            + p.b_hh.astype(dt)
        )
        i, f, g, o = np.split(z, 4, axis=1)
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        c_new = sig(f) * c + sig(i) * np.tanh(g)
        return sig(o) * np.tanh(c_new), c_new

    def read_layout(self) -> LSTMParams:
        return self.params

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        self.params = params


def make_adapter(dtype: str = "float32") -> NumpyLSTMCell:
    """A factory that takes ``dtype`` is handed the run's (--lstm-dtype)."""
    return NumpyLSTMCell(dtype=dtype)
