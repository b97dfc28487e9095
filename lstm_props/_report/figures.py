"""The numbers behind the report's pictures, computed on the target itself.

Three pictures, each beside the vanilla RNN built from the same cell's candidate weights
(W_ih[g], W_hh[g], b[g]: the tanh branch *is* an Elman RNN), driven by the same inputs:

* survival: log₁₀ |∂c_T/∂c_s|carry| per coordinate against the span T − s (for a standard
  LSTM log₁₀ ∏_{t=s+1..T} f_t), beside log₁₀ ‖∏ J_t‖₂ of the RNN;
* BPTT: the total gradient norm ‖∂(1ᵀc_T)/∂(h_0, c_0)‖ (both paths, free running) against T,
  beside the RNN's ‖∂(1ᵀh_T)/∂h_0‖;
* one carry Jacobian ∂c_t/∂c_{t-1} (H × H, batch row 0) beside the RNN's ∂h_t/∂h_{t-1}.

LSTM derivatives come from the implementation's own backward; the RNN's are analytic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_props._harness.checked import CheckedCell
from lstm_props.adapters._protocol import Target
from lstm_props.maths import carry
from lstm_props.maths.layout import LSTMParams, gate_slice
from lstm_props.maths.reference import rnn_jacobian, rnn_step

#: Forget biases spread over units, so the survival curves fan out from "forgets in a few
#: steps" (b_f = 0, f ≈ ½) to "remembers the whole window" (b_f = 6, f ≈ 0.998).
FORGET_BIASES = (0.0, 6.0)


@dataclass(frozen=True)
class Figures:
    """spans (T+1,); survival (T+1, H) and rnn_survival (T+1,) in log₁₀ (−inf: underflow);
    lengths (K,), bptt (K,), rnn_bptt (K,); jacobian and rnn_jacobian (H, H)."""

    weights: str
    spans: np.ndarray
    survival: np.ndarray
    rnn_survival: np.ndarray
    lengths: np.ndarray
    bptt: np.ndarray
    rnn_bptt: np.ndarray
    jacobian: np.ndarray
    rnn_jacobian: np.ndarray


def _designed_params(like: LSTMParams, rng: np.random.Generator) -> LSTMParams:
    """torch's default init U(±1/√H), with the forget biases spread over FORGET_BIASES."""
    k = 1.0 / np.sqrt(like.hidden_size)

    def draw(a: np.ndarray) -> np.ndarray:
        return rng.uniform(-k, k, a.shape)

    def draw_optional(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else draw(a)

    params = LSTMParams(
        draw(like.w_ih),
        draw(like.w_hh),
        draw(like.b_ih),
        draw(like.b_hh),
        draw_optional(like.w_hr),
        draw_optional(like.peephole),
    )
    f = gate_slice("f", like.hidden_size)
    params.b_ih[f] = np.linspace(*FORGET_BIASES, like.hidden_size)
    params.b_hh[f] = 0.0
    return params


def _contrast_rnn(
    params: LSTMParams | None, spec_sizes: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W_ih, W_hh, b) of the contrast RNN: the candidate branch, or torch's init if unknown."""
    d, hidden = spec_sizes
    if params is None:
        k = 1.0 / np.sqrt(hidden)
        return (
            rng.uniform(-k, k, (hidden, d)),
            rng.uniform(-k, k, (hidden, hidden)),
            rng.uniform(-k, k, hidden),
        )
    w_ih, w_hh, b = params.gate_rows("g")
    return w_ih, (w_hh if params.w_hr is None else w_hh @ params.w_hr), b


def _log10(a: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(np.abs(a))


def _rnn_figures(
    rnn: tuple[np.ndarray, np.ndarray, np.ndarray], xs: np.ndarray, lengths: np.ndarray, at: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w_ih, w_hh, b = rnn
    h = np.zeros((1, w_hh.shape[0]))
    jacs = []
    for x in xs[:, :1]:
        h = rnn_step(w_ih, w_hh, b, x, h)
        jacs.append(rnn_jacobian(w_hh, h[0]))
    back, survival = np.eye(w_hh.shape[0]), [0.0]
    for j in jacs[::-1]:  # ∂h_T/∂h_s for s = T-1, ..., 0
        back = back @ j
        survival.append(np.log10(np.linalg.norm(back, 2) + 1e-300))
    bptt = []
    for n in lengths:
        prod = np.eye(w_hh.shape[0])
        for j in jacs[:n]:
            prod = j @ prod
        bptt.append(np.linalg.norm(np.ones(w_hh.shape[0]) @ prod))
    return np.array(survival), np.array(bptt), jacs[at - 1]


def _bptt_norm(cell: CheckedCell, traj: carry.Trajectory, steps: int) -> float:
    """‖∂(1ᵀc_T)/∂(h_0, c_0)‖ for T = steps: one-step VJPs composed, both paths."""
    u_h, u_c = np.zeros_like(traj.hs[0]), np.ones_like(traj.cs[0])
    for t in range(steps, 0, -1):
        u_h, u_c = carry.step_vjp(cell, traj.xs[t - 1], traj.hs[t - 1], traj.cs[t - 1], u_h, u_c)
    return float(np.sqrt(np.sum(u_h[:1] ** 2) + np.sum(u_c[:1] ** 2)))


def figure_data(
    target: Target, *, hidden: int = 8, inputs: int = 3, steps: int = 64, seed: int = 0
) -> Figures:
    """Compute every picture's numbers on layer 0 of ``target`` (needs its autograd)."""
    rng = np.random.default_rng(seed)
    views = (
        target.build(inputs, max(hidden, target.min_hidden_size))
        if target.sized
        else target.build()
    )
    view = views.layers[0]
    if not view.backend.autograd:
        raise ValueError(
            f"{target.name} has no autograd backend, and every picture is a "
            "derivative taken by the implementation's own backward"
        )
    cell = CheckedCell(view, target.name)
    spec = view.spec
    params = view.read_layout()
    if params is not None and view.writable_layout:
        params = _designed_params(params, rng).astype(view.backend.array_dtype)
        view.write_layout(params)
        weights = (
            "torch's default init U(±1/√H), forget biases spread over "
            f"[{FORGET_BIASES[0]:g}, {FORGET_BIASES[1]:g}] across units"
        )
    else:
        weights = "the target's own weights, as built"
    if len(views.layers) > 1:
        layers = len(views.layers)
        view.set_context(
            np.zeros((layers, 2, spec.output_size)), np.zeros((layers, 2, spec.hidden_size))
        )
    xs = view.backend.rounded(rng.standard_normal((steps, 2, spec.input_size)))
    zeros = np.zeros((2, spec.output_size)), np.zeros((2, spec.hidden_size))
    traj = carry.record(cell, xs, *zeros)
    survival = _log10(carry.carry_adjoints(cell, traj, np.ones_like(traj.cs[0]))[::-1, 0])
    lengths = np.unique(np.geomspace(1, steps, 7).astype(int))
    bptt = np.array([_bptt_norm(cell, traj, int(n)) for n in lengths])
    at = steps // 2
    jac = carry.carry_jacobian(cell, traj.xs[at - 1], traj.hs[at - 1], traj.cs[at - 1])
    rnn = _contrast_rnn(params, (traj.gate_xs.shape[-1], spec.hidden_size), rng)
    if rnn[1].shape[0] != rnn[1].shape[1]:  # projected black-box: no square candidate map
        rnn = _contrast_rnn(None, (traj.gate_xs.shape[-1], spec.hidden_size), rng)
    rnn_survival, rnn_bptt, rnn_jac = _rnn_figures(rnn, traj.gate_xs, lengths, at)
    return Figures(
        weights,
        np.arange(steps + 1),
        survival,
        rnn_survival,
        lengths,
        bptt,
        rnn_bptt,
        jac[0, :, 0, :],
        rnn_jac,
    )
