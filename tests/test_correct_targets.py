"""Every property passes (or skips, with its reason) on every correct built-in target."""

from __future__ import annotations

import pytest

from tests.conftest import TARGETS

#: target -> the properties it must skip (by variant or capability), all others must pass.
CORRECT = {
    "torch.nn:LSTMCell": {"test_no_forget_variant_carry_is_identity",
                          "test_fused_sequence_equals_composed_steps"},
    "lstm_props.targets:lstm": {"test_no_forget_variant_carry_is_identity"},
    "lstm_props.targets:lstm_two_layer": {"test_no_forget_variant_carry_is_identity"},
    "lstm_props.targets:lstm_proj": {"test_no_forget_variant_carry_is_identity"},
    "lstm_props.targets:reference_standard": {"test_no_forget_variant_carry_is_identity",
                                              "test_fused_sequence_equals_composed_steps"},
    "lstm_props.targets:reference_no_forget": {"test_open_forget_gate_gives_identity_carry",
                                               "test_closed_forget_gate_cuts_the_carry",
                                               "test_fused_sequence_equals_composed_steps"},
    "lstm_props.targets:reference_cifg": {"test_no_forget_variant_carry_is_identity",
                                          "test_fused_sequence_equals_composed_steps"},
    "lstm_props.targets:reference_peephole": {
        "test_carry_jacobian_entries_in_unit_interval", "test_carry_map_is_affine_in_c",
        "test_hidden_output_carry_derivative", "test_carry_product_matches_oracle",
        "test_carry_product_is_bounded_and_non_increasing",
        "test_open_forget_gate_gives_identity_carry", "test_no_forget_variant_carry_is_identity",
        "test_closed_forget_gate_cuts_the_carry", "test_lstm_carry_survives_where_rnn_vanishes",
        "test_fused_sequence_equals_composed_steps"},
    f"{TARGETS}:FusedIFOGCell": {  # black-box: only oracle-free properties run
        "test_carry_jacobian_diagonal_equals_forget_gate", "test_hidden_output_carry_derivative",
        "test_carry_product_matches_oracle", "test_open_forget_gate_gives_identity_carry",
        "test_no_forget_variant_carry_is_identity", "test_closed_forget_gate_cuts_the_carry",
        "test_lstm_carry_survives_where_rnn_vanishes",
        "test_one_step_vjp_splits_into_carry_and_hidden_tracks",
        "test_step_values_match_reference", "test_fused_sequence_equals_composed_steps"},
}


def _outcomes(result: pytest.RunResult) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            name = report.nodeid.split("::")[-1].split("[")[0]
            seen.setdefault(report.outcome, set()).add(name)
    return seen


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("target", list(CORRECT))
def test_correct_target_passes_every_applicable_property(run_properties, target, dtype):
    result = run_properties(target, "--lstm-dtype", dtype)
    outcomes = _outcomes(result)
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outcomes.get("failed", set()) == set()
    assert outcomes.get("skipped", set()) == CORRECT[target]
    assert len(outcomes["passed"]) >= 17 - len(CORRECT[target])
