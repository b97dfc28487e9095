"""nn.LSTMCell and any module with its calling convention ``m(x, (h, c)) -> (h, c)``: the
layout read from (and written to) nn.LSTMCell's parameter names, earned, not guessed; the
float64 or CUDA twin as an independent copy of the module."""

from __future__ import annotations

import copy
import dataclasses
import io
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from lstm_props._errors import TargetError
from lstm_props.adapters import _torch_call as _call
from lstm_props.adapters import _torch_grad as _grad
from lstm_props.adapters import _torch_layout as _layout
from lstm_props.adapters._protocol import CellAdapter, CellSpec
from lstm_props.adapters._torch import TorchBackend
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.variants import Variant, as_variant, register_variant

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
    return _layout.unaccounted(module, lambda n, _: n in _LAYOUT_PARAMETERS)


def _undeclared_layout_error(module: nn.Module, name: str, extra: list[str]) -> TargetError:
    return TargetError(
        f"target {name!r}: {type(module).__name__} has nn.LSTMCell's parameter names but also "
        f"{', '.join(extra)}, which the layout (weight_ih, weight_hh, bias_ih, bias_hh, "
        "peephole) does not account for, so neither its layout nor its variant is known: for "
        "a full check name its peephole weights `peephole` (3, H) and set lstm_variant = "
        "'peephole' on the module, or declare where each tensor goes (lstm_layout = "
        "lstm_props.stacked(..., peephole=...), docs/adapters.md: declaring a hand-written "
        "cell's layout); to check it black-box set lstm_variant alone (docs/adapters.md: "
        "declaring a torch cell's variant)"
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

    @contextmanager
    def frozen_parameters(self) -> Iterator[None]:
        """The module's parameters with requires_grad off, restored on exit."""
        held = [p for p in self.module.parameters() if p.requires_grad]
        for p in held:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in held:
                p.requires_grad_(True)

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
        grads = self._grads(
            run, cotangents, list(tensors.values()), [f"{a} (layout {k})" for k, a in names.items()]
        )
        arrays: dict[str, Any] = {}  # Any: see _read
        for n, (k, t) in enumerate(tensors.items()):
            arrays[k] = self._grad_numpy(grads, n, t)
        for key in _BIASES:  # bias=False: no bias parameter, nothing to differentiate
            arrays.setdefault(key, np.zeros(arrays["w_ih"].shape[0]))
        return LSTMParams(**arrays)

    def _grads(
        self,
        run: Callable[[], Sequence[Any]],
        cotangents: Sequence[np.ndarray],
        tensors: list[torch.Tensor],
        labels: list[str],
    ) -> list[Any]:
        """ūᵀ ∂run()/∂t for each of ``tensors`` (torch tensors, None where unreached and
        independent); a gradient lost on a path the output depends on is an AdapterError."""
        # A frozen module (requires_grad=False, as when fine-tuning other layers) still has
        # parameter derivatives: ask torch for them for the length of this call only.
        frozen = [t for t in tensors if not t.requires_grad]
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
                    tensors,
                    [u for _, u in pairs],
                )
        finally:
            for t in frozen:
                t.requires_grad_(False)
        _grad.check_reached(self.backend.target, grads, tensors, labels, lambda: list(run()))
        return grads

    def _grad_numpy(self, grads: list[Any], n: int, tensor: torch.Tensor) -> np.ndarray:
        """The n-th gradient in float64 (zeros for None); the torch gradient let go once
        copied: one weight's worth extra, not the layer's."""
        g, grads[n] = grads[n], None
        return np.zeros(tuple(tensor.shape)) if g is None else self.backend.to_numpy(g)

    def _copy_module(self, dtype: str, device: str) -> nn.Module:
        """An independent copy of the module at ``dtype`` on ``device``."""
        tensors = self.backend.like(dtype, device).torch_dtype
        return _independent_copy(self.module).to(device=device, dtype=tensors)

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
    tensors = be.torch_dtype if isinstance(be, TorchBackend) else None
    return all(o.dtype == tensors for o in out)


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
    loaded = torch.jit.load(buffer, map_location="cpu")
    # A ScriptModule subclass's Python attributes (its lstm_layout, lstm_variant, lstm_call,
    # sizes) are not serialized: the copy carries the declarations of its original.
    for attr in _DECLARATIONS:
        if hasattr(module, attr) and not hasattr(loaded, attr):
            setattr(loaded, attr, getattr(module, attr))
    return loaded


#: What a module declares about itself beside its tensors, carried to a TorchScript copy.
_DECLARATIONS = (
    "lstm_layout",
    "lstm_variant",
    "lstm_call",
    "lstm_forget_bias",
    "input_size",
    "hidden_size",
)


def _cell_constants(module: nn.Module, name: str) -> dict[str, Any]:
    """The constants the module declares its forward applies, as LSTMParams fields:
    ``lstm_forget_bias`` b (f = σ(z_f + b), TensorFlow's forget_bias=1.0 written in torch)
    and ``lstm_cell_clip`` m (c' = clamp(f ⊙ c + i ⊙ g, −m, m), TF 1's cell_clip)."""
    kind = type(module).__name__
    constants: dict[str, Any] = {}  # Any: a ** mapping's values meet every field
    for attribute, field, example, accepts in (
        ("lstm_forget_bias", "forget_bias", "1.0", lambda v: math.isfinite(v)),
        ("lstm_cell_clip", "cell_clip", "3.0", lambda v: math.isfinite(v) and v > 0),
    ):
        value = getattr(module, attribute, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not accepts(value):
            raise TargetError(
                f"target {name!r}: {kind}.{attribute} = {value!r} is not "
                f"{'a positive' if field == 'cell_clip' else 'a'} finite number: give the "
                f"constant of the cell's forward, e.g. {attribute} = {example} "
                "(docs/adapters.md: declaring the cell's constants)"
            )
        constants[field] = float(value)
    return constants


def _check_norms(bound: _layout.BoundLayout, variant: str | None, name: str, owner: str) -> None:
    """The declared layer norms and the declared variant agree (the oracle reads both)."""
    kind = as_variant(variant or "standard")
    wants = {
        "ln_gain_ih": kind.normalizes_gates,
        "ln_gain_c": kind.normalizes_cell or kind.normalizes_cell_output,
    }
    for field, wanted in wants.items():
        if wanted != (field in bound.norms):
            what = "gate norms (ln_ih, ln_hh)" if field == "ln_gain_ih" else "a cell norm (ln_c)"
            raise TargetError(
                f"target {name!r}: {owner}.lstm_layout "
                f"{'lacks' if wanted else 'declares'} {what} but lstm_variant = "
                f"{variant!r} {'normalises' if wanted else 'does not normalise'} them: declare "
                "lstm_variant = 'layer_norm' (Ba et al.: LN on the gates and on c inside h), "
                "'layer_norm_cell' (the carried c normalised) or a Variant of your own whose "
                "flags match the layout (docs/adapters.md: declaring a hand-written cell's layout)"
            )


class TorchCellAdapter(_TorchCellBase):
    """A module called as ``m(x, (h, c)) -> (h, c)``: nn.LSTMCell or a custom cell (another
    convention declared as its ``lstm_call``, see _torch_call).

    The layout capability is on when the module declares where its gates are
    (``lstm_layout``, see _torch_layout: per_gate, stacked, fused), or else has
    nn.LSTMCell's parameters (weight_ih (4H, D), weight_hh (4H, H), bias_ih, bias_hh);
    otherwise black-box mode.
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
        #: how the module is called: its lstm_call, or nn.LSTMCell's convention
        self._call = _call.parse(getattr(module, "lstm_call", None), name, type(module).__name__)
        #: the constants of its forward (lstm_forget_bias, lstm_cell_clip)
        self._constants = _cell_constants(module, name)
        #: the module's own lstm_layout, checked: it wins over nn.LSTMCell's names
        self._declared: _layout.BoundLayout | None = None
        declared = getattr(module, "lstm_layout", None)
        if declared is not None:
            sizes = (spec.input_size, spec.hidden_size, spec.output_size)
            self._declared = _layout.bind(declared, module, name, sizes)
            _check_norms(self._declared, self.variant, name, type(module).__name__)
        self._standard = self._declared is None and _is_standard_cell(module)
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

    @property
    def declared_layout(self) -> _layout.TorchLayout | None:
        """The module's own lstm_layout, if it declares one."""
        return None if self._declared is None else self._declared.declared

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        return self._call(self.module, x, h, c)

    def _layout_names(self) -> dict[str, str] | None:
        if not self._standard:
            return None
        names = {k: a for k, a in self._NAMES.items() if k not in _BIASES or self._biased}
        if isinstance(getattr(self.module, "peephole", None), torch.Tensor):
            names["peephole"] = "peephole"
        return names

    def read_layout(self) -> LSTMParams | None:
        params = self._read_layout()
        if params is None or not self._constants:
            return params
        return dataclasses.replace(params, **self._constants)

    def _read_layout(self) -> LSTMParams | None:
        if self._declared is not None:
            bound, module = self._declared, self.module
            arrays = (self.backend.to_numpy(_layout.resolve(module, p)) for p in bound.paths)
            return _layout.assemble(bound, arrays)
        names = self._layout_names()
        return None if names is None else self._read(names)

    @property
    def writable_layout(self) -> bool:
        # Without biases the forget gate cannot be forced, nor drawn parameters written:
        # the layout is read (zero biases) and checked, never written.
        if self._declared is not None:
            return self._declared.writable
        return self._standard and self._biased

    def parameter_vjp(
        self, run: Callable[[], Sequence[Any]], cotangents: Sequence[np.ndarray]
    ) -> LSTMParams | None:
        bound = self._declared
        if bound is None:
            return super().parameter_vjp(run, cotangents)
        tensors = [_layout.resolve(self.module, p) for p in bound.paths]
        grads = self._grads(run, cotangents, tensors, bound.labels())
        arrays = (self._grad_numpy(grads, n, t) for n, t in enumerate(tensors))
        return _layout.assemble(bound, arrays, gradient=True)

    def write_layout(self, params: LSTMParams) -> None:
        if self._declared is not None:
            _layout.scatter(self._declared, self.module, params, self.backend.asarray)
            return
        names = dict(self._NAMES)
        if params.peephole is not None and hasattr(self.module, "peephole"):
            names["peephole"] = "peephole"
        self._write(names, params)
