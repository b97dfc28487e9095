"""A property of the user's own (examples/user_property), written with lstm_props.testing
alone: the plugin runs it beside nothing else, it passes the user's correct cell and
catches the same cell with its output tanh forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[1] / "examples" / "user_property"


@pytest.mark.parametrize("cell, passes", [("MyLSTMCell", True), ("NoOutputTanhCell", False)])
def test_a_user_property_runs_under_the_plugin(pytester, cell, passes):
    target = f"{EXAMPLE / 'my_cells.py'}:{cell}"
    result = pytester.runpytest_inprocess(
        str(EXAMPLE / "test_hidden_bound.py"),
        "--lstm-adapter",
        target,
        "--lstm-profile",
        "ci",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
    )
    if passes:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        assert "|h_t| > 1: fails at step" in result.stdout.str()


def test_the_public_testing_module_is_what_the_library_properties_use():
    import lstm_props.testing as testing
    from lstm_props._report import check_close

    assert testing.check_close is check_close
    assert set(testing.__all__) <= set(dir(testing))
