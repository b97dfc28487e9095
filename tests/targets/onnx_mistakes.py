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
