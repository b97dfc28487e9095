"""What a session leaves behind: the results it collected, the files it writes (JSON,
HTML report) and the lines it ends with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lstm_props._gate.outcome import at_least_as_bad
from lstm_props._gate.results import (
    PropertyResult,
    coverage,
    coverage_line,
    result_of,
    table,
    write_json,
)

_RED = {"red": True, "bold": True}

#: The plugin's per-session state (target, seed, results, ...), on the config's stash.
STATE = pytest.StashKey[dict[str, Any]]()


class ResultCollector:
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


def summary_lines(
    state: dict[str, Any], results: list[PropertyResult], mode: str | None, show_table: bool
) -> list[tuple[str, dict[str, bool]]]:
    """The lines a session ends with, each with its terminal markup: a load error, the
    conformance table, how much of the suite ran, the root causes, the unwritten files."""
    lines: list[tuple[str, dict[str, bool]]] = []
    error = state.get("load_error")
    if error and not state.get("is_worker"):
        lines.append((f"ERROR: {error}", dict(_RED)))
    if show_table and results:
        lines.append(("", {"section": True}))
        lines += [(line, {}) for line in table(results)]
    if state["explicit"] and results and not error:
        cov = coverage(results, mode)
        line = f"lstm_props: {coverage_line(cov)}"
        if cov["verified"] == 0 and not any(r.outcome in ("failed", "error") for r in results):
            line += (
                "; NOTHING VERIFIED: no property that calls the target passed, so this "
                "run is no evidence of conformance"
            )
        elif cov["mode"] == "black-box":
            line += "; a black-box pass is not a conformance pass"
        lines.append(
            (
                line,
                {
                    "yellow": cov["verified"] == 0 or cov["ran"] < cov["of"],
                    "bold": cov["verified"] == 0,
                },
            )
        )
    roots = [r.property for r in results if r.root_cause]
    following = sum(bool(r.follows_from) for r in results)
    if roots and state["explicit"]:
        them = "them" if len(roots) > 1 else "it"
        line = f"lstm_props: root cause{'s' if len(roots) > 1 else ''}: {', '.join(roots)}"
        if following:
            line += f" ({following} other failures follow from {them})"
        lines.append((line, dict(_RED)))
    lines += [(f"ERROR: {problem}", dict(_RED)) for problem in state.get("write_errors", [])]
    return lines


def write_outputs(
    config: pytest.Config,
    exitstatus: int,
    results: list[PropertyResult],
    header: Callable[[], dict[str, Any]],
    target_or_reason: Callable[[], Any],
) -> list[str]:
    """Write --lstm-json and --lstm-report whatever happened to the run (interrupted, an
    internal error): a writer that raises would leave no file, or an earlier run's. The
    problems, one line each (a file that could not be written)."""
    state = config.stash[STATE]
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    status = {
        "complete": exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED),
        "interrupted": interrupted,
        "exit_status": exitstatus,
    }
    try:
        head = header()
    except Exception as exc:  # the target itself is what failed: still say what ran
        head = {
            "target": state["target_name"],
            "variant": "unknown",
            "device": config.getoption("lstm_device"),
            "dtype": config.getoption("lstm_dtype"),
            "seed": state["seed"],
            "profile": state["profile"],
            "header_error": f"{type(exc).__name__}: {exc}",
        }
    problems = []
    path = config.getoption("lstm_json")
    if path:
        try:
            write_json(path, head, results, status)
        except Exception as exc:
            problems.append(f"--lstm-json {path!r}: could not write it: {exc}")
    report = config.getoption("lstm_report")
    if report:
        from lstm_props._report.html import write_html_report

        try:
            write_html_report(report, {**head, **status}, target_or_reason(), results)
        except Exception as exc:
            problems.append(f"--lstm-report {report!r}: could not write it: {exc}")
    return problems
