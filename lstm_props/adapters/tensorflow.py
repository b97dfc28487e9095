"""TensorFlow: a Backend on tf.GradientTape, and TensorFlow's own LSTM cells as targets.

    lstm-props check lstm_props.adapters.tensorflow:compat_v1_lstm_cell [--dtype float64]
    lstm-props check lstm_props.adapters.tensorflow:block_lstm        (float32 only)

:class:`TensorFlowBackend` is public: a user wiring another TensorFlow cell builds a
:class:`~lstm_props.CellAdapter` on it (``lstm_props.adapters.keras:lstm_cell_tensorflow``
does, for Keras 3 on its TensorFlow backend). Every derivative comes from
``tf.GradientTape``, never from another framework. The suite's K cotangent rows at once
(:meth:`TensorFlowBackend.vjp_rows`, a carry Jacobian's B·H one-hot rows) run one forward
kept on a persistent tape and one backward per row over it; from ``many_rows`` rows on, one
vectorized backward, ``tape.jacobian`` (pfor) of the K contractions Σ ū_k · out, whose rows
are exactly the K VJPs (pfor retraces on every call, which only pays for many rows:
benchmarks/tensorflow_rows.py).

The targets:

* ``compat_v1_lstm_cell`` (``_peephole``, ``_proj``): TF 1's ``LSTMCell``
  (``tf.compat.v1.nn.rnn_cell.LSTMCell``), float32 and float64. Its kernel is (D + P, 4H)
  over [x, h] with the gates in column blocks i, j, f, o (j is the candidate, the layout's
  g): the layout's gate k (i, f, g, o) is block (0, 2, 1, 3)[k]; one bias (4H,), read as
  b_ih = bias, b_hh = 0. ``use_peepholes``: ``w_i_diag``, ``w_f_diag`` (both read
  c_{t-1}) and ``w_o_diag`` (reads c_t) are p_i, p_f, p_o of the ``peephole`` variant.
  ``num_proj`` = P: ``projection/kernel`` (H, P) is w_hr's transpose, and h (TF's m) is
  (B, P). Built with ``forget_bias=0.0`` and no ``cell_clip``; ``compat_v1_lstm_cell_clip``
  has TF's default ``forget_bias=1.0`` and ``cell_clip=1.0``, read back as the layout's
  ``forget_bias`` (a constant added to z_f inside the cell) and ``cell_clip`` (a clamp of c
  itself, not ``LSTMParams.clip``).
* ``block_lstm_cell`` (``_peephole``), ``block_lstm``, ``block_lstm_v2``: the fused
  kernels ``tf.raw_ops.LSTMBlockCell``, ``BlockLSTM`` and ``BlockLSTMV2``, float32 only (no
  float64 kernel, so no float64 twin: their backwards meet finite differences in their own
  precision). ``w`` is (D + H, 4H) over [x, h]; the gates are in column blocks i, ci, f, o
  for LSTMBlockCell and BlockLSTM (the op docstring's "i, f, ci, o" is wrong), i, f, ci, o
  for BlockLSTMV2; one bias; peepholes wci, wcf, wco are p_i, p_f, p_o. forget_bias 0 and
  cell_clip off (the op defaults add 1 to z_f and clamp c to [-3, 3]); a kernel built with
  ``cell_clip`` reads back as the layout's ``cell_clip``.

TF 2 registers a gradient for BlockLSTM and BlockLSTMV2 (tensorflow/python/ops/rnn_grad.py)
but none for LSTMBlockCell: its registration lived in tf.contrib.rnn and went with contrib.
Building a block-kernel target registers that TF 1 gradient again (the
``LSTMBlockCellGrad`` kernel, then the matmuls contrib did in Python), only when
TensorFlow has none. Known findings (docs/frameworks.md): BlockLSTMV2's registered gradient
is BlockLSTM's, which reads its gates in the wrong order; with ``cell_clip`` the kernels'
backward ignores the clamp.
"""

from __future__ import annotations

from lstm_props.adapters._tf_backend import TensorFlowBackend
from lstm_props.adapters._tf_block import (
    FROM_TF,
    KERNELS,
    TFBlockCell,
    block_lstm,
    block_lstm_cell,
    block_lstm_cell_peephole,
    block_lstm_v2,
)
from lstm_props.adapters._tf_compat_v1 import (
    CompatV1LSTMCell,
    compat_v1_lstm_cell,
    compat_v1_lstm_cell_clip,
    compat_v1_lstm_cell_peephole,
    compat_v1_lstm_cell_proj,
)

__all__ = [
    "FROM_TF",
    "KERNELS",
    "CompatV1LSTMCell",
    "TFBlockCell",
    "TensorFlowBackend",
    "block_lstm",
    "block_lstm_cell",
    "block_lstm_cell_peephole",
    "block_lstm_v2",
    "compat_v1_lstm_cell",
    "compat_v1_lstm_cell_clip",
    "compat_v1_lstm_cell_peephole",
    "compat_v1_lstm_cell_proj",
]
