"""The sequences a horizon is measured on (``--data``): an array on disk, or batches from code.

DATA is a .npy or .pt file holding one (N, T, D) array of N input sequences, or
``module:attr`` naming an array or a function that yields such arrays (batches; T may differ
between batches). ``layout`` says which axis is time: batch-first (N, T, D), as a DataLoader
gives them, or time-first (T, N, D), as nn.LSTM takes them by default. Every batch reaches the
measurement time-first, float64, checked: rank 3, D the model's input size, finite, not empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lstm_props._errors import LSTMPropsError

LAYOUTS = ("batch-first", "time-first")


class DataError(LSTMPropsError):
    """The data given to measure a horizon on is unusable (shape, values, source)."""


def _expected(layout: str, width: int) -> str:
    return f"(N, T, {width})" if layout == "batch-first" else f"(T, N, {width})"


def _as_numpy(batch: Any, where: str) -> np.ndarray:
    if hasattr(batch, "detach") and hasattr(batch, "cpu"):  # a torch tensor
        batch = batch.detach().cpu().numpy()
    elif type(batch).__module__.startswith(("jax", "tensorflow")):
        batch = np.asarray(batch)
    if not isinstance(batch, np.ndarray):
        raise DataError(
            f"{where} is a {type(batch).__name__}, not an array: give a NumPy array or a "
            "tensor of input sequences (or a function yielding them)"
        )
    return batch


def checked_batch(batch: Any, layout: str, width: int, where: str) -> np.ndarray:
    """``batch`` as a time-first float64 (T, N, D) array, or a one-line DataError."""
    a = _as_numpy(batch, where)
    shape = _expected(layout, width)
    if a.ndim != 3:
        raise DataError(
            f"{where} has shape {tuple(a.shape)} (rank {a.ndim}); expected {shape}: "
            f"sequences × steps × features, {layout} (one sequence: add a batch axis)"
        )
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise DataError(f"{where} holds {a.dtype} values; expected real numbers, shape {shape}")
    if a.size == 0:
        raise DataError(
            f"{where} is empty (shape {tuple(a.shape)}); expected {shape} with N, T ≥ 1"
        )
    if a.shape[2] != width:
        raise DataError(
            f"{where} has {a.shape[2]} features per step (shape {tuple(a.shape)}); the model "
            f"takes {width}: expected {shape}"
        )
    a = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise DataError(
            f"{where} holds a non-finite value ({a[tuple(bad)]!r} at index "
            f"{tuple(int(i) for i in bad)}): "
            "a horizon is measured on finite inputs; clean or mask the data first"
        )
    return np.ascontiguousarray(a.transpose(1, 0, 2) if layout == "batch-first" else a)


def _load_file(path: Path) -> Any:
    if not path.exists():
        raise DataError(f"--data {str(path)!r}: no such file (a .npy or .pt array, or module:attr)")
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise DataError(f"--data {str(path)!r}: not a plain .npy array ({exc})") from exc
    if path.suffix in (".pt", ".pth"):
        import torch

        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise DataError(
                f"--data {str(path)!r}: torch.load failed ({type(exc).__name__}: {exc}); save "
                "a tensor with torch.save(x, path)"
            ) from exc
    raise DataError(
        f"--data {str(path)!r}: unknown kind {path.suffix or '(no suffix)'!r}; give a .npy or "
        ".pt array file, or module:attr naming an array or a function yielding batches"
    )


def _from_code(text: str) -> Any:
    from lstm_props._errors import TargetError
    from lstm_props._harness.loading import _attr, _import

    module_part, attr = text.rsplit(":", 1)
    try:
        obj = _attr(_import(module_part, text), attr, text)
    except TargetError as exc:
        raise DataError(str(exc).replace("target", "--data", 1)) from exc
    if hasattr(obj, "shape") or not callable(obj):
        return obj
    if hasattr(obj, "parameters") or hasattr(obj, "weights"):  # a model, not data
        raise DataError(
            f"--data {text!r} is a {type(obj).__name__} (a model?); expected an array of input "
            "sequences or a function yielding batches of them"
        )
    return _called(obj, text)


def _called(fn: Any, text: str) -> Any:
    try:
        return fn()
    except Exception as exc:
        raise DataError(
            f"--data {text!r}: calling it raised {type(exc).__name__}: {exc} (it must take no "
            "arguments and return an array or yield batches)"
        ) from exc


def _batches(source: Any) -> Iterable[Any]:
    if isinstance(source, np.ndarray) or hasattr(source, "shape"):
        return [source]
    if isinstance(source, (list, tuple)) and source and not hasattr(source[0], "shape"):
        return [np.asarray(source)]  # nested lists: one array
    if isinstance(source, Iterable):
        return source
    return [source]  # checked_batch names what it is


def data_batches(data: Any, layout: str, width: int) -> Iterator[np.ndarray]:
    """The time-first float64 batches of ``data`` (see the module docstring); lazily, so a
    generator's batches are read one at a time."""
    if layout not in LAYOUTS:
        raise DataError(f"--layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    name = str(data) if isinstance(data, (str, Path)) else "the data"
    if isinstance(data, Path) or (isinstance(data, str) and ":" not in data.replace(":\\", "")):
        source: Any = _load_file(Path(data))
    elif isinstance(data, str):
        source = _from_code(data)
    elif callable(data) and not hasattr(data, "shape"):
        source = _called(data, getattr(data, "__name__", "the data function"))
    else:
        source = data
    count = 0
    batches = iter(_batches(source))
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except Exception as exc:
            raise DataError(
                f"--data {name}: reading batch {count} raised {type(exc).__name__}: {exc}"
            ) from exc
        where = f"--data {name}" + (f", batch {count}" if count else "")
        yield checked_batch(batch, layout, width, where)
        count += 1
    if count == 0:
        raise DataError(
            f"--data {name} yielded no batches; expected arrays {_expected(layout, width)}"
        )
