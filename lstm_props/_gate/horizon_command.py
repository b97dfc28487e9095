"""``lstm-props horizon TARGET --data DATA``: a trained model's memory horizon on real data.

Not a verdict: a measurement (lstm_props.horizon). Exit codes: 0 measured (and written);
2 a usage error, a target or data that cannot be used (one line naming what to fix).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lstm_props._gate.options import DEVICES, DTYPES, output_path_problem
from lstm_props._gate.usage import usage_error
from lstm_props.maths.layout import VARIANTS


def add_parser(sub: argparse._SubParsersAction, positive: Callable[[str], int]) -> None:
    p = sub.add_parser(
        "horizon",
        help="measure a trained LSTM's forget-gate timescales and memory horizon on your data",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("target", help="the trained model: package.module:attr or file.py:attr")
    p.add_argument(
        "--data",
        required=True,
        help="a .npy or .pt array of input sequences, or module:attr (an array, or a "
        "function yielding batches)",
    )
    p.add_argument("--layout", choices=("batch-first", "time-first"), default="batch-first")
    p.add_argument("--eps", type=float, default=1e-3, help="survival threshold of the horizon")
    p.add_argument(
        "--beyond",
        type=positive,
        default=100,
        metavar="N",
        help="the verdict line's span: the share of units keeping gradient beyond N steps",
    )
    p.add_argument("--json", metavar="PATH", help="write the measurement as JSON")
    p.add_argument("--report", metavar="PATH", help="write a self-contained HTML report")
    p.add_argument("--dtype", choices=DTYPES, default="float32")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.add_argument("--variant", choices=VARIANTS)
    p.add_argument("--max-span", type=positive, metavar="Δ", help="longest span measured")
    p.add_argument(
        "--two-track-span",
        type=int,
        default=64,
        metavar="Δ",
        help="longest span of the two-track share (0: skip it; it costs a backward per span)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _progress(quiet: bool):
    if quiet:
        return None
    last = [time.monotonic()]

    def show(done: int, batches: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 2.0:
            last[0] = now
            print(
                f"lstm-props horizon: {done} steps × sequences measured ({batches} batches done)",
                file=sys.stderr,
                flush=True,
            )

    return show


def run(ns: argparse.Namespace) -> int:
    from lstm_props._errors import LSTMPropsError
    from lstm_props.horizon.measure import measure_horizon
    from lstm_props.horizon.output import document, summary

    for flag in ("json", "report"):
        path = getattr(ns, flag)
        problem = path and output_path_problem(path)
        if problem:
            return usage_error(f"--{flag} {path!r}: {problem}")
    if ns.two_track_span < 0:
        return usage_error(f"--two-track-span {ns.two_track_span}: give 0 (skip) or a span ≥ 1")
    try:
        result = measure_horizon(
            ns.target,
            ns.data,
            layout=ns.layout,
            eps=ns.eps,
            dtype=ns.dtype,
            device=ns.device,
            variant=ns.variant,
            max_span=ns.max_span,
            two_track_span=ns.two_track_span,
            progress=_progress(ns.quiet),
        )
    except LSTMPropsError as exc:
        return usage_error(str(exc))
    print(summary(result, ns.beyond))
    try:
        if ns.json:
            Path(ns.json).write_text(json.dumps(document(result, ns.beyond), indent=1) + "\n")
        if ns.report:
            from lstm_props.horizon.report import write_report

            write_report(result, Path(ns.report), ns.beyond)
    except OSError as exc:
        return usage_error(f"writing the result failed: {exc}")
    return 0
