"""TensorFlow's fused block kernels (LSTMBlockCell, BlockLSTM, BlockLSTMV2) as targets;
see lstm_props.adapters.tensorflow."""

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
from lstm_props.maths.layout import LSTMParams

KERNELS = ("LSTMBlockCell", "BlockLSTM", "BlockLSTMV2")
#: The layout's gate k (i, f, g, o) is TF column block FROM_TF[kernel][k]; each is its own
#: inverse.
FROM_TF = {"LSTMBlockCell": (0, 2, 1, 3), "BlockLSTM": (0, 2, 1, 3), "BlockLSTMV2": (0, 1, 2, 3)}


# -- TF 1's LSTMBlockCell gradient (gone with tf.contrib) -----------------------------
def _lstm_block_cell_grad(op: Any, *grads: Any) -> tuple[Any, ...]:
    """TF 1.x's registered gradient of LSTMBlockCell (tf.contrib.rnn's _LSTMBlockCellGrad)."""
    x, cs_prev, h_prev, w, wci, wcf, wco, b = op.inputs
    i, cs, f, o, ci, co, _ = op.outputs
    _, cs_grad, _, _, _, _, h_grad = grads
    input_size = tf.shape(x)[1]
    cs_prev_grad, dicfo, wci_grad, wcf_grad, wco_grad = tf.raw_ops.LSTMBlockCellGrad(
        x=x,
        cs_prev=cs_prev,
        h_prev=h_prev,
        w=w,
        wci=wci,
        wcf=wcf,
        wco=wco,
        b=b,
        i=i,
        cs=cs,
        f=f,
        o=o,
        ci=ci,
        co=co,
        cs_grad=cs_grad,
        h_grad=h_grad,
        use_peephole=op.get_attr("use_peephole"),
    )
    xh_grad = tf.matmul(dicfo, w, transpose_b=True)
    xh = tf.concat([x, h_prev], 1)
    return (
        xh_grad[:, :input_size],
        cs_prev_grad,
        xh_grad[:, input_size:],
        tf.matmul(xh, dicfo, transpose_a=True),
        wci_grad,
        wcf_grad,
        wco_grad,
        tf.reduce_sum(dicfo, 0),
    )


def _register_block_cell_gradient() -> None:
    """Register TF 1's LSTMBlockCell gradient, where this TensorFlow has none."""
    from tensorflow.python.framework import ops as tf_ops

    try:
        tf_ops.gradient_registry.lookup("LSTMBlockCell")
    except LookupError:
        tf_ops.RegisterGradient("LSTMBlockCell")(_lstm_block_cell_grad)


# -- the fused block kernels -------------------------------------------------------------
def _blocks(a: np.ndarray, order: tuple[int, ...], axis: int = 0) -> np.ndarray:
    parts = np.split(a, 4, axis=axis)
    return np.concatenate([parts[k] for k in order], axis=axis)


class TFBlockCell(CellAdapter):
    """One of TF's fused LSTM kernels run for one step; parameters held in TF's layout."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        kernel: str = "LSTMBlockCell",
        peephole: bool = False,
        cell_clip: float = -1.0,
        dtype: str = "float32",
        cell: Callable[..., tuple[Any, Any]] | None = None,
        label: str = "",
    ) -> None:
        if dtype != "float32":
            raise ValueError(  # the loader reports it in one line, naming the target
                f"TensorFlow's {kernel} kernel has no {dtype} kernel (half and float only): "
                "run with --lstm-dtype float32"
            )
        if kernel not in KERNELS:
            raise ValueError(f"kernel {kernel!r}: one of {', '.join(KERNELS)}")
        self.kernel, self.peephole, self.cell_clip = kernel, peephole, cell_clip
        extras = [
            t
            for t, on in (
                ("peepholes", peephole),
                (f"cell_clip {cell_clip:g}", cell_clip > 0),
                (label, label),
            )
            if on
        ]
        self.name = f"tf.raw_ops.{kernel}" + (f" ({', '.join(extras)})" if extras else "")
        self.variant = "peephole" if peephole else "standard"
        self.spec = CellSpec(input_size, hidden_size, hidden_size)
        self.backend = TensorFlowBackend(dtype)
        _register_block_cell_gradient()
        self._cell = cell or _KERNEL_CALLS[kernel]
        self.write_layout(LSTMParams.initial(input_size, hidden_size, peephole))

    # -- the step --------------------------------------------------------------------------
    def _kwargs(self) -> dict[str, Any]:
        return dict(
            w=self._w,
            wci=self._p[0],
            wcf=self._p[1],
            wco=self._p[2],
            b=self._b,
            cell_clip=self.cell_clip,
            use_peephole=self.peephole,
        )

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        return self._cell(x, h, c, **self._kwargs())

    @property
    def has_sequence(self) -> bool:
        return self.kernel != "LSTMBlockCell"

    def sequence(self, xs: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        out = _block_lstm(self.kernel, xs, h0, c0, **self._kwargs())
        return out.h, out.h[-1], out.cs[-1]

    # -- the layout ------------------------------------------------------------------------
    def read_layout(self) -> LSTMParams | None:
        order, d = FROM_TF[self.kernel], self.spec.input_size
        rows = _blocks(self.backend.to_numpy(self._w).T, order)  # (4H, D + H), i f g o
        b = _blocks(self.backend.to_numpy(self._b), order)
        return LSTMParams(
            rows[:, :d],
            rows[:, d:],
            b,
            np.zeros_like(b),
            peephole=np.stack([self.backend.to_numpy(p) for p in self._p])
            if self.peephole
            else None,
            # TF clamps c itself (cell_clip > 0): LSTMParams.cell_clip, not .clip (gates)
            cell_clip=self.cell_clip if self.cell_clip > 0 else None,
        )

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        if params.w_hr is not None or params.clip is not None:
            raise ValueError("TF's block LSTM kernels have no projection and no gate clip")
        if params.peephole is not None and not self.peephole:
            raise ValueError("this cell has no peepholes: use block_lstm_cell_peephole")
        order, asarray = FROM_TF[self.kernel], self.backend.asarray
        self._w = asarray(_blocks(np.concatenate([params.w_ih, params.w_hh], 1), order).T)
        self._b = asarray(_blocks(params.b_ih + params.b_hh, order))
        peep = np.zeros((3, self.spec.hidden_size)) if params.peephole is None else params.peephole
        self._p = [asarray(p) for p in peep]

    def _rerun_with(self, run: Callable[[], Sequence[Any]]) -> Any:
        """``outputs_with`` for the held weights [w, b, *p]: ``run`` with one replaced."""

        def outputs_with(j: int, shifted: Any) -> list[Any]:
            kept = (self._w, self._b, list(self._p))
            if j == 0:
                self._w = shifted
            elif j == 1:
                self._b = shifted
            else:
                self._p = [shifted if k == j - 2 else q for k, q in enumerate(self._p)]
            try:
                return list(run())
            finally:
                self._w, self._b, self._p = kept

        return outputs_with

    def parameter_vjp(
        self, run: Callable[[], Sequence[Any]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams | None:
        held, be, rerun = [self._w, self._b, *self._p], self.backend, self._rerun_with(run)
        grads = _tf_grad.parameter_gradients(run, held, cotangents, be.asarray, self.name, rerun)
        gw, gb, *gp = (be.to_numpy(g) for g in grads)
        order, d = FROM_TF[self.kernel], self.spec.input_size
        rows, b = _blocks(gw.T, order), _blocks(gb, order)
        # b_ih and b_hh both feed the one bias: both get its gradient.
        return LSTMParams(
            rows[:, :d], rows[:, d:], b, b.copy(), peephole=np.stack(gp) if self.peephole else None
        )

    def astype(self, dtype: str) -> CellAdapter | None:
        return None  # float32 only: no float64 twin


# -- the kernels, called for one step --------------------------------------------------------
def _lstm_block_cell(x: Any, h: Any, c: Any, **kw: Any) -> tuple[Any, Any]:
    out = tf.raw_ops.LSTMBlockCell(x=x, cs_prev=c, h_prev=h, forget_bias=0.0, **kw)
    return out.h, out.cs


def _block_lstm(kernel: str, xs: Any, h0: Any, c0: Any, **kw: Any) -> Any:
    seq = tf.constant(xs.shape[0], tf.int64)
    if kernel == "BlockLSTM":
        return tf.raw_ops.BlockLSTM(
            seq_len_max=seq, x=xs, cs_prev=c0, h_prev=h0, forget_bias=0.0, **kw
        )
    return tf.raw_ops.BlockLSTMV2(seq_len_max=seq, x=xs, cs_prev=c0, h_prev=h0, **kw)


def _one_step(kernel: str) -> Callable[..., tuple[Any, Any]]:
    def call(x: Any, h: Any, c: Any, **kw: Any) -> tuple[Any, Any]:
        out = _block_lstm(kernel, x[None], h, c, **kw)
        return out.h[0], out.cs[0]

    return call


_KERNEL_CALLS = {
    "LSTMBlockCell": _lstm_block_cell,
    "BlockLSTM": _one_step("BlockLSTM"),
    "BlockLSTMV2": _one_step("BlockLSTMV2"),
}


# -- the block-kernel factories (input_size, hidden_size, dtype), as the suite calls them ----
def block_lstm_cell(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.LSTMBlockCell, forget_bias 0, no cell clip, no peepholes (float32 only)."""
    return TFBlockCell(input_size, hidden_size, dtype=dtype)


def block_lstm_cell_peephole(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> TFBlockCell:
    """tf.raw_ops.LSTMBlockCell with use_peephole: the ``peephole`` variant (float32 only)."""
    return TFBlockCell(input_size, hidden_size, peephole=True, dtype=dtype)


def block_lstm(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.BlockLSTM, one step (and T steps for the fused-sequence property)."""
    return TFBlockCell(input_size, hidden_size, kernel="BlockLSTM", dtype=dtype)


def block_lstm_v2(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.BlockLSTMV2 (gates i, f, ci, o), with TF's registered gradient."""
    return TFBlockCell(input_size, hidden_size, kernel="BlockLSTMV2", dtype=dtype)
