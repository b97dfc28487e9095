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

import numpy as np
import pytest

from lstm_props.targets import DTYPES, TARGETS, TargetInfo
from tests.conftest import PROPERTIES, outcomes_by_name
from tests.conftest import TARGETS as CELLS

# The registry's JAX cells (lstm_props.targets.TARGETS). Each one's whole-suite run in
# float64 retraces every JAX function once more under x64 (~45 s a cell on 2 cores), and the
# optimized flax cells (one fused kernel for the four gates) share the adapter code of their
# plain twins: those runs are nightly (the record's `nightly` dtypes, `-m nightly`), to keep
# CI within 15 minutes. `lstm-props matrix` gives every cell both precisions' verdicts.
JAX_TARGETS = {t.name: t for t in TARGETS if t.package in ("flax", "equinox", "haiku")}
# (lstm_props.adapters.keras:lstm_cell, on the user's backend, is tests/test_keras_backend.py's)
KERAS_TARGETS = {t.env["KERAS_BACKEND"]: t for t in TARGETS if t.package == "keras" and t.env}


def _runs(targets: dict[str, TargetInfo]) -> list:
    """(key, dtype) for every target and dtype, marked nightly where the registry says so."""
    return [
        pytest.param(key, dtype, marks=[pytest.mark.nightly] if dtype in t.nightly else [])
        for key, t in targets.items()
        for dtype in DTYPES
    ]


# Skipped by a single standard cell, each with its reason: the registry's skips (the
# no_forget-only property, no fused sequence call: fused, packed, bidirectional), CPU-only
# (CUDA agreement), the own-precision finite difference (a JAX cell has a float64 twin); in
# float64 also float32 against float64, which is a float32 run's property.
RUN_SKIPS = {"float32": {"cuda_agrees_with_cpu", "input_backward_matches_finite_differences"}}
RUN_SKIPS["float64"] = RUN_SKIPS["float32"] | {"float32_agrees_with_float64"}
# Each example retraces the JAX functions (new shapes), so a whole-suite run at the ci
# profile's 15 examples costs ~90 s on 2 cores; the self-tests run 3 per property, which
# exercises every adapter path and every property (the point here: the wiring), and leave
# the volume to `lstm-props matrix` and its verdicts in docs/matrix.md.
# LSTM_PROPS_JAX_EXAMPLES=15 runs the full ci profile.
JAX_EXAMPLES = os.environ.get("LSTM_PROPS_JAX_EXAMPLES", "3")


@pytest.mark.parametrize(("target", "dtype"), _runs(JAX_TARGETS))
def test_jax_cells_pass_the_whole_suite(run_properties, target, dtype):
    info = JAX_TARGETS[target]
    pytest.importorskip(info.package, reason="install the extra: pip install 'lstm-props[jax]'")
    result = run_properties(target, "--lstm-dtype", dtype, "--lstm-max-examples", JAX_EXAMPLES)
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0
    skipped = outcomes_by_name(result).get("skipped", set())
    assert skipped == {f"test_{p}" for p in (info.skips or set()) | RUN_SKIPS[dtype]}, (
        result.stdout.str()
    )


@pytest.mark.parametrize(
    ("mistake", "caught_by"),
    [
        ("equinox_h_and_c_swapped", "test_step_values_match_reference"),
        ("flax_gates_read_in_keras_order", "test_step_values_match_reference"),
        ("flax_carry_read_as_h_c", "test_step_values_match_reference"),
        ("haiku_forget_bias_left_out", "test_step_values_match_reference"),
        ("haiku_gates_read_in_torch_order", "test_step_values_match_reference"),
    ],
)
def test_an_adapter_mapping_mistake_is_caught(run_properties, mistake, caught_by):
    package = mistake.split("_")[0]
    pytest.importorskip(package, reason="install the extra: pip install 'lstm-props[jax]'")
    result = run_properties(
        f"{CELLS.replace('cells.py', 'jax_mistakes.py')}:{mistake}",
        "-k",
        caught_by,
        profile="mutants",  # caught or not is the question: no shrinking (XLA per shape)
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    assert result.parseoutcomes()["failed"] == 1
    result.stdout.fnmatch_lines(["*PropertyFailure: *"])  # a property failed, not the adapter


# Keras 3 computes `ops.matmul` (and, since keras-team/keras#23225, `add` and `multiply` on
# torch) of two float64 tensors in float32: its `result_type("float64", "float64")` is
# "float32" on every backend but TensorFlow (keras-team/keras#23704). A float64 LSTMCell
# therefore carries float32 rounding (4e-8 against the float64 reference), and the
# load-time precision check stops a float64 run in one line. That is a finding, not a
# tolerance to loosen: the registry's record holds the dtypes refused at load and the
# properties it fails per dtype (its `findings`), and if a Keras release fixes it, this
# test fails and the registry and the finding in docs/frameworks.md must be updated. Keras on
# JAX in float64 retraces under x64 (~70 s on 2 cores): nightly, like the JAX cells'.
@pytest.mark.parametrize(("backend", "dtype"), _runs(KERAS_TARGETS))
def test_keras_cell_passes_but_for_its_float64_precision(pytester, monkeypatch, backend, dtype):
    # find_spec, not import: importing Keras here would fix this process' Keras backend
    for package, extra in (("keras", "keras"), (backend, "jax" if backend == "jax" else "")):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"install the extra: pip install 'lstm-props[{extra or 'keras'}]'")
    info = KERAS_TARGETS[backend]
    for key, value in info.env.items():  # KERAS_BACKEND: Keras picks it once per process
        monkeypatch.setenv(key, value)
    out = pytester.path / "results.json"
    result = pytester.runpytest_subprocess(
        PROPERTIES,
        "--lstm-adapter",
        info.name,
        # derandomized, no shrinking: which properties fail is the question, not their
        # minimal cases (shrinking a float64 Keras failure costs minutes)
        "--lstm-dtype",
        dtype,
        "--lstm-profile",
        "mutants",
        "--lstm-max-examples",
        JAX_EXAMPLES if backend == "jax" else "5",  # JAX retraces
        "-p",
        "no:cacheprovider",
        "--lstm-json",
        str(out),
    )
    if info.refused(dtype):  # stopped at load, in one line: it computes in float32
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
        result.stderr.fnmatch_lines([f"*computes below its declared {dtype}*"])
        return
    results = json.loads(out.read_text())["results"]
    failed = {r["property"].split("[")[0] for r in results if r["outcome"] == "failed"}
    assert failed == info.fails(dtype), (sorted(failed), result.stdout.str()[-2000:])
    assert not [r for r in results if r["outcome"] == "error"]


def test_the_jitted_write_adjoint_equals_the_eager_one_and_takes_an_unhashable_write():
    """JaxCellAdapter.parameter_vjp carries ∂L/∂(framework params) into the layout through the
    VJP of `write`, jitted and keyed on the write function; a write that cannot be hashed (a
    callable object with __eq__ and no __hash__) takes the eager path, with the same result."""
    pytest.importorskip("haiku", reason="install the extra: pip install 'lstm-props[jax]'")
    from lstm_props.adapters import haiku

    cell = haiku.lstm(3, 4, "float64")
    rng = np.random.default_rng(0)
    x, h, c = (rng.standard_normal((2, n)) for n in (3, 4, 4))
    u_h, u_c = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))

    def grads() -> object:
        def run() -> tuple:
            return cell.step(*(cell.backend.asarray(a) for a in (x, h, c)))

        return cell.parameter_vjp(run, [u_h, u_c])

    class UnhashableWrite:
        def __init__(self, write):
            self.write = write

        def __call__(self, arrays, params):
            return self.write(arrays, params)

        def __eq__(self, other):
            return self is other

        __hash__ = None  # type: ignore[assignment]

    jitted = grads()
    cell._write = UnhashableWrite(cell._write)
    eager = grads()
    for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
        a, b = getattr(jitted, name), getattr(eager, name)
        assert np.abs(a).max() > 0, name  # the gradient reaches every field
        np.testing.assert_array_equal(a, b, err_msg=name)
