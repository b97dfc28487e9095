"""TF 1's LSTMCell (tf.compat.v1.nn.rnn_cell.LSTMCell) as targets; see
lstm_props.adapters.tensorflow."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from lstm_props.adapters import _tf_grad
from lstm_props.adapters._protocol import CellAdapter, CellSpec
from lstm_props.adapters._tf_backend import TensorFlowBackend
from lstm_props.adapters._tf_block import _blocks
from lstm_props.maths.layout import LSTMParams


# -- TF 1's LSTMCell (tf.compat.v1.nn.rnn_cell.LSTMCell) ------------------------------------
def _rnn_cell_module() -> Any:
    """The module holding TF 1's LSTMCell and LSTMStateTuple.

    ``tf.compat.v1.nn.rnn_cell`` loads them from Keras 2 (the ``tf_keras`` package) when
    that is installed; with Keras 3 alone it fails to import, and the same classes are
    TensorFlow's own copy in tensorflow.python.keras (shipped with TF 2.x, frozen).
    """
    try:
        module = tf.compat.v1.nn.rnn_cell
        module.LSTMCell  # noqa: B018  (the lazy loader imports here)
        return module
    except (ImportError, AttributeError):
        from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl

        return rnn_cell_impl


#: The layout's gate k (i, f, g, o) is TF 1 LSTMCell's column block V1_FROM_TF[k] (i, j, f, o).
V1_FROM_TF = (0, 2, 1, 3)


class CompatV1LSTMCell(CellAdapter):
    """tf.compat.v1.nn.rnn_cell.LSTMCell, state (c, m) = (c, h). ``forget_bias`` (TF's
    default 1.0) and ``cell_clip`` read back as the layout's constants of the same names."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        peephole: bool = False,
        num_proj: int | None = None,
        forget_bias: float = 0.0,
        cell_clip: float | None = None,
        dtype: str = "float32",
    ) -> None:
        import warnings

        self.peephole, self.num_proj = peephole, num_proj
        self.forget_bias, self.cell_clip = forget_bias, cell_clip
        extras = [
            t
            for t, on in (
                ("use_peepholes", peephole),
                (f"num_proj={num_proj}", num_proj),
                (f"forget_bias={forget_bias:g}", forget_bias),
                (f"cell_clip={cell_clip}", cell_clip),
            )
            if on
        ]
        self.name = "tf.compat.v1.nn.rnn_cell.LSTMCell" + (
            f" ({', '.join(extras)})" if extras else ""
        )
        self.variant = "peephole" if peephole else "standard"
        out = hidden_size if num_proj is None else num_proj
        self.spec = CellSpec(input_size, hidden_size, out)
        self.backend = TensorFlowBackend(dtype)
        rnn = _rnn_cell_module()
        self._state = rnn.LSTMStateTuple
        with warnings.catch_warnings():  # "deprecated, use tf.keras.layers.LSTMCell"
            warnings.simplefilter("ignore")
            self.cell = rnn.LSTMCell(
                hidden_size,
                use_peepholes=peephole,
                num_proj=num_proj,
                forget_bias=forget_bias,
                cell_clip=cell_clip,
                dtype=self.backend.tf_dtype,
            )
            self.cell.build(tf.TensorShape([None, input_size]))
        self._vars = {
            "kernel": self.cell._kernel,
            "bias": self.cell._bias,
            **(
                {"p_i": self.cell._w_i_diag, "p_f": self.cell._w_f_diag, "p_o": self.cell._w_o_diag}
                if peephole
                else {}
            ),
            **({"proj": self.cell._proj_kernel} if num_proj is not None else {}),
        }

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        m, new = self.cell(x, self._state(c, h))
        return m, new.c

    def _layout(self, g: dict[str, np.ndarray], b_hh: np.ndarray | None) -> LSTMParams:
        d = self.spec.input_size
        rows = _blocks(g["kernel"].T, V1_FROM_TF)  # (4H, D + P), i f g o
        b = _blocks(g["bias"], V1_FROM_TF)
        return LSTMParams(
            rows[:, :d],
            rows[:, d:],
            b,
            np.zeros_like(b) if b_hh is None else b_hh,
            w_hr=g["proj"].T if "proj" in g else None,
            peephole=np.stack([g["p_i"], g["p_f"], g["p_o"]]) if self.peephole else None,
            forget_bias=self.forget_bias,
            cell_clip=self.cell_clip,
        )

    def read_layout(self) -> LSTMParams:
        return self._layout({k: self.backend.to_numpy(v) for k, v in self._vars.items()}, None)

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        if params.clip is not None:
            raise ValueError("TF 1's LSTMCell has no clamp of the gates' arguments")
        if (params.peephole is not None) != self.peephole:
            raise ValueError("peephole weights for a cell built without (or the reverse)")
        if (params.w_hr is not None) != (self.num_proj is not None):
            raise ValueError("a projection for a cell built without one (or the reverse)")
        values = {
            "kernel": _blocks(np.concatenate([params.w_ih, params.w_hh], 1), V1_FROM_TF).T,
            "bias": _blocks(params.b_ih + params.b_hh, V1_FROM_TF),
        }
        if params.peephole is not None:
            values.update(p_i=params.peephole[0], p_f=params.peephole[1], p_o=params.peephole[2])
        if params.w_hr is not None:
            values["proj"] = params.w_hr.T
        for name, value in values.items():
            self._vars[name].assign(np.asarray(value, self.backend.np_dtype))

    def parameter_vjp(
        self, run: Callable[[], Sequence[Any]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams:
        names, held = list(self._vars), list(self._vars.values())
        be = self.backend
        grads = _tf_grad.parameter_gradients(run, held, cotangents, be.asarray, self.name)
        g = {k: self.backend.to_numpy(d) for k, d in zip(names, grads)}
        # b_ih and b_hh both feed the one bias: both get its gradient.
        return self._layout(g, _blocks(g["bias"], V1_FROM_TF))

    def astype(self, dtype: str) -> CompatV1LSTMCell:
        spec = self.spec
        num_proj = None if self.num_proj is None else spec.output_size
        twin = CompatV1LSTMCell(
            spec.input_size,
            spec.hidden_size,
            peephole=self.peephole,
            num_proj=num_proj,
            forget_bias=self.forget_bias,
            cell_clip=self.cell_clip,
            dtype=dtype,
        )
        twin.write_layout(self.read_layout())
        return twin


def compat_v1_lstm_cell(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> CompatV1LSTMCell:
    """tf.compat.v1.nn.rnn_cell.LSTMCell, forget_bias=0.0, no cell clip."""
    return CompatV1LSTMCell(input_size, hidden_size, dtype=dtype)


def compat_v1_lstm_cell_peephole(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> CompatV1LSTMCell:
    """tf.compat.v1.nn.rnn_cell.LSTMCell(use_peepholes=True): the ``peephole`` variant."""
    return CompatV1LSTMCell(input_size, hidden_size, peephole=True, dtype=dtype)


def compat_v1_lstm_cell_proj(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> CompatV1LSTMCell:
    """tf.compat.v1.nn.rnn_cell.LSTMCell(num_proj=H // 2): h is (B, H // 2)."""
    return CompatV1LSTMCell(input_size, hidden_size, num_proj=hidden_size // 2, dtype=dtype)


def compat_v1_lstm_cell_clip(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> CompatV1LSTMCell:
    """tf.compat.v1.nn.rnn_cell.LSTMCell(forget_bias=1.0, cell_clip=1.0): TF's default forget
    bias, and c clamped to [−1, 1] (small enough that drawn states reach it)."""
    return CompatV1LSTMCell(input_size, hidden_size, forget_bias=1.0, cell_clip=1.0, dtype=dtype)


# num_proj = H // 2 needs H ≥ 2 (read by the loader).
compat_v1_lstm_cell_proj.min_hidden_size = 2  # type: ignore[attr-defined]
