"""``lstm-props selftest``: run the mutant zoo through every property, print the kill matrix.

Each mutant runs in its own pytest process (the "mutants" Hypothesis profile: derandomized,
no shrinking, since the question is *whether* it is caught, not its minimal case), so a
mutant's global state cannot leak into the next. Outcomes per cell: X killed (a property
failed), E the implementation faulted (the gate reports it, exit 2), . passed, s skipped.
A mutant survives when no cell is X or E.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lstm_props._gate.doc_blocks import KILLS_MARKERS, write_between
from lstm_props._gate.outcome import ALARMS
from lstm_props._gate.results import property_claims
from lstm_props._gate.suite_run import run_suite
from lstm_props.mutants import BUG_CLASSES, KILLS, REFUSED_AT_LOAD

MARKS = {"failed": "X", "error": "E", "passed": ".", "skipped": "s", "xfailed": "x"}


@dataclass
class MutantRun:
    name: str
    target: str
    outcomes: dict[str, str]  # property (no layer) -> worst outcome (lstm_props._gate.outcome)
    seconds: float  # the properties' own durations, summed
    #: Why the run gave no results (it died, or wrote no JSON): neither killed nor survived.
    broken: str = ""
    #: The load-time refusal that stopped it before any property (REFUSED_AT_LOAD): a kill.
    refused: str = ""

    @property
    def killed_by(self) -> list[str]:
        return sorted(p for p, o in self.outcomes.items() if o in ALARMS)

    @property
    def survived(self) -> bool:
        return not self.broken and not self.killed_by and not self.refused


#: A module holding one mutant built at a fixed size: ``cell`` is what the run checks.
FIXED_SIZE_MODULE = """\
from lstm_props._harness.loading import _attr, _import

_factory = _attr(_import({module!r}, {spec!r}), {attr!r}, {spec!r})
cell = _factory(input_size={size}, hidden_size={size})
"""


def fixed_size_target(target: str, hidden: int, folder: Path) -> str:
    """A TARGET string for ``target``'s factory called once at input = hidden = ``hidden``:
    a fixed-size model, as a user's own trained one is (Target.sized False)."""
    module, attr = target.rsplit(":", 1)
    if module.endswith(".py") or "/" in module:
        module = str(Path(module).resolve())
    path = folder / "fixed_size_mutant.py"
    path.write_text(FIXED_SIZE_MODULE.format(module=module, spec=target, attr=attr, size=hidden))
    return f"{path}:cell"


def run_mutant(
    name: str, max_examples: int | None = None, black_box: bool = False, hidden: int | None = None
) -> MutantRun:
    """All properties against one mutant (a zoo name or any TARGET string); with
    ``hidden``, the mutant built once at that size (:func:`fixed_size_target`)."""
    target = name if ":" in name else f"lstm_props.mutants:{name}"
    with tempfile.TemporaryDirectory() as tmp:
        if hidden is not None:
            target = fixed_size_target(target, hidden, Path(tmp))
        run = run_suite(target, profile="mutants", max_examples=max_examples, black_box=black_box)
    refusal = REFUSED_AT_LOAD.get(name)
    if run.broken and refusal is not None and refusal in run.last_line:
        return MutantRun(name, target, {}, 0.0, refused=run.last_line)
    if run.broken:
        return MutantRun(name, target, {}, 0.0, run.broken)
    return MutantRun(name, target, dict(run.outcomes), run.property_seconds)


def _legend() -> list[str]:
    return list(property_claims())


def kill_matrix(runs: list[MutantRun]) -> list[str]:
    """The matrix as text lines: one row per mutant, one column per property (P1, P2...)."""
    props = _legend()
    width = max(len(r.name) for r in runs) + 2
    head = "".join(f"{'P' + str(k + 1):>4}" for k in range(len(props)))
    lines = [f"{'mutant'.ljust(width)}{head}  killed by its own property"]
    owner = {m: c for c, ms in BUG_CLASSES.items() for m in ms}
    current = None
    for r in sorted(
        runs,
        key=lambda r: (list(BUG_CLASSES).index(owner[r.name]) if r.name in owner else 99, r.name),
    ):
        group = owner.get(r.name, "other targets")
        if group != current:
            lines.append(f"-- {group}")
            current = group
        cells = "".join(f"{MARKS.get(r.outcomes.get(p, ''), '-'):>4}" for p in props)
        intended = KILLS.get(r.name, "").removeprefix("test_")
        verdict = (
            "COULD NOT RUN"
            if r.broken
            else "yes (refused at load)"
            if r.refused
            else "SURVIVED"
            if r.survived
            else "yes"
            if intended in r.killed_by
            else f"no ({intended})"
            if intended
            else ""
        )
        lines.append(f"{r.name.ljust(width)}{cells}  {verdict}")
    lines.append("")
    lines += [f"P{k + 1:<3} {name}" for k, name in enumerate(props)]
    return lines


def selftest(
    names: list[str],
    workers: int = 1,
    max_examples: int | None = None,
    json_path: str | None = None,
    black_box: bool = False,
    hidden: int | None = None,
    readme: str | None = None,
) -> int:
    """Run, print the matrix; 0 if every mutant is killed (by its own property where it
    has one), 1 otherwise. ``black_box``: with the layout hidden, only report (which
    mutants black-box mode sees is a measurement, not a pass/fail)."""

    def one(name: str) -> MutantRun:
        run = run_mutant(name, max_examples, black_box, hidden)
        mark = (
            "COULD NOT RUN: " + run.broken
            if run.broken
            else "refused at load: " + run.refused
            if run.refused
            else "SURVIVED"
            if run.survived
            else f"killed by {len(run.killed_by)}"
        )
        print(f"  {name}: {mark} ({run.seconds:.1f}s)", flush=True)
        return run

    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(one, names))
    print()
    if hidden is not None:
        print(f"each mutant built once at a fixed size, input = hidden = {hidden}")
    matrix = kill_matrix(runs)
    for line in matrix:
        print(line)
    survivors = [r.name for r in runs if r.survived]
    broken = [r.name for r in runs if r.broken]
    missed = (
        []
        if black_box
        else [
            r.name
            for r in runs
            if r.killed_by
            and r.name in KILLS
            and KILLS[r.name].removeprefix("test_") not in r.killed_by
        ]
    )
    summary = (
        f"{sum(bool(r.killed_by or r.refused) for r in runs)} of {len(runs)} mutants killed"
        + (f"; survived: {', '.join(survivors)}" if survivors else "")
        + (f"; could not run: {', '.join(broken)}" if broken else "")
        + (f"; not killed by their own property: {', '.join(missed)}" if missed else "")
    )
    print(f"\n{summary}")
    if readme:
        write_between(Path(readme), ["```", *matrix, summary, "```"], KILLS_MARKERS)
    if json_path:
        Path(json_path).write_text(
            json.dumps(
                {
                    "schema": "lstm_props.selftest/1",
                    "properties": _legend(),
                    "mutants": [
                        {
                            "name": r.name,
                            "target": r.target,
                            "outcomes": r.outcomes,
                            "killed_by": r.killed_by,
                            "broken": r.broken,
                        }
                        for r in runs
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    if black_box:
        return 1 if broken else 0
    return 1 if survivors or missed or broken else 0
