"""Measure false alarms: every correct target × dtype × seed at the thorough profile.

    python benchmarks/false_alarms.py [--seeds 1-20] [--dtypes float32,float64]
                                      [--targets NAME,...] [--workers N] [--json PATH]
                                      [--log PATH [--resume]] [--summary]

Each (target, dtype, seed) is one pytest process running every property (200 examples per
property with the thorough profile) with ``--hypothesis-seed`` fixed, so any failure
reproduces exactly. A correct target must never fail: every failed or errored property
here is a false alarm, and the script exits 1 and prints its reproduce command.

The whole matrix (12 targets x 2 dtypes x 20 seeds) is hours of CPU, so it can be spread
over several sittings and machines: ``--log`` appends each finished run as a JSON line
stamped with the fingerprint of the code that decides verdicts (properties, strategies,
tolerances, carry machinery, reference cells, adapters, targets, profiles); ``--resume``
skips runs already logged with the current fingerprint; ``--summary`` tabulates the log for
the current fingerprint only, so a figure never mixes runs of different code.
"""

from __future__ import annotations

import argparse
import hashlib
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

ROOT = Path(__file__).resolve().parents[1]
BLACK_BOX = str(ROOT / "tests" / "targets" / "cells.py")
CORRECT = [*BUILTIN, f"{BLACK_BOX}:FusedIFOGCell"]
#: The files whose content decides whether a correct target passes (an adapter for another
#: framework is not among them: it cannot change a torch target's verdict).
VERDICT_FILES = ("properties/*.py", "lstm_props/carry.py", "lstm_props/strategies.py",
                 "lstm_props/tolerances.py", "lstm_props/_composed.py", "lstm_props/_layout.py",
                 "lstm_props/_under_test.py", "lstm_props/_report.py", "lstm_props/targets.py",
                 "lstm_props/plugin.py", "lstm_props/reference/*.py",
                 "lstm_props/adapters/__init__.py", "lstm_props/adapters/_protocol.py",
                 "lstm_props/adapters/_torch.py", "lstm_props/adapters/_checked.py",
                 "lstm_props/adapters/_black_box.py", "lstm_props/_loading.py",
                 "tests/targets/cells.py")


def fingerprint() -> str:
    """sha256 (12 hex digits) of the verdict-deciding files, in path order."""
    digest = hashlib.sha256()
    for pattern in VERDICT_FILES:
        for path in sorted(ROOT.glob(pattern)):
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _short(target: str) -> str:
    return target.replace(str(ROOT) + "/", "")


def summarise(log: Path, code: str) -> int:
    """Print the log's runs for fingerprint ``code``: target x dtype, seeds, alarms."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["fingerprint"] == code and r["summary"] is not None]
    table: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        table.setdefault((_short(r["target"]), r["dtype"]), []).append(r)
    print(f"code fingerprint {code}: {len(rows)} runs logged")
    print(f"{'target':50} {'dtype':8} {'seeds':>5} {'passed':>7} {'alarms':>6} {'wall s':>7}")
    for (target, dtype), runs in sorted(table.items()):
        seeds = len({r["seed"] for r in runs})
        passed = sum(r["summary"]["passed"] for r in runs)
        alarms = sum(len(r["alarms"]) for r in runs)
        wall = sum(r["seconds"] for r in runs)
        print(f"{target:50} {dtype:8} {seeds:>5} {passed:>7} {alarms:>6} {wall:>7.0f}")
    total_alarms = sum(len(r["alarms"]) for r in rows)
    full = sum(1 for runs in table.values() if len({r["seed"] for r in runs}) >= 20)
    print(f"{full} of {len(CORRECT) * 2} target x dtype pairs have >= 20 seeds; "
          f"{sum(r['summary']['passed'] for r in rows)} property runs passed, "
          f"{total_alarms} false alarms")
    return 1 if total_alarms else 0


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
    parser.add_argument("--log", metavar="PATH", type=Path,
                        help="append each finished run here as a JSON line")
    parser.add_argument("--resume", action="store_true",
                        help="skip runs the log already holds for the current code")
    parser.add_argument("--summary", action="store_true",
                        help="only tabulate the log for the current code")
    ns = parser.parse_args()
    code = fingerprint()
    if ns.summary:
        if ns.log is None or not ns.log.exists():
            parser.error("--summary needs --log PATH naming an existing log")
        return summarise(ns.log, code)
    jobs = [(t, d, s) for s in _seeds(ns.seeds) for t in ns.targets.split(",")
            for d in ns.dtypes.split(",")]
    if ns.resume and ns.log is not None and ns.log.exists():
        done = {(_short(r["target"]), r["dtype"], r["seed"])
                for r in map(json.loads, ns.log.read_text().splitlines())
                if r["fingerprint"] == code and r["summary"] is not None}
        jobs = [j for j in jobs if (_short(j[0]), j[1], j[2]) not in done]
        print(f"resuming: {len(done)} runs already logged for code {code}, {len(jobs)} to go",
              flush=True)

    def one(job: tuple[str, str, int]) -> dict:
        row = run_one(*job, ns.profile, ns.only)
        row |= {"target": _short(row["target"]), "fingerprint": code,
                "profile": ns.profile, "only": ns.only}
        if ns.log is not None and not ns.only and ns.profile == "thorough":
            with ns.log.open("a") as log:  # one short write per line: safe across threads
                log.write(json.dumps(row) + "\n")
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
