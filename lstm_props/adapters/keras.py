"""Keras 3 targets: keras.layers.LSTMCell on the torch, jax and tensorflow backends.

    lstm-props check lstm_props.adapters.keras:lstm_cell_torch [--dtype float64]
    lstm-props check lstm_props.adapters.keras:lstm_cell_jax
    lstm-props check lstm_props.adapters.keras:lstm_cell_tensorflow

    lstm-props check lstm_props.adapters.keras:lstm_cell             # on $KERAS_BACKEND

Keras picks its backend once per process, from KERAS_BACKEND when it is first imported.
``lstm_cell`` honours it: it is the target of the backend the user chose (KERAS_BACKEND,
else Keras' own default). Each named target sets KERAS_BACKEND if Keras is not imported
yet and the user has not set it; a user's KERAS_BACKEND naming another backend, or Keras
already running on one, is refused in one line.

The layout: kernel (D, 4H) and recurrent_kernel (H, 4H) hold the gates in columns, in the
order i, f, c, o (c is torch's g), the transposes of torch's weight_ih and weight_hh; one
bias (4H,), read as b_ih = bias, b_hh = 0, written b_ih + b_hh. States are [h, c], as
torch's. Derivatives come from the backend's own autodiff:
torch.autograd on torch, jax.vjp over ``stateless_call`` on jax, tf.GradientTape on
tensorflow (lstm_props.adapters.tensorflow's backend).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lstm_props.adapters._protocol import CellAdapter, CellSpec
from lstm_props.maths.layout import LSTMParams

if TYPE_CHECKING:  # imported where used: the torch target never imports jax
    from lstm_props.adapters._jax import JaxCellAdapter
    from lstm_props.adapters.tensorflow import TensorFlowBackend

_WEIGHTS = ("kernel", "recurrent_kernel", "bias")


#: The backends a Keras target covers -> the target of each.
BACKENDS = ("torch", "jax", "tensorflow")


def _keras(backend: str) -> Any:
    """Keras on ``backend``: set for this process if Keras is not imported yet, unless the
    user set KERAS_BACKEND to another one (then one line, and the ways out)."""
    if "keras" not in sys.modules:
        chosen = os.environ.get("KERAS_BACKEND")
        if chosen and chosen != backend:
            raise ValueError(
                f"KERAS_BACKEND={chosen} is set but this target is Keras on {backend}: "
                f"name lstm_props.adapters.keras:lstm_cell to check Keras on {chosen}, or "
                f"unset KERAS_BACKEND (or set it to {backend}) to check this one"
            )
        os.environ["KERAS_BACKEND"] = backend
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(
            f"Keras is running on its {keras.backend.backend()!r} backend in this process; "
            f"check the {backend} target in a process of its own (KERAS_BACKEND={backend})"
        )
    return keras


def _read(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    bias = np.asarray(weights["bias"])
    return {
        "w_ih": np.asarray(weights["kernel"]).T,
        "w_hh": np.asarray(weights["recurrent_kernel"]).T,
        "b_ih": bias,
        "b_hh": np.zeros_like(bias),
    }


def _write(arrays: dict[str, Any], weights: Any = None) -> dict[str, Any]:
    return {
        "kernel": arrays["w_ih"].T,
        "recurrent_kernel": arrays["w_hh"].T,
        "bias": arrays["b_ih"] + arrays["b_hh"],
    }


@functools.lru_cache(maxsize=64)
def _template(backend: str, input_size: int, hidden_size: int, dtype: str) -> Any:
    keras = _keras(backend)
    cell = keras.layers.LSTMCell(hidden_size, dtype=dtype)
    cell.build((None, input_size))
    return cell


def user_backend() -> str:
    """The backend Keras runs on in this process: the one it was imported with, else the
    user's KERAS_BACKEND, else Keras' own choice (its keras.json, else tensorflow)."""
    if "keras" in sys.modules or not os.environ.get("KERAS_BACKEND"):
        import keras

        return str(keras.backend.backend())
    return os.environ["KERAS_BACKEND"]


def lstm_cell(input_size: int, hidden_size: int, dtype: str = "float32") -> CellAdapter:
    """keras.layers.LSTMCell on the user's Keras backend (KERAS_BACKEND, as Keras reads it):
    the target of that backend, lstm_cell_torch, lstm_cell_jax or lstm_cell_tensorflow."""
    backend = user_backend()
    makers: dict[str, Callable[[int, int, str], CellAdapter]] = {
        "torch": lstm_cell_torch,
        "jax": lstm_cell_jax,
        "tensorflow": lstm_cell_tensorflow,
    }
    if backend not in makers:
        raise ValueError(
            f"Keras runs on its {backend!r} backend (KERAS_BACKEND): the Keras targets "
            f"cover {', '.join(BACKENDS)}; set KERAS_BACKEND to one of them"
        )
    return makers[backend](input_size, hidden_size, dtype)


# -- the torch backend: a stateful cell whose variables are torch Parameters ---------------
class _KerasCell(CellAdapter):
    """keras.layers.LSTMCell on one backend: called with [h, c], its layout the three weights
    kernel, recurrent_kernel and bias."""

    cell: Any

    def _variables(self) -> dict[str, Any]:
        """Each weight as the backend's own tensor (a torch tensor, a tf.Variable)."""
        return {name: getattr(self.cell, name).value for name in _WEIGHTS}

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        _, (h_new, c_new) = self.cell(x, [h, c], training=False)
        return h_new, c_new

    def read_layout(self) -> LSTMParams:
        host = {k: self.backend.to_numpy(v) for k, v in self._variables().items()}
        # Any: mypy checks a ** mapping's values against every field (the clip included).
        fields: dict[str, Any] = _read(host)
        return LSTMParams(**fields)

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        arrays = {k: getattr(params, k) for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
        for name, value in _write(arrays).items():
            getattr(self.cell, name).assign(np.asarray(value, self.backend.np_dtype))

    @staticmethod
    def _in_layout(g: dict[str, np.ndarray]) -> LSTMParams:
        """The three weights' gradients in the layout: b_ih and b_hh both feed the one bias,
        so both get its gradient."""
        return LSTMParams(g["kernel"].T, g["recurrent_kernel"].T, g["bias"], g["bias"])


class KerasTorchCell(_KerasCell):
    """keras.layers.LSTMCell on Keras' torch backend; VJPs by torch.autograd."""

    def __init__(self, input_size: int, hidden_size: int, dtype: str) -> None:
        from lstm_props.adapters._torch import TorchBackend

        keras = _keras("torch")
        self.name = "keras.layers.LSTMCell (torch backend)"
        self.spec = CellSpec(input_size, hidden_size, hidden_size)
        self.backend = TorchBackend(dtype)
        self.cell = keras.layers.LSTMCell(hidden_size, dtype=dtype)
        self.cell.build((None, input_size))

    def parameter_vjp(
        self, run: Callable[[], Sequence[Any]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams:
        import torch

        from lstm_props.adapters import _torch_grad

        tensors = list(self._variables().values())
        with torch.enable_grad():
            outs = list(run())
        pairs = [(o, self.backend.asarray(u)) for o, u in zip(outs, cotangents) if o.requires_grad]
        grads = _torch_grad.grad(self.name, [o for o, _ in pairs], tensors, [u for _, u in pairs])
        # a gradient torch lost is a fault, not a zero; one truly unused is zero
        _torch_grad.check_reached(self.name, grads, tensors, list(_WEIGHTS), lambda: list(run()))
        g = {
            k: np.zeros(tuple(t.shape)) if d is None else self.backend.to_numpy(d)
            for k, t, d in zip(_WEIGHTS, tensors, grads)
        }
        return self._in_layout(g)

    def astype(self, dtype: str) -> KerasTorchCell:
        clone = KerasTorchCell(self.spec.input_size, self.spec.hidden_size, dtype)
        clone.write_layout(self.read_layout())
        return clone


def lstm_cell_torch(input_size: int, hidden_size: int, dtype: str = "float32") -> KerasTorchCell:
    """keras.layers.LSTMCell with KERAS_BACKEND=torch."""
    return KerasTorchCell(input_size, hidden_size, dtype)


# -- the tensorflow backend: a stateful cell whose variables are tf.Variables ---------------
class KerasTensorFlowCell(_KerasCell):
    """keras.layers.LSTMCell on Keras' tensorflow backend; VJPs by tf.GradientTape.

    Keras computes a float64 cell in float64 on this backend (its result_type keeps float64
    here, unlike torch's and jax's): the float64 twin is a true one.
    """

    backend: TensorFlowBackend

    def __init__(self, input_size: int, hidden_size: int, dtype: str) -> None:
        keras = _keras("tensorflow")
        from lstm_props.adapters.tensorflow import TensorFlowBackend

        self.name = "keras.layers.LSTMCell (tensorflow backend)"
        self.spec = CellSpec(input_size, hidden_size, hidden_size)
        self.backend = TensorFlowBackend(dtype)
        # Seeded: unseeded, the initializers and the dropout SeedGenerator draw their seeds
        # from Python's `random`, inside the suite's Hypothesis strategy (a
        # HypothesisDeprecationWarning per draw); every draw overwrites the weights anyway.
        init = keras.initializers
        self.cell = keras.layers.LSTMCell(
            hidden_size,
            dtype=dtype,
            seed=0,
            kernel_initializer=init.GlorotUniform(seed=0),
            recurrent_initializer=init.Orthogonal(seed=1),
        )
        self.cell.build((None, input_size))

    def parameter_vjp(
        self, run: Callable[[], Sequence[Any]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams:
        from lstm_props.adapters import _tf_grad

        held = list(self._variables().values())
        be = self.backend
        grads = _tf_grad.parameter_gradients(run, held, cotangents, be.asarray, self.name)
        g = {k: self.backend.to_numpy(d) for k, d in zip(_WEIGHTS, grads)}
        return self._in_layout(g)

    def astype(self, dtype: str) -> KerasTensorFlowCell:
        clone = KerasTensorFlowCell(self.spec.input_size, self.spec.hidden_size, dtype)
        clone.write_layout(self.read_layout())
        return clone


def lstm_cell_tensorflow(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> KerasTensorFlowCell:
    """keras.layers.LSTMCell with KERAS_BACKEND=tensorflow (pip install tensorflow-cpu)."""
    return KerasTensorFlowCell(input_size, hidden_size, dtype)


# -- the jax backend: the pure stateless_call under JaxCellAdapter -------------------------
def lstm_cell_jax(input_size: int, hidden_size: int, dtype: str = "float32") -> JaxCellAdapter:
    """keras.layers.LSTMCell with KERAS_BACKEND=jax, called through ``stateless_call``."""
    _keras("jax")
    from lstm_props.adapters._jax import JaxBackend, JaxCellAdapter

    class KerasJaxCell(JaxCellAdapter):
        def astype(self, dtype: str) -> JaxCellAdapter:
            # A Keras layer computes in its own dtype policy, casting float64 weights and
            # inputs down: another precision is another layer.
            clone = lstm_cell_jax(input_size, hidden_size, dtype)
            clone.write_layout(self.read_layout())
            return clone

    backend = JaxBackend(dtype)
    cell = _template("jax", input_size, hidden_size, dtype)
    call = _jitted_stateless_call(cell)
    seeds = [v.value for v in cell.non_trainable_variables]  # dropout's seed state

    def apply(params: Any, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        return call([params[k] for k in _WEIGHTS], seeds, x, h, c)

    params = {k: np.asarray(getattr(cell, k).value) for k in _WEIGHTS}
    spec = CellSpec(input_size, hidden_size, hidden_size)
    return KerasJaxCell(
        "keras.layers.LSTMCell (jax backend)", spec, backend, params, apply, _read, _write
    )


@functools.lru_cache(maxsize=64)
def _jitted_stateless_call(cell: Any) -> Callable[..., tuple[Any, Any]]:
    import jax

    def call(trainable: list[Any], seeds: list[Any], x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        (_, (h_new, c_new)), _ = cell.stateless_call(trainable, seeds, x, [h, c], training=False)
        return h_new, c_new

    return jax.jit(call)
