"""The folder layout is the architecture: each layer imports only the layers below it.

maths      oracle cells, error model, carry machinery      no pytest, no Hypothesis
adapters   framework bindings                              the protocol and the maths
_harness   loading, checked calls, strategies, declarations
_report    HTML, figures, SVG                              the gate's result records only
horizon    a trained model's memory horizon (lstm-props horizon): adapters, loading, maths
_gate      plugin, CLI, results, matrix, selftest, bench   everything
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lstm_props

PACKAGE = Path(lstm_props.__file__).parent
_ABOVE_ADAPTERS = ("lstm_props._harness", "lstm_props._gate", "lstm_props._report")
_GATE_COMMANDS = tuple(
    f"lstm_props._gate.{m}"
    for m in (
        "plugin",
        "cli",
        "check_command",
        "list_command",
        "matrix",
        "selftest",
        "bench",
        "steps",
        "suite_run",
        "verdict",
        "horizon_command",
    )
)
#: For each folder, the modules (and everything under them) it must not import.
FORBIDDEN = {
    "maths": (
        "pytest",
        "hypothesis",
        "lstm_props.adapters",
        "lstm_props.mutants",
        *_ABOVE_ADAPTERS,
    ),
    "adapters": ("pytest", "hypothesis", "lstm_props.mutants", *_ABOVE_ADAPTERS),
    "_harness": ("lstm_props._gate", "lstm_props._report"),
    "_report": ("pytest", "hypothesis", *_GATE_COMMANDS),
    # a measurement over the adapters and the loading; the gate's command calls it
    "horizon": ("pytest", "hypothesis", "lstm_props.mutants", "lstm_props._gate"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module == "lstm_props":  # from lstm_props import carry, ...
                names |= {f"lstm_props.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_a_layer_imports_only_the_layers_below_it(folder):
    modules = sorted((PACKAGE / folder).rglob("*.py"))
    assert modules, folder
    offending = {
        str(m.relative_to(PACKAGE)): sorted(
            name
            for name in _imports(m)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[folder])
        )
        for m in modules
    }
    assert not {k: v for k, v in offending.items() if v}


def test_the_top_level_holds_only_the_public_entry_points():
    """Everything else lives in a folder that says what it is."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == [
        "__init__.py",
        "__main__.py",
        "_errors.py",
        "targets.py",
        "testing.py",
    ]
