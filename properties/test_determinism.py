"""The same computation twice gives the same bits: forward, backward, parameter gradients."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_props.maths import carry, step_vjp
from lstm_props.maths import tolerances as tol
from lstm_props.maths.abs_jacobian import abs_step_jacobian, chain_gradient_bound
from lstm_props.maths.variants import as_variant
from lstm_props.testing import check_close, lstm_property


def _run_twice(fn):
    return fn(), fn()


@lstm_property("autograd")
def test_forward_and_backward_are_deterministic(lstm):
    """Twice on the same inputs: (h_t, c_t) for every t, ∂(ū_hᵀh_T + ū_cᵀc_T)/∂(h_0, c_0)
    and, where the adapter reaches them, ∂(ū_hᵀh_T + ū_cᵀc_T)/∂θ are bitwise equal.

    Derivative: the implementation's backward through T free-running steps, run twice.
    Tolerance: none on a deterministic backend (every CPU backend here). On a backend that
    declares itself nondeterministic (Backend.deterministic False: torch on CUDA unless
    torch.use_deterministic_algorithms or CUBLAS_WORKSPACE_CONFIG=:4096:8 is set, as torch's
    nn.LSTM documentation prescribes) the state gradients may differ by the reordering bound
    2(T+1)γ_n |ū|ᵀ∏|J_t| (any summation order of the same terms; with a layer norm, whose
    means over n entries cancel, 2·SAFETY times the whole backward error bound of
    lstm_props.maths.step_vjp.jacobian_chain_error, each run within it), and parameter
    gradients, accumulated by atomics there, are not compared.
    Failure: atomics or uninitialised workspace in a backward kernel, a cache that changes
    the second call, randomness (dropout) left on.
    """

    @lstm.given(lstm.cases(max_steps=4))
    def prop(case):
        cell, be = case.cell, case.cell.backend
        first, second = _run_twice(lambda: carry.record(cell, case.xs, case.h0, case.c0))
        check_close(
            second.cs,
            first.cs,
            0.0,
            claim="c_t differs between two identical runs",
            case=case,
            axes=("step", "batch row", "coordinate"),
        )
        check_close(
            second.hs,
            first.hs,
            0.0,
            claim="h_t differs between two identical runs",
            case=case,
            axes=("step", "batch row", "unit"),
        )
        u_h = be.rounded(carry.probe(case.h0, 91, case.xs))
        u_c = be.rounded(carry.probe(case.c0, 92, case.xs))

        def backward():
            return be.vjp(
                lambda h0, c0: carry.rollout(cell, case.xs, h0, c0)[1:],
                (case.h0, case.c0),
                (u_h, u_c),
            )

        (gh1, gc1), (gh2, gc2) = _run_twice(backward)
        bound: np.ndarray | float = 0.0
        if not getattr(be, "deterministic", True):
            p = case.h0.shape[1]
            layers = None if case.params is None else [case.params]
            if layers is not None and as_variant(lstm.variant).layer_norm:
                jacs = [
                    abs_step_jacobian(cell, layers, lstm.variant, first, t)
                    for t in range(first.steps)
                ]
                chain = step_vjp.jacobian_chain_error(
                    layers, lstm.variant, first, jacs, u_h, u_c, case.dtype
                )
                bound = 2 * tol.SAFETY * chain.reshape(case.h0.shape[0], -1)
                check_close(
                    gc2,
                    gc1,
                    bound[:, p:],
                    claim="∂/∂c_0 differs between two runs beyond the backward's error bound",
                    case=case,
                )
                check_close(
                    gh2,
                    gh1,
                    bound[:, :p],
                    claim="∂/∂h_0 differs between two runs beyond the backward's error bound",
                    case=case,
                    axes=("batch row", "unit"),
                )
                return
            jacs = [
                abs_step_jacobian(cell, layers, lstm.variant, first, t) for t in range(first.steps)
            ]
            if any(j is None for j in jacs):
                pytest.skip(
                    "black-box at B·(P+H) > DENSE_STATE_ROWS on a nondeterministic "
                    "backend: the reordering bound needs |J_t|"
                )
            n = 4 * (p + case.c0.shape[1])
            reorder = chain_gradient_bound(
                np.abs(carry.pack(u_h, u_c)), jacs, [0.0] * len(jacs), n, case.dtype
            )
            bound = 2 * reorder.reshape(case.h0.shape[0], -1)
            check_close(
                gc2,
                gc1,
                bound[:, p:],
                claim="∂/∂c_0 differs between two runs beyond the reordering bound",
                case=case,
            )
            check_close(
                gh2,
                gh1,
                bound[:, :p],
                claim="∂/∂h_0 differs between two runs beyond the reordering bound",
                case=case,
                axes=("batch row", "unit"),
            )
            return
        check_close(
            gc2, gc1, 0.0, claim="∂/∂c_0 differs between two identical backwards", case=case
        )
        check_close(
            gh2,
            gh1,
            0.0,
            claim="∂/∂h_0 differs between two identical backwards",
            case=case,
            axes=("batch row", "unit"),
        )

        def parameter_backward():
            return cell.parameter_vjp(
                lambda: carry.rollout(cell, case.xs, be.asarray(case.h0), be.asarray(case.c0))[1:],
                (u_h, u_c),
            )

        g1, g2 = _run_twice(parameter_backward)
        if g1 is None:
            return
        for name in ("w_ih", "w_hh", "b_ih", "b_hh", "w_hr", "peephole"):
            a, b = getattr(g1, name), getattr(g2, name)
            if a is not None:
                check_close(
                    b,
                    a,
                    0.0,
                    claim=f"∂/∂{name} differs between two identical backwards",
                    case=case,
                    axes=("row", "column")[: a.ndim],
                )

    prop()
