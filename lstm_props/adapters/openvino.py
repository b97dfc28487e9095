"""OpenVINO targets: the ``LSTMCell`` operation (opset4) compiled for OpenVINO's CPU device.

    lstm-props check lstm_props.adapters.openvino:lstm_cell        # OpenVINO's defaults
    lstm-props check lstm_props.adapters.openvino:lstm_cell_f32    # INFERENCE_PRECISION_HINT=f32

The cell is a one-operation model, ``LSTMCell(X, initial_h, initial_c, W, R, B)`` built with
OpenVINO's Python graph API (``openvino.opset4``), with a dynamic batch dimension so one
compiled model serves every batch size. W, R and B are constants, as in a model converted
from a framework: writing the layout builds and compiles a new model.

The mapping to the documented layout (gates i, f, g, o in rows):

* W [4H, D] and R [4H, H] hold the gates in row blocks in OpenVINO's order f, i, c, o (c is
  torch's g; checked against a NumPy step: the other orders are off by 0.1 and more):
  documented gate k is block (1, 0, 2, 3)[k], a swap of the first two, its own inverse;
* B [4H] is one bias: read as b_ih = B, b_hh = 0, written b_ih + b_hh.

Precision. The CPU plugin's default ``INFERENCE_PRECISION_HINT`` is bf16 on a CPU with
bf16 support (AVX-512 BF16, AMX): a float32 model then computes in bfloat16 (errors ~1e-3),
silently, and a float64 model in bfloat16 too (on a CPU without bf16, in float32; the plugin
has no float64 arithmetic). ``lstm_cell`` keeps OpenVINO's defaults, so the suite meets what
a user gets; the load-time precision check (lstm_props._harness.precision) then stops the run
in one line. ``lstm_cell_f32`` sets the hint to f32, the precision of a float32 model.

No autodiff: the backend has no VJP and the properties that need a backward skip, with the
reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import openvino as ov
import openvino.opset4 as ops

from lstm_props.adapters._numpy import NumpyBackend
from lstm_props.adapters._protocol import CellAdapter, CellSpec
from lstm_props.maths.layout import LSTMParams

#: What the load-time precision check adds when it fires (lstm_props._harness.precision):
#: a float32 cell at OpenVINO's default precision, and any float64 cell.
BF16_DEFAULT_NOTE = (
    "OpenVINO's CPU plugin infers in bf16 by default on a CPU with bf16 support: compile "
    "with INFERENCE_PRECISION_HINT=f32 (lstm_props.adapters.openvino:lstm_cell_f32)"
)
NO_FLOAT64_NOTE = (
    "OpenVINO's CPU plugin has no float64 arithmetic (a float64 model infers in bf16 by "
    "default on a CPU with bf16 support, in f32 with INFERENCE_PRECISION_HINT=f32): check "
    "lstm_props.adapters.openvino:lstm_cell_f32 with --lstm-dtype float32"
)


def _blocks(a: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """``a``'s four equal row blocks (first axis) in ``order``."""
    parts = np.split(a, 4)
    return np.concatenate([parts[k] for k in order])


class OpenVinoBackend(NumpyBackend):
    """NumPy arrays in the model's element type; no autograd (one inference thread: _compile)."""


class OpenVinoLSTMCell(CellAdapter):
    """One OpenVINO ``LSTMCell`` on the CPU device; parameters held in OpenVINO's layout."""

    #: Documented gate k (i, f, g, o) is OpenVINO block from_openvino[k] (order f, i, c, o).
    from_openvino: tuple[int, ...] = (1, 0, 2, 3)
    to_openvino: tuple[int, ...] = (1, 0, 2, 3)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        precision_hint: str | None = None,
        dtype: str = "float32",
    ) -> None:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype={dtype!r}: the suite checks float32 or float64")
        self.name = "openvino LSTMCell" + (
            f" (INFERENCE_PRECISION_HINT={precision_hint})" if precision_hint else ""
        )
        self.spec = CellSpec(input_size, hidden_size, hidden_size)
        self.backend = OpenVinoBackend(dtype)
        self._config: dict[str, Any] = {"INFERENCE_NUM_THREADS": 1}  # tiny cells; fixed bits
        if precision_hint is not None:
            self._config["INFERENCE_PRECISION_HINT"] = precision_hint
        # read by lstm_props._harness.precision when the check fires
        self.precision_note = (
            NO_FLOAT64_NOTE
            if dtype == "float64"
            else BF16_DEFAULT_NOTE
            if precision_hint is None
            else None
        )
        self.write_layout(LSTMParams.initial(input_size, hidden_size))

    @property
    def inference_precision(self) -> str:
        """The precision the compiled model infers in, as OpenVINO names it ("bf16", "f32")."""
        return str(self._compiled.get_property("INFERENCE_PRECISION_HINT").to_string())

    def _compile(self) -> Any:
        element = ov.Type.f32 if self.backend.dtype == "float32" else ov.Type.f64
        d, hidden = self.spec.input_size, self.spec.hidden_size
        x = ops.parameter([-1, d], element, name="x")
        h = ops.parameter([-1, hidden], element, name="h")
        c = ops.parameter([-1, hidden], element, name="c")
        cell = ops.lstm_cell(
            x, h, c, *(ops.constant(self._held[k]) for k in ("W", "R", "B")), hidden
        )
        model = ov.Model([cell.output(0), cell.output(1)], [x, h, c], "lstm_step")
        return ov.Core().compile_model(model, "CPU", self._config)

    def step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self._compiled({"x": x, "h": h, "c": c})
        return out[0], out[1]

    def read_layout(self) -> LSTMParams:
        held, wide = self._held, np.float64
        return LSTMParams(
            _blocks(held["W"].astype(wide), self.from_openvino),
            _blocks(held["R"].astype(wide), self.from_openvino),
            _blocks(held["B"].astype(wide), self.from_openvino),
            np.zeros(4 * self.spec.hidden_size),
        )

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        if params.w_hr is not None:
            raise ValueError("OpenVINO's LSTMCell has no projection (w_hr)")
        if params.peephole is not None:
            raise ValueError("OpenVINO's LSTMCell (opset4) has no peepholes")
        if params.clip is not None:
            raise ValueError("this cell is built without clip: its activations are unclamped")
        dt = self.backend.np_dtype
        self._held: dict[str, np.ndarray] = {
            "W": _blocks(params.w_ih, self.to_openvino).astype(dt),
            "R": _blocks(params.w_hh, self.to_openvino).astype(dt),
            "B": _blocks(params.b_ih + params.b_hh, self.to_openvino).astype(dt),
        }
        self._compiled = self._compile()


def lstm_cell(input_size: int, hidden_size: int, dtype: str = "float32") -> OpenVinoLSTMCell:
    """OpenVINO's LSTMCell on the CPU device at OpenVINO's default inference precision."""
    return OpenVinoLSTMCell(input_size, hidden_size, dtype=dtype)


def lstm_cell_f32(input_size: int, hidden_size: int, dtype: str = "float32") -> OpenVinoLSTMCell:
    """OpenVINO's LSTMCell on the CPU device with INFERENCE_PRECISION_HINT=f32."""
    return OpenVinoLSTMCell(input_size, hidden_size, precision_hint="f32", dtype=dtype)
