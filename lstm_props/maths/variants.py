"""LSTM variants as objects: each one's gate equations follow from a few flags.

    standard   f = σ(z_f), i = σ(z_i)             ∂c_t/∂c_{t-1} |carry = diag(f)
    no_forget  f ≡ 1 (Hochreiter & Schmidhuber 1997)               = I
    cifg       i = 1 − f (coupled input-forget gate)               = diag(f)
    peephole   z_i += p_i ⊙ c, z_f += p_f ⊙ c, z_o += p_o ⊙ c'      = diag(f + p_f c f(1−f)
                                                                       + p_i g i(1−i))

The oracle (lstm_props.maths.reference), the error model (lstm_props.maths.tolerances) and the
properties' declarations read the flags, never the names, so a variant is one record here.
A variant of one's own is a :class:`Variant` with a new name and a supported combination of
flags, declared on the module (``lstm_variant = Variant(...)``) or given to
:func:`register_variant`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str
    #: f = σ(z_f); without it f ≡ 1 and the carry is the identity (the 1997 LSTM).
    has_forget_gate: bool = True
    #: i = 1 − f instead of its own gate.
    coupled_input: bool = False
    #: Peepholes: the gates read the cell (p_i, p_f from c_{t-1}, p_o from c_t).
    reads_cell: bool = False

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ValueError(f"Variant name {self.name!r}: give an identifier, e.g. 'my_cifg'")
        if self.coupled_input and not self.has_forget_gate:
            raise ValueError(
                f"Variant {self.name!r}: coupled_input (i = 1 − f) needs a "
                "forget gate; without one i would be 0"
            )
        if self.coupled_input and self.reads_cell:
            raise ValueError(
                f"Variant {self.name!r}: coupled input with peepholes is not "
                "modelled by the oracle and the error model yet; declare it "
                "black-box (no layout) or open an issue"
            )

    @property
    def bounded_carry(self) -> bool:
        """∂c_t/∂c_{t-1} |carry = diag(f) with f ∈ [0, 1] (or I): the carry never amplifies.
        Peepholes add p_f c f(1−f) + p_i g i(1−i), which can leave [0, 1]."""
        return not self.reads_cell

    @property
    def carry_is_identity(self) -> bool:
        """∂c_t/∂c_{t-1} |carry = I without forcing anything (no forget gate)."""
        return not self.has_forget_gate


STANDARD = Variant("standard")
NO_FORGET = Variant("no_forget", has_forget_gate=False)
CIFG = Variant("cifg", coupled_input=True)
PEEPHOLE = Variant("peephole", reads_cell=True)

_REGISTRY: dict[str, Variant] = {v.name: v for v in (STANDARD, NO_FORGET, CIFG, PEEPHOLE)}


def register_variant(variant: Variant) -> Variant:
    """Make ``variant`` known by its name (idempotent for the same record)."""
    known = _REGISTRY.get(variant.name)
    if known is not None and known != variant:
        raise ValueError(f"variant {variant.name!r} is already {known}; give yours another name")
    _REGISTRY[variant.name] = variant
    return variant


def as_variant(variant: str | Variant) -> Variant:
    """The Variant named ``variant`` (or the record itself)."""
    if isinstance(variant, Variant):
        return variant
    try:
        return _REGISTRY[variant]
    except KeyError:
        raise ValueError(
            f"unknown variant {variant!r}; one of {', '.join(_REGISTRY)}, or "
            "declare your own with lstm_props.maths.variants.Variant"
        ) from None


def known_variants() -> Iterator[Variant]:
    return iter(tuple(_REGISTRY.values()))


@dataclass(frozen=True)
class VariantSet:
    """The variants a claim holds for, by their flags (so a declared variant of one's own
    is in or out by what it is, not by its name)."""

    description: str
    test: Callable[[Variant], bool]

    def __contains__(self, variant: object) -> bool:
        return isinstance(variant, str | Variant) and self.test(as_variant(variant))

    def names(self) -> list[str]:
        return [v.name for v in known_variants() if self.test(v)]

    def __str__(self) -> str:
        return self.description


#: diag(f) with f ∈ [0, 1], or I: standard, no_forget, cifg.
BOUNDED = VariantSet("bounded carry (no peepholes)", lambda v: v.bounded_carry)
#: A forget gate to force or close, and no peepholes adding to the carry slope.
FORCEABLE = VariantSet(
    "a forget gate and no peepholes", lambda v: v.has_forget_gate and not v.reads_cell
)
#: No forget gate: the identity carry unforced.
FORGETLESS = VariantSet("no forget gate", lambda v: v.carry_is_identity)

__all__ = [
    "BOUNDED",
    "CIFG",
    "FORCEABLE",
    "FORGETLESS",
    "NO_FORGET",
    "PEEPHOLE",
    "STANDARD",
    "Variant",
    "VariantSet",
    "as_variant",
    "known_variants",
    "register_variant",
]
