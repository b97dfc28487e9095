"""LSTM variants as objects: each one's gate equations follow from a few flags.

    standard   f = σ(z_f), i = σ(z_i)             ∂c_t/∂c_{t-1} |carry = diag(f)
    no_forget  f ≡ 1 (Hochreiter & Schmidhuber 1997)               = I
    cifg       i = 1 − f (coupled input-forget gate)               = diag(f)
    peephole   z_i += p_i ⊙ c, z_f += p_f ⊙ c, z_o += p_o ⊙ c'      = diag(f + p_f c f(1−f)
                                                                       + p_i g i(1−i))
    layer_norm z = LN(W_ih x) + LN(W_hh h), h = o ⊙ tanh(LN(c'))   = diag(f)
               (Ba et al. 2016: the carried c' is not normalised)
    layer_norm_cell  z as above, c' = LN(f ⊙ c + i ⊙ g)             = J_LN · diag(f): dense
               (PyTorch's fastrnns LayerNormLSTMCell: the carried c' is normalised)

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
    #: Layer norm on the gate pre-activations, each product on its own:
    #: z = γ_ih ⊙ N(W_ih x) + b_ih + γ_hh ⊙ N(W_hh h) + b_hh, N(v) = (v − μ)/√(σ² + ε) over
    #: the 4H entries (b_ih, b_hh are the norms' biases). The carry stays diag(f).
    normalizes_gates: bool = False
    #: The carried state is normalised: c' = γ_c ⊙ N(f ⊙ c + i ⊙ g) + β_c, so
    #: ∂c'/∂c = J_LN · diag(f) is dense (every coordinate reads every other through μ, σ).
    normalizes_cell: bool = False
    #: Only the output reads a normalised cell: h = o ⊙ tanh(γ_c ⊙ N(c') + β_c), the carried
    #: c' = f ⊙ c + i ⊙ g as in the standard cell (Ba et al. 2016): the carry stays diag(f).
    normalizes_cell_output: bool = False

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
        if self.normalizes_cell and self.normalizes_cell_output:
            raise ValueError(
                f"Variant {self.name!r}: normalizes_cell (the carried c is normalised) and "
                "normalizes_cell_output (only h reads a normalised c) exclude each other: "
                "choose the one the cell computes"
            )
        if self.reads_cell and self.layer_norm:
            raise ValueError(
                f"Variant {self.name!r}: peepholes with layer norm are not modelled by the "
                "oracle and the error model yet; declare it black-box (no layout) or open "
                "an issue"
            )

    @property
    def layer_norm(self) -> bool:
        """Some layer norm: on the gates, on the carried cell or on the output's cell."""
        return self.normalizes_gates or self.normalizes_cell or self.normalizes_cell_output

    @property
    def diagonal_carry(self) -> bool:
        """∂c_t/∂c_{t-1} |carry is diagonal: c_t[k] reads c_{t-1}[k] alone. A normalised
        carried cell reads all of c_{t-1} through its mean and variance."""
        return not self.normalizes_cell

    @property
    def output_reads_carry(self) -> bool:
        """h = o ⊙ tanh(c_t) of the carried c_t itself (coordinatewise in c_t)."""
        return not (self.normalizes_cell or self.normalizes_cell_output)

    @property
    def bounded_carry(self) -> bool:
        """∂c_t/∂c_{t-1} |carry = diag(f) with f ∈ [0, 1] (or I): the carry never amplifies.
        Peepholes add p_f c f(1−f) + p_i g i(1−i), which can leave [0, 1]; a normalised
        carried cell makes it J_LN · diag(f), dense and unbounded."""
        return not self.reads_cell and self.diagonal_carry

    @property
    def carry_is_identity(self) -> bool:
        """∂c_t/∂c_{t-1} |carry = I without forcing anything (no forget gate)."""
        return not self.has_forget_gate and self.diagonal_carry


STANDARD = Variant("standard")
NO_FORGET = Variant("no_forget", has_forget_gate=False)
CIFG = Variant("cifg", coupled_input=True)
PEEPHOLE = Variant("peephole", reads_cell=True)
#: Ba et al. (2016): LN(W_ih x) + LN(W_hh h) for the gates, h = o ⊙ tanh(LN(c)).
LAYER_NORM = Variant("layer_norm", normalizes_gates=True, normalizes_cell_output=True)
#: PyTorch's fastrnns LayerNormLSTMCell: the gates as Ba's, the carried c normalised.
LAYER_NORM_CELL = Variant("layer_norm_cell", normalizes_gates=True, normalizes_cell=True)

_REGISTRY: dict[str, Variant] = {
    v.name: v for v in (STANDARD, NO_FORGET, CIFG, PEEPHOLE, LAYER_NORM, LAYER_NORM_CELL)
}


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


#: diag(f) with f ∈ [0, 1], or I: standard, no_forget, cifg, layer_norm.
BOUNDED = VariantSet(
    "bounded carry (no peepholes, the carried c not normalised)", lambda v: v.bounded_carry
)
#: A forget gate to force or close, no peepholes adding to the carry slope, and no norm
#: mixing the carried coordinates after it.
FORCEABLE = VariantSet(
    "a forget gate, no peepholes, the carried c not normalised",
    lambda v: v.has_forget_gate and not v.reads_cell and v.diagonal_carry,
)
#: ∂c_t/∂c_{t-1} |carry diagonal: every variant but a normalised carried cell.
DIAGONAL = VariantSet("diagonal carry (the carried c not normalised)", lambda v: v.diagonal_carry)
#: Why a claim about a diagonal carry does not hold outside DIAGONAL (a property's ``why``).
DENSE_CARRY = (
    "a normalised carried cell (layer_norm_cell) reads all of c_{t-1} through its mean and "
    "variance: ∂c_t/∂c_{t-1} = J_LN · diag(f) is dense"
)
#: Bounded carry and h = o ⊙ tanh(c_t): ∂h_t/∂c_{t-1} = diag(o tanh'(c_t) f).
PLAIN_OUTPUT = VariantSet(
    "bounded carry and h = o ⊙ tanh(c_t) (no output peephole, no layer norm on c)",
    lambda v: v.bounded_carry and v.output_reads_carry,
)
#: No forget gate: the identity carry unforced.
FORGETLESS = VariantSet("no forget gate", lambda v: v.carry_is_identity)

__all__ = [
    "BOUNDED",
    "CIFG",
    "DENSE_CARRY",
    "DIAGONAL",
    "FORCEABLE",
    "FORGETLESS",
    "LAYER_NORM",
    "LAYER_NORM_CELL",
    "NO_FORGET",
    "PEEPHOLE",
    "PLAIN_OUTPUT",
    "STANDARD",
    "Variant",
    "VariantSet",
    "as_variant",
    "known_variants",
    "register_variant",
]
