"""What a property receives: one layer view of the target, with the run's declarations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import strategies as st

from lstm_props._profiles import PropertySettings, profile_settings
from lstm_props.adapters._checked import CheckedCell
from lstm_props.adapters._protocol import Target
from lstm_props.strategies import LSTMCase, lstm_cases

#: Variants whose carry Jacobian is diag(f) with f ∈ [0, 1] (variants.md).
BOUNDED_VARIANTS = ("standard", "no_forget", "cifg")


@dataclass
class LSTMUnderTest:
    target: Target
    layer: int
    variant: str
    dtype: str
    device: str
    settings: PropertySettings = field(
        default_factory=lambda: PropertySettings(profile_settings("ci")))

    def given(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        """``hypothesis.given`` under this run's profile and seed (the property's inner
        test carries them itself, so no other test of the session is touched)."""
        return self.settings.given(*args, **kwargs)

    def view(self) -> CheckedCell:
        """This layer's view, guarded: a capability call that raises (astype, read_layout)
        is an AdapterError naming the target, not a bug of the suite."""
        return CheckedCell(self.target.probe().layers[self.layer], self.target.name)

    @staticmethod
    def _skip(reason: str) -> None:
        # Report the skip at the property, not here (pytest's item-location skip).
        raise pytest.skip.Exception(reason, _use_item_location=True)

    def require(
        self,
        *,
        layout: bool = False,
        writable: bool = False,
        autograd: bool = False,
        sequence: bool = False,
        deterministic: bool = False,
        forcing: bool = False,
        variants: tuple[str, ...] | None = None,
        why: str = "",
    ) -> None:
        """Skip, with the reason, when the target lacks what the property needs.

        ``forcing``: the property forces the forget gate to exactly 0 or 1 through its bias,
        which a cell that clips its pre-activations (ONNX ``clip``) does not allow.
        """
        view = self.view()
        name = self.target.name
        if variants is not None and self.variant not in variants:
            self._skip(f"does not hold for the {self.variant} variant{': ' + why if why else ''}")
        if autograd and not view.backend.autograd:
            self._skip(f"{name} has no autograd backend")
        if (layout or writable) and view.read_layout() is None:
            note = getattr(view, "layout_note", None) or "parameters not in the documented layout"
            self._skip(f"{name} is black-box ({note})")
        if writable and not view.writable_layout:
            self._skip(f"{name} does not let the suite write its parameters")
        if sequence and not self.target.probe().stack.has_sequence:
            self._skip(f"{name} has no fused sequence call")
        if deterministic and not view.backend.deterministic:
            self._skip(f"{name} declares a nondeterministic backend: a bitwise comparison of "
                       "two forwards needs deterministic kernels")
        if forcing:
            held = view.read_layout()
            if held is not None and held.clip is not None:
                self._skip(f"{name} clips its pre-activations to ±{held.clip:g}: the forget "
                           "gate cannot be forced to exactly 0 or 1")

    def cases(self, **kwargs: Any) -> st.SearchStrategy[LSTMCase]:
        """Cases for this layer (``layer="stack"`` in kwargs for the whole stack)."""
        layer = kwargs.pop("layer", self.layer)
        return lstm_cases(self.target, layer, **kwargs)
