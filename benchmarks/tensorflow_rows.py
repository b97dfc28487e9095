"""Wall time of a whole-suite run on a TensorFlow target, per way of taking K cotangent rows.

    python benchmarks/tensorflow_rows.py [--target T] [--dtype D] [--profile P]
                                         [--modes auto,pfor,loop]

Needs TensorFlow (``pip install "lstm-props[tensorflow]"``). Each mode is one pytest
process running every property on the target (default: Keras 3's LSTMCell on its TensorFlow
backend), the modes in turn in one sitting, so a noisy neighbour hits them alike:

* ``auto``: TensorFlowBackend as shipped (one forward kept on a persistent tape, one
  backward per row; from ``many_rows`` rows on, one ``tape.jacobian`` (pfor) for all);
* ``pfor``: every multi-row call through ``tape.jacobian`` (``many_rows = 2``);
* ``loop``: the Backend default, one forward and one backward per row
  (``batch_rows = False``): the naive loop.

It prints each mode's wall time, its time inside ``vjp_rows`` and the number of calls and
rows, and the ratios to ``loop``; the outcomes must agree (the rows are the same numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
import pytest
from lstm_props.adapters import tensorflow as T

mode, args = sys.argv[1], sys.argv[2:]
if mode == "pfor":
    T.TensorFlowBackend.many_rows = 2
elif mode == "loop":
    T.TensorFlowBackend.batch_rows = False
spent = {"seconds": 0.0, "calls": 0, "rows": 0}
inner = T.TensorFlowBackend.vjp_rows

def timed(self, fn, primals, rows):
    start = time.perf_counter()
    try:
        return inner(self, fn, primals, rows)
    finally:
        spent["seconds"] += time.perf_counter() - start
        spent["calls"] += 1
        spent["rows"] += len(rows[0])

T.TensorFlowBackend.vjp_rows = timed
start = time.perf_counter()
code = pytest.main(args)
spent["wall"] = time.perf_counter() - start
spent["exit"] = int(code)
print("RESULT " + json.dumps(spent))
"""


def run(mode: str, target: str, dtype: str, profile: str) -> dict[str, float]:
    from lstm_props._gate.suite_run import suite_args

    with tempfile.TemporaryDirectory() as tmp:
        args = suite_args(target, str(Path(tmp) / "run.json"), profile=profile, dtype=dtype)
        return _child(mode, args)


def _child(mode: str, args: list[str]) -> dict[str, float]:
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, *args], capture_output=True, text=True, env=env
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"{mode}: no result\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(line[len("RESULT ") :])
    result["summary"] = done.stdout.strip().splitlines()[-2]  # type: ignore[assignment]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="lstm_props.adapters.keras:lstm_cell_tensorflow")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--modes", default="auto,pfor,loop")
    opts = parser.parse_args()
    print(f"{opts.target} --lstm-dtype {opts.dtype} --lstm-profile {opts.profile}")
    print(f"{platform.node()}: {os.cpu_count()} CPUs, python {platform.python_version()}")
    results = {}
    for mode in opts.modes.split(","):
        r = results[mode] = run(mode, opts.target, opts.dtype, opts.profile)
        print(
            f"{mode:>5}: wall {r['wall']:7.1f} s, in vjp_rows {r['seconds']:6.1f} s "
            f"({r['calls']} calls, {r['rows']} rows), exit {r['exit']}: {r['summary']}",
            flush=True,
        )
    if "loop" in results:
        base = results["loop"]
        for mode, r in results.items():
            print(
                f"{mode:>5} / loop: wall {r['wall'] / base['wall']:.2f}, "
                f"vjp_rows {r['seconds'] / base['seconds']:.2f}"
            )
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


if __name__ == "__main__":
    main()
