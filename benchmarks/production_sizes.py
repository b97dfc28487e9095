"""The default check on a user's own fixed-size model: wall time and peak memory.

    python benchmarks/production_sizes.py [--model cell|lstm2] [--hidden 1024,4096]
                                          [--threads 2] [--json PATH]

Each (model, H) runs ``lstm-props check FILE:attr`` (the ci profile, every property) in a
fresh child process on a generated file holding ``torch.nn.LSTMCell(H, H)`` ("cell") or
``torch.nn.LSTM(H, H, num_layers=2)`` ("lstm2"), a fixed-size instance as a trained model
is. It prints the exit code, wall seconds and the child's peak RSS (getrusage ru_maxrss of
the children). Targets of the issue: H = 1024 within 60 s and 2 GB on 2 cores; H = 4096
within 8 GB. A measurement, not a test: absolute seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {
    "cell": "torch.nn.LSTMCell({h}, {h})",
    "lstm2": "torch.nn.LSTM({h}, {h}, num_layers=2)",
}


def run_one(model: str, hidden: int, threads: str, extra: list[str]) -> dict:
    """One check in a fresh process; its own peak RSS (a fresh process per size, since
    ru_maxrss of RUSAGE_CHILDREN is the largest child so far, in KB on Linux)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model}_{hidden}.py"
        path.write_text(f"import torch\n\nmodel = {MODELS[model].format(h=hidden)}\n")
        probe = (
            "import resource, subprocess, sys, time\n"
            "t0 = time.perf_counter()\n"
            "rc = subprocess.run(sys.argv[1:]).returncode\n"
            "wall = time.perf_counter() - t0\n"
            "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(f'@@ {rc} {wall:.2f} {kb}', file=sys.stderr)\n"
        )
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        cmd = [
            sys.executable,
            "-c",
            probe,
            sys.executable,
            "-m",
            "lstm_props",
            "check",
            f"{path}:model",
            *extra,
        ]
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
        line = [x for x in done.stderr.splitlines() if x.startswith("@@ ")]
        if not line:
            return {"model": model, "hidden": hidden, "error": done.stderr[-2000:]}
        rc, wall, kb = line[-1].split()[1:]
        summary = [x for x in done.stdout.splitlines() if " in " in x and "passed" in x]
        return {
            "model": model,
            "hidden": hidden,
            "exit": int(rc),
            "wall_s": float(wall),
            "peak_rss_mb": int(kb) / 1024,
            "outer_s": time.perf_counter() - started,
            "summary": summary[-1].strip("= ") if summary else "",
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", choices=sorted(MODELS))
    parser.add_argument("--hidden", default="1024", help="comma-separated hidden sizes")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument(
        "extra",
        nargs="*",
        help="more `lstm-props check` arguments (after --), e.g. -- --max-examples 5",
    )
    ns = parser.parse_args()
    rows = []
    print(f"{'model':6} {'H':>5} {'exit':>4} {'wall s':>8} {'peak RSS MB':>12}  summary")
    for model in ns.model or ["cell", "lstm2"]:
        for hidden in (int(h) for h in ns.hidden.split(",")):
            row = run_one(model, hidden, ns.threads, ns.extra)
            rows.append(row)
            if "error" in row:
                print(f"{model:6} {hidden:>5} failed to run: {row['error'][-300:]}")
                continue
            print(
                f"{model:6} {hidden:>5} {row['exit']:>4} {row['wall_s']:>8.1f} "
                f"{row['peak_rss_mb']:>12.0f}  {row['summary']}",
                flush=True,
            )
    if ns.json:
        Path(ns.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
