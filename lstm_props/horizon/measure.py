"""``measure_horizon``: a trained model's memory horizon on the user's data, end to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lstm_props._errors import TargetError
from lstm_props.adapters._protocol import Target
from lstm_props.horizon import stats as st
from lstm_props.horizon.data import DataError, data_batches
from lstm_props.horizon.gates import GateRecompute
from lstm_props.horizon.record import check_reproduced, fused_calls, layer_blocks, record
from lstm_props.horizon.result import LayerHorizon, layer_result
from lstm_props.horizon.two_track import measure_two_track

#: A chunk's rows (steps × sequences) by default: the statistics' passes over fewer are
#: dominated by their per-call overhead (64 steps at B = 32 cost 1.3 times 256 steps).
CHUNK_ROWS = 8192
#: Progress callback: (steps × sequences done, batches done).
Progress = Callable[[int, int], None]


@dataclass
class Horizon:
    """The measurement: one :class:`LayerHorizon` per layer, and how it was taken."""

    target: str
    dtype: str
    variant: str
    eps: float
    sequences: int
    steps: tuple[int, int]  # the shortest and longest sequence
    layers: list[LayerHorizon]
    seconds: dict[str, float] = field(default_factory=dict)


def _load(target: Any, dtype: str, device: str) -> Target:
    from lstm_props._harness.loading import _resolve, load_target, smoke_test

    if isinstance(target, str):
        return load_target(target, dtype, device)
    name = f"<{type(target).__name__} object>"
    resolved = _resolve(target, name, dtype, device)
    smoke_test(resolved)
    return resolved


def measure_horizon(
    target: Any,
    data: Any,
    *,
    layout: str = "batch-first",
    eps: float = 1e-3,
    dtype: str = "float32",
    device: str = "cpu",
    variant: str | None = None,
    max_span: int | None = None,
    two_track_span: int = 64,
    two_track_starts: int = 4,
    two_track_rows: int = 8,
    chunk: int | None = None,
    progress: Progress | None = None,
) -> Horizon:
    """Measure ``target``'s forget-gate timescales, carry survival, horizons, saturation,
    precision horizons and two-track share on ``data`` (lstm_props.horizon.data), with the
    model's own weights. ``target``: a TARGET string or the model itself (an nn.LSTM, a
    CellAdapter, ...). ``two_track_span = 0`` skips the two-track share. ``chunk``: steps
    per chunk (default: about CHUNK_ROWS sequences × steps, 64 to 512 steps)."""
    if not (10.0**-st.SURVIVAL_DECADES < eps < 1):
        raise DataError(
            f"--eps {eps!r}: the survival threshold must lie in (1e-{st.SURVIVAL_DECADES:g}, 1), "
            "e.g. 1e-3"
        )
    loaded = _load(target, dtype, device)
    name = loaded.name
    if loaded.sized:
        raise TargetError(
            f"target {name!r} is a factory taking sizes: it would draw fresh weights; name the "
            "trained model (module:attr holding it, or a function returning it)"
        )
    views = loaded.build()
    blocks = layer_blocks(views)
    layouts = [v.read_layout() for v in views.layers]
    params = [p for p in layouts if p is not None]
    if len(params) < len(layouts):
        raise TargetError(
            f"target {name!r} has no parameter layout (black-box): horizon reads the forget "
            "gates from the weights; declare the layout (docs/your-framework.md)"
        )
    chosen = variant or views.layers[0].variant or "standard"
    stack = views.stack
    working = torch.float64 if stack.backend.np_dtype is np.float64 else torch.float32
    recompute = [GateRecompute(p, chosen, working) for p in params]
    fused = None if any(g.needs_cell for g in recompute) else fused_calls(views)
    width = stack.spec.input_size
    stats: list[st.LayerStats] = []
    done = sequences = 0
    lengths: list[int] = []
    two_track = None
    spent = {"measure": 0.0, "two_track": 0.0}
    for batches, xs in enumerate(data_batches(data, layout, width)):
        began = time.perf_counter()
        steps, batch = xs.shape[:2]
        if steps < 2:
            raise DataError(
                f"--data batch {batches}: {steps} step per sequence; a horizon needs T ≥ 2 "
                f"(shape expected (N, T, {width}) {layout})"
            )
        keep: frozenset[int] = frozenset()
        if chunk is None:  # every pass over a chunk's gates then has work enough to split
            chunk = min(512, max(64, CHUNK_ROWS // batch))
        if not stats:  # the first batch fixes the span grid and is checked against the layout
            ((_, first, _),) = record(stack, blocks, xs[:8, :4], 8)  # 8 steps of 4 sequences
            for k, (p, ls) in enumerate(zip(params, first)):
                check_reproduced(p, ls, chosen, dtype, f"{name} layer {k}")
            longest = min(max_span or steps - 1, steps - 1)
            spans = st.span_grid(longest)
            stride = max(1, -(-int(spans.max()) // st.STARTS_PER_SPAN))
            stats = [st.LayerStats(v.spec.hidden_size, spans, stride) for v in views.layers]
            span2 = min(two_track_span, steps - 1)
            if span2 > 0:  # chunk starts, spread over the first batch
                last = (steps - 1 - span2) // chunk
                picks = np.unique(np.linspace(0, last, max(two_track_starts, 1)).astype(int))
                keep = frozenset(int(k) * chunk for k in picks)
        for s in stats:
            s.begin(batch)
        kept_states: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for t0, layer_steps, kept in record(stack, blocks, xs, chunk, keep, fused=fused):
            kept_states |= kept
            for k, ls in enumerate(layer_steps):
                stats[k].add(t0, recompute[k](ls))
            done += layer_steps[0].x.shape[0] * batch
            if progress:
                progress(done, batches)
        spent["measure"] += time.perf_counter() - began
        if kept_states:
            began = time.perf_counter()
            rows = slice(0, min(two_track_rows, batch))
            two_track = measure_two_track(
                stack,
                blocks,
                params,
                chosen,
                xs[:, rows],
                {s: (h[rows], c[rows]) for s, (h, c) in kept_states.items()},
                st.span_grid(span2, per_decade=5),
            )
            spent["two_track"] = time.perf_counter() - began
        lengths.append(steps)
        sequences += batch
    layers = []
    for k, s in enumerate(stats):
        result = layer_result(f"layer {k}", s, eps)
        result.two_track = None if two_track is None else two_track[k]
        layers.append(result)
    return Horizon(name, dtype, chosen, eps, sequences, (min(lengths), max(lengths)), layers, spent)
