"""tf.GradientTape for the suite: a missing gradient is never read as zero.

TensorFlow answers ``None`` (``UnconnectedGradients.NONE``) for a source its tape did not
reach. That is the true derivative only when the outputs do not change with the source; when
they do, the path was lost (a ``tf.stop_gradient``, an op without a registered gradient), and
reading it as zero would hand the gradient properties a plausible 0 (as torch's
``allow_unused`` once did: lstm_props.adapters._torch_grad).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from lstm_props._errors import AdapterError

#: Added to a source to ask whether the outputs depend on it (the value torch's check uses,
#: lstm_props.adapters._torch_grad.PROBE_SHIFT, not imported: this module must not import
#: torch).
PROBE_SHIFT = 0.25


def reached(
    grads: Sequence[Any],
    sources: Sequence[Any],
    outputs_with: Callable[[int, Any], Sequence[Any]],
    outputs: Sequence[Any],
    label: str,
) -> list[Any]:
    """``grads`` with each None replaced by zeros where the outputs do not depend on that
    source; an AdapterError where they do. ``outputs_with(j, shifted)`` recomputes the
    outputs with source j replaced by ``shifted`` (and restores it)."""
    out = []
    for j, (g, source) in enumerate(zip(grads, sources)):
        if g is None:
            value = tf.convert_to_tensor(source)
            shifted = value + PROBE_SHIFT * (1 + tf.abs(value))
            after = outputs_with(j, shifted)
            if any(
                not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(after, outputs)
            ):
                raise AdapterError(
                    f"{label}: the tape returned no gradient for source {j} although the "
                    "outputs change with it (a tf.stop_gradient on the path, or an op without "
                    "a registered gradient); make it differentiable: a missing gradient is "
                    "not read as zero"
                )
            g = tf.zeros_like(value)
        out.append(g)
    return out


def variables_shifted(variables: Sequence[tf.Variable], run: Callable[[], Sequence[Any]]) -> Any:
    """``outputs_with`` for tf.Variables: assign the shifted value, run, assign back."""

    def outputs_with(j: int, shifted: Any) -> list[Any]:
        kept = tf.identity(variables[j])
        variables[j].assign(shifted)
        try:
            return [tf.identity(o) for o in run()]
        finally:
            variables[j].assign(kept)

    return outputs_with


def parameter_gradients(
    run: Callable[[], Sequence[Any]],
    sources: Sequence[Any],
    cotangents: Sequence[np.ndarray],
    asarray: Callable[[np.ndarray], Any],
    label: str,
    outputs_with: Callable[[int, Any], Sequence[Any]] | None = None,
) -> list[Any]:
    """Σ_k ū_kᵀ ∂run()_k/∂source for each source (tf.Variables, or tensors with
    ``outputs_with`` to replace them), by one tape; a gradient the tape lost raises."""
    with tf.GradientTape() as tape:
        tape.watch(list(sources))
        outs = list(run())
    pairs = list(zip(outs, cotangents))
    grads = tape.gradient(
        [o for o, _ in pairs],
        list(sources),
        [asarray(u) for _, u in pairs],
        unconnected_gradients=tf.UnconnectedGradients.NONE,
    )
    rerun = outputs_with or variables_shifted(list(sources), run)
    return reached(grads, sources, rerun, outs, label)
