"""The same implementation in two precisions, or on two devices, agrees within the model."""

from __future__ import annotations

from lstm_props.maths import carry
from lstm_props.maths import tolerances as tol
from lstm_props.testing import check_close, lstm_property


def _teacher_forced_agreement(case, other, variant, dtypes, claim):
    """Feed other.step the recorded (x_t, h_{t-1}, c_{t-1}) of case.cell; compare outputs
    within the sum of both computations' step error bounds."""
    traj = carry.record(case.cell, case.xs, case.h0, case.c0)
    be = other.backend
    for t in range(traj.steps):
        h, c = other.step(be.asarray(traj.xs[t]), be.asarray(traj.hs[t]), be.asarray(traj.cs[t]))
        errs = [
            tol.step_error(case.params, traj.gate_xs[t], traj.hs[t], traj.cs[t], variant, d)
            for d in dtypes
        ]
        axes = ("step", "batch row", "coordinate")
        check_close(
            be.to_numpy(c),
            traj.cs[t + 1],
            tol.SAFETY * sum(e.dc for e in errs),
            claim=f"c_t: {claim}",
            case=case,
            axes=axes,
            offset=(t + 1,),
        )
        check_close(
            be.to_numpy(h),
            traj.hs[t + 1],
            tol.SAFETY * sum(e.dh for e in errs),
            claim=f"h_t: {claim}",
            case=case,
            axes=axes,
            offset=(t + 1,),
        )


@lstm_property("layout", "float32", "float64_twin", relies_on=("step_values_match_reference",))
def test_float32_agrees_with_float64(lstm):
    """step₃₂(x, h, c) = step₆₄(x, h, c) on the same weights and the float32 run's recorded
    inputs, within E₃₂ + E₆₄ (both computations' step error bounds); likewise for any run
    narrower than float64 (float16, bfloat16, a declared mixed precision) against its float64
    twin, within E_run + E₆₄.

    Derivative: none; the implementation against itself converted to float64 (astype).
    Tolerance: tolerances.step_error in the run's precision plus in float64.
    Failure: reduced internal precision (bfloat16 or TF32 accumulation, a fast-math
    activation, a "float32" accumulation declared but not done), a float32 path with a
    different formula from the float64 one.
    """

    @lstm.given(lstm.cases())
    def prop(case):
        wide = type(case.cell)(case.cell.inner.astype("float64"), case.cell.target_name)
        _teacher_forced_agreement(
            case,
            wide,
            lstm.variant,
            (lstm.dtype, "float64"),
            f"{lstm.dtype} ≠ float64 beyond both error bounds",
        )

    prop()


@lstm_property("layout", "cuda", "cpu_twin", relies_on=("step_values_match_reference",))
def test_cuda_agrees_with_cpu(lstm):
    """step_cuda(x, h, c) = step_cpu(x, h, c) on the same weights and inputs, within twice
    the step error bound of the dtype.

    Derivative: none; the implementation on CUDA against its own copy on the CPU.
    Tolerance: 2·tolerances.step_error (two computations, each within the bound).
    Failure: a device kernel with another formula, gate order or bias handling (cuDNN's
    packed weights built from stale or mis-ordered buffers), reduced precision (TF32).
    """

    @lstm.given(lstm.cases())
    def prop(case):
        host = type(case.cell)(case.cell.inner.to_device("cpu"), case.cell.target_name)
        _teacher_forced_agreement(
            case,
            host,
            lstm.variant,
            (lstm.dtype, lstm.dtype),
            "CUDA ≠ CPU beyond both error bounds",
        )

    prop()
