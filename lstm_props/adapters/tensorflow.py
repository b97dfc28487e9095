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
  (B, P). Built with ``forget_bias=0.0`` (its default 1.0 is a constant added to z_f
  inside the cell, which the layout cannot express until a forget-bias constant is
  declarable) and no ``cell_clip`` (a clamp of c, not ``LSTMParams.clip``).
* ``block_lstm_cell`` (``_peephole``), ``block_lstm``, ``block_lstm_v2``: the fused
  kernels ``tf.raw_ops.LSTMBlockCell``, ``BlockLSTM`` and ``BlockLSTMV2``, float32 only (no
  float64 kernel, so no float64 twin: their backwards meet finite differences in their own
  precision). ``w`` is (D + H, 4H) over [x, h]; the gates are in column blocks i, ci, f, o
  for LSTMBlockCell and BlockLSTM (the op docstring's "i, f, ci, o" is wrong), i, f, ci, o
  for BlockLSTMV2; one bias; peepholes wci, wcf, wco are p_i, p_f, p_o. forget_bias 0 and
  cell_clip off (the op defaults add 1 to z_f and clamp c to [-3, 3]).

TF 2 registers a gradient for BlockLSTM and BlockLSTMV2 (tensorflow/python/ops/rnn_grad.py)
but none for LSTMBlockCell: its registration lived in tf.contrib.rnn and went with contrib.
Building a block-kernel target registers that TF 1 gradient again (the
``LSTMBlockCellGrad`` kernel, then the matmuls contrib did in Python), only when
TensorFlow has none. Known findings (docs/frameworks.md): BlockLSTMV2's registered gradient
is BlockLSTM's, which reads its gates in the wrong order; with ``cell_clip`` the kernels'
backward ignores the clamp.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from lstm_props.adapters import _tf_grad
from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec
from lstm_props.maths.layout import LSTMParams

__all__ = [
    "TensorFlowBackend",
    "block_lstm",
    "block_lstm_cell",
    "block_lstm_cell_peephole",
    "block_lstm_v2",
    "compat_v1_lstm_cell",
    "compat_v1_lstm_cell_peephole",
    "compat_v1_lstm_cell_proj",
]


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
        if self.cell_clip > 0:
            return None
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
    """tf.compat.v1.nn.rnn_cell.LSTMCell (forget_bias 0, no clips), state (c, m) = (c, h)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        peephole: bool = False,
        num_proj: int | None = None,
        dtype: str = "float32",
    ) -> None:
        import warnings

        self.peephole, self.num_proj = peephole, num_proj
        extras = [
            t for t, on in (("use_peepholes", peephole), (f"num_proj={num_proj}", num_proj)) if on
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
                forget_bias=0.0,
                cell_clip=None,
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


# num_proj = H // 2 needs H ≥ 2 (read by the loader).
compat_v1_lstm_cell_proj.min_hidden_size = 2  # type: ignore[attr-defined]
