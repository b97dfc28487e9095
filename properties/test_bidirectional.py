"""A bidirectional LSTM's reverse direction is flip ∘ LSTM ∘ flip."""

from __future__ import annotations

from lstm_props.testing import check_close, composed_steps, lstm_property


@lstm_property(
    "autograd",
    "layout",
    "sequence",
    "bidirectional",
    stack=True,
    relies_on=("fused_sequence_equals_composed_steps",),
)
def test_reverse_direction_is_flip_lstm_flip(lstm):
    """For a bidirectional stack, layer 0's forward direction ends in the state of its own
    steps composed over x_1..x_T, and its reverse direction in that of its steps over
    x_T..x_1: (h_n, c_n)[0, d] = compose(step_d)(flip^d(x)). With one layer, also
    y_t = [h→_t, h←_t] where h←_t is the reverse steps' state after x_T..x_t.

    Derivative: none; the fused bidirectional call against its own single steps.
    Tolerance: the composed-steps bound of lstm_props.maths.composed, per direction.
    Failure: the reverse direction run forward in time, its outputs not flipped back to
    input order, the two directions' states or weights swapped.
    """

    @lstm.given(lstm.cases(layer="stack", max_steps=5))
    def prop(case):
        layers, views = case.extra["layer_params"], case.extra["layer_views"]
        be = case.cell.backend
        ys, h_n, c_n = (
            be.to_numpy(a)
            for a in case.cell.sequence(
                be.asarray(case.xs), be.asarray(case.h0), be.asarray(case.c0)
            )
        )
        p, hid = layers[0].output_size, layers[0].hidden_size
        steps = case.xs.shape[0]
        for d, name in enumerate(("forward", "reverse")):
            hs, cs = slice(d * p, (d + 1) * p), slice(d * hid, (d + 1) * hid)
            xs = case.xs if d == 0 else case.xs[::-1].copy()
            comp = composed_steps(
                views[d], [layers[d]], xs, case.h0[:, hs], case.c0[:, cs], lstm.variant
            )
            check_close(
                c_n[:, cs],
                comp.traj.cs[-1],
                comp.c_bound(steps),
                claim=f"{name} direction's final c ≠ its steps composed",
                case=case,
            )
            check_close(
                h_n[:, hs],
                comp.traj.hs[-1],
                comp.h_bound(steps),
                claim=f"{name} direction's final h ≠ its steps composed",
                case=case,
                axes=("batch row", "unit"),
            )
            if len(layers) != 2:
                continue
            for t in range(steps):
                k = t + 1 if d == 0 else steps - t  # states after x_1..x_t or x_T..x_t
                check_close(
                    ys[t][:, hs],
                    comp.traj.hs[k],
                    comp.h_bound(k),
                    claim=f"y_t's {name} half ≠ its steps composed",
                    case=case,
                    axes=("step", "batch row", "unit"),
                    offset=(t + 1,),
                )

    prop()
