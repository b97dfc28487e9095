"""The Hypothesis settings of the property tests, and of nothing else.

A plugin that pytest loads in every session of an environment must not touch
``settings.default``, register profiles, or force a global seed: a user's own tests (and
their own ``ci`` profile) would silently run differently. So the profiles here are plain
values, never registered; a property applies one to its own inner test through
:meth:`PropertySettings.given`, and the settings of every other test stay the user's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

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

    def given(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        """``hypothesis.given`` with this run's settings and seed applied to this test only."""

        def decorate(test: Callable[..., Any]) -> Any:
            wrapped = self.settings(given(*args, **kwargs)(test))
            return wrapped if self.seed is None else seed(self.seed)(wrapped)

        return decorate
