"""The pytest plugin: ``pytest properties --lstm-adapter TARGET`` (options grouped, prefixed).

It resolves the target once per session, parametrizes the properties over the target's
layers, prints the run's identity in the report header and appends the exact reproduce
command to every failure.

Installed, it is loaded by every pytest session of the environment, so it changes nothing
in a session that checks no LSTM: no Hypothesis settings, profiles or seed (the property
tests carry their own, lstm_props._harness.profiles), no torch threads outside a property, no
header line. Every hook below acts on the property tests alone or on ``--lstm-*`` options.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lstm_props._errors import AdapterError, TargetError
from lstm_props._gate.faults import ADAPTER_PREFIX, FAILED, SUITE_PREFIX, classify, one_line
from lstm_props._gate.outcome import at_least_as_bad
from lstm_props._gate.results import (
    CALLS_TARGET,
    COUNTEREXAMPLE_SECTION,
    REPRODUCE_SECTION,
    SCHEMA,
    coverage,
    coverage_line,
    mark_xfails,
    read_xfail_file,
    result_of,
    table,
    write_json,
)
from lstm_props._gate.watchdog import DEFAULT_TIMEOUT, Watchdog
from lstm_props._harness.declared import declaration_of, properties_dir
from lstm_props._harness.profiles import PROFILES, USER_PROFILES, PropertySettings, profile_settings
from lstm_props.maths.layout import VARIANTS

if TYPE_CHECKING:
    from lstm_props._harness.under_test import LSTMUnderTest

DEFAULT_TARGET = "torch.nn:LSTMCell"
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")

_STATE = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
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
        help="the precision the target computes in (default float32)",
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


def _profile(config: pytest.Config) -> str:
    return config.getoption("lstm_profile") or ("ci" if os.environ.get("CI") else "dev")


def _seed(config: pytest.Config, profile: str) -> int | None:
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


def _checks_an_lstm(config: pytest.Config) -> bool:
    """Whether this session runs the property library: a target was named, or the
    properties were asked for by path or by --pyargs. Only then does the header speak."""
    if config.getoption("lstm_adapter") is not None:
        return True
    library = properties_dir().resolve()
    for arg in config.args:
        name = str(arg).split("::")[0]
        if name.startswith("lstm_props.properties"):
            return True
        path = Path(config.invocation_params.dir, name).resolve()
        if path == library or library in path.parents or path in library.parents:
            return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "lstm_stack: the property checks the whole stack, not one layer view"
    )
    config.addinivalue_line(
        "markers", "lstm_property(declaration): a declared property (lstm_props._harness.declared)"
    )
    profile = _profile(config)
    n = config.getoption("lstm_max_examples")
    if n is not None and n < 1:
        raise pytest.UsageError(f"--lstm-max-examples {n}: give a positive number, e.g. 25")
    if not 0 <= config.getoption("lstm_timeout") < float("inf"):  # nan, inf, negative
        raise pytest.UsageError(
            f"--lstm-timeout {config.getoption('lstm_timeout'):g}: give "
            "seconds per property, e.g. 600, or 0 for no limit"
        )
    config.stash[_STATE] = {
        # `is None`, not `or`: an empty --lstm-adapter (an unset $TARGET) is refused at load,
        # never silently replaced by the default target.
        "target_name": DEFAULT_TARGET
        if config.getoption("lstm_adapter") is None
        else config.getoption("lstm_adapter"),
        "explicit": config.getoption("lstm_adapter") is not None,
        "profile": profile,
        "seed": _seed(config, profile),
        "target": None,
        "results": {},
        "xfail": read_xfail_file(config.getoption("lstm_xfail"))
        if config.getoption("lstm_xfail")
        else set(),
    }
    _check_output_paths(config)
    config.pluginmanager.register(
        _ResultCollector(config.stash[_STATE]["results"]), "lstm_props.results"
    )
    if config.getoption("lstm_device") == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                "--lstm-device cuda: torch.cuda.is_available() is False on this machine; "
                "use --lstm-device cpu or a CUDA build of torch"
            )


def _check_output_paths(config: pytest.Config) -> None:
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


@contextlib.contextmanager
def _cores_shared_with_xdist_workers() -> Iterator[None]:
    """Under xdist, give each worker its share of the cores while a property runs: torch's
    default of one thread per core in every worker oversubscribes the machine (nn.LSTM on
    oneDNN slows ~20x). Restored after it, for the session's other tests."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers or "torch" not in sys.modules:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # xdist: hand the session seed to workers
    state = node.config.stash[_STATE]
    node.workerinput["lstm_seed"] = state["seed"]
    state.setdefault("workers", []).append(node)


def _stop_feeding_other_workers(node: Any) -> None:
    """A worker crashed (or the hang watchdog ended it) and none will replace it
    (--max-worker-restart 0, as ``lstm-props check`` runs): the run is over, so hand its
    remaining properties to nobody. xdist would give them to another worker, and where that
    one had ended in the same instant (a kernel that hangs or crashes on every worker), the
    send failed with an INTERNALERROR of xdist's own instead of the gate's one line."""
    config = node.config
    if str(config.getoption("maxworkerrestart", None)) != "0" or not _checks_an_lstm(config):
        return
    for other in config.stash[_STATE].get("workers", []):
        if other is not node:
            other.shutdown()  # xdist's own: marks it shutting down; a closed pipe is ignored


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist: the controller never loads the target, so it learns the variant from a worker."""
    if error is not None:
        _stop_feeding_other_workers(node)
    output = getattr(node, "workeroutput", {})
    state = node.config.stash[_STATE]
    if output.get("lstm_variant"):
        state["worker_variant"] = output["lstm_variant"]
    if output.get("lstm_load_error"):
        state["load_error"] = output["lstm_load_error"]


def _target(config: pytest.Config) -> Any:
    state = config.stash[_STATE]
    if state.get("load_error"):
        raise pytest.UsageError(state["load_error"])
    if state["target"] is None:
        from lstm_props._harness.loading import check_variant, load_target

        try:
            with _watchdog(config, f"loading target {state['target_name']!r}"):
                target = state["target"] = load_target(
                    state["target_name"],
                    config.getoption("lstm_dtype"),
                    config.getoption("lstm_device"),
                )
            check_variant(target, config.getoption("lstm_variant"))
            if config.getoption("lstm_black_box"):
                from lstm_props.adapters._black_box import BlackBoxTarget

                state["target"] = BlackBoxTarget(target)
            else:
                from lstm_props._harness.agreement import forward_disagreement

                state["disagreement"] = forward_disagreement(target, _variant(config))
        except (TargetError, AdapterError) as exc:
            raise pytest.UsageError(str(exc)) from None
    return state["target"]


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[_STATE]
    if not state["explicit"]:
        return
    # An xdist controller runs no property: loading the target there (import torch, build,
    # smoke-test) would only delay the workers. They load it instead, and one that cannot
    # hands its one-line error back to the controller (pytest_testnodedown) and stops.
    if _is_xdist_controller(config):
        return
    try:
        _target(config)
    except pytest.UsageError as exc:
        if not hasattr(config, "workerinput"):
            raise
        state["load_error"] = str(exc)


def _is_xdist_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("dsession")


def _workeroutput(config: pytest.Config) -> dict[str, Any]:
    """What an xdist worker hands back to the controller (pytest_testnodedown reads it)."""
    output: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if output is None:  # xdist sets workeroutput on a worker's config with workerinput
        raise AttributeError("an xdist worker's config has no workeroutput")
    return output


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not _checks_an_lstm(config):
        return []
    state = config.stash[_STATE]
    seed = state["seed"] if state["seed"] is not None else "derandomized"
    undecided = (
        _is_xdist_controller(config)
        and state["target"] is None
        and not config.getoption("lstm_variant")
    )
    variant = "(the target's, read by the workers)" if undecided else _variant(config)
    lines = [
        f"lstm_props: target={state['target_name']} variant={variant} "
        f"device={config.getoption('lstm_device')} dtype={config.getoption('lstm_dtype')} "
        f"hypothesis profile={state['profile']} seed={seed}"
    ]
    note = (
        None
        if state["target"] is None
        else getattr(state["target"].probe().layers[0], "layout_note", None)
    )
    if note:  # the layout is not used although the parameter names suggest it
        lines.append(f"lstm_props: black-box: {note}")
    if state.get("disagreement"):
        lines.append(f"lstm_props: WARNING: {state['disagreement']}")
    return lines


def _variant(config: pytest.Config) -> str:
    declared: str | None = config.getoption("lstm_variant")
    if declared:
        return declared
    state = config.stash[_STATE]
    target = state["target"]
    if target is None:
        from_worker: str = state.get("worker_variant", "standard")
        return from_worker
    views = target.probe()
    return views.layers[0].variant or "standard"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "lstm_layer" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("lstm_stack"):
        metafunc.parametrize("lstm_layer", [0], ids=["stack"])
        return
    if metafunc.config.stash[_STATE].get("load_error"):  # an xdist worker that must stop
        return
    target = _target(metafunc.config)
    views = target.probe().layers
    metafunc.parametrize(
        "lstm_layer",
        [pytest.param(k, marks=_repeats(target, views, k)) for k in range(len(views))],
        ids=[f"layer{k}" for k in range(len(views))],
    )


def _repeats(target: Any, views: Sequence[Any], k: int) -> list[pytest.MarkDecorator]:
    """A skip for a fixed-size model's layer view that makes an earlier one's call
    (``same_call_key``): at a user's H = 1024 each layer costs about a minute, and layers
    1.. of one width would only repeat layer 0 on other drawn weights. (A factory's layers
    are built at sizes drawn per case, where layer 0's input size is not layer 1's.)"""
    key = None if target.sized else views[k].same_call_key
    first = next((j for j in range(k) if key is not None and views[j].same_call_key == key), None)
    if first is None:
        return []
    return [
        pytest.mark.skip(
            reason=f"layer view {k} makes the same call as layer view "
            f"{first}, at the same sizes, on the weights each case "
            f"draws: checked as layer{first}"
        )
    ]


def _property_settings(
    config: pytest.Config, target: Any = None, parametrizations: int = 1
) -> PropertySettings:
    """This run's profile and seed; on a wide fixed-size target (a user's own H = 1024
    model: one example costs ∝ T·B·H² and checks thousands of coordinates) at most
    WIDE_MAX_EXAMPLES examples a property, shared among its ``parametrizations`` (the edge
    shapes: one each), unless --lstm-max-examples sets the count."""
    state = config.stash[_STATE]
    n = config.getoption("lstm_max_examples")
    if n is None and target is not None:
        from lstm_props._harness.strategies import WIDE_MAX_EXAMPLES, wide_fixed_hidden

        if wide_fixed_hidden(target) is not None:
            n = min(
                PROFILES[state["profile"]]["max_examples"],
                max(1, WIDE_MAX_EXAMPLES // parametrizations),
            )
    return PropertySettings(profile_settings(state["profile"], n), state["seed"])


@pytest.fixture
def lstm_settings(request: pytest.FixtureRequest) -> PropertySettings:
    """This run's Hypothesis settings and seed, for a property that calls no target:
    ``@lstm_settings.given(...)`` on its inner test."""
    return _property_settings(request.config)


def _under_test(config: pytest.Config, layer: int, parametrizations: int = 1) -> LSTMUnderTest:
    from lstm_props._harness.under_test import LSTMUnderTest  # imports torch: workers only

    target = _target(config)
    return LSTMUnderTest(
        target,
        layer,
        _variant(config),
        config.getoption("lstm_dtype"),
        config.getoption("lstm_device"),
        _property_settings(config, target, parametrizations),
    )


@pytest.fixture
def lstm(request: pytest.FixtureRequest, lstm_layer: int) -> Iterator[LSTMUnderTest]:
    """The target under test, one layer view at a time."""
    under_test = _under_test(
        request.config, lstm_layer, request.node.stash.get(_PARAMETRIZATIONS, 1)
    )
    if request.node.stash.get(_NEEDS_UNCHECKED, False):
        # Checking the needs raised at collection (a capability call of the adapter): ask
        # again here, where the fault is reported as the property's, in one line.
        # The flag is set for declared properties only, so the declaration is there.
        reason = declaration_of(request.node).unmet(under_test)  # type: ignore[union-attr]
        if reason:
            pytest.skip(reason)
    with _cores_shared_with_xdist_workers():
        yield under_test


_NEEDS_UNCHECKED = pytest.StashKey[bool]()
#: How many items one property has on one layer view (its own parametrizations).
_PARAMETRIZATIONS = pytest.StashKey[int]()


def _property_on_layer(item: pytest.Item) -> tuple[str, int]:
    """(the test function's name, the layer view it runs on): one property on one view."""
    callspec = getattr(item, "callspec", None)
    layer = callspec.params.get("lstm_layer", 0) if callspec is not None else 0
    return getattr(item, "originalname", item.name), layer


def _skip_unmet_needs(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each declared property whose needs the target does not meet is skipped here, at
    collection, with the reason (lstm_props._harness.declared)."""
    siblings = Counter(_property_on_layer(item) for item in items)
    held: dict[int, dict[str, bool]] = {}  # layer view -> need -> holds
    for item in items:
        declaration = declaration_of(item)
        if declaration is None or "lstm" not in getattr(item, "fixturenames", ()):
            continue
        name, layer = _property_on_layer(item)
        item.stash[_PARAMETRIZATIONS] = siblings[(name, layer)]
        try:
            reason = declaration.unmet(_under_test(config, layer), held.setdefault(layer, {}))
        except Exception:  # a faulting capability: the fixture reports it, as the property's
            item.stash[_NEEDS_UNCHECKED] = True
            continue
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def _test_address(item: pytest.Item) -> list[str]:
    """The item as pytest addresses it from any directory: the installed property modules
    by --pyargs (their nodeid depends on where pytest was started), others by nodeid."""
    path = getattr(item, "path", None)
    if path is not None and path.parent == properties_dir():
        return ["--pyargs", f"lstm_props.properties.{path.stem}::{item.name}"]
    return [item.nodeid]


def reproduce_command(item: pytest.Item) -> str:
    config = item.config
    state = config.stash[_STATE]
    args = [
        "pytest",
        *_test_address(item),
        "--lstm-adapter",
        state["target_name"],
        "--lstm-variant",
        _variant(config),
        "--lstm-device",
        config.getoption("lstm_device"),
        "--lstm-dtype",
        config.getoption("lstm_dtype"),
        "--lstm-profile",
        state["profile"],
    ]
    if config.getoption("lstm_max_examples") is not None:
        args.append(f"--lstm-max-examples={config.getoption('lstm_max_examples')}")
    if config.getoption("lstm_black_box"):
        args.append("--lstm-black-box")
    if state["seed"] is not None:
        args.append(f"--lstm-seed={state['seed']}")
    return shlex.join(args)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A property that hangs ends the run in one line naming it and the call that hung.
    Only properties: any other test of a session that has the plugin loaded runs unlimited."""
    if "lstm" not in getattr(item, "fixturenames", ()):
        yield
        return
    with _watchdog(item.config, f"property {item.nodeid}"):
        yield


def _watchdog(config: pytest.Config, what: str) -> Watchdog:
    capture = config.pluginmanager.getplugin("capturemanager")
    release = None if capture is None else capture.suspend_global_capture
    return Watchdog(config.getoption("lstm_timeout"), what, release)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # outermost: sees pytest's xfail verdict
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    calls_target = "lstm" in getattr(item, "fixturenames", ())
    setattr(report, CALLS_TARGET, calls_target)
    if call.excinfo is None or not calls_target:
        return
    exc = call.excinfo.value
    kind = classify(exc)
    if kind != FAILED:
        # A fault is not a known deviation: an xfail line must not hide a crash.
        if hasattr(report, "wasxfail"):
            del report.wasxfail
            report.outcome = "failed"
        if report.failed:
            report.longrepr = one_line(exc, kind)
    elif not report.failed:
        return
    notes = getattr(exc, "__notes__", None)
    if notes and kind == FAILED:  # Hypothesis' minimal falsifying example and its blob
        report.sections.append((COUNTEREXAMPLE_SECTION, "\n".join(notes).strip()))
    report.sections.append((REPRODUCE_SECTION, reproduce_command(item)))


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """A fault or a suite bug is not shown as a property's FAILED in the verbose listing."""
    if report.failed and isinstance(report.longrepr, str):
        for prefix, word in ((ADAPTER_PREFIX, "FAULT"), (SUITE_PREFIX, "SUITE-ERROR")):
            if report.longrepr.startswith(prefix):
                return "failed", "E", (word, {"red": True})
    return None


#: Set by ``lstm-props check`` for its child run: a file that names the property running
#: now, so that a run that dies can say where.
PROGRESS_ENV = "LSTM_PROPS_PROGRESS_FILE"


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "w") as out:
            out.write(nodeid)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash[_STATE].get("load_error"):  # an xdist worker: run nothing, report it
        items[:] = []
        return
    _skip_unmet_needs(config, items)
    ids = config.stash[_STATE]["xfail"]
    if ids:
        mark_xfails([i for i in items if "lstm" in getattr(i, "fixturenames", ())], ids)


class _ResultCollector:
    """Registered per session, so nested in-process runs (pytester) keep their own results.
    Per test, a later phase's report replaces an earlier one unless it is less severe
    (lstm_props._gate.outcome: a teardown fault after a failed call is the fault)."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = result_of(report)
        old = self.results.get(report.nodeid)
        if result is not None and (old is None or at_least_as_bad(result.outcome, old.outcome)):
            self.results[report.nodeid] = result


def _header(config: pytest.Config) -> dict[str, Any]:
    state = config.stash[_STATE]
    return {
        "target": state["target_name"],
        "variant": _variant(config),
        "device": config.getoption("lstm_device"),
        "dtype": config.getoption("lstm_dtype"),
        "seed": state["seed"],
        "profile": state["profile"],
        "mode": _mode(state),
    }


def _mode(state: dict[str, Any]) -> str | None:
    """The target's own mode; None where this process has not loaded it (an xdist
    controller), and the skip reasons tell."""
    target = state.get("target")
    if target is None:
        return None
    return "black-box" if target.probe().layers[0].read_layout() is None else "layout"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash[_STATE]
    error = state.get("load_error")
    if error and not hasattr(config, "workerinput"):
        terminalreporter.write_line(f"ERROR: {error}", red=True, bold=True)
    results = _sorted_results(config)
    if config.getoption("lstm_table") and results:
        terminalreporter.section("lstm_props conformance")
        for line in table(results):
            terminalreporter.write_line(line)
    if state["explicit"] and results and not error:
        cov = coverage(results, _mode(state))
        line = f"lstm_props: {coverage_line(cov)}"
        if cov["verified"] == 0 and not any(r.outcome in ("failed", "error") for r in results):
            line += (
                "; NOTHING VERIFIED: no property that calls the target passed, so this "
                "run is no evidence of conformance"
            )
        elif cov["mode"] == "black-box":
            line += "; a black-box pass is not a conformance pass"
        terminalreporter.write_line(
            line, yellow=cov["verified"] == 0 or cov["ran"] < cov["of"], bold=cov["verified"] == 0
        )
    roots = [r.property for r in results if r.root_cause]
    following = sum(bool(r.follows_from) for r in results)
    if roots and state["explicit"]:
        terminalreporter.write_line(
            f"lstm_props: root cause{'s' if len(roots) > 1 else ''}: {', '.join(roots)}"
            + (
                f" ({following} other failures follow from {'them' if len(roots) > 1 else 'it'})"
                if following
                else ""
            ),
            red=True,
            bold=True,
        )
    for problem in state.get("write_errors", []):
        terminalreporter.write_line(f"ERROR: {problem}", red=True, bold=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    config = session.config
    state = config.stash[_STATE]
    if hasattr(config, "workerinput"):
        if state["target"] is not None:
            _workeroutput(config)["lstm_variant"] = _variant(config)
        if state.get("load_error"):
            _workeroutput(config)["lstm_load_error"] = state["load_error"]
        return
    if state.get("load_error"):  # xdist: a worker could not load the target
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    _write_outputs(config, int(exitstatus))
    if state.get("write_errors") and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # a result file is missing


def _write_outputs(config: pytest.Config, exitstatus: int) -> None:
    """Write --lstm-json and --lstm-report whatever happened to the run (interrupted, an
    internal error): a writer that raises would leave no file, or an earlier run's."""
    state = config.stash[_STATE]
    results = _sorted_results(config)
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    status = {
        "complete": exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED),
        "interrupted": interrupted,
        "exit_status": exitstatus,
    }
    try:
        header = _header(config)
    except Exception as exc:  # the target itself is what failed: still say what ran
        header = {
            "target": state["target_name"],
            "variant": "unknown",
            "device": config.getoption("lstm_device"),
            "dtype": config.getoption("lstm_dtype"),
            "seed": state["seed"],
            "profile": state["profile"],
            "header_error": f"{type(exc).__name__}: {exc}",
        }
    problems = state.setdefault("write_errors", [])
    path = config.getoption("lstm_json")
    if path:
        try:
            write_json(path, header, results, status)
        except Exception as exc:
            problems.append(f"--lstm-json {path!r}: could not write it: {exc}")
    report = config.getoption("lstm_report")
    if report:
        from lstm_props._report.html import write_html_report

        try:
            write_html_report(report, {**header, **status}, _target_or_reason(config), results)
        except Exception as exc:
            problems.append(f"--lstm-report {report!r}: could not write it: {exc}")


def _target_or_reason(config: pytest.Config) -> Any:
    try:
        return _target(config)
    except pytest.UsageError as exc:
        return str(exc)


def _sorted_results(config: pytest.Config) -> list[Any]:
    """The results, root causes first, each failure marked with what it follows from."""
    from lstm_props._gate.root_cause import annotate

    results = config.stash[_STATE]["results"]
    return annotate([results[k] for k in sorted(results)])
