"""A forget-bias constant inside a cell's forward (TensorFlow's forget_bias, Haiku's +1),
declared as the module's ``lstm_forget_bias``: the oracle and the error model add it.

The correct cell passes the whole suite in both dtypes (tests/test_correct_targets.py runs
it from the registry); here the same cell without the declaration is caught, and a bad
declaration is one line.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lstm_props import TargetError
from lstm_props.adapters._protocol import CellSpec
from lstm_props.adapters._torch import TorchBackend
from lstm_props.adapters._torch_cell import TorchCellAdapter
from lstm_props.maths import tolerances as tol
from lstm_props.maths.reference import lstm_step
from tests.conftest import TARGETS
from tests.targets.cells import ForgetBiasOneCell


def test_the_oracle_adds_the_declared_constant_to_z_f_only():
    torch.manual_seed(0)
    cell = ForgetBiasOneCell(3, 4).double()
    view = TorchCellAdapter(cell, "t", TorchBackend("float64"), CellSpec(3, 4, 4))
    params = view.read_layout()
    assert params is not None and params.forget_bias == 1.0
    rng = np.random.default_rng(0)
    x, h, c = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 4)), rng.uniform(-1, 1, (2, 4))
    want = lstm_step(params, x, h, c, "standard")
    got_h, got_c = cell(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    err = tol.step_error(params, x, h, c, "standard", "float64")
    assert np.all(np.abs(got_c.detach().numpy() - want.c) <= tol.SAFETY * err.dc)
    assert np.all(np.abs(got_h.detach().numpy() - want.h) <= tol.SAFETY * err.dh)
    without = lstm_step(dataclasses.replace(params, forget_bias=0.0), x, h, c, "standard")
    assert np.abs(without.c - want.c).max() > 1e-3  # the constant matters at these inputs


def test_the_same_cell_undeclared_fails_its_values(run_properties):
    result = run_properties(
        f"{TARGETS}:ForgetBiasOneUndeclaredCell", "-k", "step_values_match_reference"
    )
    result.assert_outcomes(failed=1)
    assert "does not match a standard LSTM" in result.stdout.str()


@pytest.mark.parametrize("bad", ["1.0", float("nan"), True])
def test_a_forget_bias_that_is_not_a_finite_number_is_one_line(bad):
    cell = ForgetBiasOneCell(3, 4)
    cell.lstm_forget_bias = bad
    with pytest.raises(TargetError) as info:
        TorchCellAdapter(cell, "mypkg:cell", TorchBackend("float32"), CellSpec(3, 4, 4))
    assert "\n" not in str(info.value) and "lstm_forget_bias = " in str(info.value)
