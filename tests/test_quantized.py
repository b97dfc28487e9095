"""torch's dynamic-quantized LSTM: loaded as a sequence module, its int8 weights read back as
held, the rounding of x and h declared in the error model (lstm_props.maths.quantization);
the declared bound is sound and not vacuous, and a broken quantized LSTM fails."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lstm_props._errors import TargetError
from lstm_props._harness.loading import load_target
from lstm_props._harness.strategies import write_held
from lstm_props.adapters._torch_quantized import FBGEMM_DYNAMIC
from lstm_props.maths import tolerances as tol
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.quantization import DynamicQuantization
from lstm_props.maths.reference import lstm_step
from lstm_props.targets import lstm_dynamic_quantized
from tests.conftest import outcomes_by_name

QUANTIZED = str(Path(__file__).parent / "targets" / "quantized.py")
VALUES = "test_step_values_match_reference"


def _step(cell, x, h, c):  # type: ignore[no-untyped-def]
    be = cell.backend
    with torch.no_grad():
        out = cell.step(be.asarray(x), be.asarray(h), be.asarray(c))
    return tuple(be.to_numpy(a) for a in out)


def _uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-bound, bound, shape).astype(np.float32).astype(np.float64)


def test_input_error_is_half_a_step_of_the_tensors_own_grid():
    q = DynamicQuantization(levels=127, min_scale=6.1e-5)
    a = np.array([[-0.5, 2.0], [0.25, 1.0]])
    s = q.scale(a)
    assert s == pytest.approx(2.5 / 127, rel=1e-6)
    assert q.input_error(a) == pytest.approx(s / 2, rel=1e-4)
    assert q.input_error(np.zeros((2, 3))) == 0.0  # quantizes exactly to the zero point
    assert q.scale(np.full((1, 2), 1e-6)) == 6.1e-5  # fbgemm's smallest scale


def test_the_rounding_of_a_real_kernel_stays_within_the_declared_step():
    """torch's own quantize-dequantize at the declared scale and zero point moves no entry
    by more than input_error (the per-tensor affine grid of 128 levels, reduce_range)."""
    rng = np.random.default_rng(0)
    for bound in (0.01, 1.0, 7.0):
        a = _uniform(rng, bound, (4, 9)) + bound / 3
        s = FBGEMM_DYNAMIC.scale(a) / (1 + 2.0**-24)  # the kernel's own s, unwidened
        lo = min(a.min(), 0.0)
        zp = int(np.clip(np.rint(-lo / s), 0, 127))
        t = torch.as_tensor(a, dtype=torch.float32)
        rounded = torch.quantize_per_tensor(t, s, zp, torch.quint8).dequantize().double()
        assert np.abs(rounded.numpy() - a).max() <= FBGEMM_DYNAMIC.input_error(a)


def test_the_direct_module_loads_as_a_sequence_module():
    """torch.ao.nn.quantized.dynamic.LSTM itself, not a cell: layer views and its fused call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = load_target(f"{QUANTIZED}:correct")
    views = target.probe()
    assert views.stack.has_sequence and views.stack.has_packed
    held = views.layers[0].read_layout()
    assert held is not None and held.quantization == FBGEMM_DYNAMIC
    assert not views.layers[0].backend.autograd
    assert views.layers[0].astype("float64") is None


def test_a_float64_run_and_float16_weights_are_refused_in_one_line():
    with warnings.catch_warnings(), pytest.raises(TargetError, match="--lstm-dtype float32"):
        warnings.simplefilter("ignore")
        load_target("lstm_props.targets:lstm_dynamic_quantized", dtype="float64")
    wrapped = nn.Sequential(nn.LSTM(3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp16 = torch.ao.quantization.quantize_dynamic(wrapped, {nn.LSTM}, dtype=torch.float16)
    from lstm_props.adapters._torch_target import torch_views

    with pytest.raises(TargetError, match="only int8"):
        torch_views(fp16[0], "fp16", "float32", "cpu")


def test_a_write_is_requantized_and_the_case_holds_the_read_back():
    """The drawn weights are rounded to the int8 grid when written; the case's parameters
    are then what the kernel holds, each weight within half a grid step of the drawn one."""
    from lstm_props.adapters._torch_target import torch_views

    cell = torch_views(lstm_dynamic_quantized(3, 4), "q", "float32", "cpu").layers[0]
    rng = np.random.default_rng(1)
    drawn = LSTMParams(
        _uniform(rng, 1, (16, 3)),
        _uniform(rng, 1, (16, 4)),
        _uniform(rng, 1, (16,)),
        _uniform(rng, 1, (16,)),
        quantization=FBGEMM_DYNAMIC,
    )
    held = write_held(cell, drawn)
    back = cell.read_layout()
    assert all(np.array_equal(getattr(held, k), getattr(back, k)) for k in ("w_ih", "w_hh"))
    for name in ("w_ih", "w_hh"):
        w, q = getattr(drawn, name), getattr(held, name)
        assert not np.array_equal(w, q)  # rounded ...
        # ... by ≤ s_w/2 = max|W|/255 (symmetric per tensor), up to the float32 roundings of
        # s_w and of w/s_w (|w/s_w| ≤ 128: 256u relative to half a step)
        assert np.abs(w - q).max() <= np.abs(w).max() / 255 * (1 + 256 * 2.0**-24)
    np.testing.assert_array_equal(held.b_ih, drawn.b_ih)  # float biases, kept


@pytest.mark.parametrize("seed", range(4))
def test_declared_bound_holds_and_is_not_vacuous(seed):
    """On fixed draws, the kernel's deviation from the oracle on the held weights is within
    the declared bound (sound), at least 1/100 of it (not loose), and far outside the
    floating-point bound alone (the declaration is what makes the values comparable)."""
    from lstm_props.adapters._torch_target import torch_views

    torch.manual_seed(seed)
    cell = torch_views(lstm_dynamic_quantized(5, 6), "q", "float32", "cpu").layers[0]
    params = cell.read_layout()
    rng = np.random.default_rng(seed)
    x, h, c = _uniform(rng, 3, (3, 5)), _uniform(rng, 1, (3, 6)), _uniform(rng, 5, (3, 6))
    got_h, got_c = _step(cell, x, h, c)
    want = lstm_step(params, x, h, c, "standard")
    err = tol.step_error(params, x, h, c, "standard", "float32")
    ratio_h = np.abs(got_h - want.h) / (tol.SAFETY * err.dh)
    ratio_c = np.abs(got_c - want.c) / (tol.SAFETY * err.dc)
    assert ratio_h.max() <= 1 and ratio_c.max() <= 1
    assert max(ratio_h.max(), ratio_c.max()) >= 1e-2, (ratio_h.max(), ratio_c.max())
    float_only = tol.step_error(
        dataclasses.replace(params, quantization=None), x, h, c, "standard", "float32"
    )
    assert (np.abs(got_h - want.h) / (tol.SAFETY * float_only.dh)).max() > 10


def test_the_built_in_passes_its_value_properties(run_properties):
    result = run_properties(
        "lstm_props.targets:lstm_dynamic_quantized",
        "-k",
        "step_values or in_place or forgets_c0",
        "--lstm-max-examples",
        "15",
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outcomes_by_name(result)["passed"] == {
        VALUES,
        "test_in_place_weight_edits_take_effect",
        "test_closed_forget_gate_forgets_c0",
    }
    header = result.stdout.str()
    assert "lstm_props: quantized kernel: int8 weights read back as held" in header


@pytest.mark.parametrize("broken", ["bias_doubled", "gates_swapped"])
def test_a_broken_quantized_lstm_fails_the_values(run_properties, broken):
    result = run_properties(
        f"{QUANTIZED}:{broken}", "-k", "step_values", "--lstm-max-examples", "15", profile="mutants"
    )
    assert outcomes_by_name(result).get("failed") == {VALUES}, result.stdout.str()[-3000:]


def test_torch_drops_the_gradient_through_the_int8_products():
    """The finding behind the adapter's missing autograd (targets.QUANTIZED_NO_INPUT_GRADIENT):
    backward runs with a warning, x and h_0 get no gradient, and c_0's is the carry path only
    (equal to the finite difference at T = 1, not at T = 3, where c_0 also reaches the gates
    through h). When torch fixes it this fails: then give the adapter its autograd back."""
    q = lstm_dynamic_quantized(3, 4)
    gen = torch.Generator().manual_seed(0)
    h0 = torch.randn(1, 2, 4, generator=gen, requires_grad=True)
    c0 = torch.randn(1, 2, 4, generator=gen, requires_grad=True)
    v = torch.randn(1, 2, 4, generator=gen)
    gaps = []
    for steps in (1, 3):
        x = torch.randn(steps, 2, 3, generator=gen, requires_grad=True)
        with pytest.warns(UserWarning, match="autograd kernel was not registered"):
            _, (_, c) = q(x, (h0, c0))
            c.sum().backward()
        assert x.grad is None and h0.grad is None
        assert c0.grad is not None
        with torch.no_grad():  # c is not quantized: a clean central difference in c_0
            eta = 1e-2
            up = q(x, (h0, c0 + eta * v))[1][1].sum()
            down = q(x, (h0, c0 - eta * v))[1][1].sum()
        fd = float((up - down) / (2 * eta))
        gaps.append(abs(float((c0.grad * v).sum()) - fd) / abs(fd))
        c0.grad = None
    assert gaps[0] < 1e-3 and gaps[1] > 0.1, gaps
