"""The carry properties at production sizes on a user's own model (``check --steps T``).

Unlike the Hypothesis properties, which draw small cases and write their own weights, this
keeps the model's parameters as they are (trained weights are the point) and drives it with a
long seeded input sequence, every layer view in turn, through :mod:`lstm_props.maths.chunked_carry`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_props._errors import TargetError
from lstm_props._harness.checked import CheckedCell
from lstm_props._harness.loading import load_target
from lstm_props.adapters._protocol import CellAdapter, Target
from lstm_props.maths.chunked_carry import PRODUCT_VARIANTS, ChunkedCarry, verify_carry_product


@dataclass(frozen=True)
class ScaleCase:
    """Sizes of a production-size check: batch B, steps T, hidden H (None: the model's)."""

    steps: int
    batch: int = 1
    hidden: int | None = None
    chunk: int = 64
    probes: int = 2
    seed: int = 0
    exact: bool = False


def _rounded(a: np.ndarray, view: CellAdapter) -> np.ndarray:
    return view.backend.rounded(a)


def seeded_inputs(view: CellAdapter, batch: int, seed: int):
    """``inputs(start, stop)``: standard normal inputs for steps [start, stop), made on demand
    from (seed, start) so that no T-long array is ever held."""
    width = view.spec.input_size

    def inputs(start: int, stop: int) -> np.ndarray:
        rng = np.random.default_rng([seed, start])
        return _rounded(rng.standard_normal((stop - start, batch, width)), view)

    return inputs


def build_views(target: Target, hidden: int | None) -> list[CellAdapter]:
    """The target's layer views, built at ``hidden`` (input size = hidden) if it is sized."""
    if target.sized:
        size = hidden or 256
        return list(target.build(size, max(size, target.min_hidden_size)).layers)
    views = target.build()
    have = views.layers[0].spec.hidden_size
    if hidden is not None and hidden != have:
        raise TargetError(
            f"--hidden {hidden}: target {target.name!r} is a module of fixed "
            f"hidden size {have}; drop --hidden, or pass a factory that takes "
            "(input_size, hidden_size)"
        )
    return list(views.layers)


def check_view(view: CellAdapter, target_name: str, variant: str, case: ScaleCase) -> ChunkedCarry:
    """One layer view over ``case.steps`` steps from seeded states, its parameters untouched."""
    rng = np.random.default_rng([case.seed, 1])
    h0 = _rounded(rng.standard_normal((case.batch, view.spec.output_size)), view)
    c0 = _rounded(rng.standard_normal((case.batch, view.spec.hidden_size)), view)
    params = view.read_layout()
    if params is not None and params.cell_clip is not None:
        raise TargetError(
            f"target {target_name!r} clamps its cell state to ±{params.cell_clip:g}: the "
            "chunked long-horizon product does not model the clamp (its carry is cut where "
            "c reaches the bound); check it with the properties instead (lstm-props check)"
        )
    return verify_carry_product(
        CheckedCell(view, target_name),
        params,
        seeded_inputs(view, case.batch, case.seed),
        h0,
        c0,
        steps=case.steps,
        chunk=case.chunk,
        probes=case.probes,
        variant=variant,
        exact=case.exact,
    )


def check_at_scale(
    target_text: str,
    case: ScaleCase,
    dtype: str = "float32",
    device: str = "cpu",
    variant: str | None = None,
) -> int:
    """Print one verdict line per layer view; 0 if all pass, 1 if any fails."""
    target = load_target(target_text, dtype, device)
    views = build_views(target, case.hidden)
    declared = variant or views[0].variant or "standard"
    if declared not in PRODUCT_VARIANTS:
        raise TargetError(
            f"--variant {declared}: the carry derivative is a product of forget "
            f"gates only for {', '.join(PRODUCT_VARIANTS.names())}; check a "
            f"{declared} target with the small-size properties (no --steps)"
        )
    failed = 0
    for view in views:
        result = check_view(view, target_text, declared, case)
        mode = "oracle" if result.log_product is not None else "black-box"
        log10 = (
            result.log_product
            if result.log_product is not None
            else result.implementation_log_product
        ) / np.log(10)
        finite = log10[np.isfinite(log10)]
        span = f"{finite.min():.4g}..{finite.max():.4g}" if finite.size else "underflowed"
        verdict = "PASSED" if result.passed else "FAILED"
        how = "exact Jacobians" if case.exact else f"{case.probes} probes"
        print(
            f"{verdict} {view.name}: carry product over T={case.steps} steps, B={case.batch}, "
            f"H={view.spec.hidden_size}, {dtype}, {mode}, chunks of {case.chunk}, "
            f"{how}; log10 ∏f in {span}; worst error "
            f"{result.worst:.3g} of tolerance over {result.compared} entries",
            flush=True,
        )
        for line in result.failures[:5]:
            print(f"    {line}")
        failed += not result.passed
    return 1 if failed else 0
