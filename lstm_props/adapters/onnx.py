"""ONNX Runtime targets: the ONNX ``LSTM`` operator on ORT's CPU execution provider.

    lstm-props check lstm_props.adapters.onnx:lstm
    lstm-props check lstm_props.adapters.onnx:lstm_peephole

The cell is a one-node model, ``LSTM(X, W, R, B, "", initial_h, initial_c[, P])``, run for
one step (X is (1, B, D)) with a symbolic batch dimension, so one session serves every
batch size. W, R, B (and P) are initializers: writing the layout builds a new session.

The mapping to the documented layout (gates i, f, g, o in rows; p_i, p_f, p_o):

* W [1, 4H, D] and R [1, 4H, H] hold the gates in row blocks in ONNX's order i, o, f, c
  (c is torch's g): w_ih = W[0] blocks (0, 2, 3, 1), and back blocks (0, 3, 1, 2);
* B [1, 8H] is Wb ‖ Rb, each in i, o, f, c: b_ih is Wb, b_hh is Rb, permuted as W;
* P [1, 3H] is p_i ‖ p_o ‖ p_f: peephole rows (0, 2, 1), its own inverse.

ORT has no autodiff: the backend has no VJP and the properties that need a backward skip,
with the reason. ORT's CPU LSTM kernel is float32 only (a double model loads, then every
run fails with "LSTM operator does not support double yet"), so float64 is refused, in one
line, when the cell is built.

``input_forget=1`` couples the gates as f = 1 − i: the input gate's rows drive both and
the forget rows are dead. That is CIFG (f + i = 1) parameterised by the other gate, and
since 1 − σ(z) = σ(−z) it maps exactly onto the ``cifg`` variant's f = σ(z_f), i = 1 − f:
``lstm_input_forget`` keeps the layout's forget rows, negated, in ONNX's input block (and
the layout's unused input rows in ONNX's dead forget block, so the round trip is exact).

``clip`` (``lstm_clip``) clamps every activation's argument to [−m, m]; the cell reads back
with ``LSTMParams.clip = m``, which the oracle and the error model apply, and the
properties that force a gate to exactly 0 or 1 skip (σ(±m) is neither).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
from onnx import NodeProto, TensorProto, ValueInfoProto, helper, numpy_helper

from lstm_props.adapters._numpy import NumpyBackend
from lstm_props.adapters._protocol import CellAdapter, CellSpec
from lstm_props.maths.layout import LSTMParams

#: The ai.onnx opset of the model; LSTM's last change (the layout attribute) is 14.
OPSET = 14


def _blocks(a: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """``a``'s equal row blocks (first axis) in ``order``."""
    parts = np.split(a, len(order))
    return np.concatenate([parts[k] for k in order])


class OnnxBackend(NumpyBackend):
    """NumPy arrays in the session's precision; no autograd (one intra-op thread: _build)."""


class OnnxLSTMCell(CellAdapter):
    """One ONNX ``LSTM`` node in an ORT CPU session; parameters held in ONNX's layout."""

    #: Documented gate k (i, f, g, o) is ONNX block from_onnx[k] (ONNX order i, o, f, c).
    from_onnx: tuple[int, ...] = (0, 2, 3, 1)
    to_onnx: tuple[int, ...] = (0, 3, 1, 2)
    #: Peephole rows (p_i, p_f, p_o) <-> P's blocks (i, o, f): the same swap both ways.
    peephole_from_onnx: tuple[int, ...] = (0, 2, 1)
    peephole_to_onnx: tuple[int, ...] = (0, 2, 1)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        peephole: bool = False,
        input_forget: bool = False,
        clip: float | None = None,
        dtype: str = "float32",
    ) -> None:
        if dtype != "float32":
            raise ValueError(  # the loader reports it in one line, naming the target
                f"ONNX Runtime's CPU LSTM kernel computes in float32 only (it fails every run "
                f"of a {dtype} model with 'LSTM operator does not support double yet'): "
                "run with --lstm-dtype float32"
            )
        if peephole and input_forget:
            raise ValueError(
                "peepholes with input_forget=1 are not mapped: the coupled "
                "gate's peephole would be the input gate's, read by f = 1 − i"
            )
        if clip is not None and not clip > 0:
            raise ValueError(f"clip={clip!r}: ONNX's clip is a positive threshold, e.g. 3.0")
        extras = [
            ("peepholes", peephole),
            ("input_forget", input_forget),
            (f"clip {clip:g}" if clip else "", clip is not None),
        ]
        label = ", ".join(text for text, on in extras if on)
        self.name = "onnxruntime LSTM" + (f" ({label})" if label else "")
        self.variant = "peephole" if peephole else "cifg" if input_forget else "standard"
        self._has_p, self._input_forget, self._clip = peephole, input_forget, clip
        self.spec = CellSpec(input_size, hidden_size, hidden_size)
        self.backend = OnnxBackend(dtype)
        self.write_layout(LSTMParams.initial(input_size, hidden_size, peephole))

    def _node(self) -> NodeProto:
        names = ["X", "W", "R", "B", "", "initial_h", "initial_c"] + ["P"] * self._has_p
        # Any: make_node's **kwargs (the node's attributes) share the keywords' namespace with
        # its name, doc_string, domain and overload parameters, which mypy checks them against.
        attributes: dict[str, Any] = {"hidden_size": self.spec.hidden_size}
        if self._input_forget:
            attributes["input_forget"] = 1
        if self._clip is not None:
            attributes["clip"] = self._clip
        return helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], **attributes)

    def _build(self) -> ort.InferenceSession:
        hidden, elem = self.spec.hidden_size, TensorProto.FLOAT

        def value(name: str, *dims: int | str) -> ValueInfoProto:
            return helper.make_tensor_value_info(name, elem, list(dims))

        graph = helper.make_graph(
            [self._node()],
            "lstm_step",
            [
                value("X", 1, "batch", self.spec.input_size),
                value("initial_h", 1, "batch", hidden),
                value("initial_c", 1, "batch", hidden),
            ],
            [
                value("Y", 1, 1, "batch", hidden),
                value("Y_h", 1, "batch", hidden),
                value("Y_c", 1, "batch", hidden),
            ],
            [numpy_helper.from_array(a, name) for name, a in self._onnx.items()],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        options = ort.SessionOptions()
        # The cells are tiny (H <= 6): threads only add overhead, and one keeps the bits fixed.
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        return ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(x) == 0:  # ORT's LSTM kernel aborts the whole process (SIGABRT) on it
            raise ValueError("an empty batch: ONNX Runtime's LSTM kernel aborts on one")
        _, h_new, c_new = self._session.run(
            None, {"X": x[None], "initial_h": h[None], "initial_c": c[None]}
        )
        return h_new[0], c_new[0]

    def read_layout(self) -> LSTMParams:
        onnx, wide = self._onnx, np.float64
        wb, rb = np.split(onnx["B"][0].astype(wide), 2)
        params = LSTMParams(
            _blocks(onnx["W"][0].astype(wide), self.from_onnx),
            _blocks(onnx["R"][0].astype(wide), self.from_onnx),
            _blocks(wb, self.from_onnx),
            _blocks(rb, self.from_onnx),
            peephole=(
                _blocks(onnx["P"][0].astype(wide), self.peephole_from_onnx).reshape(3, -1)
                if self._has_p
                else None
            ),
            clip=self._clip,
        )
        # ONNX's input block holds −(the layout's forget rows); its forget block, the rest
        return params.map_arrays(_uncouple) if self._input_forget else params

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        if params.w_hr is not None:
            raise ValueError("the ONNX LSTM operator has no projection (w_hr)")
        if params.peephole is not None and not self._has_p:
            raise ValueError("this cell has no peepholes: use lstm_peephole")
        if self._input_forget:
            params = params.map_arrays(_couple)
        dt, order = self.backend.np_dtype, self.to_onnx
        onnx: dict[str, np.ndarray] = {
            "W": _blocks(params.w_ih, order)[None].astype(dt),
            "R": _blocks(params.w_hh, order)[None].astype(dt),
            "B": np.concatenate([_blocks(params.b_ih, order), _blocks(params.b_hh, order)])[
                None
            ].astype(dt),
        }
        if self._has_p:  # no peephole weights written: the cell without them, P = 0
            peep = (
                np.zeros((3, self.spec.hidden_size)) if params.peephole is None else params.peephole
            )
            onnx["P"] = _blocks(peep, self.peephole_to_onnx).reshape(1, -1).astype(dt)
        self._onnx = onnx
        self._session = self._build()


def _couple(rows: np.ndarray) -> np.ndarray:
    """Layout rows (i, f, g, o) -> what ONNX's input_forget cell reads as (i, f, g, o):
    (−f, i, g, o). Applied to the gate arrays (4H rows; no peepholes here)."""
    i, f, g, o = np.split(rows, 4)
    return np.concatenate([-f, i, g, o])


def _uncouple(rows: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_couple`: (i', f', g, o) -> (f', −i', g, o)."""
    i, f, g, o = np.split(rows, 4)
    return np.concatenate([f, -i, g, o])


def lstm(input_size: int, hidden_size: int, dtype: str = "float32") -> OnnxLSTMCell:
    """The ONNX LSTM operator on ORT's CPU provider, one step, no peepholes."""
    return OnnxLSTMCell(input_size, hidden_size, dtype=dtype)


def lstm_peephole(input_size: int, hidden_size: int, dtype: str = "float32") -> OnnxLSTMCell:
    """The ONNX LSTM operator with its peephole input P: the ``peephole`` variant."""
    return OnnxLSTMCell(input_size, hidden_size, peephole=True, dtype=dtype)


def lstm_input_forget(input_size: int, hidden_size: int, dtype: str = "float32") -> OnnxLSTMCell:
    """The ONNX LSTM operator with ``input_forget=1``: the ``cifg`` variant (f = 1 − i)."""
    return OnnxLSTMCell(input_size, hidden_size, input_forget=True, dtype=dtype)


#: The pre-activation bound of :func:`lstm_clip`: small enough that drawn weights reach it.
CLIP = 3.0


def lstm_clip(input_size: int, hidden_size: int, dtype: str = "float32") -> OnnxLSTMCell:
    """The ONNX LSTM operator with ``clip=3``: every gate's argument clamped to [−3, 3]."""
    return OnnxLSTMCell(input_size, hidden_size, clip=CLIP, dtype=dtype)
