"""``lstm-props matrix``: every installed implementation through the whole suite, one table.

Each implementation × dtype runs in a process of its own (Keras picks its backend once per
process; a framework's global state cannot leak into the next), as ``lstm-props check``
would run it, and the verdicts are tabulated implementation × property: the conformance
table of docs/matrix.md, written between two marker lines with ``--readme``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lstm_props._readme import MATRIX_MARKERS, write_between
from lstm_props._results import property_claims

#: (target, the package it needs, extra environment) in table order.
IMPLEMENTATIONS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("torch.nn:LSTMCell", "torch", {}),
    ("lstm_props.targets:lstm", "torch", {}),
    ("lstm_props.targets:lstm_two_layer", "torch", {}),
    ("lstm_props.targets:lstm_proj", "torch", {}),
    ("lstm_props.targets:lstm_bidirectional", "torch", {}),
    ("lstm_props.adapters.flax:nnx_lstm_cell", "flax", {}),
    ("lstm_props.adapters.flax:nnx_optimized_lstm_cell", "flax", {}),
    ("lstm_props.adapters.flax:linen_lstm_cell", "flax", {}),
    ("lstm_props.adapters.flax:linen_optimized_lstm_cell", "flax", {}),
    ("lstm_props.adapters.equinox:lstm_cell", "equinox", {}),
    ("lstm_props.adapters.keras:lstm_cell_torch", "keras", {"KERAS_BACKEND": "torch"}),
    ("lstm_props.adapters.keras:lstm_cell_jax", "keras", {"KERAS_BACKEND": "jax"}),
    ("lstm_props.adapters.onnx:lstm", "onnxruntime", {}),
    ("lstm_props.adapters.onnx:lstm_peephole", "onnxruntime", {}),
    ("lstm_props.adapters.onnx:lstm_input_forget", "onnxruntime", {}),
    ("lstm_props.adapters.onnx:lstm_clip", "onnxruntime", {}),
)
MARKS = {"passed": "✓", "failed": "✗", "error": "E", "skipped": "–", "xfailed": "x"}
_RANK = {"passed": 0, "skipped": 1, "xfailed": 2, "failed": 4, "error": 3}


@dataclass
class Verdict:
    target: str
    dtype: str
    outcomes: dict[str, str]  # property (layers folded, the worst kept) -> outcome
    note: str = ""


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def run_one(target: str, dtype: str, env: dict[str, str], profile: str,
            max_examples: int | None) -> Verdict:
    """``lstm-props check target --dtype dtype`` in a fresh process; its JSON, folded."""
    import os

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        args = [sys.executable, "-m", "lstm_props.cli", "check", target, "--dtype", dtype,
                "--profile", profile, "--json", str(out)]
        if max_examples:
            args += ["--max-examples", str(max_examples)]
        done = subprocess.run(args, capture_output=True, text=True, cwd=tmp,
                              env={**os.environ, **env})
        try:
            doc = json.loads(out.read_text())
        except (OSError, ValueError):
            lines = (done.stderr or done.stdout).strip().splitlines()
            return Verdict(target, dtype, {}, lines[-1] if lines else f"exit {done.returncode}")
    outcomes: dict[str, str] = {}
    for r in doc["results"]:
        prop = r["property"].split("[")[0]
        if _RANK[r["outcome"]] >= _RANK[outcomes.get(prop, "passed")]:
            outcomes[prop] = r["outcome"]
    return Verdict(target, dtype, outcomes)


def markdown(verdicts: list[Verdict], properties: list[str]) -> list[str]:
    """Implementation × dtype rows, one column per property (numbered; key below)."""
    head = "| implementation | dtype | " + " | ".join(str(k + 1) for k in
                                                     range(len(properties))) + " |"
    lines = [head, "|---|---|" + "---|" * len(properties)]
    # A refusal is one long line, often the same for several rows (every float64 row of a
    # float32-only runtime): the row gets a short "not run (a)" and each distinct reason
    # is written once under the table, with the target's own name taken out of it.
    notes: list[str] = []
    for v in verdicts:
        name = v.target.replace("lstm_props.adapters.", "").replace("lstm_props.targets:",
                                                                     "targets:")
        if v.note:
            note = v.note.replace(f"target '{v.target}': ", "")
            if note not in notes:
                notes.append(note)
            cells = [f"not run ({_letter(notes.index(note))})"] + [""] * (len(properties) - 1)
        else:
            cells = [MARKS[v.outcomes[p]] if p in v.outcomes else "" for p in properties]
        lines.append(f"| `{name}` | {v.dtype} | " + " | ".join(cells) + " |")
    lines += ["", "✓ holds · ✗ fails (a finding) · E the implementation faulted · – not "
              "applicable (skipped, with the reason) · x known deviation", ""]
    lines += [line for k, note in enumerate(notes) for line in (f"({_letter(k)}) {note}", "")]
    lines += [f"{k + 1}. `{p}`" for k, p in enumerate(properties)]
    return lines


def _letter(k: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[k] if k < 26 else f"n{k + 1}"


def run_matrix(only: list[str] | None, dtypes: list[str], profile: str,
               max_examples: int | None, readme: str | None, workers: int = 1) -> int:
    chosen = [(t, p, e) for t, p, e in IMPLEMENTATIONS if not only or t in only]
    chosen += [(t, "torch", {}) for t in only or [] if t not in {c[0] for c in chosen}]

    def verdict(job: tuple[str, str, dict[str, str], str]) -> Verdict:
        target, package, env, dtype = job
        if not installed(package):
            v = Verdict(target, dtype, {}, f"{package} is not installed")
        else:
            v = run_one(target, dtype, env, profile, max_examples)
        counts = {o: list(v.outcomes.values()).count(o) for o in MARKS}
        tally = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        print(f"{target} {dtype}: {v.note or tally or 'no result'}", file=sys.stderr)
        return v

    jobs = [(target, package, env, dtype) for target, package, env in chosen for dtype in dtypes]
    # Each job is a process of its own; threads only wait on them. map keeps table order.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        verdicts = list(pool.map(verdict, jobs))
    present = {p for v in verdicts for p in v.outcomes}
    # The declarations' one order; a property of the user's own (not declared) after them.
    properties = [p for p in property_claims() if p in present]
    properties += sorted(present - set(properties))
    lines = markdown(verdicts, properties)
    print("\n".join(lines))
    if readme:
        write_between(Path(readme), lines, MATRIX_MARKERS)
    failed = any(o in ("failed", "error") for v in verdicts for o in v.outcomes.values())
    return 1 if failed else 0
