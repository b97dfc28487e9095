"""An OpenVINO adapter with a mapping mistake of the kind adapters ship: the suite must fail
on it (tests/test_openvino.py)."""

from __future__ import annotations

from lstm_props.adapters.openvino import OpenVinoLSTMCell


class _GatesInTorchOrder(OpenVinoLSTMCell):
    from_openvino = to_openvino = (0, 1, 2, 3)


def gates_read_in_torch_order(
    input_size: int, hidden_size: int, dtype: str = "float32"
) -> OpenVinoLSTMCell:
    """i, f, g, o written as OpenVINO's f, i, c, o: the input and forget gates exchanged."""
    return _GatesInTorchOrder(input_size, hidden_size, precision_hint="f32", dtype=dtype)
