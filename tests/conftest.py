"""Helpers shared by the self-tests: run the property suite in-process against a target."""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path

import pytest
import torch

import lstm_props.properties

# pytester's in-process runs drop from sys.modules whatever a run imported; a C-extension
# package imported again in the same process crashes it (torch: "bad call flags", then a
# segfault). `import lstm_props` no longer imports torch, so the outer session must.
with contextlib.suppress(ImportError):
    import jax  # noqa: F401


def _import_torchs_compiler_stack() -> None:
    """The same for torch's compiler stack, which registers things at import
    (torch._inductor.test_operators a TORCH_LIBRARY namespace, the mega-cache its artifact
    types): imported again after a run that first imported it was unwound, it refuses ("Only
    a single TORCH_LIBRARY can be used", "already registered"), and the compiled and
    exported targets failed to build depending on test order. One tiny export (about a
    second) imports what torch.export and run_decompositions need; compile_fx the rest."""
    from torch import nn

    for module in ("torch._inductor.compile_fx", "torch._inductor.test_operators"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    cell, x, h = nn.LSTMCell(1, 1), torch.zeros(1, 1), torch.zeros(1, 1)
    torch.export.export(cell, (x, (h, h))).run_decompositions()


_import_torchs_compiler_stack()

PROPERTIES = str(Path(lstm_props.properties.__file__).parent)
TARGETS = str(Path(__file__).parent / "targets" / "cells.py")


@pytest.fixture
def run_properties(pytester: pytest.Pytester):
    """run_properties(target, *args) -> RunResult of ``pytest properties --lstm-adapter target``."""

    def run(target: str, *args: str, profile: str = "ci") -> pytest.RunResult:
        return pytester.runpytest_inprocess(
            PROPERTIES,
            "--lstm-adapter",
            target,
            "--lstm-profile",
            profile,
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-rs",
            *args,
        )

    return run


# The whole-suite runs of other frameworks and of the correct targets take 10–90 s each;
# started last, one of them would leave the other xdist worker idle for its whole length.
_LONGEST = (
    "test_frameworks.py::",
    "test_onnx.py::test_ort_cells",
    "test_tensorflow.py::test_keras_on_tensorflow",
    "test_correct_targets.py::",
    "test_cli.py::test_failing_property",
    "test_cli.py::test_selftest",
    "test_report.py::",
    "test_cli.py::test_ci_profile",
    "test_torch_configurations.py::",
    "test_chunked_carry.py::test_check_steps",
    "test_load_errors.py::test_a_step_that_hangs",
    "test_plugin.py::test_under_xdist",
    "test_forward_agreement.py::",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not any(name in item.nodeid for name in _LONGEST))


def outcomes_by_name(result: pytest.RunResult) -> dict[str, set[str]]:
    """{outcome: the property test names (no layer) with it} of an in-process run."""
    seen: dict[str, set[str]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            name = report.nodeid.split("::")[-1].split("[")[0]
            seen.setdefault(report.outcome, set()).add(name)
    return seen
