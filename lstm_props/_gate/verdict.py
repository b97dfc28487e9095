"""The gate's answer to one ``lstm-props check`` run: an exit code and the line that says why.

The properties run in a child process (see :mod:`lstm_props._gate.check_command`), so a
target that ends the process (``os._exit(0)``, a segfault in a kernel, a killed worker)
cannot end the gate with its status: the answer is read from the results file the run
writes last, and a run that wrote none, or one not marked complete, did not finish.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from lstm_props._gate.faults import REPORT_PHRASE
from lstm_props._gate.results import coverage_line

PASSED, FAILED, ERROR, NOTHING_VERIFIED = 0, 1, 2, 3
#: pytest's exit statuses that mean the run itself went wrong (usage, internal error,
#: interrupted, nothing collected): the answer is then 2 whatever the results file says.
_PYTEST_TROUBLE = {
    2: "interrupted",
    3: "an internal error",
    4: "a usage error",
    5: "no properties collected",
}


#: How xdist words a property whose worker process ended under it.
_WORKER_CRASHED = "crashed while running"


def read_results(path: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and "summary" in doc else None


def _died(returncode: int, running: str) -> str:
    where = f" while running {running}" if running else ""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the run died before finishing: killed by {name}{where}"
    return (
        f"the run died before finishing: the test process ended with status {returncode}"
        f"{where}, before writing its results (the target called os._exit or exit, or "
        "crashed in native code?)"
    )


def verdict(doc: dict[str, Any] | None, returncode: int, running: str = "") -> tuple[int, str]:
    """(exit code, one line) for a run that ended with ``returncode`` and wrote ``doc``;
    ``running`` names the property that was running last."""
    if doc is not None and doc.get("interrupted"):
        done = sum(r["outcome"] != "skipped" for r in doc.get("results", []))
        return ERROR, (
            f"interrupted: the run was stopped after {done} properties ran; the "
            'results file holds them, marked "interrupted": true'
        )
    if returncode == 4:  # pytest printed the one-line usage error; it stays the last line
        return ERROR, ""
    if returncode in _PYTEST_TROUBLE and returncode != 2:
        return ERROR, f"the run ended in {_PYTEST_TROUBLE[returncode]} (see above)"
    if returncode == 2:
        return ERROR, "interrupted: the run was stopped before it finished"
    if doc is None or not doc.get("complete", True) or returncode not in (0, 1):
        return ERROR, _died(returncode, running)
    results, counts = doc["results"], doc["summary"]
    suite = [r for r in results if r.get("kind") == "suite"]
    if suite:
        return ERROR, (
            f"lstm_props itself failed in {suite[0]['property']} (a bug of the "
            f"suite, not of the target); {REPORT_PHRASE}"
        )
    crashed = [
        r["property"]
        for r in results
        if r["outcome"] == "error" and _WORKER_CRASHED in (r.get("message") or "")
    ]
    if crashed:
        return ERROR, (
            f"the worker process running {crashed[0]} ended before the property "
            "did (a crash in native code, or os._exit or exit in the target)"
            + (f", and {len(crashed) - 1} more" if len(crashed) > 1 else "")
            + "; run it alone with --workers 1 to see where"
        )
    if counts["error"]:
        return ERROR, (
            f"{counts['error']} properties ended in an adapter fault (the "
            "implementation raised, returned wrong shapes or NaN): fix the target "
            "or its adapter; the faults are listed above"
        )
    cov = doc.get("coverage") or {"ran": 0, "of": 0, "verified": 0, "mode": "?", "missing": []}
    line = coverage_line(cov)
    if counts["failed"] or returncode == 1:
        roots = [r["property"] for r in results if r.get("root_cause")]
        cause = f"; root cause: {', '.join(roots)}" if roots else ""
        return FAILED, f"{counts['failed']} properties failed{cause}; {line}"
    if cov["verified"] == 0:
        need = (
            f"; give the adapter {' and '.join(cov['missing'])} to run more"
            if cov["missing"]
            else ""
        )
        return NOTHING_VERIFIED, (
            f"nothing verified: no property that calls the target passed; {line}{need}"
        )
    if cov["mode"] == "black-box":
        return PASSED, (f"passed in black-box mode, which is not a conformance pass; {line}")
    return PASSED, f"passed; {line}"
