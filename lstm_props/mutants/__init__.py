"""A zoo of broken LSTMs, each modelled on a bug that shipped in a real framework.

Cell mutants have nn.LSTMCell's calling convention and parameter names, sequence mutants
are nn.LSTM subclasses, so the suite writes their weights like any standard target's:
``lstm-props check lstm_props.mutants:GateOrderIOFG``. ``KILLS`` names, for each mutant,
the property written to catch it (tests/test_mutants.py asserts that it does);
``BUG_CLASSES`` groups them; ``lstm-props selftest`` prints the whole kill matrix.
"""

from __future__ import annotations

from lstm_props.mutants._backward import (
    BackwardDropsCarryGradient,
    BackwardSquaresForget,
    ClobberedBackwardBuffer,
    DetachedCarry,
    HiddenGradientDetached,
    NondeterministicBackward,
    OverwrittenCellGradient,
    ReducedInternalPrecision,
    StaleWeightCache,
    WrongGateDeltaInWeightGradient,
)
from lstm_props.mutants._forward import (
    BiasAddedTwice,
    BiasWrongSlice,
    CarryGain,
    CarryMixedAcrossBatch,
    CarryMixedAcrossUnits,
    ForgetBiasDoubled,
    ForgetGateLeftIn,
    ForgetReadsCell,
    GateOrderIFOG,
    GateOrderIGFO,
    GateOrderIOFG,
    HalvedCarry,
    HardSigmoidForget,
    HiddenBiasDropped,
    HiddenForgetBiasOne,
    InitialCellIgnored,
    KernelReshapedNotTransposed,
    OutputReadsOldCell,
    PeepholeAfterSigmoid,
    ReluCandidate,
    StatesSwapped,
    SumInsteadOfProduct,
    TanhForgetGate,
    UndeclaredCellClipping,
)
from lstm_props.mutants._sequence import (
    BatchFirstReshapedNotTransposed,
    DeeperLayerStartsFromLayer0State,
    PackedLengthsIgnored,
    ReverseDirectionNotFlipped,
    SequenceOutputsReversed,
)

#: bug class -> mutants (the issue's taxonomy of real-world LSTM bugs).
BUG_CLASSES = {
    "gate layout": [
        "GateOrderIOFG",
        "GateOrderIGFO",
        "GateOrderIFOG",
        "KernelReshapedNotTransposed",
        "CarryMixedAcrossUnits",
        "CarryMixedAcrossBatch",
    ],
    "bias": [
        "ForgetBiasDoubled",
        "BiasAddedTwice",
        "HiddenBiasDropped",
        "BiasWrongSlice",
        "HiddenForgetBiasOne",
    ],
    "state plumbing": ["StatesSwapped", "InitialCellIgnored", "DeeperLayerStartsFromLayer0State"],
    "the update": [
        "SumInsteadOfProduct",
        "ReluCandidate",
        "UndeclaredCellClipping",
        "CarryGain",
        "HalvedCarry",
        "OutputReadsOldCell",
    ],
    "activations": [
        "TanhForgetGate",
        "HardSigmoidForget",
        "PeepholeAfterSigmoid",
        "ForgetReadsCell",
        "ForgetGateLeftIn",
    ],
    "gradient only": [
        "BackwardDropsCarryGradient",
        "OverwrittenCellGradient",
        "DetachedCarry",
        "BackwardSquaresForget",
        "HiddenGradientDetached",
        "WrongGateDeltaInWeightGradient",
        "ClobberedBackwardBuffer",
    ],
    "runtime": ["StaleWeightCache", "NondeterministicBackward", "ReducedInternalPrecision"],
    "direction, packing, layout": [
        "SequenceOutputsReversed",
        "ReverseDirectionNotFlipped",
        "PackedLengthsIgnored",
        "BatchFirstReshapedNotTransposed",
    ],
}

#: mutant name -> the property (test function name) written to catch it.
KILLS = {
    "GateOrderIOFG": "test_carry_jacobian_diagonal_equals_forget_gate",
    "GateOrderIGFO": "test_carry_jacobian_diagonal_equals_forget_gate",
    "GateOrderIFOG": "test_step_values_match_reference",
    "KernelReshapedNotTransposed": "test_step_values_match_reference",
    "CarryMixedAcrossUnits": "test_carry_jacobian_is_diagonal",
    "CarryMixedAcrossBatch": "test_carry_jacobian_is_diagonal",
    "ForgetBiasDoubled": "test_carry_jacobian_diagonal_equals_forget_gate",
    "BiasAddedTwice": "test_step_values_match_reference",
    "HiddenBiasDropped": "test_carry_jacobian_diagonal_equals_forget_gate",
    "BiasWrongSlice": "test_step_values_match_reference",
    "HiddenForgetBiasOne": "test_carry_jacobian_diagonal_equals_forget_gate",
    "StatesSwapped": "test_step_values_match_reference",
    "InitialCellIgnored": "test_open_forget_gate_gives_identity_carry",
    "DeeperLayerStartsFromLayer0State": "test_carry_jacobian_diagonal_equals_forget_gate",
    "SumInsteadOfProduct": "test_step_values_match_reference",
    "ReluCandidate": "test_step_values_match_reference",
    "UndeclaredCellClipping": "test_open_forget_gate_gives_identity_carry",
    "CarryGain": "test_carry_product_is_bounded_and_non_increasing",
    "HalvedCarry": "test_lstm_carry_survives_where_rnn_vanishes",
    "OutputReadsOldCell": "test_hidden_output_carry_derivative",
    "TanhForgetGate": "test_carry_jacobian_entries_in_unit_interval",
    "HardSigmoidForget": "test_carry_jacobian_diagonal_equals_forget_gate",
    "PeepholeAfterSigmoid": "test_carry_jacobian_entries_in_unit_interval",
    "ForgetReadsCell": "test_carry_map_is_affine_in_c",
    "ForgetGateLeftIn": "test_no_forget_variant_carry_is_identity",
    "BackwardDropsCarryGradient": "test_carry_backward_matches_finite_differences",
    "OverwrittenCellGradient": "test_one_step_vjp_splits_into_carry_and_hidden_tracks",
    "DetachedCarry": "test_carry_slope_matches_autograd",
    "BackwardSquaresForget": "test_carry_product_matches_oracle",
    "HiddenGradientDetached": "test_one_step_vjp_splits_into_carry_and_hidden_tracks",
    "WrongGateDeltaInWeightGradient": "test_parameter_gradients_match_finite_differences",
    "ClobberedBackwardBuffer": "test_bptt_equals_product_of_step_jacobians",
    "StaleWeightCache": "test_in_place_weight_edits_take_effect",
    "NondeterministicBackward": "test_forward_and_backward_are_deterministic",
    "ReducedInternalPrecision": "test_float32_agrees_with_float64",
    "SequenceOutputsReversed": "test_fused_sequence_equals_composed_steps",
    "ReverseDirectionNotFlipped": "test_reverse_direction_is_flip_lstm_flip",
    "PackedLengthsIgnored": "test_packed_batch_equals_each_sequence_alone",
    "BatchFirstReshapedNotTransposed": "test_fused_sequence_equals_composed_steps",
}

#: Mutants the load-time precision check (lstm_props._harness.precision) stops before any
#: property runs -> the words its one line carries: a run of them is refused, in one line,
#: which kills them (their KILLS entry is the property written for them before the check).
REFUSED_AT_LOAD = {"ReducedInternalPrecision": "computes below its declared float32"}

#: Mutants whose backward returns no gradient at all (None) for an input the output changes
#: with: TorchBackend reports that as an adapter fault naming the input, before any claim is
#: evaluated (a missing gradient is never read as zero), so their property errors, not fails.
MISSING_GRADIENT = ("DetachedCarry",)

#: The forward-only carry properties (what an implementation without a backward, such as
#: ONNX Runtime, still gets) -> mutants each is shown to catch (tests/test_mutants.py). Their
#: intended kills above belong to other properties, so these are asserted on their own.
FORWARD_ONLY_KILLS = {
    "test_carry_map_is_coordinatewise": ("CarryMixedAcrossUnits", "CarryMixedAcrossBatch"),
    "test_open_forget_gate_translates_the_carry": (
        "CarryGain",
        "InitialCellIgnored",
        "UndeclaredCellClipping",
    ),
    "test_closed_forget_gate_forgets_c0": ("GateOrderIOFG", "StaleWeightCache"),
}

__all__ = [
    "BUG_CLASSES",
    "FORWARD_ONLY_KILLS",
    "KILLS",
    "MISSING_GRADIENT",
    "REFUSED_AT_LOAD",
    "BackwardDropsCarryGradient",
    "BackwardSquaresForget",
    "BatchFirstReshapedNotTransposed",
    "BiasAddedTwice",
    "BiasWrongSlice",
    "CarryGain",
    "CarryMixedAcrossBatch",
    "CarryMixedAcrossUnits",
    "ClobberedBackwardBuffer",
    "DeeperLayerStartsFromLayer0State",
    "DetachedCarry",
    "ForgetBiasDoubled",
    "ForgetGateLeftIn",
    "ForgetReadsCell",
    "GateOrderIFOG",
    "GateOrderIGFO",
    "GateOrderIOFG",
    "HalvedCarry",
    "HardSigmoidForget",
    "HiddenBiasDropped",
    "HiddenForgetBiasOne",
    "HiddenGradientDetached",
    "InitialCellIgnored",
    "KernelReshapedNotTransposed",
    "NondeterministicBackward",
    "OutputReadsOldCell",
    "OverwrittenCellGradient",
    "PackedLengthsIgnored",
    "PeepholeAfterSigmoid",
    "ReducedInternalPrecision",
    "ReluCandidate",
    "ReverseDirectionNotFlipped",
    "SequenceOutputsReversed",
    "StaleWeightCache",
    "StatesSwapped",
    "SumInsteadOfProduct",
    "TanhForgetGate",
    "UndeclaredCellClipping",
    "WrongGateDeltaInWeightGradient",
]
