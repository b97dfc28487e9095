"""``lstm-props matrix``: every installed implementation through the whole suite, one table.

The rows are the registry's (lstm_props.targets.TARGETS, ``matrix=True``). Each
implementation × dtype runs in a process of its own (Keras picks its backend once per
process; a framework's global state cannot leak into the next: lstm_props._gate.suite_run), and
the verdicts are tabulated implementation × property: the conformance table of
docs/matrix.md, written between two marker lines with ``--readme``, and as JSON with ``--json``.

Past one machine, ``--shard K/N`` runs the K-th share of the implementation × dtype jobs
(lstm_props._gate.shard) and its ``--json`` says which share it holds;
``--merge`` (lstm_props._gate.matrix_merge) puts the shards' files back into one table.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lstm_props._gate.doc_blocks import MATRIX_MARKERS, write_between
from lstm_props._gate.outcome import ALARMS
from lstm_props._gate.results import property_claims
from lstm_props._gate.shard import WHOLE, Shard
from lstm_props._gate.suite_run import run_suite
from lstm_props.targets import TARGETS, TargetInfo, target_info

MARKS = {"passed": "✓", "failed": "✗", "error": "E", "skipped": "–", "xfailed": "x"}
#: The --json file's schema.
SCHEMA = "lstm_props.matrix/1"


@dataclass
class Verdict:
    target: str
    dtype: str
    outcomes: dict[str, str]  # property (layers folded, the worst kept) -> outcome
    note: str = ""
    #: The package the target needs (the registry's; torch for a target given by --only).
    package: str = field(default="torch", compare=False)


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def run_one(
    target: str, dtype: str, env: dict[str, str], profile: str, max_examples: int | None
) -> Verdict:
    """The properties against ``target`` in ``dtype``, in a fresh process; folded."""
    run = run_suite(target, dtype=dtype, profile=profile, max_examples=max_examples, env=env)
    if run.broken:
        return Verdict(target, dtype, {}, run.last_line or run.broken)
    return Verdict(target, dtype, {p: o.value for p, o in run.outcomes.items()})


def markdown(verdicts: list[Verdict], properties: list[str]) -> list[str]:
    """Implementation × dtype rows, one column per property (numbered; key below)."""
    head = (
        "| implementation | dtype | "
        + " | ".join(str(k + 1) for k in range(len(properties)))
        + " |"
    )
    lines = [head, "|---|---|" + "---|" * len(properties)]
    # A refusal is one long line, often the same for several rows (every float64 row of a
    # float32-only runtime): the row gets a short "not run (a)" and each distinct reason
    # is written once under the table, with the target's own name taken out of it.
    notes: list[str] = []
    for v in verdicts:
        name = v.target.replace("lstm_props.adapters.", "").replace(
            "lstm_props.targets:", "targets:"
        )
        if v.note:
            note = v.note.replace(f"target '{v.target}': ", "")
            if note not in notes:
                notes.append(note)
            cells = [f"not run ({_letter(notes.index(note))})"] + [""] * (len(properties) - 1)
        else:
            cells = [MARKS[v.outcomes[p]] if p in v.outcomes else "" for p in properties]
        lines.append(f"| `{name}` | {v.dtype} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "✓ holds · ✗ fails (a finding) · E the implementation faulted · – not "
        "applicable (skipped, with the reason) · x known deviation",
        "",
    ]
    lines += [line for k, note in enumerate(notes) for line in (f"({_letter(k)}) {note}", "")]
    lines += [f"{k + 1}. `{p}`" for k, p in enumerate(properties)]
    return lines


def _letter(k: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[k] if k < 26 else f"n{k + 1}"


def document(
    verdicts: list[Verdict],
    properties: list[str],
    profile: str,
    max_examples: int | None,
    shard: Shard = WHOLE,
) -> dict[str, object]:
    """The matrix machine-readably (``--json``, schema ``lstm_props.matrix/1``)::

        {"schema", "profile", "max_examples", "shard": "K/N",
         "properties": [ids in the declared order],
         "rows": [{"target", "dtype", "package", "outcomes": {property: outcome},
                   "note": "" or why it did not run}]}

    outcome is one of passed | failed | skipped | xfailed | error (a property's worst over
    its layer views, lstm_props._gate.outcome); a property a row did not report is absent.
    shard is the share of the jobs the rows are ("1/1": all of them; a file without it,
    written before --shard, is whole too), in their order: what --merge interleaves."""
    return {
        "schema": SCHEMA,
        "profile": profile,
        "max_examples": max_examples,
        "shard": str(shard),
        "properties": properties,
        "rows": [
            {
                "target": v.target,
                "dtype": v.dtype,
                "package": v.package,
                "outcomes": {p: v.outcomes[p] for p in properties if p in v.outcomes},
                "note": v.note,
            }
            for v in verdicts
        ],
    }


def _info(name: str) -> TargetInfo:
    try:
        return target_info(name)
    except KeyError:
        return TargetInfo(name)


def run_matrix(
    only: list[str] | None,
    dtypes: list[str],
    profile: str,
    max_examples: int | None,
    readme: str | None,
    workers: int = 1,
    json_path: str | None = None,
    shard: Shard = WHOLE,
) -> int:
    # The registry's rows in its order; then any other --only target, a torch one unless
    # the registry says otherwise.
    chosen = [t for t in TARGETS if t.matrix and (not only or t.name in only)]
    chosen += [
        _info(name) for name in dict.fromkeys(only or []) if name not in {t.name for t in chosen}
    ]

    def verdict(job: tuple[TargetInfo, str]) -> Verdict:
        info, dtype = job
        target, package = info.name, info.package
        if not installed(package):
            v = Verdict(target, dtype, {}, f"{package} is not installed")
        else:
            v = run_one(target, dtype, dict(info.env), profile, max_examples)
        v.package = package
        counts = {o: list(v.outcomes.values()).count(o) for o in MARKS}
        tally = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        print(f"{target} {dtype}: {v.note or tally or 'no result'}", file=sys.stderr)
        return v

    jobs = shard.take([(info, dtype) for info in chosen for dtype in dtypes])
    # Each job is a process of its own; threads only wait on them. map keeps table order.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        verdicts = list(pool.map(verdict, jobs))
    return publish(verdicts, profile, max_examples, readme, json_path, shard)


def publish(
    verdicts: list[Verdict],
    profile: str,
    max_examples: int | None,
    readme: str | None,
    json_path: str | None,
    shard: Shard = WHOLE,
) -> int:
    """Print the table, write it (``readme``) and the JSON (``json_path``); exit 1 when a
    property failed. A run and a merge of its shards' files both end here, so they write
    the same thing."""
    present = {p for v in verdicts for p in v.outcomes}
    # The declarations' one order; a property of the user's own (not declared) after them.
    properties = [p for p in property_claims() if p in present]
    properties += sorted(present - set(properties))
    lines = markdown(verdicts, properties)
    print("\n".join(lines))
    if readme:
        write_between(Path(readme), lines, MATRIX_MARKERS)
    if json_path:
        # Every declared property, whether a row reported it or not (the table shows those
        # some row reported); a property of the user's own after them.
        declared = [*property_claims(), *sorted(present - set(property_claims()))]
        doc = document(verdicts, declared, profile, max_examples, shard)
        Path(json_path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    failed = any(o in ALARMS for v in verdicts for o in v.outcomes.values())
    return 1 if failed else 0
