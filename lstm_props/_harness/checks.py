"""Turn a violated claim into one readable failure: where, expected against got, by how much."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lstm_props._errors import PropertyFailure


def _where(index: tuple[int, ...], axes: Sequence[str]) -> str:
    return ", ".join(f"{name} {i}" for name, i in zip(axes, index))


def check_close(
    got: np.ndarray,
    want: np.ndarray,
    tol: np.ndarray | float,
    *,
    claim: str,
    case: Any,
    axes: Sequence[str] = ("batch row", "coordinate"),
    offset: Sequence[int] = (),
) -> None:
    """Raise PropertyFailure unless |got − want| ≤ tol everywhere (NaN never passes).

    ``axes`` names the array dimensions for the message; ``offset`` is prepended to the
    index (e.g. the step t when the arrays are one step's).
    """
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), np.broadcast(got, want).shape)
    diff = np.abs(got - want)
    bad = ~(diff <= tol)
    if not bad.any():
        return
    excess = np.where(bad, np.nan_to_num(diff / np.maximum(tol, 1e-300), nan=np.inf), -1.0)
    index = np.unravel_index(int(np.argmax(excess)), bad.shape)
    where = _where(tuple(offset) + tuple(int(i) for i in index), axes)
    raise PropertyFailure(
        f"{claim}: at {where}: expected {want[index]:.9g}, got {got[index]:.9g} "
        f"(|diff| {diff[index]:.3g} > tolerance {tol[index]:.3g}); "
        f"{int(bad.sum())} of {bad.size} entries off; case {case.describe()}"
    )


def check_true(
    ok: np.ndarray,
    *,
    claim: str,
    case: Any,
    detail: Any = None,
    axes: Sequence[str] = ("batch row", "coordinate"),
    offset: Sequence[int] = (),
    values: np.ndarray | None = None,
) -> None:
    """Raise PropertyFailure at the first index where ``ok`` is False."""
    ok = np.asarray(ok, dtype=bool)
    if ok.all():
        return
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    where = _where(tuple(offset) + index, axes)
    got = "" if values is None else f": got {np.asarray(values)[index]:.9g}"
    extra = "" if detail is None else f" ({detail})"
    raise PropertyFailure(
        f"{claim}: fails at {where}{got}{extra}; {int((~ok).sum())} of {ok.size} entries; "
        f"case {case.describe()}"
    )
