"""Guard every call into the implementation: faults become one-line AdapterErrors.

Inside a Hypothesis test the AdapterError travels wrapped in :class:`AdapterFault` (a
``BaseException``), so Hypothesis stops at the first fault instead of shrinking it: a broken
backward is a fault of the implementation, and minimising the inputs that show it only costs
minutes of re-running it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any, NoReturn

import numpy as np
from hypothesis import currently_in_test_context

from lstm_props._errors import AdapterError, AdapterFault
from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec

#: Adapter methods that only describe the adapter: reading them cannot fault.
_PLAIN = frozenset(
    {"spec", "name", "variant", "directions", "has_sequence", "has_packed", "writable_layout"}
)


def _shape(a: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(d) for d in np.shape(a))
    except Exception:
        return None


def _input_shape(a: Any, label: str) -> tuple[int, ...]:
    """The shape of an input the suite passed in (its own backend's array)."""
    shape = _shape(a)
    if shape is None:
        raise TypeError(f"{label}: np.shape cannot read a {type(a).__module__}.{type(a).__name__}")
    return shape


class CallLog:
    """Which adapter call is running now, and how many this property has made: what a hang
    report names (read by the watchdog thread, so plain attribute writes only).

    A call is logged as its parts and described only when read: formatting the argument
    shapes of every step was a tenth of the production-size carry check's per-step Python
    at H = 1024, B = 1, and only a hang report ever reads it.
    """

    def __init__(self) -> None:
        self.count = 0
        self._running: tuple[int, str, str, tuple[Any, ...]] | None = None

    def reset(self) -> None:
        self.count, self._running = 0, None

    def enter(self, cell: str, method: str, args: tuple[Any, ...]) -> None:
        self.count += 1
        self._running = (self.count, cell, method, args)

    def leave(self) -> None:
        self._running = None

    @property
    def current(self) -> str | None:
        running = self._running  # one read: the property's thread may leave meanwhile
        if running is None:
            return None
        count, cell, method, args = running
        shapes = ", ".join(str(_shape(a)) for a in args)
        return f"call {count} into the target, {cell}.{method}() with argument shapes {shapes}"


#: The process's log: properties run one at a time per process (xdist workers are processes).
CALLS = CallLog()


def raise_fault(error: AdapterError) -> NoReturn:
    """Raise ``error``, wrapped in AdapterFault inside a Hypothesis test (not to be shrunk)."""
    if currently_in_test_context():
        raise AdapterFault(error) from error
    raise error


def _guarded(target_name: str, what: str, call: Callable[[], Any], args: Sequence[Any]) -> Any:
    """``call()``, with any exception it raises re-raised as an AdapterError naming ``what``."""
    try:
        return call()
    except AdapterError as exc:
        raise_fault(exc)
    except Exception as exc:
        shapes = ", ".join(str(_shape(a)) for a in args)
        msg = f"{what} raised {type(exc).__name__}: {exc}".replace("\n", " ")
        detail = f" (argument shapes {shapes})" if shapes else ""
        error = AdapterError(f"target {target_name!r}: {msg}{detail}")
        error.__cause__ = exc
        raise_fault(error)


def guarded_call(target_name: str, what: str, call: Callable[[], Any]) -> Any:
    """``call()`` into the target outside a cell (building it): faults are AdapterErrors."""
    return _guarded(target_name, what, call, ())


class CheckedBackend:
    """Wraps a :class:`Backend`: ``vjp``/``vjp_rows`` (the implementation's backward) and the
    conversions raise AdapterError naming the call, and the gradients' shapes are checked
    against the primals, so a broken backward is a fault, never a property failure."""

    def __init__(self, backend: Backend, target_name: str) -> None:
        self.inner, self.target_name = backend, target_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _fault(self, what: str) -> NoReturn:
        raise_fault(AdapterError(f"target {self.target_name!r}: {what}"))

    def asarray(self, a: np.ndarray) -> Any:
        return _guarded(self.target_name, "backend.asarray()", lambda: self.inner.asarray(a), (a,))

    def to_numpy(self, a: Any) -> np.ndarray:
        return _guarded(
            self.target_name,
            f"backend.to_numpy() of a {type(a).__name__}",
            lambda: self.inner.to_numpy(a),
            (a,),
        )

    def stop_gradient(self, a: Any) -> Any:
        return _guarded(
            self.target_name, "backend.stop_gradient()", lambda: self.inner.stop_gradient(a), (a,)
        )

    def _check_grads(self, method: str, grads: Any, shapes: list[tuple[int, ...]]) -> None:
        if not isinstance(grads, (tuple, list)) or len(grads) != len(shapes):
            got = len(grads) if isinstance(grads, (tuple, list)) else type(grads).__name__
            self._fault(
                f"backend.{method}() returned {got} gradients for {len(shapes)} "
                "primals: it must return one gradient per primal"
            )
        for j, (g, want) in enumerate(zip(grads, shapes)):
            if _shape(g) != want:
                self._fault(
                    f"backend.{method}() returned a gradient of shape {_shape(g)} for "
                    f"primal {j}, expected {want}: a gradient has its primal's shape"
                )

    def vjp(
        self,
        fn: Callable[..., Sequence[Any]],
        primals: Sequence[np.ndarray],
        cotangents: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        grads = _guarded(
            self.target_name,
            "backend.vjp() (the implementation's backward)",
            lambda: self.inner.vjp(fn, primals, cotangents),
            primals,
        )
        self._check_grads("vjp", grads, [np.shape(p) for p in primals])
        return tuple(grads)

    def vjp_rows(
        self,
        fn: Callable[..., Sequence[Any]],
        primals: Sequence[np.ndarray],
        cotangent_rows: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        grads = _guarded(
            self.target_name,
            "backend.vjp_rows() (the implementation's backward)",
            lambda: self.inner.vjp_rows(fn, primals, cotangent_rows),
            primals,
        )
        k = len(cotangent_rows[0])
        self._check_grads("vjp_rows", grads, [(k, *np.shape(p)) for p in primals])
        return tuple(grads)


class CheckedCell:
    """Wraps a :class:`CellAdapter`; ``step`` and ``sequence`` validate what comes back.

    A raise inside the implementation, a wrong shape, or NaN/inf for finite inputs is
    re-raised as :class:`AdapterError` naming the target and the fix, so it is never mistaken
    for a property failure. Every other adapter method (``write_layout``, ``parameter_vjp``,
    ...) and the backend are guarded the same way.
    """

    def __init__(self, cell: CellAdapter, target_name: str) -> None:
        self.inner, self.target_name = cell, target_name
        self.backend = CheckedBackend(cell.backend, target_name)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if name in _PLAIN or name.startswith("_") or not callable(value):
            return value

        def guarded(*args: Any, **kwargs: Any) -> Any:
            return _guarded(self.target_name, f"{name}()", lambda: value(*args, **kwargs), args)

        return guarded

    def _fault(self, what: str) -> NoReturn:
        raise_fault(AdapterError(f"target {self.target_name!r}: {what}"))

    def _call(self, method: str, *args: Any) -> Any:
        CALLS.enter(getattr(self.inner, "name", "cell"), method, args)
        try:
            return _guarded(
                self.target_name, f"{method}()", lambda: getattr(self.inner, method)(*args), args
            )
        finally:
            CALLS.leave()

    def _expect(self, out: Any, shape: tuple[int, ...], label: str) -> None:
        got = _shape(out)
        if got != shape:
            self._fault(
                f"{label} has shape {got}, expected {shape}: the adapter must return "
                "(h, c) with h (B, P) and c (B, H)"
            )

    def _finite(self, arrays: tuple[Any, ...], labels: tuple[str, ...]) -> None:
        backend = self.inner.backend
        for a, label in zip(arrays, labels):
            if not backend.is_concrete(a):
                continue
            try:
                finite = backend.all_finite(a)
            except Exception:  # not the backend's array: _read names what it is
                finite = bool(np.all(np.isfinite(self._read(a, label))))
            if not finite:
                self._fault(f"{label} contains NaN or inf for finite inputs")

    def _read(self, a: Any, label: str) -> np.ndarray:
        """``a`` as NumPy through the backend; an array of another framework (NumPy from a
        torch step) is a fault of the adapter, not a crash inside the suite."""
        backend = self.inner.backend
        try:
            return np.asarray(backend.to_numpy(a))
        except Exception as exc:
            kind = f"{type(a).__module__}.{type(a).__name__}"
            why = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            self._fault(
                f"{label} is a {kind} that {type(backend).__name__}.to_numpy cannot read "
                f"({why}): return the framework's own arrays, of the kind backend.asarray "
                "makes"
            )

    @property
    def spec(self) -> CellSpec:
        spec = getattr(self.inner, "spec", None)
        sizes = [getattr(spec, f, None) for f in ("input_size", "hidden_size", "output_size")]
        if spec is None or not all(isinstance(n, Integral) and int(n) > 0 for n in sizes):
            what = "has no spec" if spec is None else f"has spec {spec!r}, not a CellSpec"
            self._fault(
                f"{type(self.inner).__name__} {what}: set spec = CellSpec(input_size, "
                "hidden_size, output_size) on the adapter (lstm_props.adapters.CellSpec)"
            )
        return spec

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        out = self._call("step", x, h, c)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            self._fault(f"step() returned {type(out).__name__}, expected a pair (h, c)")
        b, spec = _input_shape(x, "x passed to step()")[0], self.spec
        self._expect(out[0], (b, spec.output_size), "h returned by step()")
        self._expect(out[1], (b, spec.hidden_size), "c returned by step()")
        self._finite(tuple(out), ("h returned by step()", "c returned by step()"))
        return out[0], out[1]

    def sequence(self, xs: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        out = self._call("sequence", xs, h0, c0)
        b = _input_shape(xs, "xs passed to sequence()")[1]
        spec = self.spec
        self._expect(out[1], (b, spec.output_size), "h_T returned by sequence()")
        self._expect(out[2], (b, spec.hidden_size), "c_T returned by sequence()")
        self._finite(tuple(out), ("ys", "h_T", "c_T"))
        return out

    def packed_sequence(self, xs: Any, lengths: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        out = self._call("packed_sequence", xs, lengths, h0, c0)
        b = _input_shape(xs, "xs passed to packed_sequence()")[1]
        spec = self.spec
        self._expect(out[1], (b, spec.output_size), "h returned by packed_sequence()")
        self._expect(out[2], (b, spec.hidden_size), "c returned by packed_sequence()")
        self._finite(tuple(out[1:]), ("h", "c"))
        return out
