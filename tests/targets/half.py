"""Targets of the half-precision self-tests (tests/test_half_precision.py)."""

from __future__ import annotations

from torch import nn

#: A fixed-size cell whose pre-activations sum D + H + 2 = 82 terms: beyond the first-order
#: model in bfloat16 (32 terms), within it in float16 (256) and float32.
wide_lstm_cell = nn.LSTMCell(40, 40)
