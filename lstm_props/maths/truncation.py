"""The truncation error of a central difference: computed on the declared model where the
layout is known, estimated by Richardson where it is not.

A finite-difference property compares the backward's ⟨∇L̃(p), w⟩ with the target's central
difference D̃(η) = (L̃(p⁺) − L̃(p⁻))/2η, p^± the points it took and w = (p⁺ − p⁻)/2η. With
L the exact function of the declared model and L̃ = L + δ what the target computes,

    D̃(η) − ⟨∇L̃, w⟩ = (D̃ − D)  +  (D − ⟨∇L, w⟩)  +  (⟨∇L, w⟩ − ⟨∇L̃, w⟩)
                      rounding      truncation τ      the backward's error

and τ = D(η) − ⟨∇L(p), w⟩ is a property of L alone. Where the layout is known (:func:`declared`)
τ is *computed*: the reference cell in float64, at the very points p^± the target took, its
slope along w by torch's autograd (one backward; forward mode from
:data:`FORWARD_MODE_FROM_BYTES` of parameters). Its own error is the same computation's in
float64: the rounding and backward bounds of the target's dtype scaled by u_64/u
(:func:`reference_slack`; every term of those bounds is first order in u, and γ_n/u does not
grow as u shrinks).

Richardson's estimate from D(η), D(2η), D(4η) (:func:`richardson`) is kept for black-box
mode, which has no declared model. It assumes η lies in the asymptotic range, D(kη) − D(0) ≈
a(kη)². A layer norm over two close entries (r ≈ 20) bends L on a scale below the float32
step u^{1/3}: there D(η), D(2η), D(4η) = −119.5, −84.9, −40.8 against a derivative of −6.66,
and the estimate, 11.5, misses a truncation of 113 (the fastrnns layer-norm cell, float32).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.autograd import forward_ad

from lstm_props.maths import tolerances as tol
from lstm_props.maths.layout import LSTMParams
from lstm_props.maths.reference import lstm_step


def richardson(d1: float, d2: float, d4: float | None = None) -> float:
    """Richardson's estimate of D(η)'s truncation from D(η), D(2η) and, when given, D(4η):
    max(|D(η) − D(2η)|/3, |D(2η) − D(4η)|/12), the second D(2η)'s estimate scaled by (½)²,
    what it is for D(η) when the η² term dominates (robust to a cancellation of the η² and η⁴
    terms at η)."""
    first = abs(d1 - d2) / 3
    return first if d4 is None else max(first, abs(d2 - d4) / 12)


def _float64(a: Any) -> torch.Tensor:
    """``a`` as a float64 tensor: a tensor as it is (it may carry a graph), an array shared
    when it is float64 already."""
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a, dtype=np.float64))


Loss = Callable[[Sequence[torch.Tensor]], torch.Tensor]
Arrays = Sequence[np.ndarray]

#: Bytes of float64 parameters from which the slope is taken in forward mode: it holds one
#: extra copy of them (the tangents) where reverse mode holds two (the gradient and, while the
#: backward sums the T steps' terms, the incoming one). Below it, reverse mode: torch's forward
#: mode imports its compiler and its jvp decompositions on the first dual op with a Python
#: scalar, 1.3-1.8 s of every run's start-up on a 2-core machine.
FORWARD_MODE_FROM_BYTES = 64 * 2**20


def declared(loss: Loss, base: Arrays, plus: Arrays, minus: Arrays, eta: float) -> float:
    """|τ| = |(L(p⁺) − L(p⁻))/2η − ⟨∇L(p), w⟩|, w = (p⁺ − p⁻)/2η, for ``loss`` the declared
    model's L as a float64 torch function of the arrays p (base), p⁺ (plus), p⁻ (minus)."""
    with torch.no_grad():
        diff = float(loss([_float64(a) for a in plus])) - float(loss([_float64(a) for a in minus]))
    size = sum(np.size(b) for b in base) * np.dtype(np.float64).itemsize
    slope = _forward_slope if size >= FORWARD_MODE_FROM_BYTES else _reverse_slope
    return abs(diff / (2 * eta) - slope(loss, base, plus, minus, eta))


def _direction(p: np.ndarray, m: np.ndarray, eta: float) -> torch.Tensor:
    return _float64((np.asarray(p) - np.asarray(m)) / (2 * eta))


def _reverse_slope(loss: Loss, base: Arrays, plus: Arrays, minus: Arrays, eta: float) -> float:
    """⟨∇L(p), w⟩ from one backward of L at p."""
    leaves = [_float64(b).detach().requires_grad_() for b in base]
    out = loss(leaves)
    if not out.requires_grad:
        return 0.0
    grads = torch.autograd.grad(out, leaves, allow_unused=True)
    terms = (
        float(torch.vdot(g.flatten(), _direction(p, m, eta).flatten()))
        for g, p, m in zip(grads, plus, minus)
        if g is not None
    )
    return sum(terms, 0.0)


def _forward_slope(loss: Loss, base: Arrays, plus: Arrays, minus: Arrays, eta: float) -> float:
    """⟨∇L(p), w⟩ as the tangent of L at p along w (forward mode)."""
    w = tuple(_direction(p, m, eta) for p, m in zip(plus, minus))
    with warnings.catch_warnings(), forward_ad.dual_level():
        # torch scripts its forward-mode formulas on first use and warns that torch.jit.script
        # is deprecated: torch's own notice, not the user's code
        warnings.filterwarnings("ignore", "`torch.jit.script", DeprecationWarning)
        out = loss([forward_ad.make_dual(_float64(b), t) for b, t in zip(base, w)])
        tangent = forward_ad.unpack_dual(out).tangent
    return 0.0 if tangent is None else float(tangent)


def reference_slack(dtype: str) -> float:
    """u_64/u: the factor that turns the target's rounding and backward bounds in ``dtype``
    into those of the reference's float64 evaluation of τ."""
    return tol.unit_roundoff("float64") / tol.unit_roundoff(dtype)


def probed(u_h: np.ndarray | None, u_c: np.ndarray | None, h: Any, c: Any) -> torch.Tensor:
    """ū_hᵀh + ū_cᵀc, the properties' loss, on tensors (a probe of None: no such term)."""
    total = torch.zeros((), dtype=torch.float64)
    for u, state in ((u_h, h), (u_c, c)):
        if u is not None:
            total = total + (_float64(u) * state).sum()
    return total


def reference_rollout(
    params: LSTMParams,
    variant: str,
    gate_xs: Any,
    h0: Any,
    c0: Any,
    hs: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(h_T, c_T) of the reference cell in float64 torch from (h0, c0) over the gate inputs;
    with ``hs`` (T+1 recorded hidden states) every h_{t−1} is held at hs[t − 1]
    (teacher-forced), otherwise fed back."""
    # once, not at every step; tensors where LSTMParams declares arrays, as
    # reference.ReferenceLSTMCell.params does (lstm_step reads them with xp = torch)
    live = params.map_arrays(_float64)  # type: ignore[arg-type]
    h, c, xs = _float64(h0), _float64(c0), _float64(gate_xs)
    held = None if hs is None else _float64(hs)
    for t in range(xs.shape[0]):
        step = lstm_step(live, xs[t], h if held is None else held[t], c, variant, xp=torch)
        h, c = step.h, step.c
    return h, c


__all__ = ["declared", "probed", "reference_rollout", "reference_slack", "richardson"]
