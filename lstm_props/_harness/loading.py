"""Resolve a target string, ``package.module:attr`` or ``path/to/file.py:attr``."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lstm_props._errors import AdapterError, TargetError
from lstm_props._harness.checked import CheckedCell
from lstm_props.adapters._protocol import CellAdapter, Target, Views
from lstm_props.maths.precision import is_half
from lstm_props.maths.variants import as_variant

FORM = "write it as package.module:attr or path/to/file.py:attr"


@contextlib.contextmanager
def _on_sys_path(directory: Path) -> Iterator[None]:
    """``directory`` first on sys.path while importing, as ``python file.py`` or
    ``python -m mod`` would have it; removed again afterwards, unless it was already there."""
    entry = str(directory)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _raised(spec_text: str, what: str, exc: BaseException) -> TargetError:
    if isinstance(exc, SystemExit):
        return TargetError(
            f"target {spec_text!r}: importing {what} called sys.exit({exc.code!r}); guard the "
            'module\'s script code with `if __name__ == "__main__":`'
        )
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return TargetError(f"target {spec_text!r}: importing {what} raised {text}")


def _import_file(path: Path, spec_text: str) -> ModuleType:
    if not path.is_file():
        raise TargetError(f"target {spec_text!r}: file {str(path)!r} does not exist; {FORM}")
    name = f"lstm_props_target_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"target {spec_text!r}: cannot import {str(path)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _on_sys_path(path.resolve().parent):  # so it can import its sibling modules
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # SystemExit: a script's sys.exit at import
        sys.modules.pop(name, None)
        raise _raised(spec_text, repr(str(path)), exc) from exc
    return module


def _import(module_part: str, spec_text: str) -> ModuleType:
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        return _import_file(Path(module_part), spec_text)
    try:
        with _on_sys_path(Path.cwd()):  # `mod:attr` finds ./mod.py, as pytest and -m do
            return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        raise TargetError(
            f"target {spec_text!r}: no module named {exc.name!r}; {FORM} "
            "(is the package installed, or the file path spelled right?)"
        ) from exc
    except (Exception, SystemExit) as exc:
        raise _raised(spec_text, repr(module_part), exc) from exc


def _attr(module: ModuleType, dotted: str, spec_text: str) -> Any:
    obj: Any = module
    for part in dotted.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in dir(obj) if not n.startswith("_"))[:12]
            raise TargetError(
                f"target {spec_text!r}: {getattr(obj, '__name__', obj)!r} has no attribute "
                f"{part!r} (it has: {', '.join(public)})"
            )
        obj = getattr(obj, part)
    return obj


class _FixedTarget(Target):
    """A ready-made adapter (or views) with fixed sizes."""

    def __init__(self, name: str, views: Views) -> None:
        self.name, self._views = name, views
        self.num_layers = len(views.layers)

    def build(self, input_size: int | None = None, hidden_size: int | None = None) -> Views:
        return self._views


def _parameters(obj: Any) -> set[str]:
    try:
        return set(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return set()


def _run_keywords(obj: Any, dtype: str, device: str) -> dict[str, str]:
    """The run's dtype and device, for a factory that takes them."""
    params = _parameters(obj)
    return {k: v for k, v in (("dtype", dtype), ("device", device)) if k in params}


class _AdapterFactoryTarget(Target):
    """A factory ``make(input_size, hidden_size[, dtype][, device]) -> CellAdapter``: how a
    JAX, Keras or ONNX Runtime implementation is drawn at sizes chosen per example."""

    sized = True

    def __init__(self, name: str, make: Any, keywords: dict[str, str]) -> None:
        self.name, self._make, self._keywords = name, make, keywords
        self.min_hidden_size = int(getattr(make, "min_hidden_size", 1))

    def build(self, input_size: int | None = None, hidden_size: int | None = None) -> Views:
        cell = self._make(input_size=input_size, hidden_size=hidden_size, **self._keywords)
        return Views([cell], cell)


def _refuse_other_recurrent_cells(module: Any, spec_text: str) -> None:
    """torch's GRU and plain RNN cells (``module``: an instance or the class) take and
    return h alone: called as an LSTM they fail deep inside torch ("'tuple' object has no
    attribute 'dim'"), which names nothing."""
    from torch import nn

    cls_of = module if isinstance(module, type) else type(module)
    kinds = (
        (nn.GRUCell, "a GRU cell"),
        (nn.GRU, "a GRU"),
        (nn.RNNCell, "a plain RNN cell"),
        (nn.RNN, "a plain RNN"),
    )
    for cls, kind in kinds:
        if issubclass(cls_of, cls):
            raise TargetError(
                f"target {spec_text!r}: this is {kind} (torch.nn.{cls.__name__}), not an LSTM: "
                "it has no cell state c; point the target at an nn.LSTMCell, an nn.LSTM or a "
                "module with the convention m(x, (h, c)) -> (h, c)"
            )


def _resolve(obj: Any, spec_text: str, dtype: str, device: str, depth: int = 0) -> Target:
    import torch

    from lstm_props.adapters._torch_target import TorchTarget

    if isinstance(obj, Target):
        return obj
    if isinstance(obj, CellAdapter):
        return _FixedTarget(spec_text, Views([obj], obj))
    if isinstance(obj, torch.nn.Module):
        _refuse_other_recurrent_cells(obj, spec_text)
        return TorchTarget(spec_text, lambda: obj, False, dtype, device)
    if callable(obj) and depth == 0:
        _refuse_other_recurrent_cells(obj, spec_text)
        # dtype and device go only to a factory of adapters: a torch module's constructor
        # (nn.LSTMCell's) takes torch dtypes, and TorchTarget converts the module itself.
        keywords = _run_keywords(obj, dtype, device)
        if {"input_size", "hidden_size"} <= _parameters(obj):
            probe = obj(input_size=3, hidden_size=4)
            if isinstance(probe, torch.nn.Module):
                _refuse_other_recurrent_cells(probe, spec_text)
                return TorchTarget(spec_text, obj, True, dtype, device)
            if isinstance(probe, CellAdapter):
                return _AdapterFactoryTarget(spec_text, obj, keywords)
            raise TargetError(
                f"target {spec_text!r}: factory returned {type(probe).__name__}; a sized "
                "factory must return a torch module or a CellAdapter"
            )
        made = obj()
        if isinstance(made, CellAdapter) and keywords:
            made = obj(**keywords)
        return _resolve(made, spec_text, dtype, device, depth + 1)
    raise TargetError(
        f"target {spec_text!r} is a {type(obj).__name__}, not an LSTM: point it at a "
        "CellAdapter, a torch module with the nn.LSTMCell convention m(x, (h, c)) -> (h, c), "
        "an nn.LSTM, or a factory of one"
    )


def _check_precision(target: Target, dtype: str) -> None:
    """A target that computes in another precision than the run's would be held to the wrong
    tolerances: refuse it rather than check it under the wrong error model."""
    try:
        backend = target.probe().layers[0].backend
    except Exception as exc:
        if is_half(dtype):  # a JAX, Keras or ONNX factory given "bfloat16" fails its own way
            raise _half_refused(target.name, dtype) from exc
        raise
    if is_half(dtype) and not backend.half_precision:
        raise _half_refused(target.name, dtype)
    got = backend.dtype
    if got != dtype:
        raise TargetError(
            f"target {target.name!r} computes in {got} but the run asks for {dtype}: give "
            f"its factory a dtype argument (it is passed the run's), or run with "
            f"--lstm-dtype {got}"
        )


def _half_refused(name: str, dtype: str) -> TargetError:
    return TargetError(
        f"target {name!r}: {dtype} is supported for torch targets only (their backend "
        "rounds host arrays to half and back, docs/half-precision.md); run it in float32 "
        "or float64"
    )


def load_target(spec_text: str, dtype: str = "float32", device: str = "cpu") -> Target:
    """Resolve ``spec_text`` to a :class:`Target` and smoke-test one step.

    Raises TargetError (cannot load, not an LSTM) or AdapterError (the first step faults).
    """
    if not isinstance(spec_text, str) or not spec_text.strip():
        raise TargetError(
            f"the target is empty ({spec_text!r}): name one, {FORM} (is the variable that "
            "should hold it, e.g. $TARGET, unset?)"
        )
    if spec_text.count(":") < 1 or spec_text.endswith(":"):
        raise TargetError(f"target {spec_text!r} has no ':attr' part; {FORM}")
    module_part, attr = spec_text.rsplit(":", 1)
    if not module_part:
        raise TargetError(f"target {spec_text!r} has no module part; {FORM}")
    module = _import(module_part, spec_text)
    obj = _attr(module, attr, spec_text)
    try:
        target = _resolve(obj, spec_text, dtype, device)
        _check_precision(target, dtype)  # builds a factory's first cell at the run's dtype
    except (TargetError, AdapterError):
        raise
    except Exception as exc:
        raise TargetError(
            f"target {spec_text!r}: building it raised {type(exc).__name__}: {exc}"
        ) from exc
    try:
        smoke_test(target)
    except (TargetError, AdapterError):
        raise
    except Exception as exc:  # outside the adapter's calls: its backend, its attributes
        text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        raise TargetError(f"target {spec_text!r}: the first step raised {text}") from exc
    return target


def smoke_test(target: Target) -> None:
    """One step of every view on small random inputs: shapes right, values finite, arrays
    of the backend's own kind in its declared precision."""
    views = target.probe()
    rng = np.random.default_rng(0)
    for view in {id(v): v for v in [*views.layers, views.stack]}.values():
        cell = CheckedCell(view, target.name)
        b, spec, be = 2, cell.spec, view.backend
        args = [
            be.asarray(rng.uniform(-1, 1, (b, n)))
            for n in (spec.input_size, spec.output_size, spec.hidden_size)
        ]
        h, c = cell.step(*args)
        for out, label in ((h, "h"), (c, "c")):
            _check_output_dtype(out, be.array_dtype, f"{label} returned by step()", target.name)
        if be.deterministic:
            _check_repeatable(cell, args, (h, c), target.name)


def _check_repeatable(
    cell: CheckedCell, args: list[Any], first: tuple[Any, Any], name: str
) -> None:
    """The same step twice must give the same bits on a backend that declares itself
    deterministic: every property compares calls, and a random one (dropout left on by
    training mode) makes each of them fail or retry until Hypothesis gives up, for minutes."""
    be = cell.inner.backend
    again = cell.step(*args)
    for a, b, label in zip(first, again, ("h", "c")):
        x, y = be.to_numpy(a), be.to_numpy(b)
        if not np.array_equal(x, y):
            raise TargetError(
                f"target {name!r} is nondeterministic: two identical calls of "
                f"{cell.inner.name}.step() gave {label} differing by up to "
                f"{np.max(np.abs(x - y)):.3g}; a module in training mode with dropout? call "
                ".eval() on it, or declare nondeterminism (backend.deterministic = False)"
            )


_FLOAT_NAMES = re.compile(r"\b(bfloat16|float16|float32|float64)\b")


def _check_output_dtype(out: Any, declared: str, label: str, name: str) -> None:
    """An output in another precision than the backend declares (a float32 cell that
    upcasts to float64, or the reverse) would be held to the wrong error model."""
    found = _FLOAT_NAMES.search(str(getattr(out, "dtype", "")))
    if found and found.group(1) != declared:
        raise TargetError(
            f"target {name!r}: {label} is {found.group(1)} but its backend declares "
            f"{declared}: return arrays in the declared precision (a stray .double() or "
            f".float()?), or declare and run the target in {found.group(1)}"
        )


def check_variant(target: Target, declared: str | None) -> None:
    """Refuse a peephole declaration on a cell whose layout has no peephole weights: every
    reference computation would read weights that are not there (TypeErrors, not findings).

    A black-box target (no layout) cannot be checked here; its properties that need the
    layout are skipped anyway.
    """
    layers = target.probe().layers
    variant = declared or layers[0].variant or "standard"
    if not as_variant(variant).reads_cell:
        return
    for view in layers:
        held = view.read_layout()
        if held is not None and held.peephole is None:
            raise TargetError(
                f"target {target.name!r} is declared peephole but its parameters have no "
                "peephole weights (a (3, H) 'peephole' tensor): declare the variant it "
                "implements (e.g. --variant standard), or point at a cell with peepholes"
            )
