"""torch.autograd.grad for the suite: a backward that raises, or that returns no gradient
for an input the output depends on, is an adapter fault, never a property failure or a zero.

torch answers ``None`` for an input its graph does not reach. That is the true derivative
(zero) only when the output does not depend on the input at all (a cell that ignores c0).
When the output requires grad and still changes with the input, the graph lost the path: an
op without a backward (torch's dynamic-quantized LSTM), a ``.detach()`` or ``.data`` on it.
Reading that as zero would hand every gradient property a silent, plausible 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lstm_props._errors import AdapterError

#: Added to an input to ask whether the output depends on it: large enough to move any
#: LSTM's output in float16 and through an int8 quantization step, small enough to stay
#: inside the range the cell was drawn for.
PROBE_SHIFT = 0.25


def one_line(exc: BaseException) -> str:
    """The exception's own message on one line: TorchScript puts the interpreter's traceback
    first and the error last, so a multi-line message keeps its last line."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[-1] if len(lines) > 1 else (lines[0] if lines else "")
    if re.match(r"\w+(Error|Exception): ", text):  # the interpreter's line names its type
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def grad(
    target: str,
    outputs: Sequence[torch.Tensor],
    inputs: Sequence[torch.Tensor],
    cotangents: Sequence[torch.Tensor],
    **kwargs: Any,
) -> list[torch.Tensor | None]:
    """torch.autograd.grad(..., allow_unused=True); a raise inside the backward becomes a
    one-line AdapterError with the implementation's own message."""
    try:
        return list(
            torch.autograd.grad(
                list(outputs), list(inputs), list(cotangents), allow_unused=True, **kwargs
            )
        )
    except Exception as exc:
        raise AdapterError(f"target {target!r}: the backward raised {one_line(exc)}") from exc


def changes_with(run: Callable[[], Sequence[torch.Tensor]], tensor: torch.Tensor) -> bool:
    """Whether any output of ``run()`` changes when ``tensor`` is shifted (then restored)."""
    with torch.no_grad():
        before = [o.detach().clone() for o in run()]
        kept = tensor.detach().clone()
        shift = PROBE_SHIFT * (1 + kept.abs())
        try:
            tensor.add_(shift)
            after = [o.detach() for o in run()]
        finally:
            tensor.copy_(kept)
    return any(not torch.equal(a, b) for a, b in zip(before, after))


def check_reached(
    target: str,
    grads: Sequence[torch.Tensor | None],
    inputs: Sequence[torch.Tensor],
    labels: Sequence[str],
    run: Callable[[], Sequence[torch.Tensor]],
) -> None:
    """Raise AdapterError for the first input whose gradient is None although the outputs
    (which require grad: the caller asked) change with it; a None for an input they do not
    depend on is the true zero."""
    for g, tensor, label in zip(grads, inputs, labels):
        if g is None and changes_with(run, tensor):
            raise AdapterError(
                f"target {target!r}: the backward returned no gradient for {label} although "
                "the output requires grad and changes with it (an op without a backward, or "
                "a .detach() on the path); make the implementation differentiable, a missing "
                "gradient is not read as zero"
            )


def input_labels(shapes: Sequence[tuple[int, ...]]) -> list[str]:
    """Names for a VJP's inputs, which the backend knows only by position and shape."""
    n = len(shapes)
    return [f"input {k + 1} of {n} (shape {tuple(s)})" for k, s in enumerate(shapes)]
