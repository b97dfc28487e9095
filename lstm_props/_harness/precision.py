"""At load: does the target compute below the precision it declares?

A target whose backend declares float32 but whose arithmetic is bfloat16 (OpenVINO's CPU
plugin at its default inference precision on a CPU with bf16 support; autocast), or that
declares float64 and computes in float32 (Keras 3's float64 cell), fails every comparison
with the oracle, each by thousands of times its bound: a dozen value failures that all say
one thing. This check says it once, before any property runs, and the run stops.

Two observations, both required, on every layer view with a layout, at the target's own
weights and fixed uniform(−1, 1) probes:

1. **Its errors are a narrower precision's.** The step's errors against the float64
   oracle exceed the declared dtype's bound (tolerances.step_error, the bound the value
   properties use) on most coordinates (median excess above 1: a narrower arithmetic
   rounds everything, while a correct but sloppy kernel, ONNX Runtime's σ with absolute
   error 1.7e-7, exceeds it, if at all, on a few), and every coordinate fits the same
   bound computed with the unit roundoff of a coarser format: bfloat16 (2⁻⁸), float16
   (2⁻¹¹), or in a float64 run float32 (2⁻²⁴).
2. **Its response to a small move is rounding noise.** Scaling each entry of x and h by
   1 ± 2¹⁰u (a fixed random sign: a common factor would be invisible to layer-normalised
   gates; u the declared unit roundoff) moves a step computed in the declared dtype by what
   the oracle predicts, to about 2⁻¹⁰ of the move; a step computed in a format coarser than 2¹⁰u
   misses it by at least the move itself (it rounds the move away, or jumps a rounding
   step) on most coordinates.

Observation 1 alone would also take a slightly wrong formula (an error of 1e-3 on every
coordinate fits bfloat16's bound): its response to a move is accurate. Observation 2 alone,
a cell whose output does not depend on x and h (zero weights).

The format named: the first of bfloat16, float16, float32 (coarsest first) that x and h
are rounded to (x, h representable in it and scaled by 1 + u/4 give the same bits: both
round, or truncate, to the same value), else the finest whose bound the errors fit. A
target that only stores its weights narrower, with x and h at full precision, answers the
move accurately: it meets the load-time forward agreement check instead (agreement.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_props._harness.checked import CheckedCell
from lstm_props.adapters._protocol import CellAdapter, Target
from lstm_props.maths import tolerances as tol
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import lstm_step


@dataclass(frozen=True)
class Narrower:
    """A precision a target may compute in below the one it declares."""

    name: str
    #: Significand bits, the implicit one included: u = 2⁻ᵗ.
    bits: int

    @property
    def unit_roundoff(self) -> float:
        return 2.0**-self.bits


#: Candidates, coarsest first: a target blind to bfloat16's rounding is named bfloat16 even
#: though it is blind to float16's finer one too.
NARROWER = (Narrower("bfloat16", 8), Narrower("float16", 11), Narrower("float32", 24))


def round_to_bits(a: np.ndarray, bits: int) -> np.ndarray:
    """``a`` rounded to ``bits`` significand bits, to nearest (ties to even); exponent range
    unlimited (the probes stay in [1/4, 1], normal in every candidate)."""
    mantissa, exponent = np.frexp(a)
    return np.ldexp(np.round(mantissa * 2.0**bits), exponent - bits)


def below_precision(target: Target, variant: str) -> str | None:
    """One line naming the first layer view that computes below its declared precision
    (both observations of the module docstring), or None."""
    for view in target.probe().layers:
        params = view.read_layout()
        if params is None:
            continue
        be, spec = view.backend, view.spec
        declared = be.dtype
        x, h, c = (
            be.rounded(a) for a in _probe((spec.input_size, spec.output_size, spec.hidden_size))
        )
        cell = CheckedCell(view, target.name)
        errors = _errors(cell, params, x, h, c, variant)
        gate_x = view.gate_input(x)
        bound = _bound(params, gate_x, h, c, variant, declared)
        if bound is None:  # too wide for the declared precision's model: nothing to hold to
            continue
        coarser = [n for n in NARROWER if n.unit_roundoff > tol.UNIT_ROUNDOFF[declared]]
        fits = [
            n
            for n in coarser
            if (coarse := _bound(params, gate_x, h, c, variant, n.name)) is not None
            and np.all(errors <= coarse)
        ]
        if not (np.median(errors / bound) > 1 and fits and _noisy(cell, params, variant)):
            continue
        rounds = next((n for n in coarser if _blind_to(cell, n)), None)
        worst = int(np.argmax(errors))
        return _line(
            target.name, view, rounds or fits[-1], rounds is not None, errors[worst], bound[worst]
        )
    return None


def _line(
    name: str, view: CellAdapter, narrow: Narrower, rounds: bool, worst: float, bound: float
) -> str:
    declared = view.backend.dtype
    who = "" if view.name == name else f" ({view.name})"
    how = (
        f"it rounds x and h to {narrow.name} (its output does not move when they move "
        "within that rounding), and "
        if rounds
        else "its output answers a small move of x and h with rounding noise, and "
    )
    fix = getattr(view, "precision_note", None) or (
        f"make it compute in {declared}"
        + (" or run with --lstm-dtype float32" if narrow.name == "float32" else "")
    )
    return (
        f"{name}{who} computes below its declared {declared}: {how}its forward errors, up "
        f"to {worst:.2g}, fit {narrow.name}'s bound (u = 2⁻{_superscript(narrow.bits)}), "
        f"not {declared}'s ({bound:.2g} there); {fix}"
    )


def _probe(sizes: tuple[int, int, int], batch: int = 4) -> tuple[np.ndarray, ...]:
    """x, h, c uniform in (−1, 1) from a fixed seed, (batch, n) each."""
    rng = np.random.default_rng(1)
    return tuple(rng.uniform(-1, 1, (batch, n)) for n in sizes)


def _outputs(cell: CheckedCell, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> np.ndarray:
    """h' and c' of one step, flattened into one float64 vector."""
    be = cell.inner.backend
    got = cell.step(*(be.asarray(a) for a in (x, h, c)))
    return np.concatenate([be.to_numpy(a).ravel() for a in got])


def _oracle(
    params: LSTMParams, view: CellAdapter, x: np.ndarray, h: np.ndarray, c: np.ndarray, v: str
) -> np.ndarray:
    want = lstm_step(params, view.gate_input(x), h, c, v)
    return np.concatenate([want.h.ravel(), want.c.ravel()])


def _errors(
    cell: CheckedCell, params: LSTMParams, x: np.ndarray, h: np.ndarray, c: np.ndarray, v: str
) -> np.ndarray:
    return np.abs(_outputs(cell, x, h, c) - _oracle(params, cell.inner, x, h, c, v))


def _bound(
    params: LSTMParams, x: np.ndarray, h: np.ndarray, c: np.ndarray, v: str, dtype: str
) -> np.ndarray | None:
    """The value properties' bound on |h' − oracle|, |c' − oracle| computed in ``dtype``;
    None where its dot products are too long for the first-order model in ``dtype``
    (tolerances.BeyondErrorModel: a 16-bit format past 32 or 256 terms)."""
    try:
        err = tol.step_error(params, x, h, c, v, dtype)
    except tol.BeyondErrorModel:
        return None
    bound = np.concatenate([err.dh.ravel(), err.dc.ravel()])
    return tol.SAFETY * bound + tol.SMALLEST_NORMAL[dtype]


#: Observation 2's move, in units of the declared unit roundoff: the response of a
#: declared-precision step is then accurate to about 2⁻¹⁰ of itself.
MOVE_ULPS = 2.0**10


def _noisy(cell: CheckedCell, params: LSTMParams, variant: str) -> bool:
    """Observation 2: x and h scaled entrywise by 1 ± 2¹⁰u (rounded to the declared dtype; the
    oracle sees the rounded values too) move the output by something further from the
    oracle's move than the move itself, on at least half the coordinates."""
    view, be = cell.inner, cell.inner.backend
    spec = view.spec
    x, h, c = (be.rounded(a) for a in _probe((spec.input_size, spec.output_size, spec.hidden_size)))
    # each entry moved up or down by a fixed random sign: a common scale factor would be
    # invisible to a cell whose gates are layer-normalised, N(W·sx) = N(W·x)
    signs = np.random.default_rng(2).choice([-1.0, 1.0], size=x.size + h.size)
    move = MOVE_ULPS * tol.UNIT_ROUNDOFF[be.dtype] * signs
    x1 = be.rounded(x * (1 + move[: x.size].reshape(x.shape)))
    h1 = be.rounded(h * (1 + move[x.size :].reshape(h.shape)))
    moved = _outputs(cell, x1, h1, c) - _outputs(cell, x, h, c)
    want = _oracle(params, view, x1, h1, c, variant) - _oracle(params, view, x, h, c, variant)
    seen = want != 0
    if not np.any(seen):  # an output that does not depend on x and h tells nothing
        return False
    return bool(np.median(np.abs(moved - want)[seen] / np.abs(want[seen])) >= 0.5)


def _blind_to(cell: CheckedCell, narrow: Narrower) -> bool:
    """Whether the step rounds x and h to ``narrow``: the same bits for x, h representable
    in it and for x, h scaled by 1 + u/4 (exact in the declared dtype, and rounded, or
    truncated, back to the same ``narrow`` value)."""
    spec = cell.inner.spec
    x, h, c = _probe((spec.input_size, spec.output_size, spec.hidden_size))
    # magnitudes in [1/4, 1]: normal numbers in every candidate, signs kept
    x, h = (round_to_bits(np.sign(a) * (0.25 + 0.75 * np.abs(a)), narrow.bits) for a in (x, h))
    c = cell.inner.backend.rounded(c)
    scale = 1 + narrow.unit_roundoff / 4
    return bool(np.array_equal(_outputs(cell, x, h, c), _outputs(cell, x * scale, h * scale, c)))


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _superscript(n: int) -> str:
    return str(n).translate(_SUPERSCRIPT)
