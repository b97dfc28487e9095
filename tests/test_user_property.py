"""A property of the user's own (examples/user_property), written with lstm_props.testing
alone: the plugin runs it beside nothing else, it passes the user's correct cell and
catches the same cell with its output tanh forgotten."""

from __future__ import annotations

import ast
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
    from lstm_props._harness.checks import check_close

    assert testing.check_close is check_close
    assert set(testing.__all__) <= set(dir(testing))


def _private_imports(path: Path) -> list[str]:
    """The lstm_props modules ``path`` imports whose dotted name has a private part."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        found += [
            n
            for n in names
            if n.split(".")[0] == "lstm_props"
            and any(part.startswith("_") for part in n.split("."))
        ]
    return found


def test_the_library_properties_are_written_with_public_modules_only():
    """What the library's own properties import, a user's property can import too: the
    public modules (lstm_props.testing and the maths), never a private one."""
    modules = sorted((Path(__file__).parents[1] / "properties").glob("test_*.py"))
    assert modules
    private = {m.name: _private_imports(m) for m in modules}
    assert not {k: v for k, v in private.items() if v}, private
