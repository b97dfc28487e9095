"""PyTorch adapters: nn.LSTMCell, nn.LSTM (layer by layer) and any module with the
nn.LSTMCell calling convention ``m(x, (h, c)) -> (h, c)``."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from lstm_props._errors import AdapterError, TargetError
from lstm_props.adapters import _torch_grad as _grad
from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec, Target, Views
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.variants import Variant, register_variant

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


#: Up to this many cotangent rows, plain backwards over one kept graph beat a vmapped one.
FEW_ROWS = 4


class TorchBackend(Backend):
    """Conversions and torch.autograd.grad VJPs (works for custom autograd.Functions too)."""

    autograd = True

    def __init__(
        self, dtype: str = "float32", device: str = "cpu", target: str = "", batch_rows: bool = True
    ) -> None:
        self.dtype, self.device = dtype, device
        self.torch_dtype = _DTYPES[dtype]
        self.target = target  # named in the fault a backward raises
        #: vmap many cotangent rows through one backward (see vjp_rows)
        self.batch_rows = batch_rows

    def like(self, dtype: str | None = None, device: str | None = None) -> TorchBackend:
        """This backend at another dtype or device, for the same target."""
        twin = TorchBackend(
            dtype or self.dtype, device or self.device, self.target, self.batch_rows
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

    def asarray(self, a: np.ndarray) -> torch.Tensor:
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
            rows = [
                _grad.grad(
                    self.target, targets, leaves, [u[i] for _, u in pairs], retain_graph=i < k - 1
                )
                for i in range(k)
            ]
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


#: The layout's bias fields; a module built with bias=False holds them as zeros.
_BIASES = ("b_ih", "b_hh")


def _has_biases(module: nn.Module, suffix: str = "") -> bool:
    """Both biases are tensors (nn.LSTMCell, nn.LSTM with bias=True), not None or absent."""
    return all(
        isinstance(getattr(module, n + suffix, None), torch.Tensor) for n in ("bias_ih", "bias_hh")
    )


def _is_standard_cell(module: nn.Module) -> bool:
    """nn.LSTMCell's weights, and both biases or neither (bias=False)."""
    w_ih = getattr(module, "weight_ih", None)
    if not isinstance(w_ih, torch.Tensor):
        return False
    w_hh = getattr(module, "weight_hh", None)
    if not isinstance(w_hh, torch.Tensor):
        return False
    if not _has_biases(module) and any(
        getattr(module, n, None) is not None for n in ("bias_ih", "bias_hh")
    ):
        return False  # one bias of two, or a bias that is not a tensor: not the layout
    return w_ih.ndim == 2 and w_hh.ndim == 2 and w_ih.shape[0] == w_hh.shape[0] == 4 * w_hh.shape[1]


#: The parameters nn.LSTMCell's layout accounts for (``peephole``: the declared (3, H) p_i,
#: p_f, p_o of the peephole variant).
_LAYOUT_PARAMETERS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "peephole")


def _unaccounted(module: nn.Module) -> list[str]:
    """Parameters (trainable or frozen) and grad-requiring buffers the layout leaves out:
    each may feed the gates (torchrecurrent's PeepholeLSTMCell ``weight_ph``), so the four
    familiar names alone do not make a module the standard cell."""
    named = [
        *module.named_parameters(),
        *((n, b) for n, b in module.named_buffers() if b.requires_grad),
    ]
    return [f"{n} {tuple(t.shape)}" for n, t in named if n not in _LAYOUT_PARAMETERS]


def _undeclared_layout_error(module: nn.Module, name: str, extra: list[str]) -> TargetError:
    return TargetError(
        f"target {name!r}: {type(module).__name__} has nn.LSTMCell's parameter names but also "
        f"{', '.join(extra)}, which the layout (weight_ih, weight_hh, bias_ih, bias_hh, "
        "peephole) does not account for, so neither its layout nor its variant is known: for "
        "a full check name its peephole weights `peephole` (3, H) and set lstm_variant = "
        "'peephole' on the module; to check it black-box set lstm_variant alone "
        "(docs/adapters.md: declaring a torch cell's variant)"
    )


class _TorchCellBase(CellAdapter):
    backend: TorchBackend

    def __init__(self, module: nn.Module, name: str, backend: TorchBackend) -> None:
        self.module, self.name, self.backend = module, name, backend
        declared = getattr(module, "lstm_variant", None)
        # A Variant record of the user's own is registered and then named like the others.
        self.variant = (
            register_variant(declared).name if isinstance(declared, Variant) else declared
        )

    def _read(self, names: dict[str, str]) -> LSTMParams:
        # Any: mypy checks a ** mapping's values against every field (the clip included).
        arrays: dict[str, Any] = {
            key: self.backend.to_numpy(getattr(self.module, attr)) for key, attr in names.items()
        }
        for key in _BIASES:  # a module built with bias=False adds nothing: zero biases
            arrays.setdefault(key, np.zeros(arrays["w_ih"].shape[0]))
        return LSTMParams(**arrays)

    def _write(self, names: dict[str, str], params: LSTMParams) -> None:
        with torch.no_grad():
            for key, attr in names.items():
                getattr(self.module, attr).copy_(self.backend.asarray(getattr(params, key)))

    def _layout_names(self) -> dict[str, str] | None:
        """layout field -> module attribute, or None in black-box mode."""
        return None

    def parameter_vjp(
        self, run: Callable[[], Sequence[Any]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams | None:
        names = self._layout_names()
        if names is None:
            return None
        tensors = {k: getattr(self.module, a) for k, a in names.items()}
        # A frozen module (requires_grad=False, as when fine-tuning other layers) still has
        # parameter derivatives: ask torch for them for the length of this call only.
        frozen = [t for t in tensors.values() if not t.requires_grad]
        try:
            for t in frozen:
                t.requires_grad_(True)
            with torch.enable_grad():
                outs = list(run())
            pairs = [
                (o, self.backend.asarray(u)) for o, u in zip(outs, cotangents) if o.requires_grad
            ]
            grads: list[Any] = [None] * len(tensors)
            if pairs:
                grads = _grad.grad(
                    self.backend.target,
                    [o for o, _ in pairs],
                    list(tensors.values()),
                    [u for _, u in pairs],
                )
        finally:
            for t in frozen:
                t.requires_grad_(False)
        _grad.check_reached(
            self.backend.target,
            grads,
            list(tensors.values()),
            [f"{a} (layout {k})" for k, a in names.items()],
            lambda: list(run()),
        )
        arrays: dict[str, Any] = {  # Any: see _read
            k: np.zeros(tuple(t.shape)) if g is None else self.backend.to_numpy(g)
            for (k, t), g in zip(tensors.items(), grads)
        }
        for key in _BIASES:  # bias=False: no bias parameter, nothing to differentiate
            arrays.setdefault(key, np.zeros(arrays["w_ih"].shape[0]))
        return LSTMParams(**arrays)

    def _copy_module(self, dtype: str, device: str) -> nn.Module:
        """An independent copy of the module at ``dtype`` on ``device``."""
        return _independent_copy(self.module).to(device=device, dtype=_DTYPES[dtype])

    def astype(self, dtype: str) -> CellAdapter | None:
        return self._clone(dtype, self.backend.device)

    def to_device(self, device: str) -> CellAdapter | None:
        return self._clone(self.backend.dtype, device)

    def _clone(self, dtype: str, device: str) -> CellAdapter | None:
        # None for the moment of the deepcopy only: the finally puts it back
        module, self.module = self.module, None  # type: ignore[assignment]
        try:
            clone = copy.deepcopy(self)  # the adapter's own state, without the module
        finally:
            self.module = module
        try:
            clone.module = self._copy_module(dtype, device)
        except _NoIndependentCopy:
            return None  # no twin: the properties that need one check in its own precision
        clone.backend = self.backend.like(dtype, device)
        return clone if _computes_in(clone, dtype) else None


def _computes_in(cell: CellAdapter, dtype: str) -> bool:
    """Whether a converted copy runs a step and returns ``dtype``: a quantized kernel keeps
    its own precision (or refuses float64 input), and a twin that is not one is no twin."""
    spec, be = cell.spec, cell.backend
    context = getattr(cell, "_context", None)  # a layer's other states fix the batch size
    b = 1 if context is None else context[0].shape[1]
    zeros = [
        be.asarray(np.zeros((b, n))) for n in (spec.input_size, spec.output_size, spec.hidden_size)
    ]
    try:
        with torch.no_grad():
            out = cell.step(*zeros)
    except Exception:
        return False
    return all(o.dtype == _DTYPES[dtype] for o in out)


class _NoIndependentCopy(Exception):
    """A TorchScript module torch.jit cannot serialize, so it cannot be copied faithfully."""


def _independent_copy(module: nn.Module) -> nn.Module:
    """A deep copy that behaves as an independent module.

    A ScriptModule is copied through torch.jit.save and load: ``copy.deepcopy`` of one that
    already ran, then ``.to(float64)``, keeps the graph executor's record of the original
    parameters, so its backward returns float32 parameter gradients (and leaves the copy's
    own .grad empty): a float32-sized error inside every float64 check.
    """
    if not isinstance(module, torch.jit.ScriptModule):
        return copy.deepcopy(module)
    buffer = io.BytesIO()
    try:
        torch.jit.save(module, buffer)
    except Exception as exc:
        raise _NoIndependentCopy(str(exc)) from exc
    buffer.seek(0)
    return torch.jit.load(buffer, map_location="cpu")


class TorchCellAdapter(_TorchCellBase):
    """A module called as ``m(x, (h, c)) -> (h, c)``: nn.LSTMCell or a custom cell.

    The layout capability is on when the module has nn.LSTMCell's parameters
    (weight_ih (4H, D), weight_hh (4H, H), bias_ih, bias_hh); otherwise black-box mode.
    """

    _NAMES: ClassVar[dict[str, str]] = {
        "w_ih": "weight_ih",
        "w_hh": "weight_hh",
        "b_ih": "bias_ih",
        "b_hh": "bias_hh",
    }

    def __init__(self, module: nn.Module, name: str, backend: TorchBackend, spec: CellSpec):
        super().__init__(module, name, backend)
        self.spec = spec
        self._standard = _is_standard_cell(module)
        self._biased = _has_biases(module)
        #: why the layout is not used although the names suggest it (None: not the case)
        self.layout_note: str | None = None
        extra = _unaccounted(module) if self._standard else []
        if extra:
            if self.variant is None:
                raise _undeclared_layout_error(module, name, extra)
            self._standard = False
            self.layout_note = (
                f"{', '.join(extra)} not in nn.LSTMCell's layout (declared "
                f"lstm_variant = {self.variant!r}: checked black-box)"
            )

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        out = self.module(x, (h, c))
        return out[0], out[1]

    def _layout_names(self) -> dict[str, str] | None:
        if not self._standard:
            return None
        names = {k: a for k, a in self._NAMES.items() if k not in _BIASES or self._biased}
        if isinstance(getattr(self.module, "peephole", None), torch.Tensor):
            names["peephole"] = "peephole"
        return names

    def read_layout(self) -> LSTMParams | None:
        names = self._layout_names()
        return None if names is None else self._read(names)

    @property
    def writable_layout(self) -> bool:
        # Without biases the forget gate cannot be forced, nor drawn parameters written:
        # the layout is read (zero biases) and checked, never written.
        return self._standard and self._biased

    def write_layout(self, params: LSTMParams) -> None:
        names = dict(self._NAMES)
        if params.peephole is not None and hasattr(self.module, "peephole"):
            names["peephole"] = "peephole"
        self._write(names, params)


def _runs_its_own_kernel(module: nn.LSTM, device: str) -> bool:
    """Whether a layer view may call the layer's kernel alone: the module's forward is
    nn.LSTM's own (a subclass that overrides it must be run whole), on CPU (cuDNN runs a
    stack as one call over its flattened weights, so on CUDA the whole module runs)."""
    return (
        type(module).forward is nn.LSTM.forward
        and not isinstance(module, torch.jit.ScriptModule)
        and device == "cpu"
    )


class TorchLSTMLayer(_TorchCellBase):
    """One direction of one layer of an nn.LSTM stack, one step at a time (a length-1
    sequence, which is one step of either direction).

    When the module's forward is nn.LSTM's own, the view calls the kernel that forward calls
    (``torch._VF.lstm``) with this layer's weights alone, so a step costs one layer, not
    the stack (a backward of nn.LSTM's CPU kernel costs about 90 ms a layer at H = 1024);
    the view's input is then the layer's own input (the layer below's output, both
    directions). A subclass that overrides forward is run whole: the other layers' states
    held at a fixed context, the gate input the output of layer − 1 in the same call,
    teacher-forced into the oracle. The stack view always runs the whole module.
    """

    module: nn.LSTM

    def __init__(
        self, module: nn.LSTM, name: str, backend: TorchBackend, layer: int, direction: int = 0
    ) -> None:
        super().__init__(module, name, backend)
        self.layer, self.direction = layer, direction
        self.dirs = 2 if module.bidirectional else 1
        self.index = layer * self.dirs + direction  # its row in h_n, c_n
        hidden, proj = module.hidden_size, module.proj_size or module.hidden_size
        self.alone = _runs_its_own_kernel(module, backend.device)
        below = module.input_size if layer == 0 or not self.alone else self.dirs * proj
        self.spec = CellSpec(below, hidden, proj)
        self._context: tuple[np.ndarray, np.ndarray] | None = None

    def _layout_names(self) -> dict[str, str]:
        s = f"_l{self.layer}" + ("_reverse" if self.direction else "")
        names = {"w_ih": "weight_ih" + s, "w_hh": "weight_hh" + s}
        if self.module.bias:
            names |= {"b_ih": "bias_ih" + s, "b_hh": "bias_hh" + s}
        if self.module.proj_size:
            names["w_hr"] = "weight_hr" + s
        return names

    def set_context(self, h_all: np.ndarray, c_all: np.ndarray) -> None:
        self._context = (h_all, c_all)

    def _stack_states(self, h: Any, c: Any) -> tuple[Any, Any]:
        layers = self.module.num_layers * self.dirs
        if self._context is None:
            h_all = torch.zeros((layers, *h.shape), dtype=h.dtype, device=h.device)
            c_all = torch.zeros((layers, *c.shape), dtype=c.dtype, device=c.device)
        else:
            h_all, c_all = (self.backend.asarray(a) for a in self._context)
        idx = torch.arange(layers, device=h.device)[:, None, None] == self.index
        return torch.where(idx, h[None], h_all), torch.where(idx, c[None], c_all)

    def _run(self, x: Any, h_all: Any, c_all: Any) -> tuple[Any, Any, Any]:
        seq = x[:, None] if self.module.batch_first else x[None]
        y, (h_n, c_n) = self.module(seq, (h_all, c_all))
        return y, h_n, c_n

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        if self.alone:
            # nn.LSTM.forward's own call, for one layer and direction (T = 1, time-first)
            weights = [getattr(self.module, n) for n in self._layout_names().values()]
            _, h_n, c_n = torch._VF.lstm(
                x[None],
                (h[None], c[None]),
                weights,
                bool(self.module.bias),
                1,
                0.0,
                self.module.training,
                False,
                False,
            )
            return h_n[0], c_n[0]
        _, h_n, c_n = self._run(x, *self._stack_states(h, c))
        return h_n[self.index], c_n[self.index]

    def gate_input(self, x: np.ndarray) -> np.ndarray:
        if self.layer == 0 or self.alone:
            return x
        b = x.shape[0]
        h0 = np.zeros((b, self.spec.output_size))
        c0 = np.zeros((b, self.spec.hidden_size))
        with torch.no_grad():
            _, h_n, _ = self._run(
                self.backend.asarray(x),
                *self._stack_states(self.backend.asarray(h0), self.backend.asarray(c0)),
            )
        below = (self.layer - 1) * self.dirs
        return np.concatenate(
            [self.backend.to_numpy(h_n[below + d]) for d in range(self.dirs)], axis=-1
        )

    def read_layout(self) -> LSTMParams:
        return self._read(self._layout_names())

    @property
    def writable_layout(self) -> bool:
        return bool(self.module.bias)  # bias=False: zero biases, read and checked, not written

    def write_layout(self, params: LSTMParams) -> None:
        self._write(self._layout_names(), params)

    @property
    def same_call_key(self) -> Hashable | None:
        # Alone, a view calls torch._VF.lstm with its own weights (written by every case),
        # so the layer index and the direction never enter the call, only the sizes do.
        if not (self.alone and self.writable_layout):
            return None
        m = self.module
        return ("torch._VF.lstm", id(m), self.spec, m.proj_size, m.training)


class TorchLSTMStack(_TorchCellBase):
    """A whole nn.LSTM as one cell: states concatenated over layers, plus its fused call."""

    module: nn.LSTM

    def __init__(self, module: nn.LSTM, name: str, backend: TorchBackend) -> None:
        super().__init__(module, name, backend)
        self.directions = 2 if module.bidirectional else 1
        layers, hidden = module.num_layers * self.directions, module.hidden_size
        proj = module.proj_size or hidden
        self.spec = CellSpec(module.input_size, layers * hidden, layers * proj)

    def _split(self, h: Any, c: Any) -> tuple[Any, Any]:
        layers, b = self.module.num_layers * self.directions, h.shape[0]
        h_all = h.reshape(b, layers, -1).transpose(0, 1).contiguous()
        c_all = c.reshape(b, layers, -1).transpose(0, 1).contiguous()
        return h_all, c_all

    @staticmethod
    def _join(state: Any) -> Any:
        return state.transpose(0, 1).reshape(state.shape[1], -1)

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        _, h_n, c_n = self.sequence(x[None], h, c)
        return h_n, c_n

    @property
    def has_sequence(self) -> bool:
        return True

    def sequence(self, xs: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        seq = xs.transpose(0, 1) if self.module.batch_first else xs
        y, (h_n, c_n) = self.module(seq, self._split(h0, c0))
        y = y.transpose(0, 1) if self.module.batch_first else y
        return y, self._join(h_n), self._join(c_n)

    @property
    def has_packed(self) -> bool:
        return True

    def packed_sequence(
        self, xs: Any, lengths: Sequence[int], h0: Any, c0: Any
    ) -> tuple[Any, Any, Any]:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        first = self.module.batch_first
        seq = xs.transpose(0, 1) if first else xs
        packed = pack_padded_sequence(
            seq, torch.as_tensor(list(lengths)), batch_first=first, enforce_sorted=False
        )
        out, (h_n, c_n) = self.module(packed, self._split(h0, c0))
        y, _ = pad_packed_sequence(out, batch_first=first, total_length=xs.shape[0])
        y = y.transpose(0, 1) if first else y
        return y, self._join(h_n), self._join(c_n)


def torch_views(module: nn.Module, name: str, dtype: str, device: str) -> Views:
    """Wrap a torch module: nn.LSTM by layers, anything else by the cell convention."""
    backend = TorchBackend(dtype, device, name)
    if isinstance(module, torch.jit.ScriptModule):  # see _independent_copy
        with contextlib.suppress(_NoIndependentCopy):
            module = _independent_copy(module)
    module = module.to(device=device, dtype=_DTYPES[dtype])
    if isinstance(module, nn.LSTM):
        # nn.LSTM's fused CPU backward (oneDNN) computes every weight gradient whether asked
        # or not; vmapped over K rows it holds K of them: at H = 1024, 22 rows took 2.2x the
        # time of a loop over the kept graph and 22x its memory.
        backend.batch_rows = False
        stack = TorchLSTMStack(module, name, backend)
        directions = ("", " reverse") if module.bidirectional else ("",)
        layers: list[CellAdapter] = [
            TorchLSTMLayer(module, f"{name}[layer {k}{label}]", backend, k, d)
            for k in range(module.num_layers)
            for d, label in enumerate(directions)
        ]
        return Views(layers, stack)
    spec = _cell_spec(module)
    cell = TorchCellAdapter(module, name, backend, spec)
    return Views([cell], cell)


def _cell_spec(module: nn.Module) -> CellSpec:
    input_size, hidden_size = (getattr(module, a, None) for a in ("input_size", "hidden_size"))
    if not isinstance(input_size, int) or not isinstance(hidden_size, int):
        raise ValueError(
            f"{type(module).__name__} does not say its sizes: give it integer attributes "
            "input_size and hidden_size (and proj_size if h is narrower than c)"
        )
    proj = getattr(module, "proj_size", 0) or hidden_size
    return CellSpec(input_size, hidden_size, proj)


class TorchTarget(Target):
    """A torch module instance (fixed sizes) or a factory taking input_size, hidden_size."""

    def __init__(
        self, name: str, make: Callable[..., nn.Module], sized: bool, dtype: str, device: str
    ) -> None:
        self.name, self._make, self.sized = name, make, sized
        self.dtype, self.device = dtype, device
        self._fixed: Views | None = None
        self.min_hidden_size = int(getattr(make, "min_hidden_size", 1))
        self.num_layers = len(self.probe().layers)

    def build(self, input_size: int | None = None, hidden_size: int | None = None) -> Views:
        if not self.sized:
            if self._fixed is None:
                self._fixed = torch_views(self._make(), self.name, self.dtype, self.device)
            return self._fixed
        module = self._make(input_size=input_size, hidden_size=hidden_size)
        return torch_views(module, self.name, self.dtype, self.device)
