"""A cell clip (TF 1's cell_clip: c' = clamp(f ⊙ c + i ⊙ g, −m, m)), declared as the module's
``lstm_cell_clip``: the oracle clamps, the carry derivative is diag(f ⊙ 1[|ĉ| < m]).

The correct cell passes the whole suite (tests/test_correct_targets.py runs it from the
registry, the claims that cannot hold skipped with the reason); here: the oracle against
autograd of a clamp written independently, the undecided band, a backward that ignores the
clamp (TensorFlow's block kernels' finding) caught, and a bad declaration in one line.
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
from lstm_props.maths.reference import carry_derivative, lstm_step
from tests.conftest import TARGETS
from tests.targets.cells import CELL_CLIP, CellClipCell


def _read(cell: CellClipCell):
    view = TorchCellAdapter(cell, "t", TorchBackend("float64"), CellSpec(3, 4, 4))
    params = view.read_layout()
    assert params is not None and params.cell_clip == CELL_CLIP
    return params


def _point(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (5, 3)), rng.uniform(-1, 1, (5, 4)), rng.uniform(-2, 2, (5, 4))


def test_the_oracle_clamps_c_and_its_carry_derivative_is_f_inside_the_bound_only():
    torch.manual_seed(0)
    cell = CellClipCell(3, 4).double()
    params = _read(cell)
    x, h, c = _point()
    want = lstm_step(params, x, h, c, "standard")
    cc = torch.tensor(c, requires_grad=True)
    got_h, got_c = cell(torch.tensor(x), (torch.tensor(h), cc))
    err = tol.step_error(params, x, h, c, "standard", "float64")
    assert np.all(np.abs(got_c.detach().numpy() - want.c) <= tol.SAFETY * err.dc)
    assert np.all(np.abs(got_h.detach().numpy() - want.h) <= tol.SAFETY * err.dh)
    # the carry derivative, independently: autograd of the torch cell, one coordinate each
    (slope,) = torch.autograd.grad(got_c.sum(), cc)
    oracle = carry_derivative(params, x, h, c, "standard")
    np.testing.assert_allclose(slope.numpy(), oracle, atol=1e-15)
    clamped = np.abs(want.c) == CELL_CLIP
    assert clamped.any() and (~clamped).any()  # the point reaches both sides of the bound
    assert np.all(oracle[clamped] == 0)
    unclipped = lstm_step(dataclasses.replace(params, cell_clip=None), x, h, c, "standard")
    assert np.all(oracle[~clamped] == unclipped.f[~clamped])


def test_the_undecided_band_is_where_c_hat_is_within_its_error_bound_of_the_clip():
    params = _read(CellClipCell(3, 4).double())
    x, h, c = _point(1)
    v = lstm_step(params, x, h, c, "standard")
    err = tol.step_error(params, x, h, c, "standard", "float32")
    assert not tol.cell_clip_undecided(params, c, v, err).any()
    # move c so that ĉ lands exactly on the bound at one coordinate (f > 0 there)
    c_hat = v.f * c + v.i * v.g
    c_on = c.copy()
    c_on[0, 0] = (CELL_CLIP - v.i[0, 0] * v.g[0, 0]) / v.f[0, 0]
    assert np.isclose(v.f[0, 0] * c_on[0, 0] + v.i[0, 0] * v.g[0, 0], CELL_CLIP)
    v_on = lstm_step(params, x, h, c_on, "standard")
    undecided = tol.cell_clip_undecided(params, c_on, v_on, err)
    assert undecided[0, 0] and undecided.sum() == 1 and c_hat.shape == undecided.shape
    no_clip = dataclasses.replace(params, cell_clip=None)
    assert not tol.cell_clip_undecided(no_clip, c_on, v_on, err).any()


def test_a_backward_that_ignores_the_clamp_is_caught(run_properties):
    result = run_properties(
        f"{TARGETS}:ClipGradientPassedThroughCell",
        "-k",
        "carry_jacobian_diagonal_equals_forget_gate",
    )
    result.assert_outcomes(failed=1)
    assert "carry Jacobian diagonal ≠ oracle f_t" in result.stdout.str()


def test_the_claims_a_clip_breaks_skip_with_the_reason(run_properties):
    result = run_properties(f"{TARGETS}:CellClipCell", "-k", "affine_in_c or translates")
    result.assert_outcomes(skipped=2)
    assert "clamps its cell state to ±1" in result.stdout.str()


@pytest.mark.parametrize("bad", ["1.0", float("inf"), 0.0, -1.0, True])
def test_a_cell_clip_that_is_not_a_positive_finite_number_is_one_line(bad):
    cell = CellClipCell(3, 4)
    cell.lstm_cell_clip = bad
    with pytest.raises(TargetError) as info:
        TorchCellAdapter(cell, "mypkg:cell", TorchBackend("float32"), CellSpec(3, 4, 4))
    assert "\n" not in str(info.value) and "lstm_cell_clip = " in str(info.value)
