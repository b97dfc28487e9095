"""The shrink budget of a profile (lstm_props._harness.profiles.SHRINK_SECONDS): a failing
property stops shrinking at it, says so, and leaves Hypothesis' limit as it found it."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine

from lstm_props._harness.profiles import SHRINK_SECONDS, PropertySettings, profile_settings

#: Each call of the slow property sleeps this long, so the calls made after the first
#: failure bound the time spent shrinking from below.
CALL_SECONDS = 0.05


def test_the_budget_applies_to_the_property_alone():
    held = engine.MAX_SHRINKING_SECONDS
    seen: list[int] = []
    run = PropertySettings(settings(max_examples=1, database=None), None, 3).given(st.none())

    @run
    def prop(_):
        seen.append(engine.MAX_SHRINKING_SECONDS)

    prop()
    assert seen == [3]
    assert held == engine.MAX_SHRINKING_SECONDS


def test_a_failing_property_stops_shrinking_at_the_budget_and_says_so():
    """Shrinking a list whose sum must stay above 10⁴ takes hundreds of calls; with a
    budget of 1 s and 50 ms a call, at most about 20 of them run after the first failure
    (a slower machine runs fewer, never more)."""
    calls = {"after": 0, "failing": False}
    fast = settings(
        max_examples=200,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
    )

    @PropertySettings(fast, None, 1).given(st.lists(st.integers(0, 10**4), min_size=20))
    def prop(xs):
        if calls["failing"]:
            calls["after"] += 1
            time.sleep(CALL_SECONDS)
        if sum(xs) > 10**4:
            calls["failing"] = True
            raise AssertionError("too much")

    held = engine.MAX_SHRINKING_SECONDS
    with pytest.raises(AssertionError) as info:
        prop()
    assert held == engine.MAX_SHRINKING_SECONDS
    assert calls["after"] <= 1 / CALL_SECONDS + 10, calls
    assert any("budget of 1 s" in note for note in getattr(info.value, "__notes__", []))


def test_the_profiles_budgets():
    """ci and dev answer fast; thorough keeps Hypothesis' own limit, and the mutants'
    profile does not shrink at all."""
    assert SHRINK_SECONDS == {"ci": 6, "dev": 20, "thorough": None}
    assert Phase.shrink not in profile_settings("mutants").phases


BROKEN = '''
from torch import nn


class ScaledCell(nn.LSTMCell):
    """c' returned as 0.99 c': every claim on c fails, the forward values first."""

    def forward(self, x, state):
        h, c = super().forward(x, state)
        return h, 0.99 * c
'''


def test_a_property_whose_root_cause_failed_first_is_found_but_not_shrunk(run_properties, tmp_path):
    """The forward values run before the claims built on them; once they have failed, a
    property relying on them reports its failure unshrunk, saying why, and the root cause
    keeps its shrunk counterexample."""
    target = tmp_path / "scaled.py"
    target.write_text(BROKEN)
    result = run_properties(
        f"{target}:ScaledCell",
        "-k",
        "step_values_match_reference or carry_jacobian_diagonal_equals_forget_gate",
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-2000:]
    result.assert_outcomes(failed=2)
    # the failures' sections, in the order they ran: the claims' order, not the files'
    sections = re.split(r"\n_+ (test_\w+)\[layer0\] _+\n", out)
    assert sections[1::2] == [
        "test_step_values_match_reference",
        "test_carry_jacobian_diagonal_equals_forget_gate",
    ], sections[1::2]
    root, follower = sections[2], sections[4]
    assert "not shrunk" not in root
    assert "not shrunk: step_values_match_reference, which this property relies on" in follower


def test_a_known_deviation_is_found_but_not_shrunk(run_properties, tmp_path):
    """A property listed in the xfail file is expected to fail, and its counterexample is
    not shown: it is found, not shrunk, so a gate run on every change does not spend the
    shrink budget on it (``--runxfail`` shows the failure with the note saying so)."""
    target = tmp_path / "scaled.py"
    target.write_text(BROKEN)
    known = tmp_path / "xfail.txt"
    known.write_text("step_values_match_reference\n")
    args = (f"{target}:ScaledCell", "-k", "step_values_match_reference")
    listed = run_properties(*args, "--lstm-xfail", str(known))
    listed.assert_outcomes(xfailed=1)
    shown = run_properties(*args, "--lstm-xfail", str(known), "--runxfail")
    shown.assert_outcomes(failed=1)
    assert "not shrunk: listed as a known deviation (step_values_match_reference)" in (
        shown.stdout.str()
    )
    unlisted = run_properties(*args)
    unlisted.assert_outcomes(failed=1)
    assert "not shrunk" not in unlisted.stdout.str()
