"""Per-property results of a run: the conformance table, the JSON file, the xfail list.

JSON schema (``"schema": "lstm_props.results/1"``)::

    {"schema", "target", "variant", "device", "dtype", "seed", "profile",
     "results": [{"property", "outcome", "message", "duration",
                  "counterexample", "reproduce"}],
     "summary": {"passed", "failed", "skipped", "xfailed", "error"}}

outcome is one of passed | failed | skipped | xfailed | error; "failed" is a property's
claim, "error" is not: kind "adapter" an adapter fault (the implementation raised, returned
wrong shapes or NaN), kind "suite" a bug of lstm_props itself. counterexample (Hypothesis'
minimal falsifying example) and reproduce (the command that replays it) are "" unless the
property failed or faulted. calls_target is False for a property that checks the suite's
own reference models only. Fields are only ever added within a schema version; added since:

    "complete" (the run finished; false: it was interrupted or died), "interrupted",
    "exit_status" (pytest's), "coverage": {"ran", "of", "verified", "mode", "missing"}
    (properties that called the target: ran, of all; passed; black-box or layout mode;
    the capabilities whose absence skipped the rest), and per result "kind",
    "calls_target", "root_cause", "follows_from".
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lstm_props._gate.faults import SUITE_PREFIX
from lstm_props._gate.outcome import Outcome

SCHEMA = "lstm_props.results/1"
#: The JSON summary's keys, in its order (severity: lstm_props._gate.outcome.SEVERITY).
OUTCOMES = tuple(o.value for o in Outcome)


@dataclass
class PropertyResult:
    property: str
    outcome: str
    message: str
    duration: float
    counterexample: str = ""
    reproduce: str = ""
    #: For outcome "error": "adapter" (the implementation faulted) or "suite" (a bug of
    #: lstm_props itself); "" otherwise.
    kind: str = ""
    #: Whether the property calls the target (False: it checks the suite's own reference
    #: models only, and its pass verifies nothing about the target).
    calls_target: bool = True
    #: Set by lstm_props._gate.root_cause.annotate: a failure (or fault) none of whose more basic
    #: properties failed; else the root causes it follows from (property ids).
    root_cause: bool = False
    follows_from: list[str] = field(default_factory=list)


#: The report attribute the plugin sets: does the property take the target (the lstm
#: fixture)? An attribute, not the item, so that it crosses from xdist workers.
CALLS_TARGET = "lstm_calls_target"

#: report.sections titles the plugin adds to a failing property's report.
REPRODUCE_SECTION = "lstm_props: reproduce with"
COUNTEREXAMPLE_SECTION = "lstm_props: counterexample"


def property_id(nodeid: str) -> str:
    """'properties/test_x.py::test_claim[layer1]' -> 'claim[layer1]'."""
    name = nodeid.split("::")[-1]
    return name.removeprefix("test_")


def _one_line(text: str) -> str:
    for line in str(text).splitlines():
        if "PropertyFailure:" in line:
            return line.split("PropertyFailure:", 1)[1].strip()
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def result_of(report: pytest.TestReport) -> PropertyResult | None:
    """The property's result from one phase's report, or None if the phase says nothing."""
    result = _result_of(report)
    if result is not None:
        result.calls_target = bool(getattr(report, CALLS_TARGET, True))
    return result


def _result_of(report: pytest.TestReport) -> PropertyResult | None:
    pid = property_id(report.nodeid)
    listed = hasattr(report, "wasxfail")
    if report.skipped and listed:
        return PropertyResult(pid, "xfailed", str(report.wasxfail), report.duration)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return PropertyResult(pid, "skipped", reason.removeprefix("Skipped: "), report.duration)
    if report.failed:
        text = str(report.longrepr)
        first = text.splitlines()[0] if text else ""
        kind = (
            "suite"
            if first.startswith(SUITE_PREFIX)
            else "adapter"
            if "AdapterError" in first or report.when != "call"
            else ""
        )
        sections = dict(report.sections)
        return PropertyResult(
            pid,
            "error" if kind else "failed",
            _one_line(text),
            report.duration,
            sections.get(COUNTEREXAMPLE_SECTION, ""),
            sections.get(REPRODUCE_SECTION, ""),
            kind,
        )
    if report.when == "call":
        note = "listed in the xfail file but passed: remove the line" if listed else ""
        return PropertyResult(pid, "passed", note, report.duration)
    return None


def property_claims() -> dict[str, str]:
    """{property id: its claim}, in the one order of the declarations (_harness.declared)."""
    from lstm_props._harness.declared import declarations

    return {d.id: d.claim for d in declarations()}


def read_xfail_file(path: str) -> set[str]:
    """One property id per line (``claim`` or ``claim[layer1]``), ``#`` comments."""
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the first id.
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise pytest.UsageError(
            f"--lstm-xfail {path!r}: cannot read it ({exc.strerror}); give a text file with "
            "one property id per line, e.g. carry_jacobian_is_diagonal"
        ) from None
    except UnicodeDecodeError as exc:
        raise pytest.UsageError(
            f"--lstm-xfail {path!r}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}); save it as UTF-8, one property id per line"
        ) from None
    ids = {line.split("#", 1)[0].strip() for line in text.splitlines()}
    return {i.removeprefix("test_") for i in ids if i}


#: The xfail-list line that marked an item a known deviation.
KNOWN_DEVIATION = pytest.StashKey[str]()


def mark_xfails(items: list[pytest.Item], ids: set[str]) -> None:
    """Mark listed properties xfail (non-strict); warn about ids that match nothing."""
    matched: set[str] = set()
    for item in items:
        pid = property_id(item.nodeid)
        bare = pid.split("[")[0]
        for key in (pid, bare):
            if key in ids:
                matched.add(key)
                item.add_marker(pytest.mark.xfail(reason=f"known deviation ({key})", strict=False))
                item.stash[KNOWN_DEVIATION] = key
    for unknown in sorted(ids - matched):
        warnings.warn(f"--lstm-xfail: {unknown!r} matches no property", stacklevel=1)


def summary(results: list[PropertyResult]) -> dict[str, int]:
    return {o: sum(r.outcome == o for r in results) for o in OUTCOMES}


#: Skip reasons (see LSTMUnderTest.require) -> the capability that would run the property.
MISSING = {
    "has no autograd backend": "autograd (a Backend with vjp)",
    "has no backward through": "autograd (a Backend with vjp)",  # a quantized kernel's
    "is black-box": "the documented parameter layout (read_layout)",
    "does not let the suite write": "writable parameters (write_layout)",
    "has no fused sequence call": "a fused sequence call (sequence)",
    "has no packed": "variable-length batches (packed_sequence)",
    "cannot be moved to the CPU": "to_device",
}


def coverage(results: list[PropertyResult], mode: str | None = None) -> dict[str, Any]:
    """How much of the suite ran against the target: {"ran", "of", "verified", "mode",
    "missing"}, counting properties (a property ran if any of its layer views or shapes
    did). ``verified`` counts the properties that called the target and passed somewhere;
    ``missing`` the capabilities whose absence skipped properties. ``mode``: the target's
    own ("layout" or "black-box"), else read from the skip reasons (which a -k selection
    of properties that need no layout cannot show)."""
    own = [r for r in results if r.calls_target]
    reasons = " ".join(r.message for r in own if r.outcome == "skipped")

    def count(outcomes: tuple[str, ...]) -> int:  # properties, not their layer views
        return len({r.property.split("[")[0] for r in own if r.outcome in outcomes})

    return {
        "ran": count(("passed", "failed", "error", "xfailed")),
        "of": count(OUTCOMES),
        "verified": count(("passed",)),
        "mode": mode or ("black-box" if "is black-box" in reasons else "layout"),
        "missing": list(dict.fromkeys(n for p, n in MISSING.items() if p in reasons)),
    }


def coverage_line(cov: dict[str, Any]) -> str:
    """'14 of 29 properties ran against the target (black-box mode; skipped for want of ...)'."""
    missing = f"; skipped for want of: {', '.join(cov['missing'])}" if cov["missing"] else ""
    return (
        f"{cov['ran']} of {cov['of']} properties ran against the target "
        f"({cov['mode']} mode{missing})"
    )


def write_json(
    path: str,
    header: dict[str, Any],
    results: list[PropertyResult],
    status: dict[str, Any] | None = None,
) -> None:
    """``status``: {"complete", "interrupted", "exit_status"} of the run (see the schema)."""
    doc = {
        "schema": SCHEMA,
        **header,
        **(status or {}),
        "coverage": coverage(results, header.get("mode")),
        "results": [asdict(r) for r in results],
        "summary": summary(results),
    }
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")


def why(r: PropertyResult) -> str:
    """The reason column: a root cause says so; a failure that follows from one names it."""
    if r.follows_from:
        return f"follows from {', '.join(r.follows_from)}: {r.message}"
    if r.root_cause:
        return f"ROOT CAUSE: {r.message}"
    return r.message


def table(results: list[PropertyResult]) -> list[str]:
    """The conformance table's lines: property, outcome, time, one-line reason; in the order
    given (root causes first, see lstm_props._gate.root_cause)."""
    width = max([len(r.property) for r in results] + [8])
    lines = [f"{'property'.ljust(width)}  {'outcome':8} {'time':>7}  reason"]
    for r in results:
        lines.append(f"{r.property.ljust(width)}  {r.outcome:8} {r.duration:6.2f}s  {why(r)[:160]}")
    return lines
