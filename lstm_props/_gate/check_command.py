"""``lstm-props check``: the properties run by pytest in a child process, then one verdict
(lstm_props._gate.verdict) and its exit code; ``check --steps T``: the production-size carry
check (lstm_props._gate.steps)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lstm_props._gate.suite_run import CHILD_PLUGINS, NO_GC_SWEEPS, XDIST_PLUGIN
from lstm_props._gate.usage import usage_error
from lstm_props._harness.declared import properties_dir


def _pytest_args(ns: argparse.Namespace, json_path: str) -> list[str]:
    # -W: the plugin imports hypothesis (for the profiles) before pytest can mark it for
    # assertion rewriting; the warning would say so on every run and means nothing here.
    args = [
        str(properties_dir()),
        "-p",
        "no:cacheprovider",
        *NO_GC_SWEEPS,
        *CHILD_PLUGINS,
        "-v",
        "-rN",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        "--lstm-adapter",
        ns.target,
        "--lstm-device",
        ns.device,
        "--lstm-dtype",
        ns.dtype,
        "--lstm-profile",
        ns.profile,
        "--lstm-json",
        json_path,
        "--lstm-table",
    ]
    for flag, value in (
        ("--lstm-variant", ns.variant),
        ("--lstm-max-examples", ns.max_examples),
        ("--lstm-seed", ns.seed),
        ("--junitxml", ns.junitxml),
        ("--lstm-report", ns.report),
        ("--lstm-timeout", ns.timeout),
        ("--lstm-xfail", ns.xfail),
    ):
        if value is not None:
            args += [flag, str(value)]
    if ns.workers > 1:
        # A worker that crashed (or was ended by the hang watchdog) is not replaced: the next
        # one would hang on the next property the same way, for --timeout seconds each.
        args += [*XDIST_PLUGIN, "-n", str(ns.workers), "--max-worker-restart", "0"]
    return args


def _check_usage(ns: argparse.Namespace) -> str:
    """What is wrong with the check's options ("" if nothing), before anything runs."""
    from lstm_props._gate.options import output_path_problem

    if ns.xfail is not None and not Path(ns.xfail).is_file():
        return f"--xfail {ns.xfail!r}: no such file; give a text file with one property id per line"
    for flag, path in (("--json", ns.json), ("--junitxml", ns.junitxml), ("--report", ns.report)):
        problem = path is not None and output_path_problem(path)
        if problem:
            return f"{flag} {path!r}: {problem}"
    if ns.seed is not None and ns.profile == "ci":
        return (
            f"--seed {ns.seed} has no effect with --profile ci, which is derandomized (the "
            "same examples on every run): drop --seed, or seed a random search with "
            "--profile dev or thorough"
        )
    return ""


def _cap_workers(ns: argparse.Namespace) -> None:
    """More workers than CPUs only add processes (each with its own torch): 99 were killed
    for memory on a 2-core machine."""
    cpus = os.cpu_count() or 1
    if ns.workers > cpus:
        print(
            f"lstm-props: note: --workers {ns.workers} capped to {cpus}, the CPUs this machine has",
            file=sys.stderr,
        )
        ns.workers = cpus


def _run_child(args: list[str], progress: str) -> int:
    """pytest in a child process: a target that ends its process cannot end the gate's.

    Ctrl-C reaches the child too (same process group); wait for it to write its partial
    results, then report the interruption.
    """
    from lstm_props._gate.options import PROGRESS_ENV
    from lstm_props._gate.suite_run import child_environment

    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args], env=child_environment(**{PROGRESS_ENV: progress})
    )
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue  # the child got the same SIGINT; let it finish writing


def check(ns: argparse.Namespace) -> int:
    from lstm_props._gate.verdict import read_results, verdict

    problem = _check_usage(ns)
    if problem:
        return usage_error(problem)
    _cap_workers(ns)
    for path in (ns.json, ns.junitxml, ns.report):  # never leave an earlier run's "passed"
        if path is not None and Path(path).is_file():
            Path(path).unlink()
    with tempfile.TemporaryDirectory() as tmp:
        json_path = ns.json or str(Path(tmp) / "results.json")
        progress = Path(tmp) / "running"
        returncode = _run_child(_pytest_args(ns, json_path), str(progress))
        running = progress.read_text() if progress.is_file() else ""
        code, line = verdict(read_results(json_path), returncode, running)
    if line.startswith("the run died"):
        print(flush=True)  # the dead run's last line has no end
    if line:
        print(f"lstm-props: {line}", file=sys.stderr if code else sys.stdout)
    return code


def scale_case(ns: argparse.Namespace):
    from lstm_props._gate.steps import ScaleCase

    return ScaleCase(
        steps=ns.steps,
        batch=ns.batch,
        hidden=ns.hidden,
        chunk=ns.chunk,
        probes=ns.probes,
        exact=getattr(ns, "exact", False),
    )


def check_at_scale(ns: argparse.Namespace) -> int:
    from lstm_props._errors import LSTMPropsError
    from lstm_props._gate.steps import check_at_scale as run

    for flag in ("json", "junitxml", "report", "xfail", "max_examples", "seed", "timeout"):
        if getattr(ns, flag) is not None:
            return usage_error(
                f"--{flag.replace('_', '-')} does not apply with --steps: the "
                "production-size check prints one verdict per layer"
            )
    try:
        return run(ns.target, scale_case(ns), ns.dtype, ns.device, ns.variant)
    except LSTMPropsError as exc:
        return usage_error(str(exc))
