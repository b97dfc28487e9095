"""Hypothesis strategies: sizes, weights with forget-bias regimes, inputs and states.

Hypothesis chooses the sizes, the forget-bias regime, the weight, input and state scales, and
the forget-gate biases element by element (``hypothesis.extra.numpy.arrays``): they set f,
the quantity every carry claim is about, so that is where its boundary-seeking search and
shrinking pay. Weight matrices, the other biases, inputs and states are drawn from a
Hypothesis-chosen seed, uniform in their range: profiling a thorough run showed element-wise
weights cost three quarters of its time (about 0.1 ms an entry, hundreds of entries a case)
while a structural bug (a swapped gate, a dropped bias, a coupled carry) shows on generic
weights. Parameters are written into the target in place. A case prints as its sizes and
regime, not as a wall of numbers.
"""

from __future__ import annotations

import functools
import math
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lstm_props._harness.checked import CheckedCell, guarded_call
from lstm_props.adapters._protocol import CellAdapter, Target
from lstm_props.maths.layout import ARRAYS, CONSTANTS, LSTMParams, gate_slice
from lstm_props.maths.precision import is_half, round_to

#: Forget-bias regimes: where b_f (added to b_ih's forget slice) is drawn from.
REGIMES = {"open": (3.0, 20.0), "random": (-2.0, 2.0), "closing": (-20.0, -3.0)}


@dataclass
class LSTMCase:
    """One drawn example: a built cell with its parameters written, inputs and states.

    xs (T, B, D), h0 (B, P), c0 (B, H), all float64 holding values exactly representable in
    the target dtype. ``params`` is what the cell holds, in the documented layout (None in
    black-box mode).
    """

    cell: CheckedCell
    params: LSTMParams | None
    xs: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    regime: str
    weight_scale: float
    layer: int | str
    target_name: str
    extra: dict = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        t, b, d = self.xs.shape
        return {"B": b, "T": t, "D": d, "H": self.c0.shape[1], "P": self.h0.shape[1]}

    @property
    def dtype(self) -> str:
        return self.cell.backend.dtype

    def describe(self) -> str:
        sizes = " ".join(f"{k}={v}" for k, v in self.sizes.items())
        return (
            f"{sizes}, layer={self.layer}, forget bias regime={self.regime}, "
            f"weight scale={self.weight_scale}"
        )

    def __repr__(self) -> str:
        return f"LSTMCase({self.describe()})"

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:  # Hypothesis' printer
        printer.text(repr(self))  # type: ignore[attr-defined]  # its printer is untyped

    def with_params(self, params: LSTMParams) -> LSTMParams:
        """Write ``params`` (rounded to the target dtype) into the cell; return what it holds."""
        return write_held(self.cell, params.astype(self.cell.backend.array_dtype))


def write_held(view: CellAdapter | CheckedCell, held: LSTMParams) -> LSTMParams:
    """Write ``held`` into the view and return what it then holds.

    A framework with one bias (Keras, Equinox, Flax) stores b_ih + b_hh, rounded once more
    to its dtype, and reads it back as b_ih = that sum, b_hh = 0. That read-back is what it
    holds, and an oracle or a float64 finite difference centred elsewhere would be off by
    one rounding of the bias. Any other difference is the adapter's, and is left for the
    properties to see: the written parameters are returned unchanged.

    A quantized kernel (``back.quantization`` declared) stores its weights rounded to its
    integer grid: what it holds is the read-back, provided each weight moved by at most
    half a step of that grid (:func:`_requantized`); the oracle then runs on what the kernel
    multiplies by.
    """
    view.write_layout(held)
    if view in _STORES_EXACTLY:
        return held
    back = view.read_layout()
    if back is not None and back.quantization is not None:
        return back if _requantized(held, back) else held
    if back is None or not _same_up_to_bias_split(held, back):
        return held
    if back.hidden_size >= WIDE_HIDDEN and all(
        _same(getattr(held, k), getattr(back, k)) for k in ("b_ih", "b_hh")
    ):
        _STORES_EXACTLY.add(view)
    return back


def _requantized(written: LSTMParams, back: LSTMParams) -> bool:
    """``back`` is ``written`` with each weight matrix rounded to an int8 grid (256 levels,
    per tensor or per row, symmetric or affine: a step of at most 2·max|W|/255, so
    |ΔW| ≤ max|W|/255 per entry; checked as ≤ max|W|/127, a plausibility check of the
    adapter, not a tolerance) and the biases kept."""
    for name in ("w_ih", "w_hh"):
        w, b = getattr(written, name), getattr(back, name)
        if w.shape != b.shape:
            return False
        step = float(np.abs(w).max()) / 127
        if np.any(np.abs(w - b) > step):
            return False
    tiny = np.finfo(np.float32).eps * (np.abs(written.b_ih) + np.abs(written.b_hh))
    return bool(np.all(np.abs((written.b_ih + written.b_hh) - (back.b_ih + back.b_hh)) <= tiny))


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


#: Wide views that held exactly what was written (two biases kept apart, nothing rounded):
#: a read-back, a full copy of the weights, would return the written parameters again, so
#: it is skipped for them. A one-bias framework never lands here (its b_hh reads back 0).
_STORES_EXACTLY: weakref.WeakSet[CellAdapter | CheckedCell] = weakref.WeakSet()


def _same_up_to_bias_split(a: LSTMParams, b: LSTMParams) -> bool:
    for name in (k for k in ARRAYS if k not in ("b_ih", "b_hh")):
        x, y = getattr(a, name), getattr(b, name)
        if (x is None) != (y is None) or (x is not None and not np.array_equal(x, y)):
            return False
    tiny = np.finfo(np.float32).eps * (np.abs(a.b_ih) + np.abs(a.b_hh))
    return bool(np.all(np.abs((a.b_ih + a.b_hh) - (b.b_ih + b.b_hh)) <= tiny))


#: Forget biases of wider layers than this are seeded too: element by element they would
#: overflow Hypothesis' buffer.
ELEMENTWISE_AT_MOST = 64


#: A fixed-size target at least this wide (a user's own model, H = 256…4096) gets B ≤ 2 and
#: T ≤ 3 (or the property's own minimum): a case costs ∝ T·B·H² there, while every claim is
#: per step and per coordinate and B = 2, T = 3 already has two batch rows to mix and a
#: carry composed over steps; the small sizes drawn for factories keep exploring B and T.
WIDE_HIDDEN = 128
WIDE_MAX_BATCH, WIDE_MAX_STEPS = 2, 3
#: ... and at most this many examples per property unless --lstm-max-examples asks for more:
#: each draws and writes fresh (4H, D + H) weights, and checks B·H ≥ 128 coordinates per step
#: where a small drawn case checks at most 18 (properties/conftest.py applies it).
WIDE_MAX_EXAMPLES = 2


def wide_fixed_hidden(target: Target) -> int | None:
    """The hidden size of a fixed-size target at least WIDE_HIDDEN wide, else None."""
    if target.sized:
        return None
    hidden = target.probe().stack.spec.hidden_size
    return hidden if hidden >= WIDE_HIDDEN else None


def _seeded(shape: tuple[int, ...], bound: float, seed: int, dtype: type) -> np.ndarray:
    # Drawn in float32 (2**-24 steps of [0, 1)) and scaled there: float32-representable by
    # construction, and 15x faster than float64 draws rounded, which a fixed-size model's
    # weights (8M per layer at H = 1024, drawn per example) made a tenth of the check.
    values = np.random.default_rng(seed).random(shape, dtype=np.float32)
    values *= np.float32(2 * bound)
    values -= np.float32(bound)
    return values.astype(dtype, copy=False)


#: Strategies are built once per distinct argument and reused: Hypothesis validates a new
#: strategy object on its first draw (is_empty, has_reusable_values over its tree), and
#: building them afresh for every case made that a tenth of a property run's time.
_cached_strategy = functools.lru_cache(maxsize=4096)


def _sampled(values: list[Any] | tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """st.sampled_from(values), built once per distinct values. Keyed by each value's type
    ((1, 3) == (1.0, 3.0), and a step count must stay an int) and by the container's (a
    list and a tuple get different Hypothesis labels, which steer its generation)."""
    return _sampled_typed(type(values), tuple((type(v), v) for v in values))


@_cached_strategy
def _sampled_typed(kind: type, items: tuple[tuple[type, Any], ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(kind(v for _, v in items))


@_cached_strategy
def _array(
    shape: tuple[int, ...], bound: float = 1.0, elementwise: bool = False, dtype: type = np.float64
) -> st.SearchStrategy[np.ndarray]:
    """Uniform in [-bound, bound], float32-representable, held in ``dtype`` (float32 or
    float64); element by element if asked (float64 then)."""
    if not elementwise or int(np.prod(shape)) > ELEMENTWISE_AT_MOST:
        return st.integers(0, 2**32 - 1).map(lambda seed: _seeded(shape, bound, seed, dtype))
    elements = st.floats(-bound, bound, width=32, allow_subnormal=False)
    return hnp.arrays(np.float64, shape, elements=elements, fill=st.nothing())


def _round(a: np.ndarray, precision: str) -> np.ndarray:
    return round_to(a, precision)


def _pick(draw: st.DrawFn, lo: int, hi: int, taken: set[int], label: str) -> int:
    """A value in [lo, hi] not in ``taken`` when one exists (equal sizes hide transposes)."""
    free = [v for v in range(lo, hi + 1) if v not in taken]
    return draw(_sampled(free or list(range(lo, hi + 1))), label=label)


@st.composite
def _sizes(
    draw: st.DrawFn,
    target: Target,
    min_steps: int,
    max_steps: int,
    max_batch: int,
    min_batch: int = 1,
) -> tuple[int, int, int | None, int | None]:
    """(B, T, D, H), pairwise different wherever the ranges allow."""
    taken: set[int] = set()
    d = h = None
    if target.sized:
        h = _pick(draw, max(2, target.min_hidden_size), 6, taken, "hidden size")
        d = _pick(draw, 1, 5, taken | {h}, "input size")
        taken = {d, h}
    else:
        views = target.build()
        taken = {views.stack.spec.input_size, views.stack.spec.hidden_size}
        if wide_fixed_hidden(target) is not None:
            max_batch = max(min_batch, min(max_batch, WIDE_MAX_BATCH))
            max_steps = max(min_steps, min(max_steps, WIDE_MAX_STEPS))
    b = _pick(draw, min_batch, max_batch, taken, "batch size")
    t = _pick(draw, min_steps, max_steps, taken | {b}, "steps")
    return b, t, d, h


def _draw_params(
    draw: st.DrawFn, view: CellAdapter, regime: str, scale: float
) -> LSTMParams | None:
    """Draw parameters shaped like the view's layout, write them, return what it holds."""
    layout = _LAYOUTS.get(view)
    if layout is None:
        params = view.read_layout()
        if params is None or not view.writable_layout:
            return params
        layout = _LAYOUTS[view] = _WritableLayout.of(params)
    # Float32 draws scaled in float32 (the forget biases rounded to it on assignment) are
    # what a float32 or float64 view holds: only a narrower dtype rounds them again. At
    # H = 1024 each rounding pass over 8M weights cost as much as a backward of the kernel.
    # Scaled in place, and each float32 draw let go once widened: at H = 4096 a layer's
    # weights are 0.5 GB in float32, and a check of a stack must stay within 8 GB.
    drawn: dict[str, np.ndarray] = {}
    for k, s in layout.shapes.items():
        drawn[k] = draw(_array(s, dtype=np.float32))
        drawn[k] *= np.float32(scale * layout.narrowing(k))
    lo, hi = REGIMES[regime]
    f = gate_slice("f", layout.hidden_size)
    forget_bias = draw(_array((layout.hidden_size,), elementwise=True))
    drawn["b_ih"][f] = forget_bias * (hi - lo) / 2 + (hi + lo) / 2
    # Any: mypy checks a ** mapping's values against every field (the constants included).
    wide: dict[str, Any] = {k: drawn.pop(k).astype(np.float64) for k in list(drawn)}
    params = LSTMParams(**wide, **layout.constants)
    held = view.backend.array_dtype
    return write_held(view, params.astype(held) if is_half(held) else params)


@dataclass(frozen=True)
class _WritableLayout:
    """The shapes and the cell's constants (clip, forget bias, cell clip, layer-norm ε) of a
    writable view's layout: all a draw needs of it."""

    shapes: dict[str, tuple[int, ...]]
    hidden_size: int
    constants: dict[str, Any]

    @classmethod
    def of(cls, params: LSTMParams) -> _WritableLayout:
        shapes = {k: getattr(params, k).shape for k in ARRAYS if getattr(params, k) is not None}
        constants = {k: getattr(params, k) for k in CONSTANTS}
        return cls(shapes, params.hidden_size, constants)

    def narrowing(self, key: str) -> float:
        """How much narrower than uniform(−1, 1)·scale the weight ``key`` is drawn: 1 up to
        FAN_IN products per pre-activation, sqrt(FAN_IN / fan-in) beyond."""
        if key in ("w_ih", "w_hh"):
            fan_in = self.shapes["w_ih"][1] + self.shapes["w_hh"][1]  # z = W_ih x + W_hh h
        elif key == "w_hr":
            fan_in = self.shapes["w_hr"][1]  # h = W_hr (o ⊙ tanh c)
        else:
            return 1.0  # biases, peepholes and layer-norm gains enter one coordinate each
        return min(1.0, math.sqrt(FAN_IN / fan_in))


#: The most products a pre-activation sums at the small drawn sizes (a bidirectional second
#: layer: D = 2·6, P = 6), whose weights are uniform(−1, 1)·scale. A wider view draws
#: them narrower by sqrt(FAN_IN / fan-in), so that z keeps the spread it has at the small
#: sizes, as every standard initialisation does (PyTorch's ±1/√H). Unscaled at H = 1024, z
#: would spread over about ±26: every gate saturated, σ' ≈ 1e-11, and every gradient through
#: the gates too small for a wrong backward to show (docs/production-sizes.md: what the
#: narrowing gained and lost in `lstm-props selftest --hidden 1024`).
FAN_IN = 18


#: A fixed-size target keeps its views for the whole run: reading their layout once for the
#: shapes saves a full copy of the weights per case (tens of MB at H = 1024).
_LAYOUTS: weakref.WeakKeyDictionary[CellAdapter, _WritableLayout] = weakref.WeakKeyDictionary()


_F = TypeVar("_F", bound=Callable[..., Any])


def _keeps_global_random(draw_case: _F) -> _F:
    """The target's own code runs while a case is drawn (its build, its weight writes), and a
    Keras or TensorFlow build seeds its initializers from the ``random`` module. Hypothesis
    reads any change of that global state inside a strategy as the strategy using ``random``
    and warns (HypothesisDeprecationWarning), hundreds of times a run: the state is put back
    as it was, which is all the warning asks for, since the draw itself never reads it."""

    @functools.wraps(draw_case)
    def kept(*args: Any, **kwargs: Any) -> Any:
        state = random.getstate()
        try:
            return draw_case(*args, **kwargs)
        finally:
            random.setstate(state)

    return kept  # type: ignore[return-value]  # the same signature, by functools.wraps


@st.composite
@_keeps_global_random
def lstm_cases(
    draw: st.DrawFn,
    target: Target,
    layer: int | str = 0,
    *,
    regime: str | None = None,
    min_steps: int = 2,
    max_steps: int = 6,
    max_batch: int = 3,
    min_batch: int = 1,
    weight_scales: tuple[float, ...] = (1.0, 0.3, 3.0),
    state_scales: tuple[float, ...] = (1.0, 5.0),
    sizes: tuple[int, int, int, int] | None = None,
) -> LSTMCase:
    """Draw a case for one layer view (or "stack") of ``target``.

    ``sizes`` = (B, T, D, H) fixes the sizes (D and H apply to sized targets only; H is
    raised to the target's minimum).
    """
    if sizes is None:
        b, t, d, h = draw(_sizes(target, min_steps, max_steps, max_batch, min_batch))
    else:
        b, t, d, h = sizes
        d, h = (d, max(h, target.min_hidden_size)) if target.sized else (None, None)
    views = guarded_call(target.name, f"build({d}, {h})", lambda: target.build(d, h))
    view = views.stack if layer == "stack" else views.layers[layer]
    cell = CheckedCell(view, target.name)
    precision = view.backend.array_dtype
    regime = regime or draw(_sampled(list(REGIMES)))
    scale = draw(_sampled(weight_scales))
    if layer == "stack":
        held = [_draw_params(draw, v, regime, scale) for v in views.layers]
        params = None
        extra = {
            "layer_params": held if all(p is not None for p in held) else None,
            "layer_views": [CheckedCell(v, target.name) for v in views.layers],
        }
    else:
        params, extra = _draw_params(draw, view, regime, scale), {}
    spec = view.spec
    state_scale = draw(_sampled(state_scales))
    x_scale = draw(_sampled((1.0, 3.0)))
    xs = _round(draw(_array((t, b, spec.input_size))) * x_scale, precision)
    h0 = _round(draw(_array((b, spec.output_size))) * state_scale, precision)
    c0 = _round(draw(_array((b, spec.hidden_size))) * state_scale, precision)
    if len(views.layers) > 1 and layer != "stack":
        layers, p, hid = len(views.layers), spec.output_size, spec.hidden_size
        view.set_context(
            _round(draw(_array((layers, b, p))), precision),
            _round(draw(_array((layers, b, hid))) * state_scale, precision),
        )
    if len(views.layers) > 1 and layer == "stack":
        # A layer view run whole keeps the context of the last layer case, drawn at that
        # case's batch size; composed over this stack case it must hold this case's rows
        # (zeros, as a fresh view's). A stale B = 2 context under a B = 1 case made a
        # correct nn.LSTM subclass's own forward raise.
        n = len(views.layers)
        for v in views.layers:
            v.set_context(
                np.zeros((n, b, v.spec.output_size)), np.zeros((n, b, v.spec.hidden_size))
            )
    return LSTMCase(cell, params, xs, h0, c0, regime, scale, layer, target.name, extra)


__all__ = ["REGIMES", "LSTMCase", "lstm_cases"]
