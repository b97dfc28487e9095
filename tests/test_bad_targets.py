"""Bad targets get one clear line naming the target and the fix, never a traceback."""

from __future__ import annotations

import pytest

from tests.conftest import TARGETS

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
    "torch.nn:GRUCell": "step() raised",
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
    result = run_properties(f"{TARGETS}:NaNForLargeInputCell", "-k",
                            "test_step_values_match_reference", profile="mutants")
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
