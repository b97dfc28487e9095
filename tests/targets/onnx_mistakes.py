"""ONNX Runtime adapters with one mapping mistake each, of the kinds exporters and adapters
ship: the suite must fail on every one (tests/test_onnx.py)."""

from __future__ import annotations

from onnx import NodeProto, helper

from lstm_props.adapters.onnx import OnnxLSTMCell

_IDENTITY = (0, 1, 2, 3)


class _GatesInTorchOrder(OnnxLSTMCell):
    from_onnx = to_onnx = _IDENTITY


class _PeepholesInDocumentedOrder(OnnxLSTMCell):
    peephole_from_onnx = peephole_to_onnx = _IDENTITY[:3]


class _InputForget(OnnxLSTMCell):
    def _node(self) -> NodeProto:
        node = super()._node()
        node.attribute.append(helper.make_attribute("input_forget", 1))
        return node


def gates_read_in_torch_order(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> OnnxLSTMCell:
    """ONNX's W, R, B blocks i, o, f, c taken as torch's i, f, g, o."""
    return _GatesInTorchOrder(input_size, hidden_size, dtype=dtype)


def peepholes_read_in_documented_order(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> OnnxLSTMCell:
    """ONNX's P blocks i, o, f taken as the layout's p_i, p_f, p_o."""
    return _PeepholesInDocumentedOrder(input_size, hidden_size, peephole=True, dtype=dtype)


def input_forget_declared_cifg(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> OnnxLSTMCell:
    """ONNX's input_forget=1 declared as CIFG (i = 1 − f); ORT computes f = 1 − i."""
    cell = _InputForget(input_size, hidden_size, dtype=dtype)
    cell.variant = "cifg"
    return cell


def export_with_gates_swapped(dtype: str = "float32") -> object:
    """torch.onnx.export's graph with ONNX's o and f blocks swapped in W, R and both halves of
    B, as an exporter with the wrong gate reorder would write them."""
    from unittest import mock

    import numpy as np
    import torch
    from onnx import numpy_helper

    from lstm_props.adapters import onnx_export

    real = onnx_export._export

    def swapped(module: torch.nn.LSTM) -> object:
        model = real(module)
        four_h = 4 * module.hidden_size
        for t in model.graph.initializer:
            a = numpy_helper.to_array(t)
            if a.ndim >= 2 and a.shape[1] in (four_h, 2 * four_h):
                blocks = np.split(a, a.shape[1] // module.hidden_size, axis=1)
                for k in range(0, len(blocks), 4):  # i, o, f, c -> i, f, o, c
                    blocks[k + 1], blocks[k + 2] = blocks[k + 2], blocks[k + 1]
                t.CopyFrom(numpy_helper.from_array(np.concatenate(blocks, axis=1), t.name))
        return model

    with mock.patch.object(onnx_export, "_export", swapped):
        torch.manual_seed(0)
        return onnx_export.exported_torch_lstm(torch.nn.LSTM(3, 5), dtype)
