"""TensorFlow's fused LSTM block kernels: the self-tests' own targets around them.

    lstm-props check tests/targets/tf_block.py:block_lstm_clip

The kernels themselves are public targets (lstm_props.adapters.tensorflow:block_lstm_cell,
block_lstm_cell_peephole, block_lstm, block_lstm_v2), re-exported here under the names the
tests have always used. What stays here: the clipping cells (TF's cell_clip clamps c itself,
read back as ``LSTMParams.cell_clip``, not the gates' arguments as ``LSTMParams.clip``;
their backward ignores the clamp, a finding), the same clip in
plain TF ops (its true gradient: the control), and a wrong gradient built on purpose.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from lstm_props.adapters._tf_block import _blocks
from lstm_props.adapters.tensorflow import (
    FROM_TF,
    KERNELS,
    TensorFlowBackend,
    TFBlockCell,
    block_lstm,
    block_lstm_cell,
    block_lstm_cell_peephole,
    block_lstm_v2,
)

TFBackend = TensorFlowBackend  # the name these tests knew it by

__all__ = [
    "FROM_TF",
    "KERNELS",
    "TFBackend",
    "TFBlockCell",
    "_blocks",
    "block_lstm",
    "block_lstm_cell",
    "block_lstm_cell_clip",
    "block_lstm_cell_peephole",
    "block_lstm_cell_squared_forget",
    "block_lstm_clip",
    "block_lstm_v2",
    "clip_in_plain_ops",
]


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
#: The cell clip of the clipping targets: small enough that drawn states reach it.
CELL_CLIP = 1.0


def block_lstm_cell_clip(input_size: int, hidden_size: int, dtype: str = "float32") -> TFBlockCell:
    """tf.raw_ops.LSTMBlockCell with cell_clip = 1 (c clamped to [-1, 1])."""
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
