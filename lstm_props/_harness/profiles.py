"""The Hypothesis settings of the property tests, and of nothing else.

A plugin that pytest loads in every session of an environment must not touch
``settings.default``, register profiles, or force a global seed: a user's own tests (and
their own ``ci`` profile) would silently run differently. So the profiles here are plain
values, never registered; a property applies one to its own inner test through
:meth:`PropertySettings.given`, and the settings of every other test stay the user's.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, reject, seed, settings
from hypothesis.errors import FailedHealthCheck, Unsatisfiable
from hypothesis.internal.conjecture import engine as _engine

from lstm_props.maths.tolerances import BeyondErrorModel

_COMMON: dict[str, Any] = {
    "deadline": None,  # one example calls a kernel thousands of times
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}

#: name -> the settings that make it; every field the suite relies on is explicit, so no
#: value of the user's own default profile leaks in (verbosity alone is taken from it).
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"derandomize": True, "max_examples": 15, "database": None},
    "dev": {"derandomize": False, "max_examples": 15},
    "thorough": {"derandomize": False, "max_examples": 200},
    # The mutant zoo: is the mutant killed? Shrinking it to a minimal case is not the question.
    "mutants": {
        "derandomize": True,
        "max_examples": 30,
        "database": None,
        "phases": [Phase.explicit, Phase.generate],
    },
}

#: The profiles a user chooses between (``mutants`` is the self-tests').
USER_PROFILES = ("ci", "dev", "thorough")

#: Seconds a failing property may spend shrinking its counterexample, per profile (None:
#: Hypothesis' own limit, 300 s). A failing run answers fast in CI: a broken two-layer
#: stack fails a dozen properties, each example running the whole stack, and shrinking was
#: where its minutes went. What is reported is the smallest example found within the
#: budget, and the report says when the budget was reached.
SHRINK_SECONDS: dict[str, int | None] = {"ci": 6, "dev": 20, "thorough": None}


def profile_settings(name: str, max_examples: int | None = None) -> settings:
    """The settings of profile ``name``, on Hypothesis' own defaults (not the user's)."""
    fields = {**_COMMON, **PROFILES[name]}
    if max_examples is not None:
        fields["max_examples"] = max_examples
    fields.setdefault("phases", list(Phase))
    parent, current = settings.get_profile("default"), settings.default
    if current is None:  # only while Hypothesis itself is being imported
        raise RuntimeError(
            "Hypothesis has no current settings (settings.default is None): "
            "the verbosity to keep cannot be read"
        )
    return settings(parent, verbosity=current.verbosity, **fields)


@dataclass(frozen=True)
class PropertySettings:
    """How a property draws its examples in this run: the profile's settings and the
    session's seed (None: derandomized, or Hypothesis' own choice)."""

    settings: settings
    seed: int | None = None
    #: the profile's shrink budget in seconds (SHRINK_SECONDS); None: Hypothesis' own
    shrink_seconds: int | None = None
    #: why this property's counterexample is found but not shrunk (the note its failure
    #: carries), or None: it is shrunk within ``shrink_seconds``
    not_shrunk: str | None = None

    def without_shrinking(self, why: str) -> PropertySettings:
        """These settings with no shrink phase; a failure carries the note ``why``
        (NOT_SHRUNK_FOLLOWS, NOT_SHRUNK_KNOWN)."""
        phases = [p for p in self.settings.phases if p is not Phase.shrink]
        return dataclasses.replace(
            self, settings=settings(self.settings, phases=phases), not_shrunk=why
        )

    def given(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        """``hypothesis.given`` with this run's settings and seed applied to this test only."""

        def decorate(test: Callable[..., Any]) -> Any:
            beyond: list[str] = []
            wrapped = self.settings(given(*args, **kwargs)(_within_error_model(test, beyond)))
            wrapped = wrapped if self.seed is None else seed(self.seed)(wrapped)
            guarded = _skipped_when_all_beyond(wrapped, beyond)
            if self.not_shrunk is not None:
                return _noted(guarded, self.not_shrunk)
            return _shrink_budget(guarded, self.shrink_seconds)

        return decorate


#: A property a more basic one relies on already failed in this run (its root cause): the
#: root's counterexample is the minimal one to read.
NOT_SHRUNK_FOLLOWS = (
    "lstm_props: not shrunk: {root}, which this property relies on, failed first in this "
    "run; its counterexample is the minimal one to read (rerun this property alone, -k, "
    "to shrink this one)"
)
#: A property listed as a known deviation (--lstm-xfail): its failure is expected, and a
#: gate run on every change would otherwise spend the shrink budget on it each time.
NOT_SHRUNK_KNOWN = (
    "lstm_props: not shrunk: listed as a known deviation ({key}); drop it from the xfail "
    "list, or run it alone, to shrink its counterexample"
)


def _noted(run: Callable[..., Any], note: str) -> Callable[..., Any]:
    """``run``, whose failure carries ``note``."""

    @functools.wraps(run)
    def noting(*a: Any, **k: Any) -> Any:
        try:
            return run(*a, **k)
        except Exception as exc:
            exc.add_note(note)
            raise

    return noting


def _shrink_budget(run: Callable[..., Any], seconds: int | None) -> Callable[..., Any]:
    """Run with Hypothesis' shrink-phase limit at ``seconds`` for this property only
    (engine.MAX_SHRINKING_SECONDS, which Hypothesis keeps monkeypatchable for this; put
    back afterwards, so no other test's shrinking changes). A failure that took longer than
    the budget says that its counterexample is as small as the budget allowed."""
    if seconds is None:
        return run

    @functools.wraps(run)
    def limited(*a: Any, **k: Any) -> Any:
        held = getattr(_engine, "MAX_SHRINKING_SECONDS", None)
        if held is None:  # a Hypothesis without the limit: shrink as it does
            return run(*a, **k)
        _engine.MAX_SHRINKING_SECONDS = seconds
        began = time.perf_counter()
        try:
            return run(*a, **k)
        except Exception as exc:
            if time.perf_counter() - began > seconds:
                exc.add_note(
                    f"lstm_props: shrinking had a budget of {seconds:g} s in this profile and "
                    "may have stopped at it (Hypothesis then warns of 'five minutes': its "
                    "message does not read the limit); the counterexample is as small as "
                    "the budget allowed. --lstm-profile thorough shrinks for up to 300 s."
                )
            raise
        finally:
            _engine.MAX_SHRINKING_SECONDS = held

    return limited


def _within_error_model(test: Callable[..., Any], beyond: list[str]) -> Callable[..., Any]:
    """An example whose bound needs a dot product longer than the first-order error model
    allows in the run's precision (tolerances.BeyondErrorModel: in bfloat16 beyond 32 terms)
    is not checked: Hypothesis rejects it and counts it as an event, and draws another."""

    @functools.wraps(test)
    def checked(*a: Any, **k: Any) -> Any:
        try:
            return test(*a, **k)
        except BeyondErrorModel as exc:
            beyond.append(str(exc))
            event("not checked: beyond the first-order error model in this precision")
            reject()

    return checked


def _skipped_when_all_beyond(run: Callable[..., Any], beyond: list[str]) -> Callable[..., Any]:
    """A property none of whose examples lies within the error model is skipped with the
    reason (a pass would claim what nothing checked)."""

    @functools.wraps(run)
    def guarded(*a: Any, **k: Any) -> Any:
        try:
            return run(*a, **k)
        except (Unsatisfiable, FailedHealthCheck):
            if not beyond:
                raise
            pytest.skip(f"every drawn example is beyond the error model: {beyond[-1]}")

    return guarded
