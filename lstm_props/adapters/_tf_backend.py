"""TensorFlowBackend: VJPs by tf.GradientTape (public as lstm_props.adapters.tensorflow)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from lstm_props.adapters import _tf_grad
from lstm_props.adapters._protocol import Backend


class TensorFlowBackend(Backend):
    """Eager tf.Tensors on the CPU; VJPs by tf.GradientTape, K rows over one kept forward."""

    autograd = True
    deterministic = True  # TF's CPU kernels on the small shapes the suite draws

    #: K cotangent rows over one forward (False: the Backend default, one forward and one
    #: backward per row; benchmarks/tensorflow_rows.py compares the ways).
    batch_rows: bool = True
    #: From this many rows on, one vectorized backward (tape.jacobian); below, one backward
    #: per row over the one kept forward (see vjp_rows).
    many_rows: int = 64

    def __init__(self, dtype: str = "float32") -> None:
        self.dtype = dtype

    @property
    def tf_dtype(self) -> tf.DType:
        return tf.float32 if self.dtype == "float32" else tf.float64

    def asarray(self, a: np.ndarray) -> tf.Tensor:
        return tf.constant(np.asarray(a, dtype=self.np_dtype))

    def to_numpy(self, a: Any) -> np.ndarray:
        # .numpy(): NumPy 2 warns on a tf.Tensor's own __array__ (no copy keyword)
        return np.array(a.numpy() if hasattr(a, "numpy") else a, dtype=np.float64)

    def stop_gradient(self, a: Any) -> Any:
        return tf.stop_gradient(a)

    def vjp(
        self,
        fn: Callable[..., Sequence[Any]],
        primals: Sequence[np.ndarray],
        cotangents: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        xs = [self.asarray(p) for p in primals]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            outs = list(fn(*xs))
        pairs = list(zip(outs, cotangents))
        grads = tape.gradient(
            [o for o, _ in pairs],
            xs,
            output_gradients=[self.asarray(u) for _, u in pairs],
            unconnected_gradients=tf.UnconnectedGradients.NONE,
        )
        grads = _tf_grad.reached(grads, xs, self._rerun(fn, xs), outs, "the backward")
        return tuple(self.to_numpy(g) for g in grads)

    @staticmethod
    def _rerun(fn: Callable[..., Sequence[Any]], xs: list[Any]) -> Any:
        """``outputs_with`` for primals: ``fn`` again with primal j replaced."""

        def outputs_with(j: int, shifted: Any) -> Sequence[Any]:
            return list(fn(*(shifted if i == j else x for i, x in enumerate(xs))))

        return outputs_with

    def vjp_rows(
        self,
        fn: Callable[..., Sequence[Any]],
        primals: Sequence[np.ndarray],
        cotangent_rows: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        # One forward, kept on a persistent tape. Many rows: the K rows ū_kᵀ ∂out/∂x are
        # the Jacobian of the K-vector t_k = Σ_j <ū_kj, out_j>, whose backward seeds out_j
        # with ū_kj exactly (the derivative of a product by a constant), and tape.jacobian
        # vectorizes that backward over k (pfor). pfor traces a tf.function on every call
        # (~0.2 s for a Keras LSTMCell on 2 cores), while one eager backward costs ~2 ms:
        # below ``many_rows`` rows the K backwards over the kept tape are faster, and that is
        # what the suite's draws ask for (10 rows a call on average in a whole-suite run).
        k = len(cotangent_rows[0])
        if k == 1 or not self.batch_rows:
            return super().vjp_rows(fn, primals, cotangent_rows)
        xs = [self.asarray(p) for p in primals]
        with tf.GradientTape(persistent=k < self.many_rows) as tape:
            tape.watch(xs)
            outs = list(fn(*xs))
            if k >= self.many_rows:
                t = tf.add_n(
                    [
                        tf.linalg.matvec(self.asarray(np.reshape(u, (k, -1))), tf.reshape(o, (-1,)))
                        for o, u in zip(outs, cotangent_rows)
                    ]
                )
        rerun = self._rerun(fn, xs)
        if k >= self.many_rows:
            rows = tape.jacobian(t, xs, unconnected_gradients=tf.UnconnectedGradients.NONE)
            _tf_grad.reached(rows, xs, rerun, outs, "the backward")  # a lost path raises
            rows = [tf.zeros((k, *x.shape), x.dtype) if g is None else g for g, x in zip(rows, xs)]
            return tuple(self.to_numpy(g) for g in rows)
        pairs = list(zip(outs, cotangent_rows))
        per_row = [
            _tf_grad.reached(
                tape.gradient(
                    [o for o, _ in pairs],
                    xs,
                    output_gradients=[self.asarray(u[i]) for _, u in pairs],
                    unconnected_gradients=tf.UnconnectedGradients.NONE,
                ),
                xs,
                rerun,
                outs,
                "the backward",
            )
            for i in range(k)
        ]
        del tape
        return tuple(np.stack([self.to_numpy(r[j]) for r in per_row]) for j in range(len(primals)))
