"""Installing lstm-props changes nothing in a pytest session that checks no LSTM.

The pytest11 entry point loads the plugin in every session of the environment; each test
here runs a user's plain test file with the plugin installed and no --lstm-adapter, and
compares what that test sees with the same run under ``-p no:lstm_props.plugin``. The
sessions are subprocesses: a profile loaded in-process would change this session's own.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from lstm_props._harness.profiles import profile_settings
from tests.conftest import PROPERTIES

WITHOUT_PLUGIN = ("-p", "no:lstm_props.plugin")

#: A user's test that prints what Hypothesis and torch would give their own tests.
SEES = """
import hypothesis.core
import torch
from hypothesis import settings
from hypothesis.errors import InvalidArgument


def registered(name):
    try:
        settings.get_profile(name)
    except InvalidArgument:
        return False
    return True


def test_what_my_tests_see():
    d = settings.default
    print("@@", d.max_examples, d.deadline, d.derandomize, d.database is None,
          sorted(h.name for h in d.suppress_health_check), hypothesis.core.global_force_seed,
          [n for n in ("ci", "dev", "thorough", "mutants") if registered(n)],
          settings.get_profile("ci").max_examples if registered("ci") else None,
          torch.get_num_threads())
"""


def _seen(result: pytest.RunResult) -> str:
    lines = [line.split("@@", 1)[1] for line in result.outlines if "@@" in line]
    assert len(lines) == 1, result.outlines
    return lines[0]


def test_a_session_without_a_target_sees_hypothesis_and_torch_unchanged(pytester):
    """settings.default, the registered profiles, the global seed, torch's threads and the
    header are what they are without the plugin."""
    pytester.makepyfile(test_user=SEES)
    with_plugin = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    without = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *WITHOUT_PLUGIN)
    assert with_plugin.ret == without.ret == pytest.ExitCode.OK
    assert _seen(with_plugin) == _seen(without)
    assert not [line for line in with_plugin.outlines if "lstm_props" in line]


def test_a_users_own_ci_profile_is_theirs_with_and_without_a_target(pytester):
    """A project's own ``ci`` profile (the most common name there is) stays theirs, also in
    a session that runs the properties beside their tests."""
    pytester.makeconftest(
        "from hypothesis import settings\nsettings.register_profile('ci', max_examples=7)\n"
    )
    pytester.makepyfile(test_user=SEES)
    common = ("-s", "-p", "no:cacheprovider", "--hypothesis-profile", "ci")
    without = pytester.runpytest_subprocess("test_user.py", *common, *WITHOUT_PLUGIN)
    alone = pytester.runpytest_subprocess("test_user.py", *common)
    beside = pytester.runpytest_subprocess(
        "test_user.py",
        PROPERTIES,
        *common,
        "--lstm-adapter",
        "torch.nn:LSTMCell",
        "--lstm-profile",
        "ci",
        "-k",
        "test_user or test_step_values_match_reference",
    )
    assert _seen(without).split()[0] == "7"
    assert _seen(alone) == _seen(without)
    assert beside.ret == pytest.ExitCode.OK, beside.outlines[-20:]
    beside.assert_outcomes(passed=2)
    assert _seen(beside) == _seen(without)


def test_xdist_workers_keep_torchs_threads(pytester):
    """Under xdist the cores are shared out only while a property runs: a user's own
    tests in the workers see torch's own thread count."""
    pytester.makepyfile(
        test_user="""
import os
import torch


def test_threads(tmp_path_factory):
    root = tmp_path_factory.getbasetemp().parent.parent
    (root / f"threads-{os.environ['PYTEST_XDIST_WORKER']}").write_text(
        str(torch.get_num_threads()))
"""
    )

    def threads(*args: str) -> set[str]:
        result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", *args)
        assert result.ret == pytest.ExitCode.OK, result.outlines[-20:]
        found = {p.read_text() for p in pytester.path.parent.rglob("threads-gw*")}
        for p in pytester.path.parent.rglob("threads-gw*"):
            p.unlink()
        return found

    assert threads() == threads(*WITHOUT_PLUGIN)


def test_the_property_profiles_are_the_suites_whatever_the_users_default(monkeypatch):
    """The properties' settings are built on Hypothesis' own defaults, so a user's default
    profile (here 1000 examples, a 1 s deadline, derandomized) does not leak into them."""
    settings.register_profile(
        "user-default-for-this-test", max_examples=1000, deadline=1000, derandomize=True
    )
    before = settings.get_current_profile_name()
    settings.load_profile("user-default-for-this-test")
    try:
        dev, ci = profile_settings("dev"), profile_settings("ci", max_examples=3)
    finally:
        settings.load_profile(before)
    assert (dev.max_examples, dev.deadline, dev.derandomize) == (15, None, False)
    assert (ci.max_examples, ci.derandomize, ci.database) == (3, True, None)
