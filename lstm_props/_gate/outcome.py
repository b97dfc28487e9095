"""One outcome policy: what a property's result can be, and which of two is the worse.

A property runs once per layer view (``carry_jacobian_is_diagonal[layer1]``) and pytest
reports each run in up to three phases; everything that reduces several outcomes to one
(the plugin per test, the kill matrix, the conformance matrix and the false-alarm sweep
per property) uses :data:`SEVERITY` and nothing else.

The order, least severe first::

    skipped < passed < xfailed < failed < error

* **skipped** is the absence of a verdict, not a verdict: it never hides what another
  layer view showed. A property counts as skipped only if it was skipped everywhere
  (what the false-alarm sweep needs, and what the coverage line already counts: a
  property "ran" if any of its views ran).
* **passed** says the claim holds where it was checked.
* **xfailed**: the claim failed, as a listed known deviation said it would; that is
  worse than a pass (the deviation is there) but not an alarm.
* **failed**: the claim is false (a finding).
* **error**: the implementation faulted (or lstm_props has a bug), so the claim could
  not even be judged. It is the worst, as the gate has it: ``lstm-props check`` answers
  2 for a fault whatever else failed (lstm_props._gate.verdict), and a test whose call failed
  and whose teardown then faulted is reported as the fault.

Outcomes are ``str`` values ("passed", ...), as the JSON results keep them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any


class Outcome(str, Enum):
    """A property's outcome; the value is the JSON's string. Declared in the order of the
    JSON summary's keys (see :data:`SEVERITY` for the order of severity)."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


#: The one order, least severe first (the module's docstring says why).
SEVERITY: tuple[Outcome, ...] = (
    Outcome.SKIPPED,
    Outcome.PASSED,
    Outcome.XFAILED,
    Outcome.FAILED,
    Outcome.ERROR,
)
_SEVERITY = {o: k for k, o in enumerate(SEVERITY)}

#: The outcomes that speak against the target: a false claim or a fault.
ALARMS = frozenset({Outcome.FAILED, Outcome.ERROR})


def severity(outcome: str) -> int:
    """The rank of ``outcome`` ("passed", ... or an Outcome) in :data:`SEVERITY`."""
    return _SEVERITY[Outcome(outcome)]


def at_least_as_bad(new: str, old: str) -> bool:
    """Whether ``new`` should replace ``old`` when only the worse is kept (a tie goes to
    ``new``: the later report of the same outcome carries the later message)."""
    return severity(new) >= severity(old)


def property_of(result_id: str) -> str:
    """'carry_jacobian_is_diagonal[layer1]' -> 'carry_jacobian_is_diagonal'."""
    return result_id.split("[")[0]


def fold(results: Iterable[Mapping[str, Any]]) -> dict[str, Outcome]:
    """{property: its worst outcome over its layer views}, from the JSON results
    (``{"property": "claim[layer1]", "outcome": "passed", ...}``), in first-seen order."""
    folded: dict[str, Outcome] = {}
    for r in results:
        prop, outcome = property_of(r["property"]), Outcome(r["outcome"])
        if prop not in folded or at_least_as_bad(outcome, folded[prop]):
            folded[prop] = outcome
    return folded
