"""The load-time precision check: one line for a target computing below the precision it
declares (a torch cell computing in bfloat16 or float16 inside, a float64 one in float32),
never a word on a correct one, a sloppy one or a slightly wrong one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_props._harness.agreement import forward_disagreement
from lstm_props._harness.loading import load_target
from lstm_props._harness.precision import below_precision, round_to_bits
from lstm_props.targets import TARGETS, target_info
from tests.conftest import TARGETS as CELLS

PRECISION = CELLS.replace("cells.py", "precision.py")
BUILTIN = {t.name: t for t in TARGETS if t.builtin}


@pytest.mark.parametrize(
    ("cell", "dtype", "format_"),
    [
        ("Bfloat16InsideCell", "float32", "bfloat16"),
        ("Bfloat16InsideCell", "float64", "bfloat16"),
        ("Float16InsideCell", "float32", "float16"),
        ("Float32InsideCell", "float64", "float32"),
    ],
)
def test_a_cell_computing_below_its_precision_is_named_in_one_line(cell, dtype, format_):
    line = below_precision(load_target(f"{PRECISION}:{cell}", dtype), "standard")
    assert line is not None and "\n" not in line
    assert f"computes below its declared {dtype}: it rounds x and h to {format_}" in line
    if format_ == "float32":
        assert "run with --lstm-dtype float32" in line


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_no_correct_builtin_target_is_called_below_precision(name, dtype):
    if dtype not in target_info(name).dtypes:
        pytest.skip(f"{name} computes in {', '.join(target_info(name).dtypes)} only")
    assert below_precision(load_target(name, dtype), BUILTIN[name].variant) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_float32_cell_is_below_precision_only_in_a_float64_run(dtype):
    line = below_precision(load_target(f"{PRECISION}:Float32InsideCell", dtype), "standard")
    assert (line is None) == (dtype == "float32")


def test_a_sloppy_but_float32_sigma_is_not_called_below_precision():
    """σ off by 1.66e-7 absolute (ONNX Runtime's approximation): outside the error model
    where σ is small, yet float32 arithmetic."""
    assert below_precision(load_target(f"{PRECISION}:SloppySigmoidCell"), "standard") is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_slightly_wrong_formula_is_left_to_the_forward_agreement_check(dtype):
    """Its errors (f = σ(z_f + 2⁻⁸)) fit bfloat16's bound on every coordinate, but its
    response to a small move of x and h is accurate: a wrong forward, not a narrow one."""
    target = load_target(f"{PRECISION}:SlightlyOffForgetCell", dtype)
    assert below_precision(target, "standard") is None
    assert forward_disagreement(target, "standard") is not None


def test_onnx_runtime_is_not_called_below_precision():
    pytest.importorskip("onnxruntime", reason="install the extra: pip install 'lstm-props[onnx]'")
    for name, variant in [("lstm", "standard"), ("lstm_peephole", "peephole")]:
        target = load_target(f"lstm_props.adapters.onnx:{name}")
        assert below_precision(target, variant) is None


def test_the_run_stops_at_load_with_the_line(run_properties):
    result = run_properties(f"{PRECISION}:Bfloat16InsideCell")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and "computes below its declared float32" in errors[0]
    assert "passed" not in result.stdout.str() and "failed" not in result.stdout.str()


@pytest.mark.parametrize(("bits", "dtype"), [(8, torch.bfloat16), (11, torch.float16)])
def test_rounding_to_bits_is_the_formats_own(bits, dtype):
    a = np.random.default_rng(0).uniform(-1, 1, 1000)
    want = torch.tensor(a, dtype=torch.float32).to(dtype).double().numpy()
    # float32 first, as torch converts: a double rounding that only matters at ties
    got = round_to_bits(a.astype(np.float32).astype(float), bits)
    np.testing.assert_array_equal(got, want)
