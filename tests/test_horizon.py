"""``lstm-props horizon``: analytic timescales and horizons, the two-track share against a
dense float64 Jacobian, and one-line errors for every bad DATA case."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lstm_props._errors import TargetError
from lstm_props.horizon import DataError, measure_horizon
from lstm_props.horizon.record import check_reproduced, fused_calls, layer_blocks, record
from lstm_props.horizon.two_track import carry_share, span_gradients
from lstm_props.maths import tolerances as tol
from lstm_props.maths.reference import log_sigmoid, lstm_step
from lstm_props.targets import reference_no_forget

U32, U64 = tol.UNIT_ROUNDOFF["float32"], tol.UNIT_ROUNDOFF["float64"]


def _chrono_lstm(hidden: int, t_max: float, seed: int = 0) -> torch.nn.LSTM:
    """Tallec & Ollivier's chrono initialisation, b_f = log U(1, T_max − 1), with zero input
    and recurrent weights: f_k = σ(b_f,k) at every step, whatever the input."""
    torch.manual_seed(seed)
    m = torch.nn.LSTM(3, hidden)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        u = np.random.default_rng(seed).uniform(1, t_max - 1, hidden)
        m.bias_ih_l0[hidden : 2 * hidden] = torch.tensor(np.log(u))
    return m


def _data(n: int = 4, steps: int = 300, width: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, steps, width))


def test_chrono_cell_gives_every_unit_its_timescale_and_horizon():
    """T_k = −1/log σ(b_f,k) exactly: the float32 recomputation of log σ is within a few
    ulps (ACTIVATION_ULPS·u32), the float64 mean of N equal values within N·u64; the
    horizon is the smallest Δ with Δ log σ(b) < log ε, ⌊log ε / log σ(b)⌋ + 1."""
    hidden, eps = 12, 1e-3
    m = _chrono_lstm(hidden, t_max=60)
    data = _data()
    result = measure_horizon(m, data, eps=eps, two_track_span=0)
    (layer,) = result.layers
    b = m.bias_ih_l0.detach().double().numpy()[hidden : 2 * hidden]  # as the model holds it
    log_f = log_sigmoid(b)
    exact = -1.0 / log_f
    n = data.shape[0] * data.shape[1]
    rel = tol.SAFETY * (tol.ACTIVATION_ULPS * U32 + n * U64)
    np.testing.assert_array_less(np.abs(layer.timescale - exact), rel * exact)
    np.testing.assert_allclose(layer.mean_forget, np.exp(log_f), rtol=rel)
    crossing = np.log(eps) / log_f  # Δ* in steps
    longest = layer.spans.max()
    for k in range(hidden):
        if crossing[k] * (1 + rel) < longest:
            lo, hi = np.floor(crossing[k] * (1 - rel)) + 1, np.floor(crossing[k] * (1 + rel)) + 1
            assert lo <= layer.horizon[k] <= hi, (k, crossing[k], layer.horizon[k])
        elif crossing[k] * (1 - rel) > longest:
            assert np.isinf(layer.horizon[k])
            assert layer.horizon_estimate[k] == pytest.approx(crossing[k], rel=rel)
    assert np.isfinite(layer.horizon).any() and np.isinf(layer.horizon).any() is not None


def test_no_forget_cell_keeps_its_gradient_forever():
    """The 1997 cell: f ≡ 1, so ∏f = 1 at every span: infinite timescale and horizon, no
    precision horizon, every forget gate saturated high."""
    cell = reference_no_forget(3, 6)
    result = measure_horizon(cell, _data(steps=120), two_track_span=0)
    (layer,) = result.layers
    assert np.isinf(layer.timescale).all() and np.isinf(layer.horizon).all()
    assert (layer.survival == 0).all()
    assert np.isinf(layer.precision["float16"]["subnormal"]).all()
    assert (layer.saturation["forget"][1] == 1).all()
    assert np.isinf(layer.timescale_spread).all()
    assert layer.keeps_beyond(100)[0] == 1.0


def test_a_forget_gate_forced_shut_has_horizon_one():
    """b_f = −10⁴ on one unit: f = σ(−10⁴), log f = −10⁴: the carry is cut at the first step."""
    m = _chrono_lstm(8, t_max=40)
    with torch.no_grad():
        m.bias_ih_l0[8 + 3] = -1e4
    (layer,) = measure_horizon(m, _data(steps=80), two_track_span=0).layers
    assert layer.horizon[3] == 1
    assert layer.timescale[3] == pytest.approx(1e-4, rel=1e-6)
    assert (layer.horizon[np.arange(8) != 3] > 1).all()
    assert layer.saturation["forget"][0][3] == 1.0


def test_stacked_layers_read_the_layer_below():
    """Layer 1's gates read layer 0's output: its timescales follow from the recomputed
    gates, which the reproduction check holds to the error model at the first chunk."""
    torch.manual_seed(1)
    m = torch.nn.LSTM(3, 5, num_layers=2)
    result = measure_horizon(m, _data(n=2, steps=70), two_track_span=8)
    assert [layer.name for layer in result.layers] == ["layer 0", "layer 1"]
    for layer in result.layers:
        assert np.all(np.isfinite(layer.timescale)) and layer.two_track is not None
        assert layer.two_track.spans.size and np.all(
            (layer.two_track.share >= 0) & (layer.two_track.share <= 1)
        )


def _views(model):
    from lstm_props.horizon.measure import _load

    return _load(model, "float64", "cpu").build()


def test_two_track_share_is_one_without_recurrent_weights():
    """W_hh = 0: no gate reads h, so ∂c_{s+Δ}/∂c_s is the carry line alone; in float64 the
    implementation's total gradient equals ū ⊙ ∏f up to (Δ + 1) roundings of each factor."""
    torch.manual_seed(2)
    m = torch.nn.LSTM(3, 6).double()
    with torch.no_grad():
        m.weight_hh_l0.zero_()
    result = measure_horizon(m, _data(n=3, steps=80), dtype="float64", two_track_span=40)
    tt = result.layers[0].two_track
    worst = 1 - tt.share[0]  # the 10% quantile
    assert np.all(worst <= tol.SAFETY * (tt.spans + 1) * (tol.ACTIVATION_ULPS + 1) * U64)


def test_two_track_gradients_match_a_dense_float64_jacobian():
    """The slow way: the reference cell's T-step map in float64, its full Jacobian by
    torch.autograd.functional.jacobian, ūᵀ ∂c_{s+Δ}/∂c_s; and the carry line ū ⊙ ∏ f_t
    from the reference's own forget gates along the same trajectory."""
    torch.manual_seed(3)
    m = torch.nn.LSTM(3, 4).double()
    views = _views(m)
    blocks = layer_blocks(views)
    params = [v.read_layout() for v in views.layers]
    rng = np.random.default_rng(4)
    window = rng.standard_normal((9, 2, 3))
    h0, c0 = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    u = rng.standard_normal((1, 2, 4))
    spans = np.array([1, 4, 9])
    grads = span_gradients(views.stack, blocks, params, "standard", window, (h0, c0), spans, u)
    p = params[0]

    def roll(c_start, span, h_start, b):
        h, c = h_start, c_start
        for t in range(span):
            v = lstm_step(p, torch.tensor(window[t, b : b + 1]), h, c, xp=torch)
            h, c = v.h, v.c
        return c

    for span in spans:
        for b in range(2):
            jac = torch.autograd.functional.jacobian(
                lambda c, b=b, span=span: roll(c[None], span, torch.tensor(h0[b : b + 1]), b)[0],
                torch.tensor(c0[b]),
            ).numpy()
            total, carry = grads[int(span)][0]
            want = u[0, b] @ jac
            scale = np.abs(u[0, b]) @ np.abs(jac) + np.abs(u[0, b])
            assert np.all(np.abs(total[b] - want) <= 64 * span * U64 * scale)
            f = []
            h, c = h0[b : b + 1], c0[b : b + 1]
            for t in range(span):
                v = lstm_step(p, window[t, b : b + 1], h, c)
                f.append(v.f[0])
                h, c = v.h, v.c
            np.testing.assert_allclose(carry[b], u[0, b] * np.prod(f, axis=0), rtol=64 * span * U64)
        share = carry_share(*grads[int(span)][0])
        assert np.all((share >= 0) & (share <= 1))


def test_a_misdeclared_layout_is_refused_not_measured():
    """States that the declared layout does not reproduce (here: its W_hh read wrong) stop
    the measurement with one line, before any figure is computed."""
    torch.manual_seed(5)
    m = torch.nn.LSTM(3, 4)
    views = _views(m)
    params = views.layers[0].read_layout()
    ((_, steps, _),) = record(
        views.stack, layer_blocks(views), _data(n=2, steps=4)[:, :4].transpose(1, 0, 2), 4
    )
    check_reproduced(params, steps[0], "standard", "float64", "m")  # as held: silent
    wrong = dataclasses.replace(params, w_hh=params.w_hh[::-1].copy())
    with pytest.raises(TargetError, match="not what its declared layout computes"):
        check_reproduced(wrong, steps[0], "standard", "float64", "m")


@pytest.mark.parametrize(
    ("data", "layout", "message"),
    [
        (np.zeros((3, 4)), "batch-first", r"rank 2\); expected \(N, T, 3\)"),
        (np.zeros((2, 5, 4)), "batch-first", r"4 features per step .* takes 3"),
        (np.zeros((0, 5, 3)), "batch-first", "is empty"),
        (np.full((2, 5, 3), np.nan), "batch-first", "non-finite value"),
        (np.zeros((2, 1, 3)), "batch-first", "a horizon needs T ≥ 2"),
        (np.array([["a"]]), "batch-first", "rank 2"),
        (np.zeros((2, 5, 3)), "sideways", "--layout 'sideways'"),
        ("no/such/file.npy", "batch-first", "no such file"),
        ([np.zeros((2, 5, 3)), np.zeros((2, 5, 2))], "batch-first", "batch 1 has 2 features"),
        (lambda: 1 / 0, "batch-first", "calling it raised ZeroDivisionError"),
        ("torch.nn:LSTM", "batch-first", "a model"),
    ],
)
def test_bad_data_gets_one_line_naming_the_expected_shape(data, layout, message):
    torch.manual_seed(0)
    with pytest.raises(DataError, match=message) as info:
        measure_horizon(torch.nn.LSTM(3, 4), data, layout=layout, two_track_span=0)
    assert "\n" not in str(info.value)


def test_file_kinds_and_layouts_give_the_same_measurement(tmp_path):
    """A .npy, a .pt and time-first data are the same sequences; a function yielding them
    in two batches accumulates the two batches' sums (a float32 kernel's products round
    differently at B = 1 than at B = 2, so that case is compared with the two batches
    measured alone: T = N / Σ_b (N_b / T_b))."""
    torch.manual_seed(0)
    m = torch.nn.LSTM(3, 4)
    x = _data(n=2, steps=30)
    np.save(tmp_path / "x.npy", x)
    torch.save(torch.tensor(x), tmp_path / "x.pt")
    base = measure_horizon(m, x, two_track_span=0).layers[0].timescale
    for data, layout in (
        (str(tmp_path / "x.npy"), "batch-first"),
        (tmp_path / "x.pt", "batch-first"),
        (x.transpose(1, 0, 2), "time-first"),
    ):
        got = measure_horizon(m, data, layout=layout, two_track_span=0).layers[0].timescale
        np.testing.assert_allclose(got, base, rtol=1e-12)
    alone = [measure_horizon(m, x[k : k + 1], two_track_span=0).layers[0] for k in (0, 1)]
    want = sum(a.positions for a in alone) / sum(a.positions / a.timescale for a in alone)
    got = measure_horizon(m, lambda: iter([x[:1], x[1:]]), two_track_span=0).layers[0].timescale
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_refuses_what_it_cannot_measure():
    with pytest.raises(TargetError, match="factory taking sizes"):
        measure_horizon("torch.nn:LSTMCell", _data(), two_track_span=0)
    with pytest.raises(TargetError, match="bidirectional"):
        measure_horizon(torch.nn.LSTM(3, 4, bidirectional=True), _data(), two_track_span=0)


def test_the_fused_record_is_the_stepped_one():
    """Each layer's own kernel over a chunk (nn.LSTM's per-layer _VF.lstm call) records the
    same inputs and outputs as the stack stepped one step at a time (float32 rounding of
    one kernel against another at most)."""
    torch.manual_seed(6)
    m = torch.nn.LSTM(3, 5, num_layers=3)
    views = _views(m)
    blocks = layer_blocks(views)
    xs = _data(n=2, steps=20).transpose(1, 0, 2)
    fused = list(record(views.stack, blocks, xs, 8, fused=fused_calls(views)))
    stepped = list(record(views.stack, blocks, xs, 8))
    assert len(fused) == len(stepped) == 3
    for (t0, a, _), (t1, b, _) in zip(fused, stepped):
        assert t0 == t1
        for la, lb in zip(a, b):
            for name in ("x", "h_prev", "h"):
                np.testing.assert_allclose(
                    getattr(la, name), getattr(lb, name), rtol=1e-12, atol=1e-14
                )
