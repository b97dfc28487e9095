"""What ``lstm-props horizon`` costs against one no-grad forward pass over the same data.

    python benchmarks/horizon_cost.py [--hidden 256] [--input 64] [--batch 32] [--steps 2000]
                                      [--layers 1,2] [--threads 2] [--repeats 3] [--json PATH]

For each model (a seeded ``nn.LSTM(D, H, num_layers=L)``, float32, on the CPU) it times, in
one run and interleaved, ``with torch.no_grad(): model(x)`` (the forward a user runs) and
``measure_horizon(model, x, two_track_span=0)`` (everything but the two-track share, which
costs a backward per span and is reported separately), median of ``--repeats`` each, and
prints the ratio; then the two-track share's own time at its default span (64). Peak memory:
the tracemalloc peak of NumPy's allocations in one measurement at T and at 4T (memory must
not grow with T). The issue's target: at most 2× the forward. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc

import numpy as np
import torch

from lstm_props.horizon import measure_horizon


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _numpy_peak(fn) -> int:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def run(hidden: int, width: int, batch: int, steps: int, layers: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = torch.nn.LSTM(width, hidden, num_layers=layers).eval()
    data = np.random.default_rng(0).standard_normal((batch, steps, width)).astype(np.float32)
    x = torch.from_numpy(data.transpose(1, 0, 2).copy())

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def horizon() -> None:
        measure_horizon(model, data, two_track_span=0)

    forward()
    horizon()  # warm both (imports, allocator, the adapter's first build)
    fw, hz = [], []
    for _ in range(repeats):  # interleaved: a busy spell hits both alike
        fw.append(_median_seconds(forward, 1))
        hz.append(_median_seconds(horizon, 1))
    two = measure_horizon(model, data[: min(batch, 8)], two_track_span=64).seconds["two_track"]
    short = data[:, : steps // 4]
    return {
        "hidden": hidden,
        "input": width,
        "batch": batch,
        "steps": steps,
        "layers": layers,
        "forward_s": statistics.median(fw),
        "horizon_s": statistics.median(hz),
        "ratio": statistics.median(hz) / statistics.median(fw),
        "two_track_s": two,
        "numpy_peak_bytes": {
            "T/4": _numpy_peak(lambda: measure_horizon(model, short, two_track_span=0)),
            "T": _numpy_peak(horizon),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--layers", default="1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    ns = ap.parse_args()
    torch.set_num_threads(ns.threads)
    rows = []
    for layers in (int(v) for v in ns.layers.split(",")):
        row = run(ns.hidden, ns.input, ns.batch, ns.steps, layers, ns.repeats)
        rows.append(row)
        peak = row["numpy_peak_bytes"]
        print(
            f"L={layers} H={ns.hidden} D={ns.input} B={ns.batch} T={ns.steps}: forward "
            f"{row['forward_s']:.3f} s, horizon {row['horizon_s']:.3f} s, ratio "
            f"{row['ratio']:.2f}x; two-track share (8 rows, Δ ≤ 64) {row['two_track_s']:.2f} s; "
            f"NumPy peak {peak['T/4'] / 2**20:.1f} MiB at T/4, {peak['T'] / 2**20:.1f} MiB at T",
            flush=True,
        )
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump({"threads": ns.threads, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
