"""Reference cells: the float64 oracle, the LSTM variants and the vanilla RNN."""

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

from lstm_props.maths.reference._module import ReferenceLSTMCell

__all__ += ["ReferenceLSTMCell"]
