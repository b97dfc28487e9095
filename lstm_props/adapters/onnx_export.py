"""A torch nn.LSTM exported by ``torch.onnx.export`` and run in ONNX Runtime.

    lstm-props check lstm_props.adapters.onnx_export:torch_lstm
    lstm-props check mypkg:my_exported   # my_exported = lambda: exported_torch_lstm(my_lstm)

What is under test is the export: the graph torch's default exporter writes (an ONNX ``LSTM``
node whose W, R, B hold torch's gates reordered to ONNX's i, o, f, c, with the states'
Transposes and Reshapes around it) run by ORT's CPU provider, against the oracle on the
*torch module's* weights. A reorder the exporter got wrong computes another function of the
module's weights, and the value properties say so.

The suite writes drawn weights per example, and exporting again for each would cost seconds
(the dynamo exporter). So the module is exported once with probe weights, every entry a
distinct integer (a bias entry b_ih[k]·4096 + b_hh[j] + 1, so that a summed bias decodes
too), and where each torch entry landed among the graph's initializers is read off the
export itself. Writing the layout then places the weights where the exporter put them, its
own reordering, not this module's idea of it; an initializer that is not a reordering of
the module's parameters (a transform the probe cannot decode) is refused at load, in one
line. ORT has no autodiff (the backward properties skip) and its LSTM kernel is float32
only.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import onnxruntime as ort
from onnx import ModelProto, numpy_helper

from lstm_props._errors import TargetError
from lstm_props.adapters._protocol import CellAdapter, CellSpec
from lstm_props.adapters.onnx import OnnxBackend
from lstm_props.maths.layout import LSTMParams

#: The layout fields of one nn.LSTM layer, and their parameter names.
_FIELDS = {
    "w_ih": "weight_ih_l0",
    "w_hh": "weight_hh_l0",
    "b_ih": "bias_ih_l0",
    "b_hh": "bias_hh_l0",
}


def _export(module: Any) -> ModelProto:
    import torch

    # One step, two rows. The exporter bakes the sequence length into the Reshape after the
    # LSTM node (declared dynamic, T = 3 still reshaped to (3, -1, H)), so the graph is the
    # one-step graph; the batch stays dynamic (exported at 2: torch.export would specialize
    # a dimension of size 1 to that constant).
    x = torch.zeros(1, 2, module.input_size)
    h = torch.zeros(1, 2, module.hidden_size)
    rows = torch.export.Dim("batch")
    with warnings.catch_warnings():  # the exporter's progress and deprecation notes
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (x, (h, h.clone())),
            dynamo=True,
            verbose=False,
            dynamic_shapes=({1: rows}, ({1: rows}, {1: rows})),
        )
    if program is None:  # only when an output file is given, which this call does not
        raise TargetError("torch.onnx.export returned no program")
    return program.model_proto


class _Probe:
    """Probe values, each entry of the module's parameters a distinct positive integer, in
    ranges that tell apart a weight (1..n_w), a b_ih entry (s + k·r), a b_hh entry
    (s₂ + j) and a sum b_ih[k] + b_hh[j] (≥ s + s₂), with r = 4H, s = n_w + 1,
    s₂ = s + r²; exact in float32 below 2**24."""

    def __init__(self, module: Any) -> None:
        self.rows = getattr(module, _FIELDS["b_ih"]).numel()
        self.n_ih = getattr(module, _FIELDS["w_ih"]).numel()
        self.n_w = self.n_ih + getattr(module, _FIELDS["w_hh"]).numel()
        self.s = self.n_w + 1
        self.s2 = self.s + self.rows**2
        if self.s + self.s2 + self.rows**2 >= 2**24:
            raise TargetError(
                f"exported_torch_lstm: an nn.LSTM of {self.n_w} weights and {self.rows} gate "
                "rows is too large for the export probe (float32 integers below 2**24); "
                "export a smaller copy of the same configuration (the exporter's placement "
                "does not depend on the sizes)"
            )

    def write(self, module: Any) -> None:
        import torch

        flat = torch.arange(1, self.n_w + 1, dtype=torch.float64)
        k = torch.arange(self.rows, dtype=torch.float64)
        values = {
            "w_ih": flat[: self.n_ih],
            "w_hh": flat[self.n_ih :],
            "b_ih": self.s + k * self.rows,
            "b_hh": self.s2 + k,
        }
        with torch.no_grad():
            for key, name in _FIELDS.items():
                t = getattr(module, name)
                t.copy_(values[key].reshape(t.shape))

    def decode(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(weight index, b_ih row, b_hh row) of every element, −1 where absent; None if an
        element is no probe value."""
        v = np.rint(a).astype(np.int64)
        if a.size == 0 or not np.array_equal(v, a):
            return None
        w, bi, bh = (np.full(v.shape, -1) for _ in range(3))
        is_w = (v >= 1) & (v <= self.n_w)
        w[is_w] = v[is_w] - 1
        summed = v >= self.s + self.s2
        rest = v - np.where(summed, self.s + self.s2, 0)
        k, j = np.divmod(rest - np.where(summed, 0, self.s), self.rows)
        is_bi = ~summed & (v >= self.s) & (v < self.s2) & (j == 0)
        is_bh = ~summed & (v >= self.s2) & (v < self.s2 + self.rows)
        k2, j2 = np.divmod(rest, self.rows)
        ok_sum = summed & (k2 < self.rows)
        bi[is_bi], bh[is_bh] = k[is_bi], (v - self.s2)[is_bh]
        bi[ok_sum], bh[ok_sum] = k2[ok_sum], j2[ok_sum]
        if not np.all(is_w | is_bi | is_bh | ok_sum):
            return None
        return w, bi, bh


class _Placement:
    """Where the exporter put each parameter entry, read off an export of the probe values:
    per initializer, per element, the weight and the bias rows it holds."""

    def __init__(self, probe: _Probe, model: ModelProto, name: str) -> None:
        self.probe = probe
        self.where: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for t in model.graph.initializer:
            a = numpy_helper.to_array(t)
            if a.dtype == np.float32 and (found := probe.decode(a)) is not None:
                self.where[t.name] = found
        weights = np.concatenate(
            [np.zeros(0, int), *(w[w >= 0] for w, _, _ in self.where.values())]
        )
        rows_ih = {int(r) for _, bi, _ in self.where.values() for r in bi[bi >= 0].ravel()}
        if not np.array_equal(np.sort(weights), np.arange(probe.n_w)) or len(rows_ih) < probe.rows:
            raise TargetError(
                f"{name}: the exported graph's initializers are not a reordering of the "
                f"module's weights (the probe placed {len(weights)} weights for "
                f"{probe.n_w}, {len(rows_ih)} bias rows for {probe.rows}): check the export "
                "black-box, or report the graph"
            )

    def initializers(self, params: LSTMParams) -> dict[str, np.ndarray]:
        """The graph's parameter initializers holding ``params``, placed as the exporter did."""
        flat_w = np.concatenate([params.w_ih.ravel(), params.w_hh.ravel()])
        out = {}
        for name, (w, bi, bh) in self.where.items():
            value = np.where(w >= 0, flat_w[np.maximum(w, 0)], 0.0)
            value += np.where(bi >= 0, params.b_ih[np.maximum(bi, 0)], 0.0)
            value += np.where(bh >= 0, params.b_hh[np.maximum(bh, 0)], 0.0)
            out[name] = value.astype(np.float32)
        return out

    def read(self, arrays: dict[str, np.ndarray]) -> LSTMParams:
        """The layout back from initializers; a bias the graph holds summed reads as b_ih =
        b_ih + b_hh, b_hh = 0 (what a one-bias framework holds)."""
        probe = self.probe
        flat, b_ih, b_hh = np.zeros(probe.n_w), np.zeros(probe.rows), np.zeros(probe.rows)
        for name, (w, bi, bh) in self.where.items():
            a = arrays[name].astype(np.float64)
            flat[w[w >= 0]] = a[w >= 0]
            alone_ih, alone_hh, both = (
                (bi >= 0) & (bh < 0),
                (bh >= 0) & (bi < 0),
                (bi >= 0) & (bh >= 0),
            )
            b_ih[bi[alone_ih | both]] = a[alone_ih | both]
            b_hh[bh[alone_hh]] = a[alone_hh]
        d = probe.n_ih // probe.rows
        return LSTMParams(
            flat[: probe.n_ih].reshape(probe.rows, d),
            flat[probe.n_ih :].reshape(probe.rows, -1),
            b_ih,
            b_hh,
        )


class ExportedLSTMCell(CellAdapter):
    """The exported one-step graph of a one-layer nn.LSTM in an ORT session."""

    def __init__(self, module: Any, name: str = "torch.onnx.export(nn.LSTM)") -> None:
        import copy

        import torch

        if not isinstance(module, torch.nn.LSTM):
            raise TargetError(f"exported_torch_lstm: got {type(module).__name__}; give an nn.LSTM")
        unsupported = [
            what
            for what, on in (
                ("num_layers > 1", module.num_layers > 1),
                ("bidirectional", module.bidirectional),
                ("proj_size", module.proj_size > 0),
                ("batch_first", module.batch_first),
                ("bias=False", not module.bias),
            )
            if on
        ]
        if unsupported:
            raise TargetError(
                f"exported_torch_lstm: {', '.join(unsupported)} is not mapped yet; export a "
                "one-layer, unidirectional, time-first nn.LSTM with biases"
            )
        module = copy.deepcopy(module).float().eval()
        held = {k: getattr(module, n).detach().double().numpy().copy() for k, n in _FIELDS.items()}
        probe = _Probe(module)
        probe.write(module)
        model = _export(module)
        self._placement = _Placement(probe, model, name)
        self._model, self.name, self.variant = model, name, "standard"
        self.spec = CellSpec(module.input_size, module.hidden_size, module.hidden_size)
        self.backend = OnnxBackend("float32")
        self._inputs = [i.name for i in model.graph.input]
        self.write_layout(LSTMParams(**held))

    def _run(self, xs: np.ndarray, h: np.ndarray, c: np.ndarray) -> list[np.ndarray]:
        if h.shape[0] == 0:  # ORT's LSTM kernel aborts the whole process on an empty batch
            raise ValueError("an empty batch: ONNX Runtime's LSTM kernel aborts on one")
        feeds = dict(zip(self._inputs, (xs, h[None], c[None])))
        return self._session.run(None, feeds)

    def step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, h_n, c_n = self._run(x[None], h, c)
        return h_n[0], c_n[0]

    def read_layout(self) -> LSTMParams:
        return self._placement.read(self._held)

    @property
    def writable_layout(self) -> bool:
        return True

    def write_layout(self, params: LSTMParams) -> None:
        self._held = self._placement.initializers(params)
        model = ModelProto()
        model.CopyFrom(self._model)
        for t in model.graph.initializer:
            if t.name in self._held:
                t.CopyFrom(numpy_helper.from_array(self._held[t.name], t.name))
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # fixed bits
        self._session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )


def exported_torch_lstm(module: Any, dtype: str = "float32") -> ExportedLSTMCell:
    """``module`` (a one-layer nn.LSTM) exported by torch.onnx.export, as a target."""
    if dtype != "float32":
        raise ValueError(
            "ONNX Runtime's CPU LSTM kernel computes in float32 only: run with --lstm-dtype float32"
        )
    return ExportedLSTMCell(module)


def torch_lstm(dtype: str = "float32") -> ExportedLSTMCell:
    """nn.LSTM(3, 5) with torch's own initialisation, exported (a fixed size: one export)."""
    import torch

    torch.manual_seed(0)
    return exported_torch_lstm(torch.nn.LSTM(3, 5), dtype)
