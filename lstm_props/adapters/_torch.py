"""PyTorch's backend: conversions between NumPy and torch, and VJPs by torch.autograd.grad.
The adapters: nn.LSTMCell and any module with its calling convention (_torch_cell), nn.LSTM
layer by layer and whole (_torch_lstm), and the target that wraps a module (_torch_target)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch

from lstm_props._errors import AdapterError
from lstm_props.adapters import _torch_grad as _grad
from lstm_props.adapters._protocol import Backend
from lstm_props.maths.precision import is_half, round_to, storage

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def torch_dtype(precision: str) -> torch.dtype:
    """The torch dtype a module computing in ``precision`` holds its tensors in (the storage
    format: ``bfloat16+float32`` -> torch.bfloat16)."""
    return _DTYPES[storage(precision)]


#: Up to this many cotangent rows, plain backwards over one kept graph beat a vmapped one.
FEW_ROWS = 4


class TorchBackend(Backend):
    """Conversions and torch.autograd.grad VJPs (works for custom autograd.Functions too)."""

    autograd = True
    half_precision = True

    def __init__(
        self,
        dtype: str = "float32",
        device: str = "cpu",
        target: str = "",
        batch_rows: bool = True,
        tensors: torch.dtype | None = None,
    ) -> None:
        self.dtype, self.device = dtype, device
        #: the tensors' dtype: the storage format's, or float32 for a module that keeps
        #: float32 parameters and rounds inside (torch.autocast, adapters.torch_autocast)
        self.torch_dtype = tensors or torch_dtype(dtype)
        self.target = target  # named in the fault a backward raises
        #: vmap many cotangent rows through one backward (see vjp_rows)
        self.batch_rows = batch_rows

    def like(self, dtype: str | None = None, device: str | None = None) -> TorchBackend:
        """This backend at another dtype or device, for the same target."""
        same = dtype in (None, self.dtype)  # another dtype: that dtype's own tensors
        twin = TorchBackend(
            dtype or self.dtype,
            device or self.device,
            self.target,
            self.batch_rows,
            self.torch_dtype if same else None,
        )
        twin._declared_deterministic = self._declared_deterministic
        return twin

    _declared_deterministic: bool | None = None

    @property
    def deterministic(self) -> bool:
        """CPU kernels are; CUDA RNN kernels only with deterministic algorithms or the
        cuBLAS workspace setting torch's nn.LSTM documentation prescribes; unless the
        user declared otherwise (``backend.deterministic = False``, as the loader's
        nondeterminism message suggests)."""
        import os

        if self._declared_deterministic is not None:
            return self._declared_deterministic
        return (
            not self.device.startswith("cuda")
            or torch.are_deterministic_algorithms_enabled()
            or os.environ.get("CUBLAS_WORKSPACE_CONFIG") in (":4096:8", ":16:8")
        )

    @deterministic.setter
    def deterministic(self, value: bool) -> None:
        self._declared_deterministic = bool(value)

    @property
    def array_dtype(self) -> str:
        return str(self.torch_dtype).removeprefix("torch.")

    def asarray(self, a: np.ndarray) -> torch.Tensor:
        if is_half(self.array_dtype):  # rounded here, once: torch's float64 -> bfloat16
            a = round_to(a, self.array_dtype)  # goes through float32, rounding twice
        return torch.as_tensor(np.asarray(a), dtype=self.torch_dtype, device=self.device)

    def to_numpy(self, a: Any) -> np.ndarray:
        # copy=True: a fresh float64 tensor whose memory NumPy may keep (one copy of a
        # 16 MB weight at H = 1024, not two), never the caller's tensor itself.
        return a.detach().to("cpu", torch.float64, copy=True).numpy()

    def vjp(
        self,
        fn: Callable[..., Sequence[Any]],
        primals: Sequence[np.ndarray],
        cotangents: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        leaves = [self.asarray(p).requires_grad_(True) for p in primals]
        with torch.enable_grad():
            outs = list(fn(*leaves))
        pairs = [(o, self.asarray(u)) for o, u in zip(outs, cotangents) if o.requires_grad]
        if not pairs:  # a constant output: its derivative is zero
            return tuple(np.zeros(np.shape(p)) for p in primals)
        grads = _grad.grad(self.target, [o for o, _ in pairs], leaves, [u for _, u in pairs])
        self._check_reached(fn, grads, leaves)
        return tuple(
            np.zeros(np.shape(p)) if g is None else self.to_numpy(g) for g, p in zip(grads, primals)
        )

    def _check_reached(
        self, fn: Callable[..., Sequence[Any]], grads: Sequence[Any], leaves: Sequence[torch.Tensor]
    ) -> None:
        _grad.check_reached(
            self.target,
            grads,
            leaves,
            _grad.input_labels([tuple(t.shape) for t in leaves]),
            lambda: list(fn(*leaves)),
        )

    def all_finite(self, a: Any) -> bool:
        return bool(torch.isfinite(a).all())

    def no_grad(self) -> AbstractContextManager[None]:
        return torch.no_grad()

    def stop_gradient(self, a: Any) -> Any:
        return a.detach()

    def vjp_rows(
        self,
        fn: Callable[..., Sequence[Any]],
        primals: Sequence[np.ndarray],
        cotangent_rows: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, ...]:
        # One forward, then one vmapped backward for many rows (50x faster than K forwards
        # and backwards for a Jacobian of LSTMCell), or a few plain backwards over the kept
        # graph for a few probes (vmap's per-node overhead dominates a long elementwise
        # graph). A backward torch cannot vmap (a custom autograd.Function without a vmap
        # rule) gets the default row-by-row loop, which is what it would run anyway.
        k = len(cotangent_rows[0])
        leaves = [self.asarray(p).requires_grad_(True) for p in primals]
        with torch.enable_grad():
            outs = list(fn(*leaves))
        pairs = [(o, self.asarray(u)) for o, u in zip(outs, cotangent_rows) if o.requires_grad]
        if not pairs:
            return tuple(np.zeros((k, *np.shape(p))) for p in primals)
        targets = [o for o, _ in pairs]
        if k <= FEW_ROWS or not self.batch_rows:
            try:
                rows = [
                    _grad.grad(
                        self.target,
                        targets,
                        leaves,
                        [u[i] for _, u in pairs],
                        retain_graph=i < k - 1,
                    )
                    for i in range(k)
                ]
            except AdapterError as exc:
                if not _refuses_a_kept_graph(exc):
                    raise
                # a fresh forward per row: what the backward allows, the same derivative
                return super().vjp_rows(fn, primals, cotangent_rows)
            grads = [_stacked(row) for row in ([r[j] for r in rows] for j in range(len(leaves)))]
        else:
            try:
                grads = _grad.grad(
                    self.target, targets, leaves, [u for _, u in pairs], is_grads_batched=True
                )
            except AdapterError:  # any vmap limitation: the unbatched path (which reports
                return super().vjp_rows(fn, primals, cotangent_rows)  # a raising backward)
        self._check_reached(fn, grads, leaves)
        return tuple(
            np.zeros((k, *np.shape(p))) if g is None else self.to_numpy(g)
            for g, p in zip(grads, primals)
        )


def _refuses_a_kept_graph(exc: AdapterError) -> bool:
    """A backward that runs once per forward by design: torch.compile's (AOTAutograd) that
    donates its saved buffers to the gradients raises on ``retain_graph=True`` (torch 2.13
    does for nn.LSTMCell compiled with dynamic=True). Keeping the graph is the suite's
    saving, not a claim: the rows then take a forward each."""
    cause = exc.__cause__
    return isinstance(cause, RuntimeError) and "donated buffers" in str(cause)


def _stacked(row: list[torch.Tensor | None]) -> torch.Tensor | None:
    """One input's gradients from K backwards stacked (K, ...); None when the first has none."""
    if row[0] is None:
        return None
    tensors = [g for g in row if g is not None]
    if len(tensors) != len(row):  # torch.stack's own TypeError, with the reason
        raise TypeError(
            "expected a gradient for this input from every backward, but some "
            "returned None and others a tensor"
        )
    return torch.stack(tensors)
