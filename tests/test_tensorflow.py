"""TensorFlow's LSTM cells (lstm_props.adapters.tensorflow, and Keras 3 on its TensorFlow
backend) against the whole suite, in float32 and, where TensorFlow has a float64 kernel,
float64; and the adapters' mappings against the reference on their own.

* Keras 3's LSTMCell on TensorFlow and TF 1's LSTMCell (plain, peepholes, projection) pass
  every applicable property in both precisions (Keras' float64 is really float64 here).
* The fused block kernels (float32 only: no twin, so the finite-difference properties run in
  their own precision) pass too, but for BlockLSTMV2, whose registered gradient is
  BlockLSTM's (the registry's finding, pinned property by property).

Needs ``pip install "lstm-props[tensorflow]"`` (tensorflow-cpu); without it these tests skip
with the reason. Keras picks its backend once per process, so its runs are subprocesses.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="install TensorFlow: pip install 'lstm-props[tensorflow]'")

from lstm_props.adapters import tensorflow as tf_adapters
from lstm_props.maths.reference import lstm_step
from lstm_props.targets import DTYPES, TARGETS, target_info
from tests.conftest import PROPERTIES, outcomes_by_name

TF_TARGETS = {t.name: t for t in TARGETS if t.package == "tensorflow"}
#: The block kernels have half and float kernels only.
FLOAT32_ONLY = {n for n in TF_TARGETS if ":block_" in n}
KERAS = "lstm_props.adapters.keras:lstm_cell_tensorflow"

# Skipped besides the registry's skips, each with its reason: CUDA agreement on the CPU;
# with a float64 twin the own-precision finite difference (its backward is checked in
# float64), in float64 also float32 against float64 (a float32 run's property); without a
# twin (float32 only) float32 against float64 instead.
RUN_SKIPS = {
    "float32": {"cuda_agrees_with_cpu", "input_backward_matches_finite_differences"},
    "float64": {
        "cuda_agrees_with_cpu",
        "input_backward_matches_finite_differences",
        "float32_agrees_with_float64",
    },
}
NO_TWIN_SKIPS = {"cuda_agrees_with_cpu", "float32_agrees_with_float64"}
#: Examples per property: the wiring is the point here (every adapter path, every
#: property); the volume is `lstm-props matrix`'s. LSTM_PROPS_TF_EXAMPLES=15 runs the ci
#: profile's.
EXAMPLES = os.environ.get("LSTM_PROPS_TF_EXAMPLES", "3")


def _runs() -> list:
    return [
        pytest.param(name, dtype, id=f"{name.split(':')[1]}-{dtype}")
        for name in TF_TARGETS
        for dtype in DTYPES
        if name != KERAS and not (dtype == "float64" and name in FLOAT32_ONLY)
    ]


def _expected_skips(name: str, dtype: str) -> set[str]:
    info = TF_TARGETS[name]
    run = NO_TWIN_SKIPS if name in FLOAT32_ONLY else RUN_SKIPS[dtype]
    return {f"test_{p}" for p in (info.skips or set()) | run}


@pytest.mark.parametrize(("target", "dtype"), _runs())
def test_tensorflow_cells_pass_the_whole_suite_but_for_their_findings(
    run_properties, target, dtype
):
    info = TF_TARGETS[target]
    # The mutants profile: derandomized, no shrinking (which properties fail is the
    # question here, and shrinking a float32 kernel's failure costs minutes).
    result = run_properties(
        target, "--lstm-dtype", dtype, "--lstm-max-examples", EXAMPLES, profile="mutants"
    )
    outcomes = outcomes_by_name(result)
    failed = outcomes.get("failed", set())
    assert failed == {f"test_{p}" for p in info.fails(dtype)}, result.stdout.str()[-3000:]
    assert "error" not in outcomes, result.stdout.str()[-3000:]
    assert outcomes.get("skipped", set()) == _expected_skips(target, dtype), result.stdout.str()[
        -3000:
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_keras_on_tensorflow_passes_the_whole_suite_in_both_precisions(
    pytester, monkeypatch, dtype
):
    """Unlike on torch and jax (keras-team/keras#23704), Keras' float64 LSTMCell computes in
    float64 on TensorFlow: no finding, every applicable property passes."""
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # Keras picks it once per process
    out = pytester.path / "results.json"
    pytester.runpytest_subprocess(
        PROPERTIES,
        "--lstm-adapter",
        KERAS,
        "--lstm-dtype",
        dtype,
        "--lstm-profile",
        "mutants",
        "--lstm-max-examples",
        EXAMPLES,
        "-p",
        "no:cacheprovider",
        "--lstm-json",
        str(out),
    )
    results = json.loads(out.read_text())["results"]
    by = {
        outcome: {f"test_{r['property'].split('[')[0]}" for r in results if r["outcome"] == outcome}
        for outcome in ("passed", "failed", "skipped", "error")
    }
    assert by["failed"] == by["error"] == set(), results
    assert by["skipped"] == _expected_skips(KERAS, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "factory", ["compat_v1_lstm_cell", "compat_v1_lstm_cell_peephole", "compat_v1_lstm_cell_proj"]
)
def test_tf1_lstmcell_computes_the_reference_step_on_the_read_back_layout(factory, dtype):
    """The mapping on its own: gate blocks i, j, f, o; w_i_diag, w_f_diag, w_o_diag as
    p_i, p_f, p_o; the projection kernel (H, P) as w_hr's transpose."""
    cell = getattr(tf_adapters, factory)(3, 4, dtype=dtype)
    rng = np.random.default_rng(0)
    held = cell.read_layout()
    cell.write_layout(held.map_arrays(lambda a: rng.uniform(-1.5, 1.5, a.shape)))
    params, b = cell.read_layout(), cell.backend
    x, h, c = (
        b.to_numpy(b.asarray(rng.uniform(-2, 2, (2, n)))) for n in (3, cell.spec.output_size, 4)
    )
    h_new, c_new = (b.to_numpy(a) for a in cell.step(b.asarray(x), b.asarray(h), b.asarray(c)))
    ref = lstm_step(params, x, h, c, variant=cell.variant)
    tol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(c_new, ref.c, rtol=0, atol=tol)
    np.testing.assert_allclose(h_new, ref.h, rtol=0, atol=tol)
    assert h_new.shape == (2, 2 if factory.endswith("proj") else 4)


def test_vjp_rows_batched_and_row_by_row_agree_bit_for_bit():
    """The persistent-tape rows, the vectorized (tape.jacobian) rows and the Backend
    default's one-backward-per-row loop give the same numbers."""
    cell = tf_adapters.compat_v1_lstm_cell_peephole(3, 4, dtype="float64")
    be = cell.backend
    rng = np.random.default_rng(1)
    x, h, c = (rng.normal(size=(2, n)) for n in (3, 4, 4))

    def fn(x_, h_, c_):
        h_new, c_new = cell.step(x_, h_, c_)
        return [c_new, h_new]

    rows = [rng.normal(size=(9, 2, 4)), rng.normal(size=(9, 2, 4))]
    cls = type(be)
    got = {}
    for mode, many, batch in (("tape", 64, True), ("pfor", 2, True), ("loop", 64, False)):
        be.many_rows, be.batch_rows = many, batch
        got[mode] = be.vjp_rows(fn, (x, h, c), rows)
    be.many_rows, be.batch_rows = cls.many_rows, cls.batch_rows
    for mode in ("pfor", "loop"):
        for a, b in zip(got["tape"], got[mode]):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    assert [g.shape for g in got["tape"]] == [(9, 2, 3), (9, 2, 4), (9, 2, 4)]


def test_the_block_kernels_refuse_float64_in_one_line(run_properties):
    result = run_properties("lstm_props.adapters.tensorflow:block_lstm", "--lstm-dtype", "float64")
    err = [line for line in result.stderr.str().splitlines() if line.strip()]
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert err == [
        "ERROR: target 'lstm_props.adapters.tensorflow:block_lstm': building it raised "
        "ValueError: TensorFlow's BlockLSTM kernel has no float64 kernel (half and float "
        "only): run with --lstm-dtype float32"
    ]


def test_the_registry_holds_blocklstmv2s_gradient_finding():
    info = target_info("lstm_props.adapters.tensorflow:block_lstm_v2")
    assert "one_step_vjp_splits_into_carry_and_hidden_tracks" in info.fails("float32")
    assert info.fails("float64") == set()  # refused: float32 only
    for name in TF_TARGETS.keys() - {info.name}:
        assert TF_TARGETS[name].findings == (), name


def test_blocklstmv2s_hidden_gradient_is_wrong_against_the_reference_by_hand():
    """The finding without the suite: ∂Σh_t/∂h_{t-1} by float64 central differences of the
    reference step on the kernel's own (read-back) weights. BlockLSTM's tape agrees, V2's
    does not; both agree on ∂Σh_t/∂c_{t-1} (the carry track is right)."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    v1, v2 = tf_adapters.block_lstm(2, 3), tf_adapters.block_lstm_v2(2, 3)
    params = v2.read_layout().map_arrays(lambda a: rng.uniform(-1, 1, a.shape))
    v1.write_layout(params)
    v2.write_layout(params)
    params = v2.read_layout()  # what the float32 kernel holds
    x, h, c = (rng.uniform(-1, 1, (1, n)).astype(np.float32).astype(np.float64) for n in (2, 3, 3))

    def true_grad(wrt: int) -> np.ndarray:
        eps, grad = 1e-6, np.zeros(3)
        for j in range(3):
            args_p, args_m = [x, h.copy(), c.copy()], [x, h.copy(), c.copy()]
            args_p[wrt][0, j] += eps
            args_m[wrt][0, j] -= eps
            grad[j] = (lstm_step(params, *args_p).h.sum() - lstm_step(params, *args_m).h.sum()) / (
                2 * eps
            )
        return grad

    def tape_grad(cell, wrt: int) -> np.ndarray:
        xs = [tf.constant(a, tf.float32) for a in (x, h, c)]
        with tf.GradientTape() as tape:
            tape.watch(xs[wrt])
            total = tf.reduce_sum(cell.step(*xs)[0])
        return tape.gradient(total, xs[wrt]).numpy()[0]

    for wrt, v2_right in ((1, False), (2, True)):  # h_{t-1}, c_{t-1}
        truth = true_grad(wrt)
        np.testing.assert_allclose(tape_grad(v1, wrt), truth, atol=1e-5)
        assert np.allclose(tape_grad(v2, wrt), truth, atol=1e-5) == v2_right


def test_a_gradient_the_tape_lost_is_an_adapter_fault_not_a_zero():
    """tf.stop_gradient on the carry: the tape answers None for c although c_t changes with
    c; that is a fault of the target, never the derivative 0. A source the outputs truly do
    not depend on still gets its zero."""
    import tensorflow as tf

    from lstm_props import AdapterError

    backend = tf_adapters.TensorFlowBackend("float64")
    u = [np.ones((2, 3))]
    lost = lambda h, c: [tf.stop_gradient(c) * 0.5 + h]  # noqa: E731
    with pytest.raises(AdapterError, match="no gradient for source 1"):
        backend.vjp(lost, [np.ones((2, 3)), np.ones((2, 3))], u)
    with pytest.raises(AdapterError, match="no gradient for source 1"):
        backend.vjp_rows(lost, [np.ones((2, 3)), np.ones((2, 3))], [np.ones((2, 2, 3))])
    unused = lambda h, c: [h * 2.0]  # noqa: E731
    dh, dc = backend.vjp(unused, [np.ones((2, 3)), np.ones((2, 3))], u)
    assert np.array_equal(dh, 2 * np.ones((2, 3))) and np.array_equal(dc, np.zeros((2, 3)))
