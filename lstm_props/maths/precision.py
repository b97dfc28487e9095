"""The floating-point formats a target may compute in, and rounding to them in NumPy.

A run's precision is named by one string, the same everywhere (``--lstm-dtype``, ``--dtype``,
``Backend.dtype``, the error model's key):

* ``float64``, ``float32``, ``float16``, ``bfloat16``: every value is stored, and every
  operation rounded, in that format;
* ``float16+float32``, ``bfloat16+float32``: declared mixed precision, as torch's CPU kernels
  and ``torch.autocast`` compute. Every stored value (the operands of a product, the
  pre-activations, the gates, c and h) is rounded to the half format at most once per
  operation, and dot products accumulate in float32 (``docs/error-model.md``, "Half and
  mixed precision": what the declaration promises, and ``docs/half-precision.md`` for
  torch.autocast's roundings).

NumPy has float16 but no bfloat16, and torch-only users may not have ml_dtypes: host arrays
are float64 holding values representable in the format, rounded here exactly (round to
nearest, ties to even, from float64 directly: float64 -> float32 -> bfloat16 would round
twice), so that the framework's own conversion of them is exact whatever path it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: ``bits`` significand bits (the implicit one counted),
    smallest normal 2^``min_exponent``, largest finite value ``largest``."""

    bits: int
    min_exponent: int
    largest: float

    @property
    def unit_roundoff(self) -> float:
        return 2.0 ** (-self.bits)

    @property
    def smallest_normal(self) -> float:
        return 2.0**self.min_exponent


FORMATS = {
    "float64": Format(53, -1022, float(np.finfo(np.float64).max)),
    "float32": Format(24, -126, float(np.finfo(np.float32).max)),
    "float16": Format(11, -14, 65504.0),
    "bfloat16": Format(8, -126, (2.0 - 2.0**-7) * 2.0**127),
}
#: The formats a suite's host array may be rounded to, narrowest last.
HALF = ("float16", "bfloat16")
#: Every precision a run may declare: plain formats, then half storage with float32 sums.
PRECISIONS = ("float32", "float64", *HALF, *(f"{h}+float32" for h in HALF))


def storage(precision: str) -> str:
    """The format values are stored in: ``bfloat16+float32`` -> ``bfloat16``."""
    return precision.split("+")[0]


def accumulation(precision: str) -> str:
    """The format dot products accumulate in: ``bfloat16+float32`` -> ``float32``."""
    parts = precision.split("+")
    return parts[-1]


def is_half(precision: str) -> bool:
    return storage(precision) in HALF


def round_to(a: np.ndarray | float, precision: str) -> np.ndarray:
    """``a`` rounded to the storage format of ``precision`` (nearest, ties to even; beyond
    the largest finite value, ±inf as IEEE rounding gives), held in float64.

    With a = m·2^e, m ∈ [0.5, 1), the spacing of the format at a is 2^q,
    q = max(e − 1, min_exponent) − (bits − 1) (subnormals share the smallest normal's
    spacing); a/2^q is exact in float64, and rint rounds it half to even.
    """
    a = np.asarray(a, dtype=np.float64)
    name = storage(precision)
    if name == "float64":
        return a.copy()
    if name in ("float32", "float16"):  # NumPy's own conversion is IEEE round to nearest
        with np.errstate(over="ignore"):
            return a.astype(name).astype(np.float64)
    fmt = FORMATS[name]
    _, e = np.frexp(a)
    q = np.maximum(e - 1, fmt.min_exponent) - (fmt.bits - 1)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ldexp(np.rint(np.ldexp(a, -q)), q)
        out = np.where(np.abs(out) > fmt.largest, np.copysign(np.inf, a), out)
    return np.where(np.isfinite(a), out, a)


__all__ = ["FORMATS", "HALF", "PRECISIONS", "Format", "accumulation", "round_to", "storage"]
