"""Reference cells: the float64 oracle, the LSTM variants and the vanilla RNN."""

from typing import TYPE_CHECKING

from lstm_props.maths.reference._cells import (
    GateValues,
    carry_derivative,
    carry_jacobian,
    check_norms,
    clamp,
    layer_norm,
    layer_norm_jacobian,
    log_forget,
    log_sigmoid,
    lstm_step,
    preactivations,
    rnn_jacobian,
    rnn_step,
    row_mean,
    sigmoid,
    unclipped_cell,
)

__all__ = [
    "GateValues",
    "carry_derivative",
    "carry_jacobian",
    "check_norms",
    "clamp",
    "layer_norm",
    "layer_norm_jacobian",
    "log_forget",
    "log_sigmoid",
    "lstm_step",
    "preactivations",
    "rnn_jacobian",
    "rnn_step",
    "row_mean",
    "sigmoid",
    "unclipped_cell",
]
__all__ += ["ReferenceLSTMCell"]

if TYPE_CHECKING:
    from lstm_props.maths.reference._module import ReferenceLSTMCell


def __getattr__(name: str) -> object:
    # The torch module is loaded when first asked for (PEP 562): the maths and the CLI's
    # argument parsing import this package, and torch's import is two seconds of a run.
    if name == "ReferenceLSTMCell":
        from lstm_props.maths.reference._module import ReferenceLSTMCell

        return ReferenceLSTMCell
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
