"""Helpers shared by the self-tests: run the property suite in-process against a target."""

from __future__ import annotations

from pathlib import Path

import pytest

import lstm_props.properties

PROPERTIES = str(Path(lstm_props.properties.__file__).parent)
TARGETS = str(Path(__file__).parent / "targets" / "cells.py")


@pytest.fixture
def run_properties(pytester: pytest.Pytester):
    """run_properties(target, *args) -> RunResult of ``pytest properties --lstm-adapter target``."""

    def run(target: str, *args: str, profile: str = "ci") -> pytest.RunResult:
        return pytester.runpytest_inprocess(
            PROPERTIES, "--lstm-adapter", target, "--hypothesis-profile", profile,
            "-p", "no:cacheprovider", "-p", "no:randomly", "-rs", *args)

    return run
