"""Measure false alarms: every correct target × dtype × seed at the thorough profile.

    python benchmarks/false_alarms.py [--seeds 1-20] [--dtypes float32,float64]
                                      [--targets NAME,...] [--workers N] [--json PATH]

Each (target, dtype, seed) is one pytest process running every property (200 examples per
property with the thorough profile) with ``--hypothesis-seed`` fixed, so any failure
reproduces exactly. A correct target must never fail: every failed or errored property
here is a false alarm, and the script exits 1 and prints its reproduce command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lstm_props._results import properties_dir
from lstm_props.targets import BUILTIN

BLACK_BOX = str(Path(__file__).resolve().parents[1] / "tests" / "targets" / "cells.py")
CORRECT = [*BUILTIN, f"{BLACK_BOX}:FusedIFOGCell"]


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def run_one(target: str, dtype: str, seed: int, profile: str, only: str = "") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", str(properties_dir()), "-q", "-p",
             "no:cacheprovider", "-p", "no:randomly", "--lstm-adapter", target,
             "--lstm-dtype", dtype, "--hypothesis-profile", profile,
             f"--hypothesis-seed={seed}", "--lstm-json", str(out),
             *(["-k", only] if only else [])],
            capture_output=True, text=True, cwd=tmp, env={**os.environ, "OMP_NUM_THREADS": "1"})
        seconds = time.perf_counter() - start
        try:
            doc = json.loads(out.read_text())
        except (OSError, ValueError):
            return {"target": target, "dtype": dtype, "seed": seed, "seconds": seconds,
                    "summary": None, "alarms": [{"property": "(run)", "message":
                                                 proc.stdout[-500:] + proc.stderr[-500:]}]}
    alarms = [{"property": r["property"], "message": r["message"],
               "reproduce": r.get("reproduce", "")}
              for r in doc["results"] if r["outcome"] in ("failed", "error")]
    return {"target": target, "dtype": dtype, "seed": seed, "seconds": seconds,
            "summary": doc["summary"], "alarms": alarms}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-20", help="a range, e.g. 1-20")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--targets", default=",".join(CORRECT))
    parser.add_argument("--profile", default="thorough")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="", metavar="EXPR",
                        help="a pytest -k expression: only these properties")
    parser.add_argument("--json", metavar="PATH")
    ns = parser.parse_args()
    jobs = [(t, d, s) for s in _seeds(ns.seeds) for t in ns.targets.split(",")
            for d in ns.dtypes.split(",")]

    def one(job: tuple[str, str, int]) -> dict:
        row = run_one(*job, ns.profile, ns.only)
        s = row["summary"] or {}
        print(f"{row['target']:58} {row['dtype']:8} seed {row['seed']:>3}: "
              f"{s.get('passed', 0):>3} passed {s.get('skipped', 0):>3} skipped "
              f"{len(row['alarms'])} alarms  {row['seconds']:7.1f}s", flush=True)
        for alarm in row["alarms"]:
            print(f"    FALSE ALARM {alarm['property']}: {alarm['message'][:300]}\n"
                  f"    reproduce: {alarm.get('reproduce', '')}", flush=True)
        return row

    with ThreadPoolExecutor(max_workers=ns.workers) as pool:
        rows = list(pool.map(one, jobs))
    runs = sum(r["summary"] is not None for r in rows)
    alarms = sum(len(r["alarms"]) for r in rows)
    examples = sum((r["summary"] or {}).get("passed", 0) for r in rows)
    print(f"\n{len(rows)} runs ({runs} completed), {examples} property runs passed, "
          f"{alarms} false alarms")
    if ns.json:
        Path(ns.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
