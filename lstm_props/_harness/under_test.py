"""What a property receives: one layer view of the target, with the run's declarations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from lstm_props._harness.checked import CheckedCell
from lstm_props._harness.profiles import PropertySettings, profile_settings
from lstm_props._harness.strategies import LSTMCase, lstm_cases
from lstm_props.adapters._protocol import Target
from lstm_props.maths.variants import BOUNDED

#: Variants whose carry Jacobian is diag(f) with f ∈ [0, 1], or I (lstm_props.maths.variants).
BOUNDED_VARIANTS = BOUNDED


@dataclass
class LSTMUnderTest:
    target: Target
    layer: int
    variant: str
    dtype: str
    device: str
    settings: PropertySettings = field(
        default_factory=lambda: PropertySettings(profile_settings("ci"))
    )

    def given(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        """``hypothesis.given`` under this run's profile and seed (the property's inner
        test carries them itself, so no other test of the session is touched)."""
        return self.settings.given(*args, **kwargs)

    def view(self) -> CheckedCell:
        """This layer's view, guarded: a capability call that raises (astype, read_layout)
        is an AdapterError naming the target, not a bug of the suite."""
        return CheckedCell(self.target.probe().layers[self.layer], self.target.name)

    def cases(self, **kwargs: Any) -> st.SearchStrategy[LSTMCase]:
        """Cases for this layer (``layer="stack"`` in kwargs for the whole stack)."""
        layer = kwargs.pop("layer", self.layer)
        return lstm_cases(self.target, layer, **kwargs)
