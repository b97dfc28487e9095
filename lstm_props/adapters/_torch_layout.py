"""Declaring a hand-written torch cell's parameter layout: which of its tensors hold which
gate, so the suite reads (oracle), writes (forcing properties, drawn parameters) and
differentiates (parameter gradients) it in the documented layout with no adapter class.

    class Cell(nn.Module):
        lstm_layout = per_gate(w_ih={"i": "W_i.weight", ...}, w_hh={...}, b_ih={...})

Three helpers build the one record, :class:`TorchLayout`: :func:`per_gate` (one (H, ·)
tensor a gate), :func:`stacked` ((4H, ·) in some gate order, or its transpose) and
:func:`fused` (one (4H, D + P) matrix over the concatenation [x, h]). They only record the
declaration (attribute paths, never tensors, so it travels with a deep copy of the module);
:func:`bind` checks it against a module at load and turns it into index pieces, and
:func:`assemble` and :func:`scatter` read, differentiate and write through them.

A missing bias reads as zeros and is never written: the layout is then read-only. With one
bias of two, the one tensor holds b_ih + b_hh: it is written that sum and read back as
b_ih = that, b_hh = 0, and its gradient is the gradient of both fields (as Keras' one bias).

Layer norms (the layer_norm variants) are declared by the path of each norm module, which
holds ``weight`` (γ) and ``bias`` (β), as torch.nn.LayerNorm: ``ln_ih`` and ``ln_hh`` the
norms of W_ih x and W_hh h over their 4H entries (:func:`stacked` only: their γ and β are in
the tensor's gate order, and their β are the layout's b_ih and b_hh), ``ln_c`` the cell's
norm (H,); ``ln_eps`` the ε, read from the modules' ``eps`` when not given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_props._errors import TargetError
from lstm_props.adapters._torch_compiled import original
from lstm_props.maths.layout import GATES, LSTMParams

#: The documented gate order, as the ``gates`` argument spells it.
ORDER = "".join(GATES)
_KINDS = ("per_gate", "stacked", "fused")
_DOCS = "docs/adapters.md: declaring a hand-written cell's layout"
_ALL = slice(None)
#: a block of a tensor or of a layout field
Index = tuple[slice | int, ...]


@dataclass(frozen=True)
class TorchLayout:
    """Where a torch module keeps the documented layout's fields: built by :func:`per_gate`,
    :func:`stacked` or :func:`fused` and set as the module's ``lstm_layout`` (a class or an
    instance attribute). It holds dotted attribute paths, not tensors."""

    #: "per_gate", "stacked" or "fused".
    kind: str
    #: argument -> a dotted path, a gate -> path mapping (per_gate), or None (no such tensor).
    paths: Mapping[str, Any] = field(hash=False)
    #: the order the stacked tensor holds its gate blocks in, a permutation of "ifgo".
    gates: str = ORDER
    #: the stacked tensor is (·, 4H) (Keras, TensorFlow), not (4H, ·).
    transposed: bool = False
    #: fused: "xh" if the concatenation is [x, h], "hx" if [h, x].
    inputs: str = "xh"
    #: the layer norms' ε, or None: read from the declared norm modules' ``eps``.
    ln_eps: float | None = None

    def __repr__(self) -> str:
        args = [f"{k}={v!r}" for k, v in self.paths.items() if v is not None]
        if self.kind != "per_gate":
            args.append(f"gates={self.gates!r}")
            if self.transposed:
                args.append("transposed=True")
        if self.kind == "fused":
            args.append(f"inputs={self.inputs!r}")
        if self.ln_eps is not None:
            args.append(f"ln_eps={self.ln_eps!r}")
        return f"{self.kind}({', '.join(args)})"


def _own(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def per_gate(
    w_ih: Mapping[str, str],
    w_hh: Mapping[str, str],
    b_ih: Mapping[str, str] | None = None,
    b_hh: Mapping[str, str] | None = None,
    *,
    peephole: str | None = None,
    ln_c: str | None = None,
    ln_eps: float | None = None,
) -> TorchLayout:
    """One tensor a gate: each argument maps the gates i, f, g, o (g may be called c) to
    the dotted path of a parameter of shape (H, D) (w_ih), (H, P) (w_hh) or (H,) (biases)::

        lstm_layout = per_gate(
            w_ih={g: f"W_{g}.weight" for g in "ifgo"},
            w_hh={g: f"U_{g}.weight" for g in "ifgo"},
            b_ih={g: f"W_{g}.bias" for g in "ifgo"},
        )

    ``peephole``: the path of a (3, H) tensor of p_i, p_f, p_o, or a (3H,) one holding them
    one after another (with lstm_variant = "peephole"). Checked against the module when it
    is loaded. ``ln_c``: the path of the cell's layer norm module (weight, bias (H,))."""
    paths = {
        "w_ih": w_ih,
        "w_hh": w_hh,
        "b_ih": b_ih,
        "b_hh": b_hh,
        "peephole": peephole,
        "ln_c": ln_c,
    }
    return TorchLayout("per_gate", {k: _own(v) for k, v in paths.items()}, ln_eps=ln_eps)


def stacked(
    w_ih: str,
    w_hh: str,
    b_ih: str | None = None,
    b_hh: str | None = None,
    *,
    gates: str = ORDER,
    transposed: bool = False,
    peephole: str | None = None,
    ln_ih: str | None = None,
    ln_hh: str | None = None,
    ln_c: str | None = None,
    ln_eps: float | None = None,
) -> TorchLayout:
    """nn.LSTMCell's four tensors under other names or in another gate order: w_ih (4H, D),
    w_hh (4H, P), biases (4H,), the gate blocks in the order ``gates`` (a permutation of
    "ifgo"; the cell candidate g may be spelled c, as in "icfo"); ``transposed``: the weights
    are (D, 4H) and (P, 4H), gates in columns (Keras, TensorFlow).

    Layer norm (PyTorch's fastrnns LayerNormLSTMCell)::

        lstm_layout = stacked("weight_ih", "weight_hh", ln_ih="layernorm_i",
                              ln_hh="layernorm_h", ln_c="layernorm_c")

    ``ln_ih``, ``ln_hh``: the norm modules of W_ih x and W_hh h, weight and bias (4H,) in
    the gate order ``gates``; their biases are b_ih and b_hh (declare no other). ``ln_c``:
    the cell's norm module (H,). ``ln_eps``: their ε (default: the modules' ``eps``)."""
    paths = {
        "w_ih": w_ih,
        "w_hh": w_hh,
        "b_ih": b_ih,
        "b_hh": b_hh,
        "peephole": peephole,
        "ln_ih": ln_ih,
        "ln_hh": ln_hh,
        "ln_c": ln_c,
    }
    return TorchLayout("stacked", paths, gates, transposed, ln_eps=ln_eps)


def fused(
    weight: str,
    bias: str | None = None,
    *,
    gates: str = ORDER,
    inputs: str = "xh",
    transposed: bool = False,
    peephole: str | None = None,
) -> TorchLayout:
    """One (4H, D + P) matrix over the concatenation [x, h] (``inputs="hx"``: [h, x]), as
    ``nn.Linear(D + H, 4 * H)`` applied to ``torch.cat([x, h], 1)``; gate blocks in the order
    ``gates``; ``transposed``: a (D + P, 4H) kernel. Its one bias, if any, holds
    b_ih + b_hh."""
    paths = {"weight": weight, "bias": bias, "peephole": peephole}
    return TorchLayout("fused", paths, gates, transposed, inputs)


# -- binding a declaration to a module ---------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    """One block copied between a declared tensor and a layout field."""

    path: str
    #: an LSTMParams field, or "bias": the one bias that holds b_ih + b_hh
    field: str
    #: the block in the tensor (transposed first when ``transposed``)
    src: Index
    #: the block in the field
    dst: Index
    transposed: bool = False


@dataclass(frozen=True)
class BoundLayout:
    """A declaration checked against a module: paths and index blocks, no tensors."""

    declared: TorchLayout
    pieces: tuple[_Piece, ...]
    #: (D, H, P)
    sizes: tuple[int, int, int]
    #: both biases or one declared: the suite may write the parameters
    writable: bool
    peephole: bool
    #: the layer-norm fields held (ln_gain_ih, ln_gain_hh, ln_gain_c, ln_bias_c), and ε
    norms: tuple[str, ...] = ()
    ln_eps: float = 1e-5

    @property
    def paths(self) -> tuple[str, ...]:
        """Every declared tensor's path, once each, in declaration order."""
        return tuple(dict.fromkeys(p.path for p in self.pieces))

    def labels(self) -> list[str]:
        fields = {p: sorted({q.field for q in self.pieces if q.path == p}) for p in self.paths}
        return [f"{p} (layout {', '.join(f)})" for p, f in fields.items()]


def resolve(module: nn.Module, path: str) -> Any:
    """The object at a dotted attribute path (``lin.weight``; ``cells.0.weight`` indexes an
    nn.ModuleList or Sequential by name, as named_parameters spells it)."""
    obj: Any = module
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _block(gate: str, order: str, hidden: int) -> slice:
    k = order.index(gate)
    return slice(k * hidden, (k + 1) * hidden)


class _Binder:
    def __init__(self, layout: TorchLayout, module: nn.Module, name: str, sizes: tuple) -> None:
        self.layout, self.module, self.sizes = layout, module, sizes
        self.where = f"target {name!r}: {type(module).__name__}.lstm_layout = {layout!r}"
        self.pieces: list[_Piece] = []
        self.tensors: dict[str, torch.Tensor] = {}
        self.roles: dict[str, str] = {}

    def fail(self, what: str) -> TargetError:
        return TargetError(f"{self.where}: {what} ({_DOCS})")

    def tensor(self, path: Any, role: str, shape: tuple[int, ...], why: str) -> str:
        """``path``, checked: it resolves to a tensor of ``shape`` declared nowhere else."""
        if not isinstance(path, str) or not path:
            raise self.fail(
                f"{role} is {path!r}, not a dotted attribute path: name the parameter as "
                f"named_parameters() spells it, e.g. {_example(self.module)!r}"
            )
        try:
            obj = resolve(self.module, path)
        except AttributeError:
            raise self.fail(
                f"{role} {path!r} does not resolve on the module; its parameters are "
                f"{_parameter_names(self.module)}"
            ) from None
        if isinstance(obj, nn.Module) and not isinstance(obj, torch.Tensor):
            inner = [n for n, _ in obj.named_parameters(recurse=False)]
            hint = f": name one of its parameters, e.g. {f'{path}.{inner[0]}'!r}" if inner else ""
            raise self.fail(f"{role} {path!r} is a {type(obj).__name__}, not a tensor{hint}")
        if not isinstance(obj, torch.Tensor):
            raise self.fail(
                f"{role} {path!r} is a {type(obj).__name__}, not a tensor; its parameters "
                f"are {_parameter_names(self.module)}"
            )
        got = tuple(obj.shape)
        if got != shape:
            hint = ""
            if len(shape) == 2 and got == shape[::-1] and shape[0] != shape[1]:
                hint = (
                    f"; it is the transpose: declare transposed={not self.layout.transposed}"
                    if self.layout.kind != "per_gate"
                    else "; it is the transpose (per_gate takes nn.Linear's (out, in) weight)"
                )
            raise self.fail(f"{role} {path!r} has shape {got}, expected {shape} {why}{hint}")
        for (other, was), seen in zip(self.roles.items(), self.tensors.values()):
            if seen is obj:
                raise self.fail(
                    f"{role} {path!r} is the same tensor as {was} {other!r}: each gate and "
                    "field needs a tensor of its own"
                )
        self.tensors[path], self.roles[path] = obj, role
        return path

    def order(self) -> str:
        gates = self.layout.gates
        if isinstance(gates, str) and "g" not in gates:
            gates = gates.replace("c", "g")  # the cell candidate as TensorFlow and Keras call it
        if not isinstance(gates, str) or sorted(gates) != sorted(ORDER):
            raise self.fail(
                f"gates={self.layout.gates!r} is not a permutation of {ORDER!r}: spell the "
                "order the tensor stacks its gate blocks in, each of i, f, g, o once (g, the "
                "cell candidate, may be spelled c): e.g. gates='ifog' for i, f, o, g, or "
                "gates='icfo' for TensorFlow 1's i, c, f, o"
            )
        return gates

    def gate_map(self, arg: str, value: Any) -> dict[str, str]:
        """A per_gate argument, its keys checked and c read as g."""
        example = f"{arg}={{'i': ..., 'f': ..., 'g': ..., 'o': ...}}"
        if not isinstance(value, Mapping):
            raise self.fail(
                f"{arg}={value!r} is not a mapping of gates to paths: per_gate takes {example}"
            )
        keys = ["g" if k == "c" and "g" not in value else k for k in value]
        unknown = [k for k in keys if k not in GATES]
        if unknown or len(set(keys)) != len(keys):
            raise self.fail(
                f"{arg} names {sorted(map(str, value))}: a gate is one of i, f, g, o (the "
                f"cell candidate g may be called c, not both); give {example}"
            )
        missing = [g for g in GATES if g not in keys]
        if missing:
            raise self.fail(
                f"{arg} names gates {list(value)} but not {', '.join(map(repr, missing))}: "
                f"every gate needs its tensor; give {example}"
            )
        return {("g" if k == "c" and "g" not in value else k): v for k, v in value.items()}

    def bind(self) -> BoundLayout:
        layout, (d, h, p) = self.layout, self.sizes
        if layout.kind not in _KINDS:
            raise self.fail(f"kind {layout.kind!r} is not one of {_KINDS}")
        self.why = f"from input_size={d}, hidden_size={h}" + (f", P={p}" if p != h else "")
        #: bias argument -> its (path, block in the tensor, block in the field)s
        self.biases: dict[str, list[tuple[str, Index, Index]]] = {}
        {"per_gate": self._per_gate, "stacked": self._stacked, "fused": self._fused}[layout.kind]()
        # One bias of two (or fused's one): it holds b_ih + b_hh.
        one = len(self.biases) == 1
        for arg, blocks in self.biases.items():
            for path, src, dst in blocks:
                self.pieces.append(_Piece(path, "bias" if one else arg, src, dst))
        peephole = layout.paths.get("peephole")
        if peephole is not None:
            self._peephole(peephole)
        norms, eps = self._norms()
        return BoundLayout(
            layout,
            tuple(self.pieces),
            self.sizes,
            bool(self.biases),
            peephole is not None,
            norms,
            eps,
        )

    def _norm_module(self, arg: str, size: int, why: str) -> tuple[str, str, Any]:
        """A declared norm module's (weight path, bias path, module), each checked."""
        path = self.layout.paths[arg]
        if not isinstance(path, str) or not path:
            raise self.fail(f"{arg} is {path!r}, not the dotted path of a norm module")
        try:
            module = resolve(self.module, path)
        except AttributeError:
            raise self.fail(
                f"{arg} {path!r} does not resolve on the module; its parameters are "
                f"{_parameter_names(self.module)}"
            ) from None
        missing = [
            k for k in ("weight", "bias") if not isinstance(getattr(module, k, None), torch.Tensor)
        ]
        if missing:
            raise self.fail(
                f"{arg} {path!r} has no {' or '.join(missing)}: the suite reads a norm's gain "
                "and bias, as nn.LayerNorm(n, elementwise_affine=True) holds them"
            )
        weight = self.tensor(f"{path}.weight", f"{arg} gain", (size,), why)
        bias = self.tensor(f"{path}.bias", f"{arg} bias", (size,), why)
        return weight, bias, module

    def _norms(self) -> tuple[tuple[str, ...], float]:
        """The declared layer norms as pieces: ln_ih and ln_hh's gains to ln_gain_ih and
        ln_gain_hh, their biases to b_ih and b_hh (gate blocks in the tensor's order);
        ln_c's to ln_gain_c and ln_bias_c. Returns the fields held and ε."""
        paths, h = self.layout.paths, self.sizes[1]
        gate_norms = [k for k in ("ln_ih", "ln_hh") if paths.get(k) is not None]
        fields: list[str] = []
        modules: list[Any] = []
        if gate_norms:
            if self.layout.kind != "stacked" or len(gate_norms) != 2:
                raise self.fail(
                    "a gate layer norm is declared with stacked(..., ln_ih=..., ln_hh=...): "
                    "both norms, each over the 4H entries of one product in the stacked "
                    "tensor's gate order"
                )
            if self.biases:
                raise self.fail(
                    f"{', '.join(self.biases)} declared beside ln_ih and ln_hh: with a gate "
                    "layer norm the norms' biases are b_ih and b_hh; declare no other bias"
                )
            order = self.order()
            for arg, gain_field, bias_field in (
                ("ln_ih", "ln_gain_ih", "b_ih"),
                ("ln_hh", "ln_gain_hh", "b_hh"),
            ):
                weight, bias, module = self._norm_module(arg, 4 * h, f"(4H,) {self.why}")
                modules.append(module)
                for gate in GATES:
                    src, dst = (_block(gate, order, h),), (_block(gate, ORDER, h),)
                    self.pieces.append(_Piece(weight, gain_field, src, dst))
                    self.pieces.append(_Piece(bias, bias_field, src, dst))
                fields.append(gain_field)
                self.biases[bias_field] = []  # written: the layout is writable
        if paths.get("ln_c") is not None:
            weight, bias, module = self._norm_module("ln_c", h, f"(H,) {self.why}")
            modules.append(module)
            self.pieces.append(_Piece(weight, "ln_gain_c", (_ALL,), (_ALL,)))
            self.pieces.append(_Piece(bias, "ln_bias_c", (_ALL,), (_ALL,)))
            fields += ["ln_gain_c", "ln_bias_c"]
        eps = self.layout.ln_eps
        if eps is None and modules:
            found = {getattr(m, "eps", None) for m in modules}
            first = next(iter(found))
            if len(found) != 1 or not isinstance(first, (int, float)):
                raise self.fail(
                    f"the norms' eps are {sorted(map(repr, found))}: declare the ε the cell "
                    "computes with, ln_eps=1e-5 (or 0.0 for (v − μ)/σ)"
                )
            eps = float(first)
        return tuple(fields), 1e-5 if eps is None else float(eps)

    def _per_gate(self) -> None:
        d, h, p = self.sizes
        shapes = {"w_ih": ((h, d), "(H, D)"), "w_hh": ((h, p), "(H, P)")}
        for arg in ("w_ih", "w_hh", "b_ih", "b_hh"):
            value = self.layout.paths.get(arg)
            if value is None:
                if arg in shapes:
                    raise self.fail(f"{arg} is missing: every weight needs its tensors")
                continue
            shape, why = shapes.get(arg, ((h,), "(H,)"))
            for gate, path in self.gate_map(arg, value).items():
                self.tensor(path, f"{arg}[{gate!r}]", shape, f"{why} {self.why}")
                rows = _block(gate, ORDER, h)
                if arg in shapes:
                    self.pieces.append(_Piece(path, arg, (_ALL, _ALL), (rows, _ALL)))
                else:
                    self.biases.setdefault(arg, []).append((path, (_ALL,), (rows,)))

    def _stacked(self) -> None:
        d, h, p = self.sizes
        order, t = self.order(), bool(self.layout.transposed)
        for arg, cols, letter in (("w_ih", d, "D"), ("w_hh", p, "P")):
            shape = (cols, 4 * h) if t else (4 * h, cols)
            why = f"({letter}, 4H)" if t else f"(4H, {letter})"
            path = self.tensor(self.layout.paths.get(arg), arg, shape, f"{why} {self.why}")
            for gate in GATES:
                src = (_block(gate, order, h), _ALL)
                self.pieces.append(_Piece(path, arg, src, (_block(gate, ORDER, h), _ALL), t))
        for arg in ("b_ih", "b_hh"):
            self._bias(arg, order)

    def _fused(self) -> None:
        d, h, p = self.sizes
        order, t, inputs = self.order(), bool(self.layout.transposed), self.layout.inputs
        if inputs not in ("xh", "hx"):
            raise self.fail(
                f"inputs={inputs!r} is neither 'xh' nor 'hx': say which comes first in the "
                "concatenation the weight multiplies, inputs='xh' for torch.cat([x, h], 1), "
                "inputs='hx' for torch.cat([h, x], 1)"
            )
        shape = (d + p, 4 * h) if t else (4 * h, d + p)
        why = "(D + P, 4H)" if t else "(4H, D + P)"
        path = self.tensor(self.layout.paths.get("weight"), "weight", shape, f"{why} {self.why}")
        x_cols = slice(0, d) if inputs == "xh" else slice(p, p + d)
        h_cols = slice(d, d + p) if inputs == "xh" else slice(0, p)
        for gate in GATES:
            rows, dst = _block(gate, order, h), (_block(gate, ORDER, h), _ALL)
            self.pieces.append(_Piece(path, "w_ih", (rows, x_cols), dst, t))
            self.pieces.append(_Piece(path, "w_hh", (rows, h_cols), dst, t))
        self._bias("bias", order)

    def _peephole(self, path: Any) -> None:
        """p_i, p_f, p_o as the rows of a (3, H) tensor, or one after another in a (3H,)
        one (torchrecurrent's ``weight_ph``)."""
        h = self.sizes[1]
        try:
            flat = getattr(resolve(self.module, path), "ndim", None) == 1
        except (AttributeError, TypeError):
            flat = False  # reported by tensor()
        shape, why = ((3 * h,), "(3H,)") if flat else ((3, h), "(3, H)")
        path = self.tensor(path, "peephole", shape, f"{why}: p_i, p_f, p_o, {self.why}")
        if not flat:
            self.pieces.append(_Piece(path, "peephole", (_ALL, _ALL), (_ALL, _ALL)))
            return
        for k in range(3):
            src = (slice(k * h, (k + 1) * h),)
            self.pieces.append(_Piece(path, "peephole", src, (k, _ALL)))

    def _bias(self, arg: str, order: str) -> None:
        """A (4H,) bias in the gate order ``order``, if declared."""
        path = self.layout.paths.get(arg)
        if path is None:
            return
        h = self.sizes[1]
        self.tensor(path, arg, (4 * h,), f"(4H,) {self.why}")
        self.biases[arg] = [(path, (_block(g, order, h),), (_block(g, ORDER, h),)) for g in GATES]


def unaccounted(module: nn.Module, accounted: Callable[[str, torch.Tensor], bool]) -> list[str]:
    """Parameters (trainable or frozen) and grad-requiring buffers a layout leaves out, as
    "name (shape)": each may feed the gates, so a layout that leaves one out is not known."""
    module = original(module)  # a compiled module's names are its original's
    named = [
        *module.named_parameters(),
        *((n, b) for n, b in module.named_buffers() if b.requires_grad),
    ]
    return [f"{n} {tuple(t.shape)}" for n, t in named if not accounted(n, t)]


def _parameter_names(module: nn.Module, most: int = 12) -> str:
    names = [f"{n} {tuple(t.shape)}" for n, t in original(module).named_parameters()]
    more = f", … ({len(names) - most} more)" if len(names) > most else ""
    return (", ".join(names[:most]) + more) if names else "none"


def _example(module: nn.Module) -> str:
    return next((n for n, _ in original(module).named_parameters()), "lin.weight")


def bind(layout: Any, module: nn.Module, name: str, sizes: tuple[int, int, int]) -> BoundLayout:
    """Check ``module.lstm_layout`` against the module and its sizes (D, H, P): a one-line
    TargetError for a path that does not resolve, a tensor of the wrong shape, gates not a
    permutation of "ifgo", a gate missing, or a parameter the declaration leaves out."""
    if not isinstance(layout, TorchLayout):
        raise TargetError(
            f"target {name!r}: {type(module).__name__}.lstm_layout is {layout!r}, not a "
            "TorchLayout: build it with lstm_props.per_gate, lstm_props.stacked or "
            f"lstm_props.fused ({_DOCS})"
        )
    binder = _Binder(layout, module, name, sizes)
    bound = binder.bind()
    declared = {id(t) for t in binder.tensors.values()}  # by identity: a tied one is one
    extra = unaccounted(module, lambda _, t: id(t) in declared)
    if extra:
        raise binder.fail(
            f"the module also has {', '.join(extra)}, which the declaration does not account "
            "for and which may feed the gates, so the layout is not known: declare it "
            "(peephole=... for (3, H) or (3H,) peephole weights, with lstm_variant = "
            "'peephole'; ln_ih=, ln_hh=, ln_c= for layer norm modules), or drop lstm_layout "
            "and set lstm_variant alone to check the cell black-box"
        )
    return bound


# -- reading, differentiating, writing ---------------------------------------------------------


def _fields(bound: BoundLayout) -> dict[str, np.ndarray]:
    d, h, p = bound.sizes
    arrays = {
        "w_ih": np.zeros((4 * h, d)),
        "w_hh": np.zeros((4 * h, p)),
        "b_ih": np.zeros(4 * h),
        "b_hh": np.zeros(4 * h),
    }
    if bound.peephole:
        arrays["peephole"] = np.zeros((3, h))
    for name in bound.norms:
        arrays[name] = np.zeros(4 * h if name in ("ln_gain_ih", "ln_gain_hh") else h)
    return arrays


def assemble(
    bound: BoundLayout, arrays: Iterator[np.ndarray], gradient: bool = False
) -> LSTMParams:
    """The layout from one float64 array per declared tensor (``bound.paths`` order),
    taken one at a time. A one-bias layout reads back as b_ih = the bias, b_hh = 0; its
    ``gradient`` goes to both fields, which both feed the one bias."""
    fields = _fields(bound)
    for path, array in zip(bound.paths, arrays):
        for piece in (q for q in bound.pieces if q.path == path):
            block = (array.T if piece.transposed else array)[piece.src]
            if piece.field == "bias":
                fields["b_ih"][piece.dst] = block
                if gradient:
                    fields["b_hh"][piece.dst] = block
            else:
                fields[piece.field][piece.dst] = block
    # Any: mypy checks a ** mapping's values against every field (the clip included).
    kwargs: dict[str, Any] = fields
    return LSTMParams(**kwargs, ln_eps=bound.ln_eps)


def scatter(
    bound: BoundLayout,
    module: nn.Module,
    params: LSTMParams,
    asarray: Callable[[np.ndarray], torch.Tensor],
) -> None:
    """Write ``params`` into the declared tensors in place (a one-bias layout: b_ih + b_hh
    into its bias). Only with a writable layout (some bias declared)."""
    with torch.no_grad():
        for piece in bound.pieces:
            if piece.field == "bias":
                value = params.b_ih[piece.dst] + params.b_hh[piece.dst]
            else:
                value = getattr(params, piece.field)
                if value is None:  # a peephole tensor the written parameters leave out
                    continue
                value = value[piece.dst]
            tensor = resolve(module, piece.path)
            target = tensor.T if piece.transposed else tensor
            target[piece.src].copy_(asarray(np.ascontiguousarray(value)))
