"""Faults are faults: a broken backward, wrong VJP shapes, an input mutated in place or a bug
of lstm_props itself are errors (exit 2, one line), never shrunk property failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lstm_props.maths.carry
from lstm_props._errors import AdapterError, AdapterFault, PropertyFailure
from lstm_props._gate.faults import ADAPTER, FAILED, SUITE, BaseExceptionGroup, classify

GATE = str(Path(__file__).parent / "targets" / "gate.py")
CARRY = ("-k", "carry_jacobian_is_diagonal or bptt_equals_product")


def _results(path) -> dict[str, dict]:
    return {r["property"]: r for r in json.loads(path.read_text())["results"]}


def test_a_raising_backward_is_an_adapter_fault_and_is_not_shrunk(
    run_properties, tmp_path, monkeypatch
):
    """Each property calls the broken backward once and stops: no shrinking, no replay."""
    count = tmp_path / "backwards.txt"
    monkeypatch.setenv("LSTM_PROPS_COUNT_BACKWARDS", str(count))
    out = run_properties(f"{GATE}:backward_raises", *CARRY, "--lstm-json", str(tmp_path / "r.json"))
    results = _results(tmp_path / "r.json")
    assert {r["outcome"] for r in results.values()} == {"error"}, results
    assert {r["kind"] for r in results.values()} == {"adapter"}
    for r in results.values():
        assert "backward" in r["message"] and "backward kernel not implemented" in r["message"]
        assert r["counterexample"] == ""
    assert count.read_text().count("backward") == len(results) == 2
    assert "ExceptionGroup" not in out.stdout.str() and "Falsifying" not in out.stdout.str()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("wrong_shape_vjp", "returned a gradient of shape (1, 2) for primal 0, expected (1, 3)"),
        ("mutates_its_input", "step() raised RuntimeError"),
    ],
)
def test_a_broken_backend_or_forward_is_an_adapter_fault(run_properties, tmp_path, target, message):
    run_properties(f"{GATE}:{target}", *CARRY, "--lstm-json", str(tmp_path / "r.json"))
    results = _results(tmp_path / "r.json")
    assert results and all(
        r["outcome"] == "error" and r["kind"] == "adapter" for r in results.values()
    ), results
    assert any(message in r["message"] for r in results.values()), results


def test_an_xfail_line_does_not_hide_a_fault(run_properties, tmp_path):
    (tmp_path / "xfail.txt").write_text("carry_jacobian_is_diagonal\n")
    run_properties(
        f"{GATE}:backward_raises",
        "-k",
        "carry_jacobian_is_diagonal",
        "--lstm-xfail",
        str(tmp_path / "xfail.txt"),
        "--lstm-json",
        str(tmp_path / "r.json"),
    )
    (result,) = _results(tmp_path / "r.json").values()
    assert (result["outcome"], result["kind"]) == ("error", "adapter")


def test_a_bug_of_the_suite_is_a_suite_error_not_a_failure(run_properties, tmp_path, monkeypatch):
    monkeypatch.setattr(lstm_props.maths.carry, "np", None)  # every carry helper now raises
    run_properties(
        "torch.nn:LSTMCell",
        "-k",
        "carry_jacobian_is_diagonal",
        "--lstm-json",
        str(tmp_path / "r.json"),
    )
    (result,) = _results(tmp_path / "r.json").values()
    assert (result["outcome"], result["kind"]) == ("error", "suite"), result
    assert result["message"].startswith("SuiteError (a bug in lstm_props, not in the target)")
    assert "AttributeError" in result["message"] and "carry.py" in result["message"]
    assert result["message"].endswith("please report it with the command above")
    assert result["reproduce"]


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_classify_tells_claims_faults_and_suite_bugs_apart():
    error = AdapterError("target 'x': step() raised")
    assert classify(_raised(PropertyFailure("claim"))) == FAILED
    assert classify(_raised(AssertionError("plain assert"))) == FAILED
    assert classify(_raised(error)) == ADAPTER
    assert classify(_raised(AdapterFault(error))) == ADAPTER
    assert classify(_raised(KeyError("raised in this test file"))) == ADAPTER  # user code
    with pytest.raises(AttributeError) as internal:
        lstm_props.maths.carry.rollout(None, None, None, None)  # lstm_props code raising
    assert classify(internal.value) == SUITE
    group = BaseExceptionGroup("two", [PropertyFailure("a"), _raised(error)])
    assert classify(group) == ADAPTER
    assert (
        classify(BaseExceptionGroup("two", [PropertyFailure("a"), AssertionError("b")])) == FAILED
    )


def test_a_target_that_cannot_be_built_at_a_drawn_size_is_an_adapter_fault(
    run_properties, tmp_path
):
    run_properties(
        f"{GATE}:fails_to_build_most_sizes",
        "-k",
        "carry_jacobian_is_diagonal",
        "--lstm-json",
        str(tmp_path / "r.json"),
    )
    (result,) = _results(tmp_path / "r.json").values()
    assert (result["outcome"], result["kind"]) == ("error", "adapter"), result
    assert "build(" in result["message"] and "no kernel for input size" in result["message"]
