"""TensorFlow's fused LSTM block kernels (lstm_props.adapters.tensorflow; the self-tests'
cells around them in tests/targets/tf_block.py): float32 only, no twin.

The correct cell passes the finite-difference properties, checked in its own precision
(not skipped for want of a float64 twin), in layout and in black-box mode; a wrong
gradient is killed without a twin. Two wrong gradients are TensorFlow's own (2.21):

* BlockLSTMV2's registered gradient is BlockLSTM's (tensorflow/python/ops/rnn_grad.py
  registers ``_block_lstm_grad``, which calls ``block_lstm_grad``, for both): that kernel
  reads the gates in BlockLSTM's column order i, ci, f, o, V2's are i, f, ci, o, so the
  gradients of w and b come back with the ci and f blocks swapped and those of x and h_prev
  are wrong; that of cs_prev is right. The hidden-track property (9a) reports it.
* With cell_clip > 0 the gradient kernels ignore the clamp of c (straight through: where c
  was clipped the true derivative is 0, TF's is f). With the layout (the clip read back as
  ``LSTMParams.cell_clip``) the carry-diagonal property reports it; black-box, the
  finite-difference property.

The tests pin both, so a TensorFlow release that fixes either turns them red.
Needs ``pip install tensorflow-cpu``; without it these tests skip, with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="install TensorFlow: pip install tensorflow-cpu")

from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import lstm_step
from tests.targets import tf_block

TARGETS = str(Path(__file__).parent / "targets" / "tf_block.py")
FD = "carry_backward_matches_finite_differences"
SLOPE = "carry_slope_matches_autograd"
HIDDEN_TRACK = "one_step_vjp_splits_into_carry_and_hidden_tracks"


def _outcomes(result: pytest.RunResult) -> dict[str, int]:
    """passed / failed / skipped / error counts (not deselected, warnings)."""
    return {
        k: v
        for k, v in result.parseoutcomes().items()
        if k in ("passed", "failed", "skipped", "error", "errors")
    }


def _random_layout(cell: tf_block.TFBlockCell, rng: np.random.Generator) -> LSTMParams:
    held = cell.read_layout()
    assert held is not None
    return held.map_arrays(lambda a: rng.uniform(-1.5, 1.5, a.shape))


@pytest.mark.parametrize(
    "factory", ["block_lstm_cell", "block_lstm_cell_peephole", "block_lstm", "block_lstm_v2"]
)
def test_each_kernel_computes_the_reference_step_on_the_read_back_layout(factory):
    cell = getattr(tf_block, factory)(3, 4)
    rng = np.random.default_rng(0)
    cell.write_layout(_random_layout(cell, rng))
    params = cell.read_layout()
    x, h, c = (rng.uniform(-2, 2, (2, n)).astype(np.float32).astype(np.float64) for n in (3, 4, 4))
    b = cell.backend
    h_new, c_new = (b.to_numpy(a) for a in cell.step(b.asarray(x), b.asarray(h), b.asarray(c)))
    ref = lstm_step(params, x, h, c, variant=cell.variant)
    np.testing.assert_allclose(c_new, ref.c, atol=2e-6)
    np.testing.assert_allclose(h_new, ref.h, atol=2e-6)


def test_the_block_kernels_have_no_float64_twin():
    assert tf_block.block_lstm_cell(3, 4).astype("float64") is None
    with pytest.raises(ValueError, match="half and float only"):
        tf_block.block_lstm_cell(3, 4, dtype="float64")


def test_blocklstmv2s_registered_gradient_swaps_the_candidate_and_forget_blocks():
    """TF's own finding, without the suite: w's gradient from the tape, blocks 1 and 2
    swapped back, equals BlockLSTM's on the same weights (BlockLSTM's is correct)."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    v1, v2 = tf_block.block_lstm(3, 4), tf_block.block_lstm_v2(3, 4)
    params = _random_layout(v2, rng)
    v1.write_layout(params)
    v2.write_layout(params)
    x, h, c = (tf.constant(rng.uniform(-1, 1, (2, n)), tf.float32) for n in (3, 4, 4))

    def w_grad(cell):
        with tf.GradientTape() as tape:
            tape.watch(cell._w)
            h_new, _ = cell.step(x, h, c)
        return tape.gradient(h_new, cell._w).numpy()

    g1, g2 = w_grad(v1), w_grad(v2)
    swap = (0, 2, 1, 3)
    # V1 holds the gates as i, ci, f, o and V2 as i, f, ci, o: in the layout's order the
    # two gradients must agree, and they do once V2's ci and f blocks are swapped back.
    in_layout_v1 = tf_block._blocks(g1, tf_block.FROM_TF["BlockLSTM"], axis=1)
    np.testing.assert_allclose(tf_block._blocks(g2, swap, axis=1), in_layout_v1, atol=1e-5)
    assert np.abs(g2 - in_layout_v1).max() > 1e-2  # as registered, it is wrong


@pytest.mark.parametrize("black_box", [False, True], ids=["layout", "black-box"])
def test_a_correct_block_cell_passes_the_finite_difference_properties(run_properties, black_box):
    args = ["--lstm-black-box"] if black_box else []
    result = run_properties(
        f"{TARGETS}:block_lstm_cell", "-k", f"{FD} or {SLOPE}", "--lstm-max-examples", "20", *args
    )
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _outcomes(result).get("passed") == 2  # checked, not skipped for want of a twin


@pytest.mark.parametrize("black_box", [False, True], ids=["layout", "black-box"])
def test_a_squared_forget_gradient_is_killed_without_a_float64_twin(run_properties, black_box):
    args = ["--lstm-black-box"] if black_box else []
    result = run_properties(
        f"{TARGETS}:block_lstm_cell_squared_forget", "-k", FD, *args, profile="mutants"
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert "PropertyFailure" in out and "central finite difference" in out


def test_tensorflows_blocklstmv2_gradient_fails_the_hidden_track_property(run_properties):
    result = run_properties(f"{TARGETS}:block_lstm_v2", "-k", f"{HIDDEN_TRACK} or {FD}")
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert _outcomes(result) == {"failed": 1, "passed": 1}  # the carry track is right
    assert "hidden track" in out


def test_blocklstm_with_the_right_gate_order_passes_the_hidden_track_property(run_properties):
    result = run_properties(f"{TARGETS}:block_lstm", "-k", f"{HIDDEN_TRACK} or {FD}")
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _outcomes(result).get("passed") == 2


@pytest.mark.parametrize("black_box", [False, True], ids=["layout", "black-box"])
def test_tensorflows_cell_clip_gradient_is_killed(run_properties, black_box):
    """With the layout (cell_clip read back as LSTMParams.cell_clip) the carry diagonal is
    f where the oracle's clamp makes it 0; black-box, the finite difference sees it."""
    prop = FD if black_box else "carry_jacobian_diagonal_equals_forget_gate"
    args = ["--lstm-black-box"] if black_box else []
    result = run_properties(f"{TARGETS}:block_lstm_clip", "-k", prop, *args, profile="mutants")
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert _outcomes(result) == {"failed": 1}
    assert ("central finite difference" if black_box else "carry Jacobian diagonal") in out


@pytest.mark.parametrize("black_box", [False, True], ids=["layout", "black-box"])
def test_the_same_clip_with_its_true_gradient_passes(run_properties, black_box):
    """The control: clamping c is no reason to fail a gradient check. Black-box, the
    draw of the mutants profile puts a clamp between the carry finite difference's points
    (tape −0.249 against a central difference of −0.276 before lstm_props.maths.kinks): the
    one-sided difference of the smooth side is what the backward meets. With the layout,
    the parameter finite difference in float32 (steps of u^{1/3}) crosses clamps too."""
    args = ["--lstm-black-box"] if black_box else []
    props = FD if black_box else f"{FD} or parameter_gradients"
    result = run_properties(f"{TARGETS}:clip_in_plain_ops", "-k", props, *args, profile="mutants")
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _outcomes(result) == {"passed": 1 if black_box else 2}
