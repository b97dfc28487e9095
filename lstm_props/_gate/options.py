"""The plugin's ``--lstm-*`` options: declared in one group, checked before the run.

Imported by the CLI too (its defaults and choices), so it imports no torch.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import pytest

from lstm_props._gate.results import SCHEMA
from lstm_props._gate.watchdog import DEFAULT_TIMEOUT
from lstm_props._harness.profiles import PROFILES, USER_PROFILES
from lstm_props.maths.layout import VARIANTS
from lstm_props.maths.precision import PRECISIONS

DEFAULT_TARGET = "torch.nn:LSTMCell"
DEVICES = ("cpu", "cuda")
#: float32, float64, float16, bfloat16 and the declared mixed precisions (maths.precision).
DTYPES = PRECISIONS

#: Set by ``lstm-props check`` for its child run: a file that names the property running
#: now, so that a run that dies can say where.
PROGRESS_ENV = "LSTM_PROPS_PROGRESS_FILE"


def add_options(parser: pytest.Parser) -> None:
    """The ``--lstm-*`` options, in one group."""
    group = parser.getgroup("lstm_props", "lstm_props: verify an LSTM's gradient structure")
    group.addoption(
        "--lstm-adapter",
        dest="lstm_adapter",
        default=None,
        metavar="TARGET",
        help="package.module:attr or path/to/file.py:attr naming an adapter, a "
        f"torch module or a factory of either (default {DEFAULT_TARGET})",
    )
    group.addoption(
        "--lstm-variant",
        dest="lstm_variant",
        default=None,
        choices=VARIANTS,
        help="the LSTM variant the target declares (default: what the adapter "
        "declares, else standard)",
    )
    group.addoption(
        "--lstm-device",
        dest="lstm_device",
        default="cpu",
        choices=DEVICES,
        help="where the target runs (default cpu)",
    )
    group.addoption(
        "--lstm-dtype",
        dest="lstm_dtype",
        default="float32",
        choices=DTYPES,
        help="the precision the target computes in (default float32; float16, bfloat16 "
        "for torch targets; X+float32: stored in X, dot products summed in float32, as "
        "torch's CPU kernels and torch.autocast do)",
    )
    group.addoption(
        "--lstm-black-box",
        dest="lstm_black_box",
        action="store_true",
        help="hide the target's parameter layout: run only what black-box mode "
        "can (to measure it on a target whose layout is known)",
    )
    group.addoption(
        "--lstm-profile",
        dest="lstm_profile",
        default=None,
        choices=list(PROFILES),
        metavar="{" + ",".join(USER_PROFILES) + "}",
        help="how the properties draw examples: ci 15 derandomized, dev 15 "
        "random, thorough 200 random (default ci when $CI is set, else dev); "
        "the property tests' own, never the session's Hypothesis profile",
    )
    group.addoption(
        "--lstm-seed",
        dest="lstm_seed",
        default=None,
        type=int,
        metavar="N",
        help="replay a random (dev, thorough) run: the header prints its seed",
    )
    group.addoption(
        "--lstm-max-examples",
        dest="lstm_max_examples",
        default=None,
        type=int,
        metavar="N",
        help="examples per property (overrides the profile's)",
    )
    group.addoption(
        "--lstm-xfail",
        dest="lstm_xfail",
        default=None,
        metavar="FILE",
        help="known deviations: one property id per line, # comments",
    )
    group.addoption(
        "--lstm-json",
        dest="lstm_json",
        default=None,
        metavar="PATH",
        help=f"write per-property results as JSON (schema {SCHEMA})",
    )
    group.addoption(
        "--lstm-report",
        dest="lstm_report",
        default=None,
        metavar="PATH",
        help="write a self-contained HTML report (matrix, failures, pictures)",
    )
    group.addoption(
        "--lstm-table",
        dest="lstm_table",
        action="store_true",
        help="print the conformance table at the end",
    )
    group.addoption(
        "--lstm-timeout",
        dest="lstm_timeout",
        default=DEFAULT_TIMEOUT,
        type=float,
        metavar="SECONDS",
        help="end the run (exit 2) when loading the target or one property "
        f"outlives this, naming the call that hung (default {DEFAULT_TIMEOUT:g}"
        ", 0: no limit)",
    )


def profile_of(config: pytest.Config) -> str:
    return config.getoption("lstm_profile") or ("ci" if os.environ.get("CI") else "dev")


def seed_of(config: pytest.Config, profile: str) -> int | None:
    """One seed for the whole session (shared with xdist workers), so failures reproduce;
    applied to the property tests alone (PropertySettings.given)."""
    given: int | None = config.getoption("lstm_seed")  # --lstm-seed is type=int
    derandomized = PROFILES[profile].get("derandomize", False)
    if given is not None and derandomized:
        raise pytest.UsageError(
            f"--lstm-seed {given}: the {profile} profile is derandomized (the same examples "
            "on every run), so a seed would change what it promises; drop the seed, or use "
            "--lstm-profile dev or thorough"
        )
    if given is not None:
        return given
    if derandomized:
        return None
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput:
        shared: int | None = workerinput["lstm_seed"]  # the controller's (pytest_configure_node)
        return shared
    return secrets.randbelow(2**32)


def check_output_paths(config: pytest.Config) -> None:
    """Fail before the run, not after it, when a result file could not be written; remove
    an earlier run's file, so that a run that dies leaves none rather than a stale pass."""
    for option in ("lstm_json", "lstm_report"):
        path = config.getoption(option)
        if not path:
            continue
        problem = output_path_problem(path)
        if problem:
            raise pytest.UsageError(f"--{option.replace('_', '-')} {path!r}: {problem}")
        if not hasattr(config, "workerinput") and os.path.isfile(path):
            os.remove(path)


def output_path_problem(path: str) -> str:
    """Why ``path`` cannot take a result file ("" if it can)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return "is a directory; give a file path, e.g. results/lstm-props.json"
    if not os.path.isdir(folder):
        return (
            f"the directory {os.path.dirname(path) or '.'!r} does not exist; create it or "
            "give a path in an existing directory"
        )
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return "the file exists and is not writable; remove it or give another path"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the directory {os.path.dirname(path) or '.'!r} is not writable"
    return ""
