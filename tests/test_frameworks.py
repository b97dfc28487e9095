"""Implementations outside PyTorch: each passes the whole applicable suite in float32 and
float64 (no false alarm), and a mapping mistake of the kind that ships (h and c swapped,
another framework's gate order) makes the suite fail.

Installed by the extras: `pip install -e ".[jax]"`. Without them these tests are skipped
with the reason, never passed.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from tests.conftest import PROPERTIES, TARGETS

# The optimized flax cells (one fused kernel for the four gates) share the adapter code of
# their plain twins; their whole-suite runs (~45 s each on 2 cores) are nightly, to keep CI
# within 15 minutes. `lstm-props matrix` gives every cell its verdict.
JAX_TARGETS = [
    "lstm_props.adapters.equinox:lstm_cell",
    "lstm_props.adapters.flax:nnx_lstm_cell",
    pytest.param("lstm_props.adapters.flax:nnx_optimized_lstm_cell", marks=pytest.mark.nightly),
    "lstm_props.adapters.flax:linen_lstm_cell",
    pytest.param("lstm_props.adapters.flax:linen_optimized_lstm_cell",
                 marks=pytest.mark.nightly),
]
# Skipped by a single standard cell, each with its reason: the no_forget-only property, no
# fused sequence call (fused, packed, bidirectional), CPU-only (CUDA agreement), the
# own-precision finite difference (a JAX cell has a float64 twin); in float64 also float32
# against float64, which is a float32 run's property.
SKIPPED = {"float32": 6, "float64": 7}
# Each example retraces the JAX functions (new shapes), so a whole-suite run at the ci
# profile's 15 examples costs ~90 s on 2 cores; the self-tests run 3 per property, which
# exercises every adapter path and every property (the point here: the wiring), and leave
# the volume to `lstm-props matrix` and its verdicts in docs/matrix.md.
# LSTM_PROPS_JAX_EXAMPLES=15 runs the full ci profile.
JAX_EXAMPLES = os.environ.get("LSTM_PROPS_JAX_EXAMPLES", "3")


# float64 retraces every JAX function once more under x64 (~45 s a cell on 2 cores): it runs
# in the nightly set (`-m nightly`), so that CI stays within 15 minutes; `lstm-props matrix`
# gives both precisions their verdict.
@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=pytest.mark.nightly)])
@pytest.mark.parametrize("target", JAX_TARGETS)
def test_jax_cells_pass_the_whole_suite(run_properties, target, dtype):
    pytest.importorskip("flax" if ".flax:" in target else "equinox",
                        reason="install the extra: pip install 'lstm-props[jax]'")
    result = run_properties(target, "--lstm-dtype", dtype, "--lstm-max-examples", JAX_EXAMPLES)
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0
    assert outcomes["skipped"] == SKIPPED[dtype], result.stdout.str()


@pytest.mark.parametrize(("mistake", "caught_by"), [
    ("equinox_h_and_c_swapped", "test_step_values_match_reference"),
    ("flax_gates_read_in_keras_order", "test_step_values_match_reference"),
    ("flax_carry_read_as_h_c", "test_step_values_match_reference"),
])
def test_an_adapter_mapping_mistake_is_caught(run_properties, mistake, caught_by):
    pytest.importorskip("flax", reason="install the extra: pip install 'lstm-props[jax]'")
    result = run_properties(f"{TARGETS.replace('cells.py', 'jax_mistakes.py')}:{mistake}",
                            "-k", caught_by)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    assert result.parseoutcomes()["failed"] == 1
    result.stdout.fnmatch_lines(["*PropertyFailure: *"])  # a property failed, not the adapter


# Keras 3 computes `ops.matmul` (and, since keras-team/keras#23225, `add` and `multiply` on
# torch) of two float64 tensors in float32: its `result_type("float64", "float64")` is
# "float32" on every backend but TensorFlow (keras-team/keras#23704). A float64 LSTMCell
# therefore carries float32 rounding (4e-8 against the float64 reference). That is a
# finding, not a tolerance to loosen: these are the properties it fails, and if a Keras
# release fixes it, this test fails and the finding in docs/frameworks.md must be updated.
_ORACLE_IN_FLOAT64 = {"step_values_match_reference",
                      "edge_shapes_keep_a_diagonal_carry_and_the_values",
                      "hidden_output_carry_derivative", "in_place_weight_edits_take_effect",
                      "one_step_vjp_splits_into_carry_and_hidden_tracks",
                      "open_forget_gate_gives_identity_carry",
                      "parameter_gradients_match_finite_differences"}
KERAS_FLOAT64_FINDING = {
    # float32 runs: only the property that runs the cell's float64 copy
    ("torch", "float32"): {"parameter_gradients_match_finite_differences"},
    ("jax", "float32"): {"parameter_gradients_match_finite_differences"},
    # float64 runs: every comparison with the float64 oracle that float32 rounding exceeds
    ("torch", "float64"): _ORACLE_IN_FLOAT64 | {
        "carry_map_is_affine_in_c", "carry_jacobian_diagonal_equals_forget_gate",
        "carry_product_matches_oracle"},
    ("jax", "float64"): _ORACLE_IN_FLOAT64,
}


# Keras on JAX in float64 retraces under x64 (~70 s on 2 cores): nightly, like the JAX cells'.
@pytest.mark.parametrize(("backend", "dtype"), [
    ("torch", "float32"), ("torch", "float64"), ("jax", "float32"),
    pytest.param("jax", "float64", marks=pytest.mark.nightly)])
def test_keras_cell_passes_but_for_its_float64_precision(pytester, monkeypatch, backend, dtype):
    # find_spec, not import: importing Keras here would fix this process' Keras backend
    for package, extra in (("keras", "keras"), (backend, "jax" if backend == "jax" else "")):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"install the extra: pip install 'lstm-props[{extra or 'keras'}]'")
    monkeypatch.setenv("KERAS_BACKEND", backend)  # Keras picks it once per process
    out = pytester.path / "results.json"
    result = pytester.runpytest_subprocess(
        PROPERTIES, "--lstm-adapter", f"lstm_props.adapters.keras:lstm_cell_{backend}",
        # derandomized, no shrinking: which properties fail is the question, not their
        # minimal cases (shrinking a float64 Keras failure costs minutes)
        "--lstm-dtype", dtype, "--lstm-profile", "mutants",
        "--lstm-max-examples", JAX_EXAMPLES if backend == "jax" else "5",  # JAX retraces
        "-p", "no:cacheprovider", "--lstm-json", str(out))
    results = json.loads(out.read_text())["results"]
    failed = {r["property"].split("[")[0] for r in results if r["outcome"] == "failed"}
    assert failed == KERAS_FLOAT64_FINDING[backend, dtype], (sorted(failed),
                                                            result.stdout.str()[-2000:])
    assert not [r for r in results if r["outcome"] == "error"]
