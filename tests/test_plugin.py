"""The pytest plugin: header, options, skips with reasons, reproduce lines, seeds."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PROPERTIES, TARGETS


def test_header_names_target_variant_device_dtype_and_seed(run_properties):
    result = run_properties(
        "lstm_props.targets:reference_cifg",
        "--lstm-dtype",
        "float64",
        "-k",
        "test_carry_jacobian_is_diagonal",
        profile="dev",
    )
    result.stdout.fnmatch_lines(
        [
            "lstm_props: target=lstm_props.targets:reference_cifg "
            "variant=cifg device=cpu dtype=float64 "
            "hypothesis profile=dev seed=*"
        ]
    )
    assert "seed=derandomized" not in result.stdout.str()


def test_ci_profile_is_derandomized(run_properties):
    result = run_properties("torch.nn:LSTMCell", "-k", "test_carry_jacobian_is_diagonal")
    result.stdout.fnmatch_lines(["*hypothesis profile=ci seed=derandomized"])


def test_unknown_option_values_are_rejected(pytester: pytest.Pytester):
    result = pytester.runpytest_inprocess("--lstm-variant", "gru")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid choice: 'gru'" in result.stderr.str()


def test_black_box_target_skips_oracle_properties_with_reason(run_properties):
    result = run_properties(f"{TARGETS}:FusedIFOGCell")
    result.stdout.fnmatch_lines(["*SKIPPED*black-box (parameters not in the documented layout)*"])
    assert result.ret == 0


def test_declared_variant_changes_expectations(run_properties):
    """A peephole cell passes as peephole, and fails when declared standard."""
    target = "lstm_props.targets:reference_peephole"
    declared = run_properties(target, "--lstm-variant", "peephole")
    assert declared.ret == 0
    undeclared = run_properties(
        target,
        "--lstm-variant",
        "standard",
        "-k",
        "test_carry_jacobian_diagonal_equals_forget_gate",
        profile="mutants",
    )
    assert undeclared.ret == 1


def test_multi_layer_target_is_checked_layer_by_layer(run_properties):
    result = run_properties("lstm_props.targets:lstm_two_layer", "-k", "diagonal or fused", "-v")
    result.stdout.fnmatch_lines(
        [
            "*test_carry_jacobian_is_diagonal?layer0? PASSED*",
            "*test_carry_jacobian_is_diagonal?layer1? PASSED*",
            "*test_fused_sequence_equals_composed_steps?stack? PASSED*",
        ]
    )


def test_factory_of_fixed_instance_and_file_path_targets(run_properties):
    result = run_properties(f"{TARGETS}:fused_cell", "-k", "diagonal or affine")
    assert result.ret == 0
    assert result.parseoutcomes().get("passed", 0) >= 2


def test_a_numpy_adapter_without_autograd_runs_the_forward_only_properties(run_properties):
    """The contract does not assume torch: examples/numpy_adapter.py has no autograd."""
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "numpy_adapter.py"
    result = run_properties(f"{example}:make_adapter")
    assert result.ret == 0
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 7 and outcomes["skipped"] == 28
    result.stdout.fnmatch_lines(["*test_gate_blindness.py*has no autograd backend*"])


def test_black_box_option_hides_the_layout(run_properties):
    """--lstm-black-box runs only what needs no layout, and says so in each skip."""
    result = run_properties(
        "torch.nn:LSTMCell", "--lstm-black-box", "-k", "values_match or is_diagonal"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*is black-box (parameters not in the documented layout)*"])
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 1 and outcomes["skipped"] == 1


def test_under_xdist_the_workers_load_the_target_and_report_its_variant(
    pytester: pytest.Pytester, tmp_path
):
    """The controller never loads the target (so it never imports torch for nothing); the
    variant in the results file is the one the workers read from the target."""
    out = tmp_path / "results.json"
    result = pytester.runpytest_subprocess(
        PROPERTIES,
        "--lstm-adapter",
        "lstm_props.targets:reference_peephole",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "-k",
        "carry_jacobian_is_diagonal or affine",
        "--lstm-json",
        str(out),
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*variant=(the target's, read by the workers)*"])
    assert json.loads(out.read_text())["variant"] == "peephole"


def test_under_xdist_a_bad_target_is_one_line_and_a_usage_error(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess(
        PROPERTIES, "--lstm-adapter", "no_such_module:Cell", "-n", "2", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        ["ERROR: target 'no_such_module:Cell': no module named 'no_such_module'*"]
    )
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text and "node down" not in text


def test_an_unmet_need_is_a_skip_with_its_reason_at_collection(pytester):
    """The declaration, not the body, decides: after collection the property already
    carries its skip (LSTMCell has no packed call), and the body never runs."""
    pytester.makepyfile(
        skip_recorder="""
def pytest_collection_finish(session):
    for item in session.items:
        for mark in item.iter_markers("skip"):
            print("@@", item.name, "|", mark.kwargs["reason"])
"""
    )
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(
        PROPERTIES,
        "--lstm-adapter",
        "torch.nn:LSTMCell",
        "--collect-only",
        "-q",
        "-s",
        "-p",
        "skip_recorder",
        "-p",
        "no:cacheprovider",
    )
    skips = dict(
        line.split("@@ ", 1)[1].split(" | ", 1)
        for line in result.outlines
        if line.startswith("@@ ")
    )
    assert skips["test_packed_batch_equals_each_sequence_alone[stack]"] == (
        "torch.nn:LSTMCell has no packed (variable-length) call"
    )
    assert "test_carry_jacobian_is_diagonal[layer0]" not in skips


def test_an_unknown_need_is_refused_in_one_line():
    from lstm_props._harness.declared import lstm_property

    with pytest.raises(ValueError, match=r"unknown need 'autodiff'; choose from autograd, "):
        lstm_property("autodiff")


def test_a_build_that_draws_from_random_leaves_hypothesis_quiet(run_properties):
    """A target built inside a strategy that uses the ``random`` module (Keras, TensorFlow
    initializers) must not make Hypothesis warn that the strategy uses ``random``: the
    warning came hundreds of times a run. As an error, it would fail the property."""
    result = run_properties(
        f"{TARGETS}:SeedsFromRandomCell",
        "-k",
        "step_values_match_reference or carry_jacobian_is_diagonal",
        "-W",
        "error::hypothesis.errors.HypothesisDeprecationWarning",
    )
    result.assert_outcomes(passed=2)
