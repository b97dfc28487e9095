"""Every mutant in the zoo is killed by the property written to catch it."""

from __future__ import annotations

import pytest

from lstm_props.mutants import FORWARD_ONLY_KILLS, KILLS, MISSING_GRADIENT, REFUSED_AT_LOAD


@pytest.mark.parametrize(("mutant", "prop"), sorted(KILLS.items()))
def test_mutant_is_killed_by_its_property(run_properties, mutant, prop):
    result = run_properties(f"lstm_props.mutants:{mutant}", "-k", prop, profile="mutants")
    if mutant in REFUSED_AT_LOAD:  # the load-time precision check stops it, in one line
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
        result.stderr.fnmatch_lines([f"*{REFUSED_AT_LOAD[mutant]}*"])
        return
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, f"{mutant} survived {prop}: {outcomes}"
    if mutant in MISSING_GRADIENT:  # caught as a fault: the backward returned no gradient
        assert "AdapterError" in result.stdout.str()
        assert "the backward returned no gradient for" in result.stdout.str()
        return
    assert "PropertyFailure" in result.stdout.str(), "failed, but not by a property's claim"


@pytest.mark.parametrize(
    ("prop", "mutant"),
    sorted((prop, mutant) for prop, mutants in FORWARD_ONLY_KILLS.items() for mutant in mutants),
)
def test_forward_only_property_kills_its_mutants(run_properties, prop, mutant):
    result = run_properties(f"lstm_props.mutants:{mutant}", "-k", prop, profile="mutants")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, f"{mutant} survived {prop}: {outcomes}"
    assert "PropertyFailure" in result.stdout.str(), "failed, but not by a property's claim"


def test_a_failure_shrinks_and_prints_how_to_reproduce(run_properties):
    """With shrinking on, the counterexample is small and the reproduce line is printed."""
    result = run_properties(
        "lstm_props.mutants:CarryGain", "-k", "test_carry_product_is_bounded_and_non_increasing"
    )
    out = result.stdout.str()
    assert result.ret == 1
    # the smallest pairwise-distinct sizes: H = 2, D = 1, then B = 3, T = 4
    assert "case=LSTMCase(B=3 T=4 D=1 H=2 P=2" in out, out[-2000:]
    assert "lstm_props: reproduce with" in out
    assert "--lstm-adapter lstm_props.mutants:CarryGain" in out
