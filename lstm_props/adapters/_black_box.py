"""``--lstm-black-box``: hide a target's parameter layout, to see what black-box mode sees.

Every view is wrapped so that the layout, writing weights and parameter gradients are
unavailable; everything else (steps, autograd, sequence calls, precision) passes through.
Used to measure black-box strength on targets whose layout is in fact known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lstm_props.adapters._protocol import CellAdapter, Target, Views
from lstm_props.maths.layout import LSTMParams


class OpaqueCell(CellAdapter):
    def __init__(self, inner: CellAdapter) -> None:
        self.inner = inner
        self.name, self.spec, self.backend = inner.name, inner.spec, inner.backend
        self.variant, self.directions = inner.variant, inner.directions

    def step(self, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        return self.inner.step(x, h, c)

    def read_layout(self) -> LSTMParams | None:
        return None

    def gate_input(self, x: Any) -> Any:
        return self.inner.gate_input(x)

    @property
    def has_sequence(self) -> bool:
        return self.inner.has_sequence

    def sequence(self, xs: Any, h0: Any, c0: Any) -> tuple[Any, Any, Any]:
        return self.inner.sequence(xs, h0, c0)

    @property
    def has_packed(self) -> bool:
        return self.inner.has_packed

    def packed_sequence(
        self, xs: Any, lengths: Sequence[int], h0: Any, c0: Any
    ) -> tuple[Any, Any, Any]:
        return self.inner.packed_sequence(xs, lengths, h0, c0)

    def astype(self, dtype: str) -> CellAdapter | None:
        other = self.inner.astype(dtype)
        return None if other is None else OpaqueCell(other)

    def to_device(self, device: str) -> CellAdapter | None:
        other = self.inner.to_device(device)
        return None if other is None else OpaqueCell(other)

    def set_context(self, h_all: Any, c_all: Any) -> None:
        self.inner.set_context(h_all, c_all)


class BlackBoxTarget(Target):
    """``target`` with every view's layout hidden."""

    def __init__(self, target: Target) -> None:
        self.inner = target
        self.name, self.sized = target.name, target.sized
        self.num_layers, self.min_hidden_size = target.num_layers, target.min_hidden_size

    def build(self, input_size: int | None = None, hidden_size: int | None = None) -> Views:
        views = self.inner.build(input_size, hidden_size)
        return Views([OpaqueCell(v) for v in views.layers], OpaqueCell(views.stack))
