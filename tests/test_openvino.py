"""OpenVINO's LSTMCell on the CPU device: the f32 target passes every forward property, a
gate-order mistake fails, and a run below the declared precision (the plugin's default
bf16 on a CPU with bf16 support; any float64 run) is stopped at load in one line.

Installed by the extra: `pip install -e ".[openvino]"`; CI does not install it, and these
tests are then skipped with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("openvino", reason="install the extra: pip install 'lstm-props[openvino]'")

from lstm_props._harness.agreement import forward_disagreement
from lstm_props._harness.loading import load_target
from lstm_props.adapters.openvino import lstm_cell, lstm_cell_f32
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import lstm_step
from lstm_props.targets import target_info
from tests.conftest import TARGETS as CELLS
from tests.conftest import outcomes_by_name

F32 = "lstm_props.adapters.openvino:lstm_cell_f32"
DEFAULT = "lstm_props.adapters.openvino:lstm_cell"
#: The properties a forward-only cell runs (the rest need a backward, a float64 twin, CUDA,
#: a sequence call or the no_forget variant, and skip with the reason).
FORWARD = {
    "test_step_values_match_reference",
    "test_in_place_weight_edits_take_effect",
    "test_carry_map_is_coordinatewise",
    "test_carry_map_is_affine_in_c",
    "test_open_forget_gate_translates_the_carry",
    "test_closed_forget_gate_forgets_c0",
    "test_reference_rnn_jacobian_is_dense_and_vanishes",  # the oracle's own, no target
}


def _infers_in_bf16() -> bool:
    return lstm_cell(3, 4).inference_precision == "bf16"


def test_gates_are_read_in_openvinos_order_f_i_c_o():
    """A NumPy step on the documented layout (i, f, g, o) agrees with OpenVINO's output to
    float32 rounding; the round trip through OpenVINO's f, i, c, o blocks is exact."""
    cell = lstm_cell_f32(3, 5)
    rng = np.random.default_rng(0)
    params = LSTMParams(*(rng.uniform(-1, 1, s) for s in [(20, 3), (20, 5), (20,), (20,)]))
    cell.write_layout(params)
    back = cell.read_layout()
    np.testing.assert_array_equal(back.w_ih, params.w_ih.astype(np.float32))
    np.testing.assert_array_equal(back.b_ih, (params.b_ih + params.b_hh).astype(np.float32))
    x, h, c = (rng.uniform(-1, 1, (2, n)).astype(np.float32) for n in (3, 5, 5))
    got_h, got_c = cell.step(x, h, c)
    want = lstm_step(back, *(a.astype(float) for a in (x, h, c)), "standard")
    np.testing.assert_allclose(got_h, want.h, atol=1e-6)
    np.testing.assert_allclose(got_c, want.c, atol=1e-6)
    assert forward_disagreement(load_target(F32), "standard") is None


def test_the_f32_cell_passes_every_forward_property(run_properties):
    result = run_properties(F32)
    outcomes = outcomes_by_name(result)
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outcomes.get("failed", set()) == set()
    assert outcomes["passed"] == FORWARD


def test_a_gate_order_mistake_is_caught(run_properties):
    target = f"{CELLS.replace('cells.py', 'openvino_mistakes.py')}:gates_read_in_torch_order"
    result = run_properties(target, "-k", "test_step_values_match_reference")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*PropertyFailure: *"])


def test_the_default_precision_is_refused_at_load_where_it_is_bf16(run_properties):
    """On a CPU with bf16 support the plugin infers a float32 model in bfloat16: one line,
    naming the hint that fixes it; elsewhere the default is f32 and the run passes."""
    result = run_properties(DEFAULT)
    if not _infers_in_bf16():
        assert result.ret == 0, result.stdout.str()[-3000:]
        return
    assert target_info(DEFAULT).refused("float32")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: *computes below its declared float32: it rounds x and h to bfloat16*"]
    )
    result.stderr.fnmatch_lines(["*INFERENCE_PRECISION_HINT=f32*"])


@pytest.mark.parametrize("target", [DEFAULT, F32])
def test_a_float64_run_is_refused_at_load(run_properties, target):
    """The plugin has no float64 arithmetic: a float64 model returns float64 arrays
    computed in f32 (or bf16)."""
    assert target_info(target).refused("float64")
    result = run_properties(target, "--lstm-dtype", "float64")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *computes below its declared float64*"])
    result.stderr.fnmatch_lines(["*no float64 arithmetic*"])
    if target == F32:
        result.stderr.fnmatch_lines(["*it rounds x and h to float32*"])
