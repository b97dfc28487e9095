"""Guard every call into the implementation: faults become one-line AdapterErrors."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from lstm_props._errors import AdapterError
from lstm_props.adapters._protocol import CellAdapter, CellSpec


def _shape(a: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(d) for d in np.shape(a))
    except Exception:
        return None


class CallLog:
    """Which adapter call is running now, and how many this property has made: what a hang
    report names (read by the watchdog thread, so plain attribute writes only)."""

    def __init__(self) -> None:
        self.count = 0
        self.current: str | None = None

    def reset(self) -> None:
        self.count, self.current = 0, None

    def enter(self, what: str) -> None:
        self.count += 1
        self.current = f"call {self.count} into the target, {what}"

    def leave(self) -> None:
        self.current = None


#: The process's log: properties run one at a time per process (xdist workers are processes).
CALLS = CallLog()


class CheckedCell:
    """Wraps a :class:`CellAdapter`; ``step`` and ``sequence`` validate what comes back.

    A raise inside the implementation, a wrong shape, or NaN/inf for finite inputs is
    re-raised as :class:`AdapterError` naming the target and the fix, so it is never mistaken
    for a property failure.
    """

    def __init__(self, cell: CellAdapter, target_name: str) -> None:
        self.inner, self.target_name = cell, target_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _fault(self, what: str) -> AdapterError:
        return AdapterError(f"target {self.target_name!r}: {what}")

    def _call(self, method: str, *args: Any) -> Any:
        shapes = ", ".join(str(_shape(a)) for a in args)
        name = getattr(self.inner, "name", "cell")
        CALLS.enter(f"{name}.{method}() with argument shapes {shapes}")
        try:
            return getattr(self.inner, method)(*args)
        except AdapterError:
            raise
        except Exception as exc:
            msg = f"{method}() raised {type(exc).__name__}: {exc}".replace("\n", " ")
            raise self._fault(f"{msg} (argument shapes {shapes})") from exc
        finally:
            CALLS.leave()

    def _expect(self, out: Any, shape: tuple[int, ...], label: str) -> None:
        got = _shape(out)
        if got != shape:
            raise self._fault(
                f"{label} has shape {got}, expected {shape}: the adapter must return "
                "(h, c) with h (B, P) and c (B, H)"
            )

    def _finite(self, arrays: tuple[Any, ...], labels: tuple[str, ...]) -> None:
        backend = self.inner.backend
        for a, label in zip(arrays, labels):
            if backend.is_concrete(a) and not np.all(np.isfinite(self._read(a, label))):
                raise self._fault(f"{label} contains NaN or inf for finite inputs")

    def _read(self, a: Any, label: str) -> np.ndarray:
        """``a`` as NumPy through the backend; an array of another framework (NumPy from a
        torch step) is a fault of the adapter, not a crash inside the suite."""
        backend = self.inner.backend
        try:
            return np.asarray(backend.to_numpy(a))
        except Exception as exc:
            kind = f"{type(a).__module__}.{type(a).__name__}"
            why = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            raise self._fault(
                f"{label} is a {kind} that {type(backend).__name__}.to_numpy cannot read "
                f"({why}): return the framework's own arrays, of the kind backend.asarray "
                "makes"
            ) from exc

    @property
    def spec(self) -> CellSpec:
        spec = getattr(self.inner, "spec", None)
        sizes = [getattr(spec, f, None) for f in ("input_size", "hidden_size", "output_size")]
        if not all(isinstance(n, Integral) and n > 0 for n in sizes):
            what = "has no spec" if spec is None else f"has spec {spec!r}, not a CellSpec"
            raise self._fault(
                f"{type(self.inner).__name__} {what}: set spec = CellSpec(input_size, "
                "hidden_size, output_size) on the adapter (lstm_props.adapters.CellSpec)"
            )
        return spec

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        out = self._call("step", x, h, c)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise self._fault(
                f"step() returned {type(out).__name__}, expected a pair (h, c)"
            )
        b, spec = _shape(x)[0], self.spec
        self._expect(out[0], (b, spec.output_size), "h returned by step()")
        self._expect(out[1], (b, spec.hidden_size), "c returned by step()")
        self._finite(tuple(out), ("h returned by step()", "c returned by step()"))
        return out[0], out[1]

    def sequence(self, xs: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        out = self._call("sequence", xs, h0, c0)
        b = _shape(xs)[1]
        spec = self.spec
        self._expect(out[1], (b, spec.output_size), "h_T returned by sequence()")
        self._expect(out[2], (b, spec.hidden_size), "c_T returned by sequence()")
        self._finite(tuple(out), ("ys", "h_T", "c_T"))
        return out

    def packed_sequence(self, xs: Any, lengths: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        out = self._call("packed_sequence", xs, lengths, h0, c0)
        b = _shape(xs)[1]
        spec = self.spec
        self._expect(out[1], (b, spec.output_size), "h returned by packed_sequence()")
        self._expect(out[2], (b, spec.hidden_size), "c returned by packed_sequence()")
        self._finite(tuple(out[1:]), ("h", "c"))
        return out
