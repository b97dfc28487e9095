"""Wall time of ``lstm-props check TARGET`` with 1 and with N workers, measured in one run.

    python benchmarks/check_workers.py [--target T] [--profile P] [--workers N] [--repeat R]

Runs are interleaved (1, N, 1, N, ...) after one discarded warm-up of each, so a noisy
neighbour or a cold file cache hits both sides alike; the figure is the ratio of medians.
Start-up is part of what a user waits for, so it is measured, not subtracted.

PYTHONDONTWRITEBYTECODE matters here and is printed: with it set, no process can cache
pytest's assertion-rewritten modules, so every process (and xdist starts N + 1) rewrites
them again, about 1 s each on a 2-core VM.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time


def wall(target: str, profile: str, workers: int) -> float:
    command = [
        sys.executable,
        "-m",
        "lstm_props",
        "check",
        target,
        "--profile",
        profile,
        "--workers",
        str(workers),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-2000:]}"
            f"{done.stderr[-2000:]}"
        )
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="torch.nn:LSTMCell")
    parser.add_argument(
        "--profile",
        default="ci",
        help="Hypothesis profile (default: ci, the default of `lstm-props check`)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    ns = parser.parse_args()
    sides = (1, ns.workers)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; PYTHONDONTWRITEBYTECODE="
        f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}"
    )
    print(
        f"lstm-props check {ns.target} --profile {ns.profile}: {ns.repeat} interleaved "
        "runs per side after one warm-up each"
    )
    for workers in sides:
        wall(ns.target, ns.profile, workers)
    times: dict[int, list[float]] = {w: [] for w in sides}
    for _ in range(ns.repeat):
        for workers in sides:
            times[workers].append(wall(ns.target, ns.profile, workers))
    for workers in sides:
        runs = ", ".join(f"{t:.2f}" for t in times[workers])
        print(
            f"  --workers {workers}: median {statistics.median(times[workers]):6.2f} s "
            f"(runs: {runs})"
        )
    ratio = statistics.median(times[ns.workers]) / statistics.median(times[1])
    print(f"  ratio --workers {ns.workers} / --workers 1: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
