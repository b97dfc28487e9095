"""At load: does the target's forward match the oracle on the layout read back from it?

The layout is recognised by parameter names and shapes. A module that has nn.LSTMCell's
four parameters but computes something else (an undeclared variant: a hidden forget-bias
constant, a clip, a normalisation without parameters) then meets every layout property
with a wrong oracle. Its properties still run: a wrong forward of a standard LSTM (gates
in the wrong order, a bias added twice) is exactly what they exist to report, and a switch
to black-box mode would turn those findings into passes. The disagreement is named once,
at the top of the run, with the two ways out, and the root-cause order puts the value
property first.
"""

from __future__ import annotations

import numpy as np

from lstm_props._harness.checked import CheckedCell
from lstm_props.adapters._protocol import Target
from lstm_props.maths import tolerances as tol
from lstm_props.maths.reference import lstm_step


def forward_disagreement(target: Target, variant: str) -> str | None:
    """One line naming the first layer view whose step leaves the reference step's error
    bound (tolerances.step_error, the bound the value properties use) on uniform(−1, 1)
    inputs at the target's own weights; None when every view with a layout agrees."""
    rng = np.random.default_rng(0)
    for view in target.probe().layers:
        params = view.read_layout()
        if params is None:
            continue
        be, spec = view.backend, view.spec
        x, h, c = (
            be.rounded(rng.uniform(-1, 1, (2, n)))
            for n in (spec.input_size, spec.output_size, spec.hidden_size)
        )
        cell = CheckedCell(view, target.name)
        got_h, got_c = (be.to_numpy(a) for a in cell.step(*(be.asarray(a) for a in (x, h, c))))
        gate_x = view.gate_input(x)
        want = lstm_step(params, gate_x, h, c, variant)
        try:
            err = tol.step_error(params, gate_x, h, c, variant, be.dtype)
        except tol.BeyondErrorModel:  # too wide for this precision's model: nothing to say,
            continue  # and its properties skip with the reason
        floor = tol.SMALLEST_NORMAL[be.dtype]
        excess = max(
            float(np.max(np.abs(got_h - want.h) / (tol.SAFETY * err.dh + floor))),
            float(np.max(np.abs(got_c - want.c) / (tol.SAFETY * err.dc + floor))),
        )
        if excess > 1:
            declared = getattr(view, "declared_layout", None)
            check = (
                ""
                if declared is None
                else f"; it declares lstm_layout = {declared!r}: check its gate order and paths"
            )
            return (
                f"{view.name}'s forward does not match a {variant} LSTM on the weights "
                f"read back from it ({excess:.3g}x the error bound): if it computes a "
                "variant, declare it (lstm_variant on the module, or --variant; see "
                "docs/adapters.md, 'Declaring a torch cell's variant') or check it "
                "black-box; if it is meant to be standard, the failures below follow from "
                f"a wrong forward{check}"
            )
    return None
