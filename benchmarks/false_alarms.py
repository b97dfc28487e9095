"""Measure false alarms: every correct target × dtype × seed at the thorough profile.

    python benchmarks/false_alarms.py [--seeds 1-5] [--dtypes float32,float64]
                                      [--targets NAME,...] [--workers N] [--json PATH]
                                      [--log PATH [--resume]] [--shard K/N]
    python benchmarks/false_alarms.py --summary --log PATH [PATH ...]

Each (target, dtype, seed) is one pytest process running the properties (200 examples per
property with the thorough profile) with ``--lstm-seed`` fixed, so any failure
reproduces exactly. A correct target must never fail: every failed or errored property
here is a false alarm, and the script exits 1 and prints its reproduce command.

The whole matrix (28 targets x 2 dtypes x 20 seeds) is hours of CPU, so it is spread over
several sittings: ``--log`` appends each finished run as a JSON line, and every property's
outcome in it is stamped with the fingerprint of *that property's* code: its own module
plus the machinery every property shares (strategies, tolerances, carry machinery,
reference cells, the adapters the correct targets use, targets, plugin). A change to one
property module therefore restarts that property's count only. ``--resume`` runs, for each
(target, dtype, seed), only the property modules whose current code has no logged outcome
for it; ``--summary`` counts, per target × dtype × property, the seeds run on its current
code, so a figure never mixes two versions of a property.

Past one machine, a CI matrix runs it (.github/workflows/nightly-false-alarms.yml):
``--shard K/N`` runs the K-th of N shares of the job list (job_list), each shard with a
log of its own; ``--summary`` reads any number of logs, so the shards' logs merge by being
named together (every line is one self-contained run; a line read twice counts once).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lstm_props._gate.outcome import ALARMS, Outcome
from lstm_props._gate.shard import WHOLE, Shard, parse_shard
from lstm_props._gate.suite_run import run_suite
from lstm_props.targets import TARGETS

ROOT = Path(__file__).resolve().parents[1]
#: Every correct torch target of the registry (lstm_props.targets.TARGETS): the built-ins,
#: a black-box cell in another layout and a float32-only cell (tests/targets). Other
#: frameworks' adapters are not swept (their code is not among SHARED_FILES), nor a target
#: with a known finding (the fastrnns TorchScript cell: its faults are torch's, pinned by
#: tests/test_correct_targets.py, not false alarms).
CORRECT = [t.located(ROOT) for t in TARGETS if t.package == "torch" and not t.findings]
#: The files every property's verdict depends on: the maths, the harness, the plugin and
#: what it reads a run with, the torch adapters and the targets (an adapter for another
#: framework, the report and the gate's other commands cannot change a torch target's
#: verdict). Each property module adds itself.
SHARED_FILES = (
    "lstm_props/_errors.py",
    "lstm_props/maths/**/*.py",
    "lstm_props/_harness/*.py",
    "lstm_props/_gate/plugin.py",
    "lstm_props/_gate/options.py",
    "lstm_props/_gate/workers.py",
    "lstm_props/_gate/run_outputs.py",
    "lstm_props/_gate/faults.py",
    "lstm_props/_gate/outcome.py",
    "lstm_props/_gate/results.py",
    "lstm_props/_gate/watchdog.py",
    "lstm_props/targets.py",
    "lstm_props/adapters/__init__.py",
    "lstm_props/adapters/_protocol.py",
    "lstm_props/adapters/_torch*.py",
    "lstm_props/adapters/_black_box.py",
    "tests/targets/cells.py",
    "tests/targets/torch_configs.py",
)
PROPERTIES = ROOT / "properties"


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _shared_paths() -> list[Path]:
    return [path for pattern in SHARED_FILES for path in sorted(ROOT.glob(pattern))]


def fingerprints() -> dict[str, str]:
    """property module stem -> sha256 (12 hex digits) of the shared files and the module."""
    shared = _shared_paths()
    return {path.stem: _digest([*shared, path]) for path in sorted(PROPERTIES.glob("test_*.py"))}


def fingerprint() -> str:
    """One fingerprint of all verdict-deciding code (what the whole-run rows carry)."""
    return _digest([*_shared_paths(), *sorted(PROPERTIES.glob("test_*.py"))])


def property_modules() -> dict[str, str]:
    """property (test function name, no "test_") -> its module's stem."""
    found = {}
    for path in sorted(PROPERTIES.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found[node.name.removeprefix("test_")] = path.stem
    return found


def _short(target: str) -> str:
    return target.replace(str(ROOT) + "/", "")


def _current(row: dict, prints: dict[str, str], owner: dict[str, str]) -> dict[str, str]:
    """The row's property outcomes whose module fingerprint is the current one
    (``owner``: property -> module stem, from property_modules())."""
    stamped = row.get("modules", {})
    return {
        prop: outcome
        for prop, outcome in row.get("outcomes", {}).items()
        if owner.get(prop) is not None and stamped.get(owner[prop]) == prints[owner[prop]]
    }


def summarise(logs: Sequence[Path], min_seeds: int = 5) -> int:
    """Per target × dtype × property: the seeds run on that property's current code, over
    every line of every log (the shards' logs of one sweep, or sittings' logs)."""
    prints, owner = fingerprints(), property_modules()
    seeds: dict[tuple[str, str, str], set[int]] = {}
    # a dict as an ordered set: a run logged twice (a log named twice, a shard's log
    # copied into the main one) is one alarm, as it is one seed
    alarms: dict[tuple[str, str, int, str], None] = {}
    for r in _rows(logs):
        for prop, outcome in _current(r, prints, owner).items():
            if outcome == Outcome.SKIPPED:
                continue
            seeds.setdefault((_short(r["target"]), r["dtype"], prop), set()).add(r["seed"])
            if outcome in ALARMS:
                alarms[(_short(r["target"]), r["dtype"], r["seed"], prop)] = None
    pairs: dict[tuple[str, str], list[int]] = {}
    for (target, dtype, _), got in seeds.items():
        pairs.setdefault((target, dtype), []).append(len(got))
    print(f"{'target':50} {'dtype':8} {'props':>5} {'min seeds':>9} {'max seeds':>9}")
    for (target, dtype), counts in sorted(pairs.items()):
        print(f"{target:50} {dtype:8} {len(counts):>5} {min(counts):>9} {max(counts):>9}")
    property_runs = sum(len(v) for v in seeds.values())
    full = sum(1 for counts in pairs.values() if min(counts) >= min_seeds)
    print(
        f"{full} of {len(CORRECT) * 2} target x dtype pairs have >= {min_seeds} seeds on every "
        f"property's current code; {property_runs} property runs (200 examples each), "
        f"{len(alarms)} false alarms"
    )
    for target, dtype, seed, prop in alarms:
        print(f"    FALSE ALARM {target} {dtype} seed {seed}: {prop}")
    return 1 if alarms else 0


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def job_list(
    seeds: Sequence[int], targets: Sequence[str], dtypes: Sequence[str], shard: Shard = WHOLE
) -> list[tuple[str, str, int]]:
    """The (target, dtype, seed) runs of ``shard``, in run order: seed by seed, so a sitting
    that stops early has whole seeds done.

    The jobs are dealt to the shards round-robin in *target-major* order (target, dtype,
    seed), so each target × dtype's seeds spread over all shards and the slow two-layer
    stacks are shared out. Dealt in run order instead, every shard would get the same
    target × dtype pairs every seed whenever N divides the pairs per seed (56 pairs, 8
    shards): one runner would take the two-layer bidirectional stack's every seed."""
    pairs = [(t, d) for t in targets for d in dtypes]
    return [
        (t, d, s)
        for k, s in enumerate(seeds)
        for p, (t, d) in enumerate(pairs)
        if shard.owns(p * len(seeds) + k)
    ]


def run_one(
    target: str,
    dtype: str,
    seed: int,
    profile: str,
    only: str = "",
    modules: list[str] | None = None,
) -> dict:
    """One pytest process: ``modules`` (property module stems) or every property."""
    run = run_suite(
        target, dtype=dtype, profile=profile, seed=seed, only=only or None, modules=modules
    )
    if run.broken:
        return {
            "target": target,
            "dtype": dtype,
            "seed": seed,
            "seconds": run.seconds,
            "summary": None,
            "outcomes": {},
            "alarms": [{"property": "(run)", "message": run.tail or run.broken}],
        }
    alarms = [
        {"property": r["property"], "message": r["message"], "reproduce": r.get("reproduce", "")}
        for r in run.results
        if r["outcome"] in ALARMS
    ]
    # layers folded: a property's worst outcome over its views; skipped only if every view
    # was (lstm_props._gate.outcome)
    outcomes = {p: o.value for p, o in run.outcomes.items()}
    return {
        "target": target,
        "dtype": dtype,
        "seed": seed,
        "seconds": run.seconds,
        "summary": run.summary,
        "outcomes": outcomes,
        "alarms": alarms,
    }


def _rows(logs: Sequence[Path]) -> list[dict]:
    return [
        json.loads(line) for log in logs for line in log.read_text().splitlines() if line.strip()
    ]


def _fresh_modules(log: Path, prints: dict[str, str]) -> dict[tuple[str, str, int], set[str]]:
    """(target, dtype, seed) -> the property modules with an outcome logged on their current
    code (a crashed run measured nothing and counts for none)."""
    fresh: dict[tuple[str, str, int], set[str]] = {}
    for r in _rows([log]):
        if r.get("summary") is None:
            continue
        fresh.setdefault((_short(r["target"]), r["dtype"], r["seed"]), set()).update(
            m for m, fp in r.get("modules", {}).items() if prints.get(m) == fp
        )
    return fresh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-5", help="a range, e.g. 1-20")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--targets", default=",".join(CORRECT))
    parser.add_argument("--profile", default="thorough")
    parser.add_argument(
        "--min-seeds", type=int, default=5, help="--summary: seeds a pair needs to count as swept"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--only", default="", metavar="EXPR", help="a pytest -k expression: only these properties"
    )
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument(
        "--log",
        metavar="PATH",
        type=Path,
        nargs="+",
        action="extend",
        help="a run appends each finished run to this one log as a JSON line; --summary "
        "reads every log given (--log a.jsonl b.jsonl, --log logs/*.jsonl or --log repeated): "
        "the shards' logs of one sweep merge so",
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip runs the log already holds for the current code"
    )
    parser.add_argument(
        "--shard",
        type=parse_shard,
        metavar="K/N",
        help="run only the K-th of N shares of the jobs, e.g. 2/8, each shard with its own "
        "--log (with --resume, the shard resumes from its own log); the jobs are dealt "
        "round-robin per target x dtype over the seeds, so the slow two-layer stacks are "
        "spread over the shards",
    )
    parser.add_argument(
        "--summary", action="store_true", help="only tabulate the logs for the current code"
    )
    ns = parser.parse_args()
    prints, code = fingerprints(), fingerprint()
    logs: list[Path] = ns.log or []
    if ns.summary:
        if ns.shard is not None:
            parser.error("--shard splits a run; --summary reads whole logs: name every log")
        if not logs:
            parser.error("--summary needs --log PATH [PATH ...] naming the logs to count")
        missing = [log for log in logs if not log.is_file()]
        if missing:
            parser.error(f"--summary: no log at {str(missing[0])!r}")
        return summarise(logs, ns.min_seeds)
    if len(logs) > 1:
        parser.error("--log: a run appends to one log; several are for --summary")
    log_path = logs[0] if logs else None
    shard = ns.shard or WHOLE
    mine = job_list(_seeds(ns.seeds), ns.targets.split(","), ns.dtypes.split(","), shard)
    jobs: list[tuple[str, str, int, list[str] | None]] = [(t, d, s, None) for t, d, s in mine]
    if ns.shard is not None:
        print(f"shard {shard}: {len(jobs)} runs", flush=True)
    if ns.resume and log_path is not None and log_path.exists():
        fresh = _fresh_modules(log_path, prints)
        jobs = [
            (t, d, s, [m for m in prints if m not in fresh.get((_short(t), d, s), set())])
            for t, d, s, _ in jobs
        ]
        jobs = [j for j in jobs if j[3]]
        print(f"resuming: {len(jobs)} runs to go for the current code", flush=True)

    def one(job: tuple[str, str, int, list[str] | None]) -> dict:
        modules = job[3] if job[3] and len(job[3]) < len(prints) else None
        row = run_one(*job[:3], ns.profile, ns.only, modules)
        ran = modules or list(prints)
        row |= {
            "target": _short(row["target"]),
            "fingerprint": code,
            "modules": {m: prints[m] for m in ran},
            "profile": ns.profile,
            "only": ns.only,
        }
        if log_path is not None and not ns.only and ns.profile == "thorough":
            with log_path.open("a") as log:  # one short write per line: safe across threads
                log.write(json.dumps(row) + "\n")
        s = row["summary"] or {}
        print(
            f"{row['target']:58} {row['dtype']:8} seed {row['seed']:>3}: "
            f"{s.get('passed', 0):>3} passed {s.get('skipped', 0):>3} skipped "
            f"{len(row['alarms'])} alarms  {row['seconds']:7.1f}s",
            flush=True,
        )
        for alarm in row["alarms"]:
            print(
                f"    FALSE ALARM {alarm['property']}: {alarm['message'][:300]}\n"
                f"    reproduce: {alarm.get('reproduce', '')}",
                flush=True,
            )
        return row

    with ThreadPoolExecutor(max_workers=ns.workers) as pool:
        rows = list(pool.map(one, jobs))
    runs = sum(r["summary"] is not None for r in rows)
    alarms = sum(len(r["alarms"]) for r in rows)
    examples = sum((r["summary"] or {}).get("passed", 0) for r in rows)
    print(
        f"\n{len(rows)} runs ({runs} completed), {examples} property runs passed, "
        f"{alarms} false alarms"
    )
    if ns.json:
        Path(ns.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
