"""TensorFlow's fused LSTM block kernels as targets without a float64 twin.

    lstm-props check tests/targets/tf_block.py:block_lstm_cell

``tf.raw_ops.LSTMBlockCell``, ``BlockLSTM`` and ``BlockLSTMV2`` have kernels for half and
float only: the suite checks them in float32 and has no float64 twin to compare with, so
their backwards meet finite differences in their own precision.

The layout. ``w`` is (D + H, 4H) over [x, h], ``b`` is (4H,), gates in column blocks:

* LSTMBlockCell and BlockLSTM: i, ci, f, o (ci is the candidate, the layout's g), so the
  layout's gate k (i, f, g, o) is TF block (0, 2, 1, 3)[k] (the op docstring's "i, f, ci,
  o" is wrong; computed against a reference, see tests/test_tensorflow_block.py);
* BlockLSTMV2: i, f, ci, o, the layout's own order.

w_ih = the x rows of w, transposed; w_hh = the h rows; b_ih = b, b_hh = 0 (written
b_ih + b_hh); peepholes (use_peephole) wci, wcf, wco are p_i, p_f (both read c_{t-1}) and
p_o (reads c_t): the ``peephole`` variant. forget_bias is 0 here (the op's default adds 1 to
the forget pre-activation) and cell_clip off (the default clamps c to [-3, 3]); TF's
cell_clip clamps c itself, not the gates' arguments as ``LSTMParams.clip`` does, so a
clipping target has no layout and runs in black-box mode.

Derivatives come from TensorFlow's own autodiff (``tf.GradientTape``). TF 2 registers a
gradient for BlockLSTM and BlockLSTMV2 (tensorflow/python/ops/rnn_grad.py) but none for
LSTMBlockCell: its registration lived in tf.contrib.rnn and went with contrib. This module
registers that TF 1 gradient again (the ``LSTMBlockCellGrad`` kernel, then the matmuls
contrib did in Python) when TensorFlow has none.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops

from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec
from lstm_props.maths.layout import LSTMParams

KERNELS = ("LSTMBlockCell", "BlockLSTM", "BlockLSTMV2")
#: The layout's gate k (i, f, g, o) is TF column block FROM_TF[kernel][k]; each is its own
#: inverse.
FROM_TF = {"LSTMBlockCell": (0, 2, 1, 3), "BlockLSTM": (0, 2, 1, 3), "BlockLSTMV2": (0, 1, 2, 3)}


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


try:
    tf_ops.gradient_registry.lookup("LSTMBlockCell")
except LookupError:
    tf_ops.RegisterGradient("LSTMBlockCell")(_lstm_block_cell_grad)


class TFBackend(Backend):
    """Eager tf.Tensors on the CPU; VJPs by tf.GradientTape."""

    autograd = True
    deterministic = True  # one intra-op thread per op on the tiny shapes the suite draws

    def __init__(self, dtype: str = "float32") -> None:
        self.dtype = dtype

    def asarray(self, a: np.ndarray) -> tf.Tensor:
        return tf.constant(np.asarray(a, dtype=self.np_dtype))

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.array(a, dtype=np.float64)

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
            for v in xs:
                tape.watch(v)
            outs = list(fn(*xs))
        pairs = list(zip(outs, cotangents))
        grads = tape.gradient(
            [o for o, _ in pairs],
            xs,
            output_gradients=[self.asarray(u) for _, u in pairs],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        return tuple(self.to_numpy(g) for g in grads)


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
        self.backend = TFBackend(dtype)
        self._cell = cell or _KERNEL_CALLS[kernel]
        rng = np.random.default_rng(0)
        h4 = 4 * hidden_size
        self.write_layout(
            LSTMParams(
                rng.uniform(-0.5, 0.5, (h4, input_size)),
                rng.uniform(-0.5, 0.5, (h4, hidden_size)),
                np.zeros(h4),
                np.zeros(h4),
                peephole=rng.uniform(-0.5, 0.5, (3, hidden_size)) if peephole else None,
            )
        )

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
        if self.cell_clip > 0:  # TF clamps c itself: not LSTMParams.clip (gate arguments)
            return None
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
        )

    @property
    def writable_layout(self) -> bool:
        return self.cell_clip <= 0

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

    def parameter_vjp(
        self, run: Callable[[], Sequence[Any]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams | None:
        if self.cell_clip > 0:
            return None
        held = [self._w, self._b, *self._p]
        with tf.GradientTape() as tape:
            for v in held:
                tape.watch(v)
            outs = list(run())
        pairs = list(zip(outs, cotangents))
        gw, gb, *gp = (
            self.backend.to_numpy(g)
            for g in tape.gradient(
                [o for o, _ in pairs],
                held,
                [self.backend.asarray(u) for _, u in pairs],
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
        )
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


# -- a wrong gradient of our own: dc_{t-1} = dc_t · f² instead of dc_t · f -------------------
def _squared_forget_cell(x: Any, h: Any, c: Any, **kw: Any) -> tuple[Any, Any]:
    """LSTMBlockCell whose gradient for cs_prev is multiplied by f once more (f² for f)."""

    @tf.custom_gradient
    def cell(x: Any, h: Any, c: Any, w: Any, b: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch([x, h, c, w, b])
            out = tf.raw_ops.LSTMBlockCell(
                x=x, cs_prev=c, h_prev=h, w=w, b=b, forget_bias=0.0, **rest
            )
        f = tf.stop_gradient(out.f)

        def grad(dh: Any, dc: Any) -> tuple[Any, ...]:
            gx, gh, gc, gw, gb = tape.gradient(
                [out.h, out.cs], [x, h, c, w, b], [dh, dc], unconnected_gradients="zero"
            )
            return gx, gh, gc * f, gw, gb

        return (out.h, out.cs), grad

    rest = {k: v for k, v in kw.items() if k not in ("w", "b")}
    h_new, c_new = cell(x, h, c, kw["w"], kw["b"])
    return h_new, c_new


# -- the control for the clip finding: the same clipped cell in plain TF ops -----------------
def _clip_in_plain_ops(
    x: Any, h: Any, c: Any, *, w: Any, b: Any, cell_clip: float, **_: Any
) -> tuple[Any, Any]:
    """LSTMBlockCell's step with cell_clip, written in differentiable TF ops (no peepholes)."""
    zi, zci, zf, zo = tf.split(tf.matmul(tf.concat([x, h], 1), w) + b, 4, axis=1)
    cs = tf.clip_by_value(tf.sigmoid(zf) * c + tf.sigmoid(zi) * tf.tanh(zci), -cell_clip, cell_clip)
    return tf.sigmoid(zo) * tf.tanh(cs), cs


# -- the factories (input_size, hidden_size, dtype), as the suite calls them -----------------
def block_lstm_cell(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.LSTMBlockCell, forget_bias 0, no cell clip, no peepholes."""
    return TFBlockCell(input_size, hidden_size, dtype=dtype)


def block_lstm_cell_peephole(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> TFBlockCell:
    """tf.raw_ops.LSTMBlockCell with use_peephole: the ``peephole`` variant."""
    return TFBlockCell(input_size, hidden_size, peephole=True, dtype=dtype)


#: The cell clip of the clipping targets: small enough that drawn states reach it.
CELL_CLIP = 1.0


def block_lstm_cell_clip(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.LSTMBlockCell with cell_clip = 1 (c clamped to [-1, 1]): black-box."""
    return TFBlockCell(input_size, hidden_size, cell_clip=CELL_CLIP, dtype=dtype)


def block_lstm_clip(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.BlockLSTM, one step, cell_clip = 1, with TF 2's registered gradient."""
    return TFBlockCell(
        input_size, hidden_size, kernel="BlockLSTM", cell_clip=CELL_CLIP, dtype=dtype
    )


def clip_in_plain_ops(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """block_lstm_cell_clip's step in plain TF ops: the clip with its true gradient."""
    return TFBlockCell(
        input_size,
        hidden_size,
        cell_clip=CELL_CLIP,
        dtype=dtype,
        cell=_clip_in_plain_ops,
        label="in plain TF ops",
    )


def block_lstm(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.BlockLSTM, one step (and T steps for the fused-sequence property)."""
    return TFBlockCell(input_size, hidden_size, kernel="BlockLSTM", dtype=dtype)


def block_lstm_v2(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.BlockLSTMV2 (gates i, f, ci, o), with TF's registered gradient."""
    return TFBlockCell(input_size, hidden_size, kernel="BlockLSTMV2", dtype=dtype)


def block_lstm_cell_squared_forget(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> TFBlockCell:
    """A wrong registered gradient built on purpose: dc_{t-1} = dc_t · f² (should be f)."""
    return TFBlockCell(
        input_size,
        hidden_size,
        dtype=dtype,
        cell=_squared_forget_cell,
        label="gradient dc·f² for dc·f",
    )
