"""The pytest plugin: ``pytest properties --lstm-adapter TARGET`` (options grouped, prefixed).

It resolves the target once per session, parametrizes the properties over the target's
layers, prints the run's identity in the report header and appends the exact reproduce
command to every failure.

Installed, it is loaded by every pytest session of the environment, so it changes nothing
in a session that checks no LSTM: no Hypothesis settings, profiles or seed (the property
tests carry their own, lstm_props._harness.profiles), no torch threads outside a property, no
header line. Every hook below acts on the property tests alone or on ``--lstm-*`` options.

The hooks live here; what they use sits beside them by concern: the options
(_gate.options), xdist's workers (_gate.workers) and what a session leaves behind, its
results, files and closing lines (_gate.run_outputs).
"""

from __future__ import annotations

import os
import shlex
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lstm_props._errors import AdapterError, TargetError
from lstm_props._gate.faults import ADAPTER_PREFIX, FAILED, SUITE_PREFIX, classify, one_line
from lstm_props._gate.options import (
    DEFAULT_TARGET,
    PROGRESS_ENV,
    add_options,
    check_output_paths,
    profile_of,
    seed_of,
)
from lstm_props._gate.results import (
    CALLS_TARGET,
    COUNTEREXAMPLE_SECTION,
    KNOWN_DEVIATION,
    REPRODUCE_SECTION,
    mark_xfails,
    read_xfail_file,
)
from lstm_props._gate.root_cause import ancestors, depends_on
from lstm_props._gate.run_outputs import STATE, ResultCollector, summary_lines, write_outputs
from lstm_props._gate.watchdog import Watchdog
from lstm_props._gate.workers import (
    cores_shared_with_xdist_workers,
    is_xdist_controller,
    stop_feeding_other_workers,
    workeroutput,
)
from lstm_props._harness.declared import declaration_of, properties_dir
from lstm_props._harness.profiles import (
    NOT_SHRUNK_FOLLOWS,
    NOT_SHRUNK_KNOWN,
    PROFILES,
    SHRINK_SECONDS,
    PropertySettings,
    profile_settings,
)

if TYPE_CHECKING:
    from lstm_props._harness.under_test import LSTMUnderTest


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


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
    profile = profile_of(config)
    n = config.getoption("lstm_max_examples")
    if n is not None and n < 1:
        raise pytest.UsageError(f"--lstm-max-examples {n}: give a positive number, e.g. 25")
    if not 0 <= config.getoption("lstm_timeout") < float("inf"):  # nan, inf, negative
        raise pytest.UsageError(
            f"--lstm-timeout {config.getoption('lstm_timeout'):g}: give "
            "seconds per property, e.g. 600, or 0 for no limit"
        )
    config.stash[STATE] = {
        # `is None`, not `or`: an empty --lstm-adapter (an unset $TARGET) is refused at load,
        # never silently replaced by the default target.
        "target_name": DEFAULT_TARGET
        if config.getoption("lstm_adapter") is None
        else config.getoption("lstm_adapter"),
        "explicit": config.getoption("lstm_adapter") is not None,
        "profile": profile,
        "seed": seed_of(config, profile),
        "target": None,
        "results": {},
        "xfail": read_xfail_file(config.getoption("lstm_xfail"))
        if config.getoption("lstm_xfail")
        else set(),
    }
    check_output_paths(config)
    config.pluginmanager.register(
        ResultCollector(config.stash[STATE]["results"]), "lstm_props.results"
    )
    if config.getoption("lstm_device") == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                "--lstm-device cuda: torch.cuda.is_available() is False on this machine; "
                "use --lstm-device cpu or a CUDA build of torch"
            )


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # xdist: hand the session seed to workers
    state = node.config.stash[STATE]
    node.workerinput["lstm_seed"] = state["seed"]
    state.setdefault("workers", []).append(node)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist: the controller never loads the target, so it learns the variant from a worker."""
    if error is not None and _checks_an_lstm(node.config):
        stop_feeding_other_workers(node, node.config.stash[STATE].get("workers", []))
    output = getattr(node, "workeroutput", {})
    state = node.config.stash[STATE]
    if output.get("lstm_variant"):
        state["worker_variant"] = output["lstm_variant"]
    if output.get("lstm_load_error"):
        state["load_error"] = output["lstm_load_error"]


def _target(config: pytest.Config) -> Any:
    state = config.stash[STATE]
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
                from lstm_props._harness.precision import below_precision

                # below the declared precision every value property would fail, each by
                # thousands of its bound: one line instead, and no run
                narrower = below_precision(target, _variant(config))
                if narrower is not None:
                    raise TargetError(narrower)
                state["disagreement"] = forward_disagreement(target, _variant(config))
        except (TargetError, AdapterError) as exc:
            raise pytest.UsageError(str(exc)) from None
    return state["target"]


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[STATE]
    if not state["explicit"]:
        return
    # An xdist controller runs no property: loading the target there (import torch, build,
    # smoke-test) would only delay the workers. They load it instead, and one that cannot
    # hands its one-line error back to the controller (pytest_testnodedown) and stops.
    if is_xdist_controller(config):
        return
    try:
        _target(config)
    except pytest.UsageError as exc:
        if not hasattr(config, "workerinput"):
            raise
        state["load_error"] = str(exc)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not _checks_an_lstm(config):
        return []
    state = config.stash[STATE]
    seed = state["seed"] if state["seed"] is not None else "derandomized"
    undecided = (
        is_xdist_controller(config)
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
    declared = (
        None
        if state["target"] is None
        else getattr(state["target"].probe().layers[0], "declared_layout", None)
    )
    quantized = (
        None
        if state["target"] is None
        else getattr(state["target"].probe().layers[0], "quantization_note", None)
    )
    if quantized:  # its declared rounding is in every value tolerance, and said so here
        lines.append(
            f"lstm_props: quantized kernel: {quantized}; the error model takes that rounding "
            "as an input perturbation (docs/error-model.md: quantized kernels)"
        )
    if declared is not None:  # the module's own lstm_layout: what the layout is read through
        lines.append(f"lstm_props: layout declared by the module: {declared!r}")
    if state.get("disagreement"):
        lines.append(f"lstm_props: WARNING: {state['disagreement']}")
    return lines


def _variant(config: pytest.Config) -> str:
    declared: str | None = config.getoption("lstm_variant")
    if declared:
        return declared
    state = config.stash[STATE]
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
    if metafunc.config.stash[STATE].get("load_error"):  # an xdist worker that must stop
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
    state = config.stash[STATE]
    n = config.getoption("lstm_max_examples")
    if n is None and target is not None:
        from lstm_props._harness.strategies import WIDE_MAX_EXAMPLES, wide_fixed_hidden

        if wide_fixed_hidden(target) is not None:
            n = min(
                PROFILES[state["profile"]]["max_examples"],
                max(1, WIDE_MAX_EXAMPLES // parametrizations),
            )
    profile = state["profile"]
    return PropertySettings(
        profile_settings(profile, n), state["seed"], SHRINK_SECONDS.get(profile)
    )


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
    roots = _failed_before(request.config, request.node)
    known = request.node.stash.get(KNOWN_DEVIATION, None)
    if roots:
        why = NOT_SHRUNK_FOLLOWS.format(root=", ".join(roots))
        under_test.settings = under_test.settings.without_shrinking(why)
    elif known is not None:
        why = NOT_SHRUNK_KNOWN.format(key=known)
        under_test.settings = under_test.settings.without_shrinking(why)
    if request.node.stash.get(_NEEDS_UNCHECKED, False):
        # Checking the needs raised at collection (a capability call of the adapter): ask
        # again here, where the fault is reported as the property's, in one line.
        # The flag is set for declared properties only, so the declaration is there.
        reason = declaration_of(request.node).unmet(under_test)  # type: ignore[union-attr]
        if reason:
            pytest.skip(reason)
    with cores_shared_with_xdist_workers():
        yield under_test


_NEEDS_UNCHECKED = pytest.StashKey[bool]()
#: How many items one property has on one layer view (its own parametrizations).
_PARAMETRIZATIONS = pytest.StashKey[int]()


def _property_on_layer(item: pytest.Item) -> tuple[str, int]:
    """(the test function's name, the layer view it runs on): one property on one view."""
    callspec = getattr(item, "callspec", None)
    layer = callspec.params.get("lstm_layer", 0) if callspec is not None else 0
    return getattr(item, "originalname", item.name), layer


def _failed_before(config: pytest.Config, item: pytest.Item) -> list[str]:
    """The properties ``item``'s property relies on (directly or not) that already failed
    in this process (its results so far)."""
    declaration = declaration_of(item)
    if declaration is None:
        return []
    state = config.stash[STATE]
    ids = state.setdefault("ids", {})
    failed = {
        ids[nodeid]
        for nodeid, result in state["results"].items()
        if result.outcome == "failed" and nodeid in ids
    }
    return sorted(ancestors(declaration.id) & failed)


def _basic_claims_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The properties in the order of their claims' dependencies (a property after those it
    relies on, lstm_props._gate.root_cause), in the slots the properties held, so a user's
    own tests keep theirs. A property whose root cause failed first is then found but not
    shrunk (PropertySettings.without_shrinking): on a broken stack two dozen properties fail
    with one cause, and shrinking each was where a failing run's minutes went."""
    graph = depends_on()
    depth: dict[str, int] = {}

    def depth_of(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((depth_of(p) for p in graph.get(name, ())), default=-1)
        return depth[name]

    ids = config.stash[STATE].setdefault("ids", {})
    slots: list[int] = []
    ours: list[tuple[int, int, pytest.Item]] = []
    for k, item in enumerate(items):
        declaration = declaration_of(item)
        if declaration is not None:
            slots.append(k)
            ours.append((depth_of(declaration.id), len(ours), item))
            ids[item.nodeid] = declaration.id
    for k, (_, _, item) in zip(slots, sorted(ours, key=lambda entry: entry[:2])):
        items[k] = item


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
    state = config.stash[STATE]
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


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "w") as out:
            out.write(nodeid)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash[STATE].get("load_error"):  # an xdist worker: run nothing, report it
        items[:] = []
        return
    _skip_unmet_needs(config, items)
    _basic_claims_first(config, items)
    ids = config.stash[STATE]["xfail"]
    if ids:
        mark_xfails([i for i in items if "lstm" in getattr(i, "fixturenames", ())], ids)


def _header(config: pytest.Config) -> dict[str, Any]:
    state = config.stash[STATE]
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
    state = config.stash[STATE]
    state["is_worker"] = hasattr(config, "workerinput")
    lines = summary_lines(
        state, _sorted_results(config), _mode(state), config.getoption("lstm_table")
    )
    for line, markup in lines:
        if markup.pop("section", False):
            terminalreporter.section("lstm_props conformance")
        else:
            terminalreporter.write_line(line, **markup)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    config = session.config
    state = config.stash[STATE]
    if hasattr(config, "workerinput"):
        if state["target"] is not None:
            workeroutput(config)["lstm_variant"] = _variant(config)
        if state.get("load_error"):
            workeroutput(config)["lstm_load_error"] = state["load_error"]
        return
    if state.get("load_error"):  # xdist: a worker could not load the target
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    state.setdefault("write_errors", []).extend(
        write_outputs(
            config,
            int(exitstatus),
            _sorted_results(config),
            lambda: _header(config),
            lambda: _target_or_reason(config),
        )
    )
    if state.get("write_errors") and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # a result file is missing


def _target_or_reason(config: pytest.Config) -> Any:
    try:
        return _target(config)
    except pytest.UsageError as exc:
        return str(exc)


def _sorted_results(config: pytest.Config) -> list[Any]:
    """The results, root causes first, each failure marked with what it follows from."""
    from lstm_props._gate.root_cause import annotate

    results = config.stash[STATE]["results"]
    return annotate([results[k] for k in sorted(results)])
