"""Bad targets get one clear line naming the target and the fix, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PROPERTIES, TARGETS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

BAD = {
    "no_such_pkg.mod:Cell": "no module named 'no_such_pkg'",
    "missing/file.py:Cell": "file 'missing/file.py' does not exist",
    "lstm_props.targets:nope": "has no attribute 'nope'",
    "lstm_props.targets": "has no ':attr' part",
    f"{TARGETS}:not_a_cell": "is a NotACell, not an LSTM",
    f"{TARGETS}:number": "is a float, not an LSTM",
    f"{TARGETS}:raising_cell": "step() raised RuntimeError: kernel launch failed",
    f"{TARGETS}:wrong_shape_cell": "has shape (2, 1), expected (2, 4)",
    f"{TARGETS}:nan_cell": "contains NaN or inf for finite inputs",
    "torch.nn:GRUCell": "this is a GRU cell (torch.nn.GRUCell), not an LSTM",
}


@pytest.mark.parametrize(("target", "message"), sorted(BAD.items()))
def test_bad_target_is_one_line_usage_error(run_properties, target, message):
    result = run_properties(target)
    err = result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ERROR: target {target!r}")
    assert message in lines[0]
    assert "Traceback" not in err + result.stdout.str()


def test_fault_mid_property_is_an_adapter_error_not_a_property_failure(run_properties):
    result = run_properties(
        f"{TARGETS}:NaNForLargeInputCell",
        "-k",
        "test_step_values_match_reference",
        profile="mutants",
    )
    out = result.stdout.str()
    assert result.ret == 1
    assert "AdapterError (the implementation faulted, not a property)" in out
    assert "contains NaN or inf for finite inputs" in out
    assert "PropertyFailure" not in out


def test_cuda_requested_without_cuda_is_a_usage_error(run_properties):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_properties("torch.nn:LSTMCell", "--lstm-device", "cuda")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "torch.cuda.is_available() is False" in result.stderr.str()


def test_a_target_in_another_precision_than_the_run_is_refused(pytester, tmp_path):
    """Checking a float32 implementation under the float64 error model would cry wolf (or,
    the other way round, hide float64 bugs under float32 tolerances): refuse it."""
    module = tmp_path / "fixed.py"
    module.write_text(
        f"import sys\nsys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from numpy_adapter import NumpyLSTMCell\n"
        "def fixed():\n    return NumpyLSTMCell()\n"
    )
    result = pytester.runpytest_subprocess(
        PROPERTIES, "--lstm-adapter", f"{module}:fixed", "--lstm-dtype", "float64"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: target * computes in float32 but the run asks for "
            "float64: give its factory a dtype argument*"
        ]
    )


def test_a_factory_of_adapters_is_handed_the_runs_dtype(run_properties):
    result = run_properties(
        f"{EXAMPLES / 'numpy_adapter.py'}:make_adapter",
        "--lstm-dtype",
        "float64",
        "-k",
        "step_values_match_reference",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)  # one property selected by -k, the rest deselected
