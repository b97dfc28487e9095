"""The reference cells and the contrast RNN: the oracle is itself checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_props._harness.profiles import PropertySettings, profile_settings
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import ReferenceLSTMCell, carry_derivative, lstm_step
from properties import test_vanilla_rnn_contrast as contrast


def test_reference_module_matches_torch_lstmcell():
    torch.manual_seed(0)
    ours, theirs = ReferenceLSTMCell(3, 5).double(), torch.nn.LSTMCell(3, 5).double()
    theirs.load_state_dict({k: v for k, v in ours.state_dict().items()})
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 5, 5))
    for a, b in zip(ours(x, (h, c)), theirs(x, (h, c))):
        torch.testing.assert_close(a, b, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("variant", ["standard", "no_forget", "cifg", "peephole"])
def test_carry_derivative_is_the_autograd_diagonal(variant):
    rng = np.random.default_rng(1)
    p = LSTMParams(
        rng.normal(size=(16, 3)),
        rng.normal(size=(16, 4)),
        rng.normal(size=16),
        rng.normal(size=16),
        peephole=rng.normal(size=(3, 4)),
    )
    x, h, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    ct = torch.tensor(c, requires_grad=True)
    out = lstm_step(p, torch.tensor(x), torch.tensor(h), ct, variant, xp=torch)
    (grad,) = torch.autograd.grad(out.c.sum(), ct)
    np.testing.assert_allclose(grad.numpy(), carry_derivative(p, x, h, c, variant), rtol=1e-12)


def test_rnn_contrast_property_fails_on_a_broken_reference(monkeypatch):
    """Property 8a is not vacuous: an RNN Jacobian with a gain of 4 (W_hh's sparsity kept,
    so only the vanishing claim can fail) does not vanish."""
    monkeypatch.setattr(contrast, "rnn_jacobian", lambda w, h: 4 * (1 - h**2)[:, None] * w)
    with pytest.raises(Exception) as info:  # one AssertionError, or a group of them
        # "mutants": derandomized, no shrinking; whether it fails is the question
        contrast.test_reference_rnn_jacobian_is_dense_and_vanishes(
            PropertySettings(profile_settings("mutants"))
        )
    errors = getattr(info.value, "exceptions", (info.value,))
    assert all(isinstance(e, AssertionError) for e in errors)
    assert any("above σ_max^T" in str(e) for e in errors)


def test_a_variant_is_its_flags():
    """The oracle reads flags, not names: a variant declared under a new name with the
    flags of cifg computes exactly what cifg computes, and unsupported combinations are
    refused in one line."""
    from lstm_props.maths.variants import BOUNDED, FORCEABLE, Variant, as_variant, register_variant

    coupled = register_variant(Variant("my_coupled", coupled_input=True))
    rng = np.random.default_rng(0)
    params = LSTMParams(
        rng.normal(size=(12, 2)), rng.normal(size=(12, 3)), rng.normal(size=12), rng.normal(size=12)
    )
    x, h, c = rng.normal(size=(2, 2)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    mine, cifg = lstm_step(params, x, h, c, "my_coupled"), lstm_step(params, x, h, c, "cifg")
    assert np.array_equal(mine.c, cifg.c) and np.array_equal(mine.h, cifg.h)
    assert "my_coupled" in BOUNDED and "my_coupled" in FORCEABLE and "peephole" not in BOUNDED
    assert as_variant("my_coupled") is coupled
    with pytest.raises(ValueError, match="coupled input with peepholes is not modelled"):
        Variant("cifg_peephole", coupled_input=True, reads_cell=True)
    with pytest.raises(ValueError, match="unknown variant 'gru'; one of standard"):
        as_variant("gru")
