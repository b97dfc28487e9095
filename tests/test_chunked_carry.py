"""The production-size carry check: its oracle, its verdicts on correct and broken LSTMs,
and the ``check --steps`` and ``bench`` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm_props import load_target
from lstm_props._errors import AdapterError
from lstm_props._gate.steps import ScaleCase, build_views, check_view
from lstm_props.adapters._black_box import OpaqueCell
from lstm_props.maths import tolerances as tol
from lstm_props.maths.chunked_carry import ForgetOracle
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import log_forget, lstm_step
from tests.conftest import TARGETS

COUPLED = str(Path(__file__).parents[1] / "benchmarks" / "sensitivity.py") + ":CoupledCarry"
SHORT = ScaleCase(steps=150, batch=2, hidden=12, chunk=50)


def _params(rng: np.random.Generator, d: int, h: int) -> LSTMParams:
    return LSTMParams(
        w_ih=rng.uniform(-1, 1, (4 * h, d)),
        w_hh=rng.uniform(-1, 1, (4 * h, h)),
        b_ih=rng.uniform(-3, 3, 4 * h),
        b_hh=rng.uniform(-1, 1, 4 * h),
    )


@pytest.mark.parametrize("variant", ["standard", "cifg", "no_forget"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forget_oracle_is_the_reference_and_the_error_model(variant, dtype):
    """The chunk oracle's one matrix product per chunk = the per-step reference and bound."""
    rng = np.random.default_rng(3)
    params = _params(rng, 5, 7)
    xs, hs, cs = (rng.uniform(-2, 2, (9, 3, k)) for k in (5, 7, 7))
    want_log = sum(log_forget(params, xs[t], hs[t], variant) for t in range(9))
    want_bound = sum(
        tol.forget_log_error(
            tol.step_error(params, xs[t], hs[t], cs[t], variant, dtype),
            lstm_step(params, xs[t], hs[t], cs[t], variant).f,
            dtype,
        )
        for t in range(9)
    )
    got_log, got_bound = ForgetOracle.of(params).chunk(xs, hs, variant, dtype)
    np.testing.assert_allclose(got_log, want_log, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_bound, want_bound, rtol=1e-9, atol=0)


def _verdict(target_text: str, dtype: str = "float32", black_box: bool = False):
    target = load_target(target_text, dtype)
    results = []
    for view in build_views(target, SHORT.hidden):
        view = OpaqueCell(view) if black_box else view
        results.append(check_view(view, target_text, view.variant or "standard", SHORT))
    return results


@pytest.mark.parametrize(
    "target",
    [
        "torch.nn:LSTMCell",
        "lstm_props.targets:lstm_two_layer",
        "lstm_props.targets:reference_cifg",
        "lstm_props.targets:reference_no_forget",
        f"{TARGETS}:FusedIFOGCell",
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_lstms_pass(target, dtype):
    for result in _verdict(target, dtype):
        assert result.passed, result.failures
        assert result.compared > 0 or result.log_product is None


def test_the_verification_holds_the_weights_constant_and_gives_them_back():
    """The carry backward is with respect to c alone: within the check the module's
    parameters do not require grad (its graph is elementwise), and afterwards they do again,
    as the user left them."""
    target = load_target("torch.nn:LSTMCell", "float32")
    (view,) = build_views(target, SHORT.hidden)
    seen: list[bool] = []
    step = view.step

    def spying(x, h, c):
        seen.append(any(p.requires_grad for p in view.module.parameters()))
        return step(x, h, c)

    view.step = spying  # type: ignore[method-assign]
    assert check_view(view, "torch.nn:LSTMCell", "standard", SHORT).passed
    assert seen and not any(seen)
    assert all(p.requires_grad for p in view.module.parameters())


@pytest.mark.parametrize(
    "mutant, black_box",
    [
        ("BackwardSquaresForget", False),
        ("DetachedCarry", False),
        ("HiddenForgetBiasOne", False),
        ("GateOrderIOFG", False),
        ("InitialCellIgnored", False),
        ("CarryGain", False),
        ("CarryMixedAcrossUnits", True),
        ("CarryMixedAcrossBatch", True),
    ],
)
def test_broken_lstms_fail(mutant, black_box):
    try:
        (result,) = _verdict(f"lstm_props.mutants:{mutant}", black_box=black_box)
    except AdapterError as exc:
        # A .detach() on the carry leaves c_0 without a gradient although c_T changes with
        # it: a missing gradient is a fault that names the detach, never a zero (issue 16).
        assert mutant == "DetachedCarry" and "no gradient" in str(exc), exc
        return
    assert not result.passed


def test_probes_see_a_small_coupling_black_box(monkeypatch):
    """ε = 1e-5 off the diagonal keeps the product in [0, 1]: only the probes can tell."""
    monkeypatch.setenv("LSTM_PROPS_SENSITIVITY_EPS", "1e-5")
    target = load_target(COUPLED, "float32")
    view = OpaqueCell(build_views(target, SHORT.hidden)[0])
    result = check_view(view, "CoupledCarry", "standard", SHORT)
    assert any("probes disagree" in line for line in result.failures), result.failures


@pytest.mark.parametrize("eps, passes", [("0", True), ("1e-30", False)])
def test_exact_mode_requires_exact_zeros_off_the_diagonal(monkeypatch, eps, passes):
    """A coupling of 1e-30 is far below any probe's resolution; exact mode still sees it."""
    monkeypatch.setenv("LSTM_PROPS_SENSITIVITY_EPS", eps)
    target = load_target(COUPLED, "float32")
    exact = ScaleCase(steps=100, batch=2, hidden=8, chunk=50, exact=True)
    result = check_view(build_views(target, 8)[0], "CoupledCarry", "standard", exact)
    assert result.passed is passes, result.failures
    assert passes or "off-diagonal entries of ∂c/∂c are nonzero" in result.failures[0]


def lstm_props(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lstm_props", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_check_steps_exit_codes():
    ok = lstm_props("check", "--steps", "100", "--hidden", "16", "--batch", "2")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("PASSED torch.nn:LSTMCell: carry product over T=100 steps")
    bad = lstm_props("check", "lstm_props.mutants:BackwardSquaresForget", "--steps", "100")
    assert bad.returncode == 1 and "FAILED" in bad.stdout
    assert "log|∂c/∂c| ≠ Σ log f (oracle)" in bad.stdout
    for args, message in [
        ((f"{TARGETS}:fused_cell", "--steps", "10", "--hidden", "7"), "fixed hidden size"),
        (("lstm_props.targets:reference_peephole", "--steps", "10"), "product of forget gates"),
        (("--steps", "10", "--json", "r.json"), "--json does not apply with --steps"),
        (("--hidden", "8"), "--hidden needs --steps"),
        (("--steps", "0"), "must be at least 1"),
    ]:
        out = lstm_props("check", *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_bench_reports_ratio_naive_and_memory(tmp_path):
    out = lstm_props(
        "bench",
        "--hidden",
        "32",
        "--steps",
        "64",
        "--threads",
        "1",
        "--json",
        str(tmp_path / "b.json"),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["schema"] == "lstm_props.bench/1" and doc["verdict"] == "PASSED"
    assert doc["ratio"] == pytest.approx(doc["verify_s"] / doc["forward_s"])
    assert doc["naive_how"] == "measured, 32 rows" and doc["peak_rss_mib"] > 0
    assert "ratio" in out.stdout and "naive dense Jacobian" in out.stdout
