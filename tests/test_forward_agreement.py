"""The load-time check that a target's forward matches the oracle on its read-back layout:
silent on every correct built-in target, one line for a forward that is not the layout's."""

from __future__ import annotations

import pytest

from lstm_props._harness.agreement import forward_disagreement
from lstm_props._harness.loading import load_target
from lstm_props.targets import TARGETS

#: The registry's built-in targets (torch's own and lstm_props.targets), by name.
BUILTIN = {t.name: t for t in TARGETS if t.builtin}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_a_correct_target_agrees_with_the_oracle_on_its_own_layout(name, dtype):
    if dtype not in BUILTIN[name].dtypes:
        pytest.skip(f"{name} computes in {', '.join(sorted(BUILTIN[name].dtypes))} only")
    assert forward_disagreement(load_target(name, dtype), BUILTIN[name].variant) is None


@pytest.mark.parametrize("mutant", ["GateOrderIOFG", "ForgetBiasDoubled", "BiasAddedTwice"])
def test_a_forward_that_is_not_its_layout_is_named_in_one_line(mutant):
    line = forward_disagreement(load_target(f"lstm_props.mutants:{mutant}"), "standard")
    assert line is not None and "\n" not in line
    assert "does not match a standard LSTM" in line and "lstm_variant" in line


def test_a_peephole_cell_read_as_standard_disagrees_and_as_peephole_agrees():
    target = load_target("lstm_props.targets:reference_peephole")
    assert forward_disagreement(target, "standard") is not None
    assert forward_disagreement(target, "peephole") is None


def test_the_warning_heads_the_run(pytester):
    pytester.makeconftest("")
    result = pytester.runpytest_subprocess(
        "--pyargs",
        "lstm_props.properties.test_forward_values",
        "-p",
        "no:randomly",
        "--lstm-adapter",
        "lstm_props.mutants:GateOrderIOFG",
        "--lstm-max-examples",
        "2",
    )
    out = result.stdout.str()
    assert "lstm_props: WARNING: lstm_props.mutants:GateOrderIOFG's forward does not match" in out
    assert result.ret == 1  # still a failure of the property, not a refusal
