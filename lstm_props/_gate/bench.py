"""``lstm-props bench``: what verifying the carry product costs, against one forward pass.

Everything is measured in one process on one torch.nn.LSTMCell, so the ratio is free of
machine-to-machine noise: the plain no-grad loop over the sequence (the forward a user
writes, inputs already in memory), the chunked verification
of ∂c_T/∂c_0 |carry (:mod:`lstm_props.maths.chunked_carry`), and the naive ways: the dense
Jacobian of c_T with respect to c_0 by autograd, one backward per row (what
``torch.autograd.functional.jacobian`` does), over the free-running graph (every backward step
crosses W_hh) and over the teacher-forced one (elementwise backward steps, still one backward
per row and the whole T-step graph in memory).
"""

from __future__ import annotations

import json
import platform
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch

from lstm_props._gate.steps import ScaleCase, check_view, seeded_inputs
from lstm_props.adapters._torch_cell import TorchCellAdapter
from lstm_props.adapters._torch_target import torch_views


@dataclass
class BenchResult:
    """One run's figures; seconds are wall time, memory in MiB."""

    hidden: int
    steps: int
    batch: int
    dtype: str
    device: str
    device_name: str
    threads: int
    torch_version: str
    forward_s: float
    verify_s: float
    ratio: float
    verdict: str
    peak_rss_mib: float
    peak_device_mib: float | None
    naive_s: float | None
    naive_how: str
    naive_teacher_forced_s: float | None
    naive_teacher_forced_how: str
    #: forward and verification each ran this many times, interleaved; the medians above
    repeats: int = 1

    def _naive(self, seconds: float | None, how: str) -> str:
        return (
            "not run"
            if seconds is None
            else f"{seconds:9.3f} s   ratio {seconds / self.forward_s:.0f}x forward   ({how})"
        )

    def lines(self) -> list[str]:
        memory = f"peak RSS {self.peak_rss_mib:.0f} MiB" + (
            "" if self.peak_device_mib is None else f", peak device {self.peak_device_mib:.0f} MiB"
        )
        return [
            f"torch.nn.LSTMCell H={self.hidden} T={self.steps} B={self.batch} {self.dtype} on "
            f"{self.device_name}, {self.threads} threads, torch {self.torch_version}",
            f"  forward (no-grad loop) {self.forward_s:9.3f} s"
            + (f"   (median of {self.repeats}, interleaved)" if self.repeats > 1 else ""),
            f"  carry verification     {self.verify_s:9.3f} s   ratio {self.ratio:.2f}x forward"
            f"   ({self.verdict})",
            f"  naive dense Jacobian   {self._naive(self.naive_s, self.naive_how)}",
            f"  naive, teacher-forced  "
            f"{self._naive(self.naive_teacher_forced_s, self.naive_teacher_forced_how)}",
            f"  memory                 {memory} (verification; the naive run comes after)",
        ]


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class _Placement(TypedDict):
    """Where the benchmark's tensors live: torch's device and dtype keywords."""

    device: str
    dtype: torch.dtype


def _forward(module: Any, inputs: Any, case: ScaleCase, h: Any, c: Any, dev: _Placement) -> float:
    """The unit of cost: the loop a user writes over inputs already in memory,
    ``with torch.no_grad(): for x in xs: h, c = cell(x, (h, c))``. Inputs are made a chunk
    at a time outside the clock (so no T-long array is held) and only the loop is timed."""
    seconds = 0.0
    with torch.no_grad():
        for first in range(0, case.steps, case.chunk):
            xs = torch.as_tensor(inputs(first, min(first + case.chunk, case.steps)), **dev)
            _sync(dev["device"])
            start = time.perf_counter()
            for x in xs:
                h, c = module(x, (h, c))
            _sync(dev["device"])
            seconds += time.perf_counter() - start
    return seconds


def _naive(
    module: Any,
    inputs: Any,
    case: ScaleCase,
    h0: Any,
    c0: Any,
    dev: _Placement,
    budget_s: float,
    teacher_forced: bool,
) -> tuple[float, str]:
    """Dense ∂c_T/∂c_0 by one backward per row, as autograd.functional.jacobian does; past
    ``budget_s`` the remaining rows are extrapolated from the measured ones, and said so."""
    start = time.perf_counter()
    c_start = c0.clone().requires_grad_(True)
    h, c = h0, c_start
    xs = torch.as_tensor(inputs(0, case.steps), **dev)
    for x in xs:
        h, c = module(x, (h.detach() if teacher_forced else h, c))
    rows, done = c.numel(), 0
    flat = c.reshape(-1)
    for k in range(rows):
        torch.autograd.grad(flat[k], c_start, retain_graph=True)
        done += 1
        if time.perf_counter() - start > budget_s:
            break
    _sync(dev["device"])
    seconds = time.perf_counter() - start
    if done == rows:
        return seconds, f"measured, {rows} rows"
    return seconds * rows / done, f"extrapolated from {done} of {rows} rows"


def bench(
    case: ScaleCase,
    device: str = "cpu",
    dtype: str = "float32",
    threads: int = 2,
    naive_budget_s: float = 120.0,
    run_naive: bool = True,
    repeats: int = 1,
) -> BenchResult:
    """The figures of one run; with ``repeats`` > 1 the forward and the verification run
    that many times each, interleaved (a busy spell of a shared machine hits both alike),
    and their medians are reported: on a shared VM one forward alone varied by ±20 %."""
    torch.set_num_threads(threads)
    torch.manual_seed(case.seed)
    hidden = case.hidden or 1024
    module: torch.nn.Module = torch.nn.LSTMCell(hidden, hidden)
    (view,) = torch_views(module, "torch.nn:LSTMCell", dtype, device).layers
    if not isinstance(view, TorchCellAdapter):  # what torch_views makes of an nn.LSTMCell
        raise TypeError(
            f"torch_views wrapped nn.LSTMCell as a {type(view).__name__}, not a TorchCellAdapter"
        )
    module = view.module
    dev: _Placement = {"device": device, "dtype": view.backend.torch_dtype}
    inputs = seeded_inputs(view, case.batch, case.seed)
    h0 = torch.zeros(case.batch, hidden, **dev)
    c0 = torch.zeros(case.batch, hidden, **dev)
    # Warm-up, both sides alike: first-call allocations, kernel selection, and the autograd
    # engine's start (about 0.4 s on a first backward), none of which is per-sequence cost.
    warm = ScaleCase(steps=min(case.steps, 16), batch=case.batch, chunk=8)
    _forward(module, inputs, warm, h0, c0, dev)
    check_view(view, "torch.nn:LSTMCell", "standard", warm)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    forwards, verifications = [], []
    for _ in range(repeats):
        forwards.append(_forward(module, inputs, case, h0, c0, dev))
        start = time.perf_counter()
        result = check_view(view, "torch.nn:LSTMCell", "standard", case)
        _sync(device)
        verifications.append(time.perf_counter() - start)
    forward_s, verify_s = statistics.median(forwards), statistics.median(verifications)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    peak_dev = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    naive: list[tuple[float | None, str]] = [(None, "not run")] * 2
    if run_naive:
        naive = [
            _naive(module, inputs, case, h0, c0, dev, naive_budget_s, forced)
            for forced in (False, True)
        ]
    verdict = "PASSED" if result.passed else "FAILED: " + "; ".join(result.failures[:2])
    return BenchResult(
        hidden,
        case.steps,
        case.batch,
        dtype,
        device,
        _device_name(device),
        threads,
        torch.__version__,
        forward_s,
        verify_s,
        verify_s / forward_s,
        verdict,
        peak_rss,
        peak_dev,
        *naive[0],
        *naive[1],
        repeats,
    )


def run_bench(
    case: ScaleCase,
    device: str,
    dtype: str,
    threads: int,
    naive_budget_s: float,
    run_naive: bool,
    json_path: str | None,
    repeats: int = 1,
) -> int:
    result = bench(case, device, dtype, threads, naive_budget_s, run_naive, repeats)
    print("\n".join(result.lines()))
    if json_path:
        record = {
            "schema": "lstm_props.bench/1",
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            **asdict(result),
        }
        Path(json_path).write_text(json.dumps(record, indent=2) + "\n")
    return 0 if result.verdict == "PASSED" else 1
