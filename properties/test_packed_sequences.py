"""A packed batch of sequences of different lengths equals each sequence run alone."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from lstm_props.testing import check_close, composed_steps, lstm_property


@lstm_property(
    "autograd",
    "layout",
    "packed",
    "unidirectional",
    stack=True,
    relies_on=("fused_sequence_equals_composed_steps",),
)
def test_packed_batch_equals_each_sequence_alone(lstm):
    """For B ≥ 2 rows of lengths ℓ_b ≤ T, one of them T and another shorter, and xs
    zero-padded past them, packed_sequence gives, for each row b, y_t[b] (t ≤ ℓ_b) and the
    final (h[b], c[b]) of that row's own steps composed over x_1..x_ℓ_b, as if it were run
    alone. (Rows all of one length are the fused sequence's case: packing trims a batch to
    its longest row, so a run over the padding shows only beside a longer row. With the
    few small batches drawn at a wide model's size, leaving that to chance let the mutant
    through.)

    Derivative: none; the packed call against the row's single steps.
    Tolerance: the composed-steps bound of lstm_props.maths.composed for the row alone.
    Failure: a packed batch run over its padding (final states taken after the padded
    steps), rows mixed up by the sort-by-length permutation, lengths off by one.
    """

    @lstm.given(lstm.cases(layer="stack", min_steps=2, max_steps=5, min_batch=2), st.data())
    def prop(case, data):
        layers = case.extra["layer_params"]
        steps, b = case.xs.shape[:2]
        lengths = data.draw(
            st.lists(st.integers(1, steps), min_size=b, max_size=b), label="lengths"
        )
        short, full = data.draw(st.permutations(range(b)), label="a short row, a full one")[:2]
        lengths[short] = min(lengths[short], steps - 1)
        lengths[full] = steps
        xs = case.xs.copy()
        for row, n in enumerate(lengths):
            xs[n:, row] = 0.0
        be = case.cell.backend
        ys, h, c = (
            be.to_numpy(a)
            for a in case.cell.packed_sequence(
                be.asarray(xs), lengths, be.asarray(case.h0), be.asarray(case.c0)
            )
        )
        top = layers[-1].output_size
        for row, n in enumerate(lengths):
            alone = slice(row, row + 1)
            comp = composed_steps(
                case.cell, layers, xs[:n, alone], case.h0[alone], case.c0[alone], lstm.variant
            )
            label = f"row {row} (length {n} of {steps})"
            check_close(
                c[row],
                comp.traj.cs[-1][0],
                comp.c_bound(n)[0],
                case=case,
                claim=f"packed final c of {label} ≠ the row run alone",
                axes=("coordinate",),
            )
            check_close(
                h[row],
                comp.traj.hs[-1][0],
                comp.h_bound(n)[0],
                case=case,
                claim=f"packed final h of {label} ≠ the row run alone",
                axes=("unit",),
            )
            for t in range(n):
                check_close(
                    ys[t][row],
                    comp.traj.hs[t + 1][0, -top:],
                    comp.h_bound(t + 1)[0, -top:],
                    case=case,
                    claim=f"packed y_t of {label} ≠ the row run alone",
                    axes=("step", "unit"),
                    offset=(t + 1,),
                )
        assert np.all(np.isfinite(ys[: max(lengths)]))

    prop()
