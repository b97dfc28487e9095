"""A Backend of NumPy arrays without autograd: inference runtimes (ONNX Runtime, OpenVINO)
take and return NumPy arrays in the model's element type."""

from __future__ import annotations

import numpy as np

from lstm_props.adapters._protocol import Backend


class NumpyBackend(Backend):
    """NumPy arrays in the run's precision; no autograd. Deterministic: the runtimes are
    built with one thread, so a call's summation order is fixed."""

    autograd = False
    deterministic = True

    def __init__(self, dtype: str = "float32") -> None:
        self.dtype = dtype

    def asarray(self, a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=self.np_dtype)

    def to_numpy(self, a: np.ndarray) -> np.ndarray:
        return np.array(a, dtype=np.float64)
