"""Layer-norm LSTMs: the oracle against torch.nn.LayerNorm, the error model of layer norm,
the declared norms of a torch cell, and planted faults the properties must catch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lstm_props
from lstm_props._errors import TargetError
from lstm_props.adapters._torch_target import torch_views
from lstm_props.maths import tolerances as tol
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import carry_derivative, carry_jacobian, lstm_step
from lstm_props.maths.variants import DIAGONAL, FORCEABLE, PLAIN_OUTPUT, Variant, as_variant
from tests.conftest import outcomes_by_name
from tests.targets.layer_norm_cells import BaLayerNormCell, FastrnnsLayerNormCell

CELLS = str(Path(__file__).parent / "targets" / "layer_norm_cells.py")
VARIANTS = ("layer_norm", "layer_norm_cell")


def _params(d: int, h: int, seed: int, scale: float = 1.0) -> LSTMParams:
    """float32-representable parameters with every LN field."""
    rng = np.random.default_rng(seed)

    def draw(*shape: int) -> np.ndarray:
        return rng.uniform(-scale, scale, shape).astype(np.float32).astype(np.float64)

    return LSTMParams(
        draw(4 * h, d),
        draw(4 * h, h),
        draw(4 * h),
        draw(4 * h),
        ln_gain_ih=draw(4 * h),
        ln_gain_hh=draw(4 * h),
        ln_gain_c=draw(h),
        ln_bias_c=draw(h),
    )


def _torch_step(p: LSTMParams, variant: str, dtype: torch.dtype):
    """The cell written with torch.nn.LayerNorm, independently of the oracle."""
    h = p.hidden_size
    norms = [nn.LayerNorm(n).to(dtype) for n in (4 * h, 4 * h, h)]
    with torch.no_grad():
        for norm, gain, bias in zip(
            norms, (p.ln_gain_ih, p.ln_gain_hh, p.ln_gain_c), (p.b_ih, p.b_hh, p.ln_bias_c)
        ):
            norm.weight.copy_(torch.tensor(gain))
            norm.bias.copy_(torch.tensor(bias))

    def step(x, hh, c):
        t = [torch.as_tensor(a, dtype=dtype) for a in (p.w_ih, p.w_hh)]
        z = norms[0](x @ t[0].T) + norms[1](hh @ t[1].T)
        i, f, g, o = z.chunk(4, 1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if variant == "layer_norm_cell":
            c_new = norms[2](c_new)
            return torch.sigmoid(o) * torch.tanh(c_new), c_new
        return torch.sigmoid(o) * torch.tanh(norms[2](c_new)), c_new

    return step


def _inputs(d: int, h: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(-s, s, (3, n)).astype(np.float32).astype(np.float64)
        for s, n in ((3, d), (1, h), (5, h))
    ]


# -- the variants and the oracle ---------------------------------------------------------------


def test_the_variant_sets_read_the_flags():
    assert "layer_norm" in DIAGONAL and "layer_norm_cell" not in DIAGONAL
    assert "layer_norm" in FORCEABLE and "layer_norm_cell" not in FORCEABLE
    assert "layer_norm" not in PLAIN_OUTPUT and "standard" in PLAIN_OUTPUT
    with pytest.raises(ValueError, match="exclude each other"):
        Variant("both", normalizes_cell=True, normalizes_cell_output=True)
    with pytest.raises(ValueError, match="peepholes with layer norm"):
        Variant("peep_ln", reads_cell=True, normalizes_gates=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_oracle_is_torch_layer_norm_and_its_carry_jacobian_is_autograds(variant):
    p = _params(3, 5, seed=1)
    x, h, c = _inputs(3, 5, seed=2)
    step = _torch_step(p, variant, torch.float64)
    cc = torch.tensor(c, requires_grad=True)
    got_h, got_c = step(torch.tensor(x), torch.tensor(h), cc)
    want = lstm_step(p, x, h, c, variant)
    np.testing.assert_allclose(want.h, got_h.detach().numpy(), atol=1e-14)
    np.testing.assert_allclose(want.c, got_c.detach().numpy(), atol=1e-14)
    # the torch path of the oracle (autograd's Jacobians) computes the same
    on_torch = lstm_step(p, *(torch.tensor(a) for a in (x, h, c)), variant, xp=torch)
    np.testing.assert_allclose(on_torch.c.numpy(), want.c, atol=1e-14)
    full = torch.autograd.functional.jacobian(
        lambda a: step(torch.tensor(x), torch.tensor(h), a)[1], cc
    )
    rows = np.stack([full[b, :, b, :].numpy() for b in range(3)])
    np.testing.assert_allclose(carry_jacobian(p, x, h, c, variant), rows, atol=1e-14)
    off = rows - rows * np.eye(5)
    if variant == "layer_norm":
        assert not off.any()
        np.testing.assert_allclose(carry_derivative(p, x, h, c, variant), want.f, atol=0)
    else:
        assert np.abs(off).max() > 1e-3  # J_LN · diag(f): dense
        with pytest.raises(ValueError, match="dense"):
            carry_derivative(p, x, h, c, variant)


def test_parameters_and_variant_must_agree():
    p = _params(2, 3, seed=0)
    x, h, c = _inputs(2, 3, seed=0)
    with pytest.raises(TypeError, match="does not normalise its gates"):
        lstm_step(p, x, h, c, "standard")
    plain = LSTMParams(p.w_ih, p.w_hh, p.b_ih, p.b_hh)
    with pytest.raises(TypeError, match="ln_gain_ih"):
        lstm_step(plain, x, h, c, "layer_norm")


# -- the error model -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_float32_deviations_lie_within_the_bound_and_the_bound_is_not_vacuous(variant):
    """torch float32 against the float64 oracle over drawn cells: every deviation within
    SAFETY·step_error, and the largest ratio above 1e-3 (the bound is not loose by 1000)."""
    worst = 0.0
    for seed in range(40):
        d, h = 1 + seed % 5, 2 + seed % 5
        p = _params(d, h, seed, scale=(0.3, 1.0, 3.0)[seed % 3])
        x, hh, c = _inputs(d, h, seed + 100)
        with torch.no_grad():
            got_h, got_c = _torch_step(p, variant, torch.float32)(
                *(torch.tensor(a, dtype=torch.float32) for a in (x, hh, c))
            )
        want = lstm_step(p, x, hh, c, variant)
        err = tol.step_error(p, x, hh, c, variant, "float32")
        for got, exact, bound in ((got_h, want.h, err.dh), (got_c, want.c, err.dc)):
            ratio = np.abs(got.numpy().astype(np.float64) - exact) / (tol.SAFETY * bound)
            worst = max(worst, float(ratio.max()))
    assert 1e-3 < worst <= 1.0, worst


def test_where_var_plus_eps_is_lost_the_bound_is_the_whole_range():
    """ε = 0 and a constant row: 0/0; the first-order model says nothing there, and the
    bound is the range of the normalised value, 2√n|γ|, not NaN or 0."""
    v = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    gain, bias = np.full(4, 2.0), np.zeros(4)
    _, dy = tol.layer_norm_error(v, 0.0, gain, bias, 0.0, "float32")
    assert np.all(np.isfinite(dy))
    np.testing.assert_allclose(dy[0], 2 * np.sqrt(4) * 2.0, rtol=1e-6)
    assert dy[1].max() < 1e-4  # a well-spread row keeps its first-order bound (~200u here)


def test_a_layer_norm_step_has_no_modelled_jacobian_factors():
    p = _params(2, 3, seed=0)
    x, h, c = _inputs(2, 3, seed=0)
    err = tol.step_error(p, x, h, c, "layer_norm", "float32")
    with pytest.raises(ValueError, match="J_LN"):
        tol.jacobian_factor_error(err, c, c, "float32")


# -- declaring the norms of a torch cell -----------------------------------------------------


def _view(module: nn.Module):
    return torch_views(module, "t", "float64", "cpu").layers[0]


@pytest.mark.parametrize("cls", [BaLayerNormCell, FastrnnsLayerNormCell])
def test_declared_norms_read_write_and_compute_as_the_oracle(cls):
    module = cls(3, 4)
    view = _view(module)
    variant = module.lstm_variant
    assert view.writable_layout
    drawn = _params(3, 4, seed=5)
    view.write_layout(drawn)
    back = view.read_layout()
    for name in ("w_ih", "w_hh", "b_ih", "b_hh", "ln_gain_ih", "ln_gain_hh", "ln_gain_c"):
        assert np.array_equal(getattr(back, name), getattr(drawn, name)), name
    assert back.ln_eps == 1e-5
    x, h, c = _inputs(3, 4, seed=6)
    be = view.backend
    with torch.no_grad():
        got_h, got_c = (be.to_numpy(a) for a in view.step(*(be.asarray(a) for a in (x, h, c))))
    want = lstm_step(back, x, h, c, variant)
    np.testing.assert_allclose(got_h, want.h, atol=1e-13)
    np.testing.assert_allclose(got_c, want.c, atol=1e-13)


class _Declared(BaLayerNormCell):
    def __init__(self, layout, variant: str | Variant = "layer_norm") -> None:
        super().__init__(3, 4)
        self.lstm_layout, self.lstm_variant = layout, variant


NORMS = {"ln_ih": "norm_x", "ln_hh": "norm_h", "ln_c": "norm_c"}


@pytest.mark.parametrize(
    ("module", "says"),
    [
        (
            _Declared(lstm_props.stacked("w_x", "w_h", gates="ifog", **NORMS), "standard"),
            "lstm_variant = 'standard' does not normalise",
        ),
        (
            _Declared(
                lstm_props.stacked("w_x", "w_h", gates="ifog", **NORMS),
                Variant("ln_gates_only", normalizes_gates=True),
            ),
            "declares a cell norm (ln_c) but lstm_variant = 'ln_gates_only' does not",
        ),
        (
            _Declared(lstm_props.stacked("w_x", "w_h", b_ih="norm_x.bias", gates="ifog", **NORMS)),
            "declare no other bias",
        ),
        (
            _Declared(
                lstm_props.stacked(
                    "w_x", "w_h", gates="ifog", ln_ih="norm_x", ln_hh="nope", ln_c="norm_c"
                )
            ),
            "'nope' does not resolve",
        ),
    ],
    ids=["variant", "surplus-cell-norm", "extra-bias", "bad-path"],
)
def test_a_declaration_that_does_not_fit_is_refused_in_one_line(module, says):
    with pytest.raises(TargetError) as info:
        _view(module)
    message = str(info.value)
    assert "\n" not in message and says in message, message


# -- the properties on the cells -------------------------------------------------------------

DIAGONAL_CLAIMS = {
    "test_carry_jacobian_is_diagonal",
    "test_carry_jacobian_diagonal_equals_forget_gate",
    "test_carry_map_is_coordinatewise",
    "test_edge_shapes_keep_a_diagonal_carry_and_the_values",
    "test_carry_jacobian_entries_in_unit_interval",
    "test_carry_map_is_affine_in_c",
}
RUNS = (
    "step_values_match_reference or bptt_equals_product or carry_backward_matches or "
    "parameter_gradients_match or forward_and_backward_are or "
)


def test_the_fastrnns_cell_skips_the_diagonal_claims_with_the_reason_and_passes_the_rest(
    run_properties,
):
    diagonal = " or ".join(n.removeprefix("test_") for n in DIAGONAL_CLAIMS)
    result = run_properties(
        f"{CELLS}:FastrnnsLayerNormCell", "-k", RUNS + diagonal, "--lstm-max-examples", "5"
    )
    out = result.stdout.str()
    outcomes = outcomes_by_name(result)
    assert result.ret == 0, out[-3000:]
    assert outcomes["skipped"] == DIAGONAL_CLAIMS
    assert "does not hold for the layer_norm_cell variant" in out
    assert "J_LN · diag(f) is dense" in out
    assert {
        "test_step_values_match_reference",
        "test_bptt_equals_product_of_step_jacobians",
        "test_carry_backward_matches_finite_differences",
        "test_parameter_gradients_match_finite_differences",
    } <= outcomes["passed"]


def test_a_wrong_eps_fails_the_values(run_properties):
    """Norms computing with ε = 1e-2 declared as 1e-5: the value property fails."""
    result = run_properties(
        f"{CELLS}:BaWrongEpsCell", "-k", "step_values_match_reference", "--lstm-max-examples", "10"
    )
    assert result.ret == 1, result.stdout.str()[-3000:]
    assert outcomes_by_name(result)["failed"] == {"test_step_values_match_reference"}


def test_a_normalised_carry_declared_ba_style_fails_the_diagonal(run_properties):
    """A cell carrying LN(c') while declaring layer_norm (carry diag(f)): the diagonal carry
    claims and the values fail."""
    props = "carry_jacobian_is_diagonal or carry_map_is_coordinatewise or step_values_match"
    result = run_properties(
        f"{CELLS}:BaCarryingNormedCell", "-k", props, "--lstm-max-examples", "10"
    )
    assert result.ret == 1, result.stdout.str()[-3000:]
    assert outcomes_by_name(result)["failed"] == {
        "test_carry_jacobian_is_diagonal",
        "test_carry_map_is_coordinatewise",
        "test_step_values_match_reference",
    }


def test_the_variants_are_known_by_name():
    assert as_variant("layer_norm").normalizes_cell_output
    assert as_variant("layer_norm_cell").normalizes_cell
