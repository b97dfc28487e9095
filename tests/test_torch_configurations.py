"""Correct torch LSTMs in unusual configurations pass; missing or raising backwards are faults."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lstm_props._errors import AdapterError
from lstm_props.adapters._torch import TorchBackend
from lstm_props.adapters._torch_target import torch_views
from lstm_props.maths.reference import ReferenceLSTMCell
from lstm_props.mutants import InitialCellIgnored

CONFIGS = str(Path(__file__).parent / "targets" / "torch_configs.py")


def _view(module: nn.Module, dtype: str = "float32"):
    return torch_views(module, "t", dtype, "cpu").layers[0]


def _state(b: int = 2, d: int = 3, h: int = 4, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (b, n)) for n in (d, h, h)]


def _passed(result: pytest.RunResult) -> int:
    return result.parseoutcomes().get("passed", 0)


# -- bias=False -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module", [nn.LSTM(3, 4, bias=False), nn.LSTMCell(3, 4, bias=False)], ids=["LSTM", "LSTMCell"]
)
def test_a_module_without_biases_has_the_layout_with_zero_biases_read_only(module):
    view = _view(module)
    held = view.read_layout()
    assert held is not None and held.b_ih.shape == held.b_hh.shape == (16,)
    assert not held.b_ih.any() and not held.b_hh.any()
    assert np.array_equal(
        held.w_ih,
        module.weight_ih_l0.detach().numpy()
        if isinstance(module, nn.LSTM)
        else module.weight_ih.detach().numpy(),
    )
    assert not view.writable_layout  # the forget gate cannot be forced without a bias


def test_lstm_without_biases_passes_the_oracle_properties(run_properties):
    props = (
        "step_values_match_reference or carry_product_matches_oracle or "
        "fused_sequence_equals_composed_steps"
    )
    result = run_properties(
        "lstm_props.targets:lstm_no_bias", "-k", props, "--lstm-max-examples", "5"
    )
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _passed(result) == 3


# -- frozen parameters ------------------------------------------------------------------------


def test_parameter_gradients_of_a_frozen_cell_equal_the_trainable_ones_and_it_stays_frozen():
    trainable = nn.LSTMCell(3, 4).double()
    frozen = copy.deepcopy(trainable).requires_grad_(False)
    x, h, c = _state()
    cot = _state(seed=1)[1:]
    got = []
    for module in (trainable, frozen):
        view = _view(module, "float64")
        be = view.backend
        got.append(view.parameter_vjp(lambda v=view, b=be: v.step(*map(b.asarray, (x, h, c))), cot))
    for field in ("w_ih", "w_hh", "b_ih", "b_hh"):
        assert np.abs(getattr(got[0], field)).max() > 0
        assert np.array_equal(getattr(got[0], field), getattr(got[1], field)), field
    assert not any(p.requires_grad for p in frozen.parameters())


# -- torch.jit.script -------------------------------------------------------------------------


def test_float64_twin_of_a_scripted_cell_that_ran_gives_the_eager_float64_gradients():
    eager = nn.LSTMCell(3, 4)
    scripted = torch.jit.script(copy.deepcopy(eager))
    view = _view(scripted)
    x, h, c = _state()
    for _ in range(3):  # the graph executor specialises after a few runs
        out = view.step(*map(view.backend.asarray, (x, h, c)))
        (out[0].sum() + out[1].sum()).backward()
    cot = _state(seed=1)[1:]
    grads = []
    for wide in (view.astype("float64"), _view(copy.deepcopy(eager), "float64")):
        be = wide.backend
        grads.append(
            wide.parameter_vjp(lambda w=wide, b=be: w.step(*map(b.asarray, (x, h, c))), cot)
        )
    for field in ("w_ih", "w_hh", "b_ih", "b_hh"):  # the same float64 arithmetic, bit for bit
        assert np.array_equal(getattr(grads[0], field), getattr(grads[1], field)), field


@pytest.mark.parametrize(
    ("target", "examples"), [("lstm_cell_frozen", "5"), ("lstm_cell_scripted", "10")]
)
def test_frozen_and_scripted_cells_pass_the_parameter_gradient_property(
    run_properties, target, examples
):
    result = run_properties(
        f"lstm_props.targets:{target}",
        "-k",
        "parameter_gradients_match_finite_differences",
        "--lstm-max-examples",
        examples,
    )
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _passed(result) == 1


# -- missing and raising backwards ------------------------------------------------------------


def test_a_missing_gradient_of_the_quantized_lstm_is_an_adapter_fault():
    from tests.targets.torch_configs import QuantizedDynamicCell

    view = _view(QuantizedDynamicCell(3, 4))
    x, h, c = _state()
    be = view.backend
    with pytest.raises(
        AdapterError,
        match=r"^target 't': the backward returned no gradient "
        r"for input 1 of 2 \(shape \(2, 4\)\)",
    ) as info:
        be.vjp(lambda hh, cc: view.step(be.asarray(x), hh, cc), (h, c), _state(seed=1)[1:])
    assert "\n" not in str(info.value)


def test_quantized_lstm_does_not_pass_silently(run_properties):
    result = run_properties(
        f"{CONFIGS}:QuantizedDynamicCell",
        "-k",
        "forward_and_backward_are_deterministic",
        "--lstm-max-examples",
        "3",
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert "AdapterError" in out and "the backward returned no gradient for" in out


def test_a_gradient_the_output_truly_lacks_is_still_zero():
    """c0 ignored by the cell: ∂c'/∂c0 = 0 is the true derivative; a constant output has no
    graph at all; a no-forget cell's c' does depend on c0 (gradient 1 along the carry)."""
    be = TorchBackend("float64", target="t")
    x, h, c = _state()
    u = _state(seed=1)[1:]
    ignores_c0 = InitialCellIgnored(3, 4).double()
    (grad,) = be.vjp(lambda cc: (ignores_c0(be.asarray(x), (be.asarray(h), cc))[1],), (c,), (u[1],))
    assert not grad.any()
    (grad,) = be.vjp(lambda cc: (torch.ones(2, 4, dtype=torch.float64),), (c,), (u[1],))
    assert not grad.any()
    no_forget = ReferenceLSTMCell(3, 4, "no_forget").double()
    (grad,) = be.vjp(lambda cc: (no_forget(be.asarray(x), (be.asarray(h), cc))[1],), (c,), (u[1],))
    assert np.array_equal(grad, u[1])  # c' = c + i g: ∂c'/∂c = I


def test_a_backward_that_raises_is_a_one_line_adapter_fault_with_its_own_message():
    from tests.targets.torch_configs import RaisingBackwardCell

    view = _view(RaisingBackwardCell(3, 4))
    be = view.backend
    x, h, c = _state()
    u = _state(seed=1)[1:]

    def step(hh, cc):
        return view.step(be.asarray(x), hh, cc)

    be.vjp(step, (h, c), u)  # the first backward works
    for call in (
        lambda: be.vjp(step, (h, c), u),
        lambda: be.vjp_rows(step, (h, c), [np.stack([a] * 2) for a in u]),
        lambda: be.vjp_rows(step, (h, c), [np.stack([a] * 8) for a in u]),
        lambda: view.parameter_vjp(lambda: step(be.asarray(h), be.asarray(c)), u),
    ):
        with pytest.raises(AdapterError) as info:
            call()
        assert str(info.value) == (
            "target 't': the backward raised RuntimeError: expected a saved tensor, found none"
        )


def test_a_raising_backward_reads_as_a_fault_not_a_property_failure(run_properties):
    result = run_properties(
        f"{CONFIGS}:RaisingBackwardCell",
        "-k",
        "carry_slope_matches_autograd",
        "--lstm-max-examples",
        "3",
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert "the backward raised RuntimeError" in out and "PropertyFailure" not in out


# -- no float64 twin: finite differences in the target's own precision ------------------------


def test_a_quantized_kernel_has_no_float64_twin():
    from tests.targets.torch_configs import QuantizedDynamicCell

    view = _view(QuantizedDynamicCell(3, 4))
    assert view.astype("float64") is None  # .to(float64) leaves it refusing float64 input
    assert view.astype("float32") is not None


FD = "carry_backward_matches_finite_differences"
INPUT_FD = "input_backward_matches_finite_differences"
PARAM_FD = "parameter_gradients_match_finite_differences"


@pytest.mark.parametrize("prop", [FD, INPUT_FD])
@pytest.mark.parametrize("black_box", [False, True], ids=["layout", "black-box"])
def test_a_correct_float32_only_cell_gets_finite_differences_and_passes(
    run_properties, black_box, prop
):
    args = ["--lstm-black-box"] if black_box else []
    result = run_properties(
        f"{CONFIGS}:float32_only_lstm_cell", "-k", prop, "--lstm-max-examples", "20", *args
    )
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _passed(result) == 1  # checked, not skipped for want of a float64 twin


@pytest.mark.parametrize(
    "mutant", ["float32_only_dropped_carry_gradient", "float32_only_squared_forget"]
)
@pytest.mark.parametrize("black_box", [False, True], ids=["layout", "black-box"])
def test_a_wrong_backward_without_a_float64_twin_is_killed(run_properties, mutant, black_box):
    args = ["--lstm-black-box"] if black_box else []
    result = run_properties(f"{CONFIGS}:{mutant}", "-k", FD, *args, profile="mutants")
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert "PropertyFailure" in out and "central finite difference" in out


def test_a_correct_float32_only_cell_passes_the_own_precision_parameter_gradients(run_properties):
    result = run_properties(
        f"{CONFIGS}:float32_only_lstm_cell", "-k", PARAM_FD, "--lstm-max-examples", "20"
    )
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _passed(result) == 1  # checked in float32, no longer skipped for want of a twin


def test_a_target_with_a_float64_twin_skips_the_own_precision_property(run_properties):
    result = run_properties("torch.nn:LSTMCell", "-k", INPUT_FD)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*has a float64 twin*"])


@pytest.mark.parametrize(
    "mutant",
    ["float32_only_hidden_gradient_detached", "float32_only_input_gradient_drops_candidate"],
)
@pytest.mark.parametrize("black_box", [False, True], ids=["layout", "black-box"])
def test_a_wrong_hidden_or_input_backward_without_a_float64_twin_is_killed(
    run_properties, mutant, black_box
):
    args = ["--lstm-black-box"] if black_box else []
    result = run_properties(f"{CONFIGS}:{mutant}", "-k", INPUT_FD, *args, profile="mutants")
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert "PropertyFailure" in out and "⟨∂L/∂(h_0, x), w⟩ ≠ central finite difference" in out


def test_a_wrong_weight_gradient_without_a_float64_twin_is_killed(run_properties):
    result = run_properties(
        f"{CONFIGS}:float32_only_wrong_weight_gradient", "-k", PARAM_FD, profile="mutants"
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert "PropertyFailure" in out and "⟨∂L/∂θ, w⟩ ≠ central finite difference" in out


def test_ecnoise_finds_the_level_of_uniform_noise_and_refuses_a_smooth_line():
    from lstm_props.maths.own_precision import ecnoise

    rng = np.random.default_rng(0)
    sigma = 1e-7
    noisy = 1.0 + 1e-9 * np.arange(8) + rng.uniform(-1, 1, 8) * sigma * 3**0.5
    level, why = ecnoise(noisy)
    assert why == "" and 0.25 * sigma < level < 4 * sigma
    assert ecnoise(np.ones(8))[0] is None  # h too small: every difference is 0
    assert "too large" in ecnoise(1.0 + 0.5 * np.arange(8))[1]


# -- parameters the layout does not account for -----------------------------------------------


def test_an_extra_gate_weight_without_a_declared_variant_is_a_one_line_target_error():
    from lstm_props._errors import TargetError
    from lstm_props._harness.loading import load_target

    with pytest.raises(TargetError) as info:
        load_target(f"{CONFIGS}:PeepholeWithExtraWeight")
    message = str(info.value)
    assert "\n" not in message
    assert "weight_ph (3, 4)" in message and "lstm_variant" in message and "`peephole`" in message


def test_a_frozen_extra_weight_counts_too():
    from lstm_props._errors import TargetError
    from tests.targets.torch_configs import PeepholeWithExtraWeight

    module = PeepholeWithExtraWeight(3, 4).requires_grad_(False)
    with pytest.raises(TargetError, match="weight_ph"):
        _view(module)


def test_a_declared_variant_with_an_extra_weight_is_checked_black_box_and_says_why(run_properties):
    result = run_properties(
        f"{CONFIGS}:DeclaredPeepholeWithExtraWeight",
        "-k",
        "carry_jacobian_is_diagonal or step_values_match_reference",
        "--lstm-max-examples",
        "5",
    )
    out = result.stdout.str()
    assert result.ret == 0, out[-2000:]
    assert "lstm_props: black-box: weight_ph (3, 4) not in nn.LSTMCell's layout" in out
    outcomes = result.parseoutcomes()
    assert (outcomes["passed"], outcomes["skipped"]) == (1, 1)
    assert "is black-box (weight_ph (3, 4) not in nn.LSTMCell's layout" in out  # the skip


def test_peepholes_declared_the_documented_way_get_the_full_layout(run_properties):
    from tests.targets.torch_configs import PeepholeDeclared

    held = _view(PeepholeDeclared(3, 4)).read_layout()
    assert held is not None and held.peephole.shape == (3, 4)
    result = run_properties(
        f"{CONFIGS}:PeepholeDeclared",
        "-k",
        "step_values_match_reference or parameter_gradients",
        "--lstm-max-examples",
        "5",
    )
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _passed(result) == 2


def test_a_script_module_cell_whose_backward_raises_is_reported_as_a_fault(run_properties):
    """TorchScript's own backward raises (from its second run on) when only c' has a
    cotangent: every property that differentiates reports the fault with that message."""
    result = run_properties(
        f"{CONFIGS}:ScriptModuleLSTMCell",
        "-k",
        "carry_slope_matches_autograd",
        "--lstm-max-examples",
        "3",
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    assert "PropertyFailure" not in out
    # the interpreter's own last line (its wording depends on the shapes drawn)
    assert "ScriptModuleLSTMCell': the backward raised RuntimeError: " in out
