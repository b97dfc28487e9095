"""float16, bfloat16 and declared mixed precision: rounding, the error model's limits, torch
cells passing in them, a mutant still caught, bad combinations refused in one line."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_props._errors import TargetError
from lstm_props._harness.loading import load_target
from lstm_props.maths import tolerances as tol
from lstm_props.maths.precision import round_to

HALF_TARGETS = str(Path(__file__).parent / "targets" / "half.py")
#: properties that read the error model at every level: values, carry products (log
#: domain, underflow), the float64 twin, forcing, and an exact claim
SUBSET = (
    "step_values_match_reference or carry_product_matches_oracle or float32_agrees "
    "or open_forget_gate_gives_identity_carry or carry_jacobian_is_diagonal"
)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_round_to_matches_torch_on_float32_values(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(20000) * 10.0 ** rng.integers(-44, 39, 20000)
    a = np.concatenate([a, [1e4, 65519.0, 65520.0, 2.0**-133, 3 * 2.0**-135, -0.0]])
    a = a.astype(np.float32).astype(np.float64)  # torch converts float64 via float32
    with np.errstate(over="ignore"):
        want = torch.tensor(a).to(getattr(torch, dtype)).double().numpy()
    assert np.array_equal(round_to(a, dtype), want)


def test_round_to_bfloat16_rounds_once_from_float64():
    # 1 + 2⁻⁸ + 2⁻³⁰ is just above the midpoint of 1 and 1 + 2⁻⁷: nearest is 1 + 2⁻⁷, but
    # through float32 it is first rounded to the midpoint, which ties to even (1)
    a = 1 + 2.0**-8 + 2.0**-30
    assert round_to(a, "bfloat16") == 1 + 2.0**-7
    assert round_to(9999.0, "bfloat16") == 9984.0  # FORCE_BIAS's neighbourhood, 8 bits


def test_unit_roundoffs_and_the_first_order_limit():
    assert tol.UNIT_ROUNDOFF["bfloat16"] == 2.0**-8 == tol.UNIT_ROUNDOFF["bfloat16+float32"]
    assert tol.UNIT_ROUNDOFF["float16"] == 2.0**-11
    assert tol.SMALLEST_NORMAL["float16"] == 2.0**-14
    assert tol.SMALLEST_NORMAL["bfloat16"] == 2.0**-126
    assert tol.first_order_terms("bfloat16") == 32
    assert tol.first_order_terms("float16") == 256
    tol.gamma(32, "bfloat16")
    with pytest.raises(tol.BeyondErrorModel, match="holds up to n = 32 in bfloat16"):
        tol.gamma(33, "bfloat16")
    # float32 sums: γ_n in float32 plus five bfloat16 roundings, tighter than pure bfloat16
    # from n = 5 on, and no limit below 2²¹ terms
    mixed = tol.gamma(13, "bfloat16+float32")
    assert mixed == pytest.approx(13 * 2.0**-24 / (1 - 13 * 2.0**-24) + 5 * 2.0**-8)
    assert mixed < tol.gamma(13, "bfloat16")
    tol.gamma(4096, "bfloat16+float32")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "bfloat16+float32"])
def test_lstm_cell_passes_in_half(run_properties, dtype):
    result = run_properties("torch.nn:LSTMCell", "--lstm-dtype", dtype, "-k", SUBSET)
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outcomes.get("passed", 0) == 5, outcomes


def test_autocast_cell_passes_as_declared_mixed_precision(run_properties):
    result = run_properties(
        "lstm_props.adapters.torch_autocast:lstm_cell",
        "--lstm-dtype",
        "bfloat16+float32",
        "-k",
        SUBSET + " or carry_product_is_bounded",
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert result.parseoutcomes().get("passed", 0) == 6


@pytest.mark.parametrize("dtype", ["bfloat16", "bfloat16+float32"])
def test_a_mutant_still_fails_in_bfloat16(run_properties, dtype):
    result = run_properties(
        "lstm_props.mutants:HiddenForgetBiasOne",
        "--lstm-dtype",
        dtype,
        "-k",
        "carry_jacobian_diagonal_equals_forget_gate",
    )
    assert result.parseoutcomes().get("failed", 0) == 1
    assert "PropertyFailure" in result.stdout.str()


def test_a_cell_too_wide_for_bfloat16_skips_with_the_reason(run_properties):
    result = run_properties(
        f"{HALF_TARGETS}:wide_lstm_cell", "--lstm-dtype", "bfloat16", "-k", "step_values"
    )
    out = result.stdout.str()
    assert result.parseoutcomes().get("skipped", 0) == 1, out[-2000:]
    assert "beyond the error model: a 82-term dot product in bfloat16" in out


def test_autocast_cell_needs_its_mixed_precision_declared():
    target = "lstm_props.adapters.torch_autocast:lstm_cell"
    for dtype in ("bfloat16", "float32"):
        with pytest.raises(TargetError, match=r"run it with --lstm-dtype bfloat16\+float32"):
            load_target(target, dtype)
    assert load_target(target, "bfloat16+float32").probe().layers[0].backend.array_dtype == (
        "float32"
    )


def test_onnx_runtime_refuses_half_in_one_line():
    pytest.importorskip("onnxruntime")
    with pytest.raises(TargetError, match="float16 is supported for torch targets only"):
        load_target("lstm_props.adapters.onnx:lstm", "float16")


def test_cli_takes_the_new_dtypes_and_refuses_others():
    out = subprocess.run(
        [sys.executable, "-m", "lstm_props", "check", "--dtype", "bfloat17"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "invalid choice: 'bfloat17'" in out.stderr
    assert "'bfloat16+float32'" in out.stderr  # listed among the choices


def test_bfloat16_sigmoid_rounds_to_one_from_z_6_25():
    """docs/half-precision.md: the carousel by rounding, at the exact threshold."""
    assert math.log(511) < 6.25
    z = torch.tensor([6.21875, 6.25], dtype=torch.bfloat16)  # neighbours in bfloat16
    assert torch.sigmoid(z).tolist() == [0.99609375, 1.0]
