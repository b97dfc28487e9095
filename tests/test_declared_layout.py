"""A hand-written torch cell's declared layout (lstm_layout = per_gate / stacked / fused):
read, written and differentiated in the documented layout; refused in one line when the
declaration does not fit the module; a wrong declaration or a wrong cell fails, never
passes. (Each declared correct cell's whole suite: tests/test_correct_targets.py.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lstm_props
from lstm_props._errors import TargetError
from lstm_props.adapters._torch_target import torch_views
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import lstm_step
from tests.conftest import TARGETS, outcomes_by_name
from tests.targets.cells import (
    DeclaredFusedIFOGCell,
    FusedLinearIFOGCell,
    PerGateLinearCell,
    PerGateNoBiasCell,
    StackedTF1Cell,
)

DECLARED = [PerGateLinearCell, FusedLinearIFOGCell, StackedTF1Cell, DeclaredFusedIFOGCell]
VALUES = "step_values_match_reference"


def _view(module: nn.Module, dtype: str = "float64"):
    return torch_views(module, "t", dtype, "cpu").layers[0]


def _inputs(d: int = 3, h: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (2, n)) for n in (d, h, h)]


def _drawn(d: int = 3, h: int = 5, seed: int = 1) -> LSTMParams:
    rng = np.random.default_rng(seed)
    return LSTMParams(
        *(rng.uniform(-1, 1, s) for s in ((4 * h, d), (4 * h, h), (4 * h,), (4 * h,)))
    )


def _step(view, x, h, c) -> tuple[np.ndarray, np.ndarray]:
    be = view.backend
    with torch.no_grad():
        return tuple(be.to_numpy(a) for a in view.step(*(be.asarray(a) for a in (x, h, c))))


# -- reading, writing, differentiating ---------------------------------------------------------


def test_the_helpers_are_public_and_build_one_record():
    layouts = [
        lstm_props.per_gate(w_ih={g: g for g in "ifgo"}, w_hh={g: g for g in "ifgo"}),
        lstm_props.stacked("a", "b", gates="igfo", transposed=True),
        lstm_props.fused("lin.weight", "lin.bias", gates="ifog", inputs="hx"),
    ]
    assert all(type(t) is lstm_props.TorchLayout for t in layouts)
    assert (
        repr(layouts[2]) == "fused(weight='lin.weight', bias='lin.bias', gates='ifog', inputs='hx')"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        layouts[1].gates = "ifgo"  # type: ignore[misc]


@pytest.mark.parametrize("cls", DECLARED, ids=lambda c: c.__name__)
def test_the_declared_layout_reads_what_the_cell_computes(cls):
    view = _view(cls(3, 5))
    params = view.read_layout()
    assert params is not None and view.writable_layout
    x, h, c = _inputs()
    want = lstm_step(params, x, h, c, "standard")
    got_h, got_c = _step(view, x, h, c)
    np.testing.assert_allclose(got_h, want.h, atol=1e-13)
    np.testing.assert_allclose(got_c, want.c, atol=1e-13)


@pytest.mark.parametrize("cls", DECLARED, ids=lambda c: c.__name__)
def test_written_parameters_take_effect_and_one_bias_holds_their_sum(cls):
    view = _view(cls(3, 5))
    drawn = _drawn()
    view.write_layout(drawn)
    back = view.read_layout()
    assert np.array_equal(back.w_ih, drawn.w_ih) and np.array_equal(back.w_hh, drawn.w_hh)
    # every cell here has one bias: it holds b_ih + b_hh and reads back as b_ih, b_hh = 0
    np.testing.assert_allclose(back.b_ih, drawn.b_ih + drawn.b_hh, rtol=1e-15)
    assert not back.b_hh.any()
    x, h, c = _inputs()
    want = lstm_step(drawn, x, h, c, "standard")
    np.testing.assert_allclose(_step(view, x, h, c)[1], want.c, atol=1e-13)


def test_per_gate_tensors_land_in_their_gate_rows():
    module = PerGateLinearCell(3, 5)
    params = _view(module).read_layout()
    for k, g in enumerate("ifgo"):
        rows = slice(5 * k, 5 * (k + 1))
        assert np.array_equal(params.w_ih[rows], getattr(module, f"W_{g}").weight.detach())
        assert np.array_equal(params.w_hh[rows], getattr(module, f"U_{g}").weight.detach())
        assert np.array_equal(params.b_ih[rows], getattr(module, f"W_{g}").bias.detach())


@pytest.mark.parametrize("cls", DECLARED, ids=lambda c: c.__name__)
def test_parameter_gradients_in_the_layout_match_a_finite_difference(cls):
    """⟨∂L/∂θ, V⟩ against (L(θ + ηV) − L(θ − ηV))/2η; the one bias's gradient is both
    b_ih's and b_hh's (a move of either moves it)."""
    view = _view(cls(3, 5))
    be = view.backend
    x, h, c = _inputs()
    u_h, u_c = _inputs(5, 5, seed=2)[1:]
    theta = view.read_layout()

    def run():
        return view.step(*(be.asarray(a) for a in (x, h, c)))

    grads = view.parameter_vjp(run, (u_h, u_c))
    np.testing.assert_array_equal(grads.b_ih, grads.b_hh)
    v = _drawn(seed=3)
    fields = ("w_ih", "w_hh", "b_ih", "b_hh")
    got = sum(float(np.vdot(getattr(grads, k), getattr(v, k))) for k in fields)

    def loss(step):
        moved = {k: getattr(theta, k) + step * getattr(v, k) for k in fields}
        view.write_layout(LSTMParams(**moved))
        h_t, c_t = _step(view, x, h, c)
        return float((u_h * h_t).sum() + (u_c * c_t).sum())

    eta = 1e-6
    assert got == pytest.approx((loss(eta) - loss(-eta)) / (2 * eta), rel=1e-6)


def test_a_frozen_declared_cell_still_has_parameter_gradients():
    module = StackedTF1Cell(3, 5).requires_grad_(False)
    view = _view(module)
    be = view.backend
    x, h, c = _inputs()
    grads = view.parameter_vjp(
        lambda: view.step(*(be.asarray(a) for a in (x, h, c))), _inputs(5, 5, seed=2)[1:]
    )
    assert grads.w_ih.any() and grads.w_hh.any() and grads.b_ih.any()
    assert not any(p.requires_grad for p in module.parameters())  # put back


def test_without_biases_the_layout_reads_zeros_and_is_read_only():
    view = _view(PerGateNoBiasCell(3, 5))
    params = view.read_layout()
    assert params is not None and not params.b_ih.any() and not params.b_hh.any()
    assert not view.writable_layout


def test_without_biases_the_forcing_properties_skip_with_their_reason(run_properties):
    result = run_properties(
        f"{TARGETS}:PerGateNoBiasCell",
        "-k",
        f"closed_forget_gate_cuts_the_carry or {VALUES}",
        "--lstm-max-examples",
        "5",
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outcomes_by_name(result)["passed"] == {f"test_{VALUES}"}
    result.stdout.fnmatch_lines(["*SKIPPED*does not let the suite write its parameters*"])


def test_two_biases_are_kept_apart():
    class TwoBiases(PerGateLinearCell):
        lstm_layout = lstm_props.per_gate(
            w_ih={g: f"W_{g}.weight" for g in "ifgo"},
            w_hh={g: f"U_{g}.weight" for g in "ifgo"},
            b_ih={g: f"W_{g}.bias" for g in "ifgo"},
            b_hh={g: f"U_{g}.bias" for g in "ifgo"},
        )

        def __init__(self, d: int, h: int) -> None:
            super().__init__(d, h)
            for g in "ifgo":
                setattr(self, f"U_{g}", nn.Linear(h, h))

    view = _view(TwoBiases(3, 5))
    drawn = _drawn()
    view.write_layout(drawn)
    back = view.read_layout()
    assert np.array_equal(back.b_ih, drawn.b_ih) and np.array_equal(back.b_hh, drawn.b_hh)


def test_the_hidden_candidate_may_be_called_c():
    class CalledC(PerGateLinearCell):
        lstm_layout = lstm_props.per_gate(
            w_ih={"i": "W_i.weight", "f": "W_f.weight", "c": "W_g.weight", "o": "W_o.weight"},
            w_hh={g: f"U_{g}.weight" for g in "ifgo"},
            b_ih={g: f"W_{g}.bias" for g in "ifgo"},
        )

    module = CalledC(3, 5)
    assert np.array_equal(_view(module).read_layout().w_ih[10:15], module.W_g.weight.detach())


def test_gates_may_spell_the_candidate_c():
    class TF1(StackedTF1Cell):
        lstm_layout = lstm_props.stacked(
            "kernel", "recurrent_kernel", "bias", gates="icfo", transposed=True
        )

    module = TF1(3, 5)
    x, h, c = _inputs()
    params = _view(module).read_layout()
    want = lstm_step(params, x, h, c, "standard")
    np.testing.assert_allclose(_step(_view(module), x, h, c)[1], want.c, atol=1e-13)


def test_a_declaration_wins_over_nn_lstmcell_names():
    """A module with weight_ih, ... and a declaration is read through the declaration:
    here the declared order i, f, o, g of a cell that computes i, f, o, g."""

    class Reordered(nn.LSTMCell):
        lstm_layout = lstm_props.stacked(
            "weight_ih", "weight_hh", "bias_ih", "bias_hh", gates="ifog"
        )

        def forward(self, x, state):
            order = [0, 1, 3, 2]  # the stored blocks are i, f, o, g: torch wants i, f, g, o
            h = self.hidden_size

            def perm(t):
                return torch.cat([t[k * h : (k + 1) * h] for k in order])

            return torch._VF.lstm_cell(
                x,
                state,
                perm(self.weight_ih),
                perm(self.weight_hh),
                perm(self.bias_ih),
                perm(self.bias_hh),
            )

    module = Reordered(3, 5)
    params = _view(module).read_layout()
    assert np.array_equal(params.w_ih[10:15], module.weight_ih.detach()[15:20])  # g
    x, h, c = _inputs()
    want = lstm_step(params, x, h, c, "standard")
    np.testing.assert_allclose(_step(_view(module), x, h, c)[1], want.c, atol=1e-13)


@pytest.mark.parametrize("where", ["class", "instance"])
def test_the_float64_twin_keeps_the_declaration(where):
    class Undeclared(FusedLinearIFOGCell):
        lstm_layout = None

    module = FusedLinearIFOGCell(3, 5) if where == "class" else Undeclared(3, 5)
    if where == "instance":
        module.lstm_layout = lstm_props.fused("lin.weight", "lin.bias", gates="ifog")
        assert "lstm_layout" in vars(module)
    view = _view(module, "float32")
    twin = view.astype("float64")
    assert twin is not None and twin.declared_layout == view.declared_layout
    np.testing.assert_array_equal(twin.read_layout().w_ih, view.read_layout().w_ih)
    twin.write_layout(_drawn())  # the twin's own tensors, not the float32 module's
    assert not np.array_equal(twin.read_layout().w_ih, view.read_layout().w_ih)


# -- one line for a declaration that does not fit the module ---------------------------------


def _refused(module: nn.Module) -> str:
    with pytest.raises(TargetError) as info:
        _view(module)
    message = str(info.value)
    assert "\n" not in message and message.startswith("target 't': ")
    return message


class _Fused(nn.Module):
    def __init__(self, layout, d=3, h=4, extra=False, lin_in=None) -> None:
        super().__init__()
        self.input_size, self.hidden_size = d, h
        self.lin = nn.Linear((lin_in or d) + h, 4 * h)
        if extra:
            self.scale = nn.Parameter(torch.ones(h))
        self.lstm_layout = layout

    def forward(self, x, state):  # never reached: refused before the first step
        raise AssertionError


_PG = {g: f"W_{g}.weight" for g in "ifgo"}


@pytest.mark.parametrize(
    ("module", "says"),
    [
        (
            _Fused(lstm_props.fused("lin.wieght", "lin.bias")),
            "weight 'lin.wieght' does not resolve on the module; its parameters are "
            "lin.weight (16, 7), lin.bias (16,)",
        ),
        (
            _Fused(lstm_props.fused("lin", "lin.bias")),
            "weight 'lin' is a Linear, not a tensor: name one of its parameters, e.g. 'lin.weight'",
        ),
        (
            _Fused(lstm_props.fused("lin.weight", "lin.bias", transposed=True)),
            "weight 'lin.weight' has shape (16, 7), expected (7, 16) (D + P, 4H) from "
            "input_size=3, hidden_size=4; it is the transpose: declare transposed=False",
        ),
        (
            _Fused(lstm_props.fused("lin.weight", "lin.bias"), d=2, lin_in=3),
            "weight 'lin.weight' has shape (16, 7), expected (16, 6) (4H, D + P) from "
            "input_size=2, hidden_size=4",
        ),
        (
            _Fused(lstm_props.fused("lin.weight", "lin.bias", gates="ifgx")),
            "gates='ifgx' is not a permutation of 'ifgo'",
        ),
        (
            _Fused(lstm_props.fused("lin.weight", "lin.bias", gates="iffo")),
            "gates='iffo' is not a permutation of 'ifgo'",
        ),
        (
            _Fused(lstm_props.fused("lin.weight", "lin.bias", inputs="x,h")),
            "inputs='x,h' is neither 'xh' nor 'hx'",
        ),
        (
            _Fused(lstm_props.fused("lin.weight", "lin.weight")),
            "bias 'lin.weight' has shape (16, 7), expected (16,)",
        ),
        (
            _Fused(lstm_props.fused("lin.weight", "lin.bias"), extra=True),
            "the module also has scale (4,), which the declaration does not account for",
        ),
        (
            _Fused(lstm_props.fused("lin.weight")),
            "the module also has lin.bias (16,), which the declaration does not account for",
        ),
        (
            _Fused("ifgo"),
            "_Fused.lstm_layout is 'ifgo', not a TorchLayout: build it with "
            "lstm_props.per_gate, lstm_props.stacked or lstm_props.fused",
        ),
        (
            _Fused(lstm_props.per_gate(w_ih={g: _PG[g] for g in "ifo"}, w_hh=_PG)),
            "w_ih names gates ['i', 'f', 'o'] but not 'g': every gate needs its tensor",
        ),
        (
            _Fused(lstm_props.per_gate(w_ih={**_PG, "x": "lin.weight"}, w_hh=_PG)),
            "w_ih names ['f', 'g', 'i', 'o', 'x']: a gate is one of i, f, g, o",
        ),
        (
            _Fused(lstm_props.per_gate(w_ih=["lin.weight"], w_hh=_PG)),
            "w_ih=['lin.weight'] is not a mapping of gates to paths",
        ),
        (
            _Fused(lstm_props.stacked("lin.weight", "lin.weight")),
            "w_ih 'lin.weight' has shape (16, 7), expected (16, 3) (4H, D) from input_size=3",
        ),
    ],
    ids=[
        "path",
        "module-not-tensor",
        "transposed",
        "sizes",
        "gates-letter",
        "gates-twice",
        "inputs",
        "bias-shape",
        "extra-parameter",
        "undeclared-bias",
        "not-a-layout",
        "gate-missing",
        "not-a-gate",
        "not-a-mapping",
        "stacked-shape",
    ],
)
def test_a_declaration_that_does_not_fit_is_refused_in_one_line(module, says):
    message = _refused(module)
    assert says in message, message
    assert "docs/adapters.md" in message


def test_the_same_tensor_twice_is_refused():
    class Tied(PerGateLinearCell):
        def __init__(self, d: int, h: int) -> None:
            super().__init__(d, h)
            self.lstm_layout = lstm_props.per_gate(
                w_ih={**_PG, "o": "W_i.weight"},
                w_hh={g: f"U_{g}.weight" for g in "ifgo"},
                b_ih={g: f"W_{g}.bias" for g in "ifgo"},
            )

    message = _refused(Tied(3, 4))
    assert "w_ih['o'] 'W_i.weight' is the same tensor as w_ih['i'] 'W_i.weight'" in message


# -- a wrong declaration or a wrong cell fails -------------------------------------------------


def test_a_wrong_gate_order_fails_the_value_property_and_is_named_at_the_top(run_properties):
    """FusedLinearIFOGCell declared gates='ifgo': the forward agreement check names it and
    the value property fails (never a pass)."""
    result = run_properties(
        f"{TARGETS}:FusedLinearDeclaredIFGOCell", "-k", VALUES, "--lstm-max-examples", "5"
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:]
    assert outcomes_by_name(result)["failed"] == {f"test_{VALUES}"}
    assert "lstm_props: layout declared by the module: fused(weight='lin.weight'" in out
    assert "lstm_props: WARNING:" in out
    assert (
        "it declares lstm_layout = fused(weight='lin.weight', bias='lin.bias', gates='ifgo'" in out
    )
    assert "c_t ≠ reference" in out or "h_t ≠ reference" in out


def test_a_planted_tanh_forget_gate_is_caught(run_properties):
    """PerGateTanhForgetCell (declared per_gate, forget gate through tanh): the value property
    and the carry Jacobian's diagonal (∂c_t/∂c_{t-1} = f) both fail."""
    props = f"{VALUES} or carry_jacobian_diagonal_equals_forget_gate"
    result = run_properties(
        f"{TARGETS}:PerGateTanhForgetCell", "-k", props, "--lstm-max-examples", "10"
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:]
    assert outcomes_by_name(result)["failed"] == {
        f"test_{VALUES}",
        "test_carry_jacobian_diagonal_equals_forget_gate",
    }


# -- a third-party cell: torchrecurrent's PeepholeLSTMCell -------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torchrecurrent_peephole_cell_declared_passes_in_full(run_properties, dtype):
    """Without a declaration its weight_ph refuses it (tests/test_torch_configurations.py);
    declared stacked(..., peephole="weight_ph") with lstm_variant = "peephole" it skips
    exactly what the reference peephole cell skips, and passes everything else."""
    pytest.importorskip("torchrecurrent")
    from lstm_props.targets import target_info

    result = run_properties(
        str(Path(__file__).parent / "targets" / "torchrecurrent_cells.py") + ":peephole_cell",
        "--lstm-dtype",
        dtype,
    )
    outcomes = outcomes_by_name(result)
    assert result.ret == 0, result.stdout.str()[-3000:]
    skips = target_info("lstm_props.targets:reference_peephole").skips or frozenset()
    expected = {f"test_{p}" for p in skips} | {
        "test_cuda_agrees_with_cpu",
        "test_input_backward_matches_finite_differences",
    }
    if dtype == "float64":
        expected.add("test_float32_agrees_with_float64")
    assert outcomes.get("skipped", set()) == expected
    assert outcomes.get("failed", set()) == set()
