"""Run the property suite on one target in a process of its own and read back its results.

``lstm-props selftest`` (one run per mutant), ``lstm-props matrix`` (one per implementation ×
dtype) and benchmarks/false_alarms.py (one per target × dtype × seed) all do this: pytest
on the installed properties with ``--lstm-json`` in a temporary directory, one thread per
process, and the JSON folded per property (lstm_props._gate.outcome). A process of its own, so
that a target's global state (Keras' backend, a framework's caches, a crash) cannot leak
into the next run or end the caller.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstm_props._gate.outcome import Outcome, fold
from lstm_props._harness.declared import properties_dir

#: pytest's unraisableexception plugin ends a session with five full gc.collect() passes (its
#: search for exceptions raised in __del__): 0.6 to 1.2 s over a heap that holds torch and
#: a run's Hypothesis data, a fifth of a default check, every child run. Unraisable
#: exceptions are warnings, which no verdict of the gate reads.
NO_GC_SWEEPS = ("-p", "no:unraisableexception")
#: The plugins a child run needs, loaded by name while pytest's entry-point autoload is off
#: (:func:`child_environment`): whatever else the environment installs (a coverage,
#: benchmark or typing plugin, pytest-randomly) neither slows the gate's run nor steers it.
#: Importing two such plugins was 0.5 s of a 5.5 s default check.
CHILD_PLUGINS = ("-p", "lstm_props._gate.plugin", "-p", "_hypothesis_pytestplugin")
XDIST_PLUGIN = ("-p", "xdist.plugin")


@dataclass
class SuiteRun:
    target: str
    dtype: str
    #: property (layers folded) -> its worst outcome (lstm_props._gate.outcome.SEVERITY)
    outcomes: dict[str, Outcome]
    #: The JSON's results as written (property with its layer, outcome, message, ...).
    results: list[dict[str, Any]]
    #: Wall-clock seconds of the whole process (start-up and loading included).
    seconds: float
    #: Why the run gave no results ("" if it gave some): "exit 4: <its last line>", or
    #: "timed out after N s". Such a run is neither a pass nor a failure.
    broken: str = ""
    #: The run's last line of output (stderr, else stdout) when it is broken: for a target
    #: that cannot be loaded, pytest's one-line refusal.
    last_line: str = ""
    #: The last 500 characters of its stdout and of its stderr when it is broken.
    tail: str = ""
    returncode: int = 0
    #: The JSON's summary ({"passed": n, ...}); None for a broken run.
    summary: dict[str, int] | None = field(default=None)

    @property
    def property_seconds(self) -> float:
        """The properties' own durations, summed (loading and start-up left out)."""
        return sum(float(r.get("duration", 0.0)) for r in self.results)


def own_environment() -> dict[str, str]:
    """This process' environment less an enclosing xdist worker's variables: a run started
    from inside a ``pytest -n`` test would otherwise take itself for one of its workers
    (pytest-benchmark disables itself with a warning; the plugin splits the cores)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}


def child_environment(**extra: str) -> dict[str, str]:
    """The environment of a child pytest run of the gate: :func:`own_environment` with
    plugin autoload off (its plugins are named by CHILD_PLUGINS) and without the user's
    PYTEST_ADDOPTS and PYTEST_PLUGINS, which are for the user's own test runs (and whose
    options may name plugins the child does not load); ``extra`` on top."""
    env = own_environment()
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        env.pop(name, None)
    return {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **extra}


def _located(target: str) -> str:
    """A TARGET naming a file by a relative path, made absolute: the run starts elsewhere."""
    module, sep, attr = target.rpartition(":")
    if sep and (module.endswith(".py") or "/" in module) and not Path(module).is_absolute():
        return f"{Path(module).resolve()}:{attr}"
    return target


def suite_args(
    target: str,
    json_path: str,
    *,
    profile: str,
    dtype: str = "float32",
    seed: int | None = None,
    max_examples: int | None = None,
    black_box: bool = False,
    only: str | None = None,
    modules: Sequence[str] | None = None,
) -> list[str]:
    """pytest's arguments (after ``python -m pytest``) for one run of the suite."""
    paths = (
        [str(properties_dir() / f"{m}.py") for m in modules] if modules else [str(properties_dir())]
    )
    args = [
        *paths,
        "-q",
        "-p",
        "no:cacheprovider",
        *NO_GC_SWEEPS,
        *CHILD_PLUGINS,
        "-p",
        "no:randomly",
        "--lstm-adapter",
        _located(target),
        "--lstm-dtype",
        dtype,
        "--lstm-profile",
        profile,
        "--lstm-json",
        json_path,
    ]
    if seed is not None:
        args.append(f"--lstm-seed={seed}")
    if max_examples:
        args += ["--lstm-max-examples", str(max_examples)]
    if black_box:
        args.append("--lstm-black-box")
    if only:
        args += ["-k", only]
    return args


def run_suite(
    target: str,
    *,
    profile: str,
    dtype: str = "float32",
    seed: int | None = None,
    max_examples: int | None = None,
    black_box: bool = False,
    only: str | None = None,
    modules: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> SuiteRun:
    """The properties (``modules``: property module stems, default all; ``only``: a pytest
    -k expression) against ``target`` in a fresh ``python -m pytest`` process, run in a
    temporary directory (a target's relative file path is taken from here) with
    OMP_NUM_THREADS=1 and ``env`` on top of this environment.
    ``timeout``: seconds for the whole process (None: no limit beyond the plugin's own
    per-property watchdog); a run past it is broken."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        args = suite_args(
            target,
            str(out),
            dtype=dtype,
            profile=profile,
            seed=seed,
            max_examples=max_examples,
            black_box=black_box,
            only=only,
            modules=modules,
        )
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pytest", *args],
                capture_output=True,
                text=True,
                cwd=tmp,
                timeout=timeout,
                env=child_environment(OMP_NUM_THREADS="1", **(env or {})),
            )
        except subprocess.TimeoutExpired:
            return SuiteRun(
                target,
                dtype,
                {},
                [],
                time.perf_counter() - start,
                f"timed out after {timeout:g} s",
                returncode=-1,
            )
        seconds = time.perf_counter() - start
        try:
            doc = json.loads(out.read_text())
            results = list(doc["results"])
        except (OSError, ValueError, KeyError, TypeError):
            lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
            last = lines[-1] if lines else ""
            return SuiteRun(
                target,
                dtype,
                {},
                [],
                seconds,
                f"exit {done.returncode}: {last[:200] or 'no output'}",
                last,
                done.stdout[-500:] + done.stderr[-500:],
                done.returncode,
            )
    return SuiteRun(
        target,
        dtype,
        fold(results),
        results,
        seconds,
        returncode=done.returncode,
        summary=doc.get("summary"),
    )
