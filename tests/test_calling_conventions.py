"""Calling conventions declared on a torch cell (``lstm_call``), not wrapped in an adapter."""

from __future__ import annotations

import pytest
import torch

from lstm_props import TargetError
from lstm_props.adapters._torch_call import CALLS, parse
from tests.conftest import TARGETS, outcomes_by_name

#: what each convention touches: the values, the carry Jacobian and the two backwards
SOME = (
    "step_values_match_reference or carry_jacobian_diagonal_equals_forget_gate or "
    "carry_backward_matches_finite_differences or parameter_gradients_match_finite_differences"
)


@pytest.mark.parametrize("form", CALLS)
def test_every_documented_form_calls_the_module_as_it_says(form):
    """A stand-in module for each form: it reads its state by the form's argument names and
    returns h + 10, c + 10 arranged as the form's result says."""
    args, result = (part.replace(" ", "") for part in form[len("m(x, ") :].split(") -> "))
    seen = {}

    def module(x, *state):
        seen.update(zip(args.strip("()").split(","), state[0] if len(state) == 1 else state))
        new = {"h": seen["h"] + 10, "c": seen["c"] + 10}
        return eval(result, {}, new)  # the form's own result, e.g. (h,(c,h))

    h, c = torch.tensor([1.0]), torch.tensor([2.0])
    got_h, got_c = parse(form, "t", "Cell")(module, torch.tensor([0.0]), h, c)
    assert (float(seen["h"]), float(seen["c"])) == (1.0, 2.0)
    assert (float(got_h), float(got_c)) == (11.0, 12.0)


@pytest.mark.parametrize("bad", ["m(x, (h, c)) -> h", "(h, c)", 3])
def test_an_unknown_convention_is_one_line_naming_the_forms(bad):
    with pytest.raises(TargetError) as info:
        parse(bad, "mypkg:cell", "MyCell")
    message = str(info.value)
    assert "\n" not in message
    assert repr(bad) in message and "m(x, ARGS) -> RESULT" in message


@pytest.mark.parametrize("cell", ["OutputAndStateCell", "CarryFirstCell"])
def test_a_correct_cell_with_a_declared_convention_passes(run_properties, cell):
    result = run_properties(f"{TARGETS}:{cell}", "-k", SOME)
    outcomes = outcomes_by_name(result)
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert len(outcomes["passed"]) == 4, outcomes


def test_the_same_cell_undeclared_fails_its_values(run_properties):
    result = run_properties(
        f"{TARGETS}:CarryFirstUndeclaredCell", "-k", "step_values_match_reference"
    )
    result.assert_outcomes(failed=1)
    assert "does not match a standard LSTM" in result.stdout.str()
