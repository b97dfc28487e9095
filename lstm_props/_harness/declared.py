"""A property is declared, not wired: ``@lstm_property(...)`` on its test carries what it
needs, and everything else is read from that declaration.

The plugin turns an unmet need into a skip, with its reason, at collection; ``lstm-props
list``, docs/properties.md's guarantees table, the matrix and kill-matrix columns and the
JSON results all come from :func:`declarations`, in one order (module file name, then order
in the module). A property's stable id is its function name without ``test_``; its claim is
its docstring's first paragraph.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from lstm_props.maths.variants import VariantSet

if TYPE_CHECKING:
    from lstm_props._harness.under_test import LSTMUnderTest

_F = TypeVar("_F", bound=Callable[..., Any])

#: The pytest mark that carries a Declaration.
MARK = "lstm_property"


def _name(lstm: LSTMUnderTest) -> str:
    return lstm.target.name


def _layout_note(lstm: LSTMUnderTest) -> str:
    view = lstm.view()
    note = getattr(view, "layout_note", None) or "parameters not in the documented layout"
    return f"{_name(lstm)} is black-box ({note})"


def _clip(lstm: LSTMUnderTest) -> float | None:
    held = lstm.view().read_layout()
    return None if held is None else held.clip


def _cell_clip(lstm: LSTMUnderTest) -> float | None:
    held = lstm.view().read_layout()
    return None if held is None else held.cell_clip


#: need -> (holds(lstm), why it does not). Checked in this order; the first unmet one is
#: the skip's reason.
NEEDS: dict[str, tuple[Callable[[LSTMUnderTest], bool], Callable[[LSTMUnderTest], str]]] = {
    "autograd": (
        lambda u: u.view().backend.autograd,
        lambda u: (
            getattr(u.view().backend, "autograd_note", None)
            or f"{_name(u)} has no autograd backend"
        ),
    ),
    "layout": (lambda u: u.view().read_layout() is not None, _layout_note),
    "writable": (
        lambda u: u.view().read_layout() is not None and u.view().writable_layout,
        lambda u: (
            _layout_note(u)
            if u.view().read_layout() is None
            else f"{_name(u)} does not let the suite write its parameters"
        ),
    ),
    "sequence": (
        lambda u: u.target.probe().stack.has_sequence,
        lambda u: f"{_name(u)} has no fused sequence call",
    ),
    "packed": (
        lambda u: u.target.probe().stack.has_packed,
        lambda u: f"{_name(u)} has no packed (variable-length) call",
    ),
    "unidirectional": (
        lambda u: u.target.probe().stack.directions == 1,
        lambda u: (
            "bidirectional: each direction is checked on its own by "
            "test_reverse_direction_is_flip_lstm_flip"
        ),
    ),
    "bidirectional": (
        lambda u: u.target.probe().stack.directions == 2,
        lambda u: f"{_name(u)} is not bidirectional",
    ),
    "deterministic": (
        lambda u: u.view().backend.deterministic,
        lambda u: (
            f"{_name(u)} declares a nondeterministic backend: a bitwise "
            "comparison of two forwards needs deterministic kernels"
        ),
    ),
    "forcing": (
        lambda u: _clip(u) is None,
        lambda u: (
            f"{_name(u)} clips its pre-activations to ±{_clip(u):g}: the forget "
            "gate cannot be forced to exactly 0 or 1"
        ),
    ),
    "unclipped_cell": (
        lambda u: _cell_clip(u) is None,
        lambda u: (
            f"{_name(u)} clamps its cell state to ±{_cell_clip(u):g}: the carry map is "
            "affine in c only inside the bound, and an open forget gate's carousel is cut "
            "where c reaches it"
        ),
    ),
    "float32": (  # or narrower: float16, bfloat16 and the mixed ones have the twin too
        lambda u: u.dtype != "float64",
        lambda u: "compares a float32 run with its float64 twin; run with --lstm-dtype float32",
    ),
    "float64_twin": (
        lambda u: u.view().astype("float64") is not None,
        lambda u: f"{_name(u)} cannot run in float64 (no astype capability)",
    ),
    "no_float64_twin": (
        lambda u: u.view().astype("float64") is None,
        lambda u: (
            f"{_name(u)} has a float64 twin: its backward is checked in "
            "float64 (carry_backward_matches_finite_differences, "
            "parameter_gradients_match_finite_differences); this "
            "property is for targets without"
        ),
    ),
    "cuda": (
        lambda u: u.device == "cuda",
        lambda u: "compares a CUDA run with its CPU twin; run with --lstm-device cuda",
    ),
    "cpu_twin": (
        lambda u: u.view().to_device("cpu") is not None,
        lambda u: f"{_name(u)} cannot be moved to the CPU (no to_device)",
    ),
}


@dataclass(frozen=True)
class Declaration:
    """What a property is and what it needs: the one record everything else reads."""

    id: str
    claim: str
    needs: tuple[str, ...]
    #: The variants it holds for (None: all; a VariantSet: by their flags), and why not the
    #: others.
    variants: tuple[str, ...] | VariantSet | None
    why: str
    module: str
    #: Checks the whole stack (a sequence call), not one layer view.
    stack: bool = False
    #: The more basic properties whose claims this one relies on: when one of those fails
    #: too, this failure is reported as following from it (lstm_props._gate.root_cause).
    relies_on: tuple[str, ...] = ()

    def variant_names(self) -> list[str] | None:
        """The known variants it holds for (None: every one)."""
        if self.variants is None:
            return None
        return (
            self.variants.names() if isinstance(self.variants, VariantSet) else list(self.variants)
        )

    def unmet(self, lstm: LSTMUnderTest, held: dict[str, bool] | None = None) -> str | None:
        """Why this property cannot run on ``lstm`` (None: it can). ``held`` remembers each
        need's answer for this layer view across properties (a float64 twin is a copy of
        the model: at H = 1024 one per property was seconds of collection)."""
        if self.variants is not None and lstm.variant not in self.variants:
            return f"does not hold for the {lstm.variant} variant" + (
                f": {self.why}" if self.why else ""
            )
        held = {} if held is None else held
        for need in self.needs:
            holds, reason = NEEDS[need]
            if need not in held:
                held[need] = holds(lstm)
            if not held[need]:
                return reason(lstm)
        return None


def _claim(fn: Callable[..., Any]) -> str:
    first_paragraph = (fn.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(first_paragraph.split())


def lstm_property(
    *needs: str,
    variants: tuple[str, ...] | VariantSet | None = None,
    why: str = "",
    stack: bool = False,
    relies_on: tuple[str, ...] = (),
) -> Callable[[_F], _F]:
    """Declare a test function a property: ``needs`` from :data:`NEEDS`, the variants it
    holds for (None: every one) and ``why`` not the others, ``stack`` for a property of the
    whole stack's sequence call, ``relies_on`` the ids of the more basic properties whose
    failure would make it fail too. The function takes the ``lstm`` fixture."""
    unknown = [n for n in needs if n not in NEEDS]
    if unknown:
        raise ValueError(
            f"lstm_property{needs!r}: unknown need {unknown[0]!r}; choose from {', '.join(NEEDS)}"
        )

    def decorate(fn: _F) -> _F:
        declaration = Declaration(
            fn.__name__.removeprefix("test_"),
            _claim(fn),
            tuple(needs),
            variants,
            why,
            fn.__module__,
            stack,
            tuple(relies_on),
        )
        marked = getattr(pytest.mark, MARK)(declaration)(fn)
        return pytest.mark.lstm_stack(marked) if stack else marked

    return decorate


def declaration_of(obj: Any) -> Declaration | None:
    """The Declaration on a test function or a collected item, if any."""
    marks = (
        obj.iter_markers(MARK)
        if hasattr(obj, "iter_markers")
        else [m for m in getattr(obj, "pytestmark", []) if m.name == MARK]
    )
    for mark in marks:
        return mark.args[0]
    return None


def properties_dir() -> Path:
    """Where the installed property modules live (``lstm_props.properties``)."""
    import lstm_props.properties

    return Path(lstm_props.properties.__file__).parent


@cache
def declarations() -> tuple[Declaration, ...]:
    """Every property of the library, in the one order used everywhere (read once per
    process: the property modules are imported once anyway)."""
    found = []
    for path in sorted(properties_dir().glob("test_*.py")):
        module = importlib.import_module(f"lstm_props.properties.{path.stem}")
        for value in vars(module).values():
            declaration = declaration_of(value) if callable(value) else None
            if declaration is not None and declaration.module == module.__name__:
                found.append(declaration)
    return tuple(found)
