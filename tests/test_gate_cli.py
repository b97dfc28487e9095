"""No silent passes from ``lstm-props check``: a run that dies, verifies nothing, is stopped or
faults never exits 0, and never leaves an earlier run's files behind."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lstm_props._gate import check_command

GATE = str(Path(__file__).parent / "targets" / "gate.py")


def check(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lstm_props", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_a_target_that_ends_the_process_with_status_0_is_not_a_pass(tmp_path):
    outputs = {
        "--json": tmp_path / "r.json",
        "--junitxml": tmp_path / "r.xml",
        "--report": tmp_path / "r.html",
    }
    for path in outputs.values():  # an earlier run's files, all saying "passed"
        path.write_text("passed\n")
    args = [a for flag, path in outputs.items() for a in (flag, str(path))]
    out = check(f"{GATE}:exits_on_batch_three", "--max-examples", "3", *args)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "lstm-props: the run died before finishing: the test process "
        "ended with status 0 while running properties/"
    ), last
    assert not any(path.exists() for path in outputs.values())


def test_a_black_box_pass_says_how_much_ran(tmp_path):
    out = check(
        f"{GATE}:identity_adapter", "--max-examples", "3", "--json", str(tmp_path / "r.json")
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["complete"] is True and doc["interrupted"] is False
    own = {r["property"].split("[")[0] for r in doc["results"] if r["calls_target"]}
    every = {r["property"].split("[")[0] for r in doc["results"]}
    assert doc["coverage"]["of"] == len(own) == len(every) - 1  # all but the reference RNN
    assert doc["coverage"]["ran"] == doc["coverage"]["verified"] == 2
    assert doc["coverage"]["mode"] == "black-box"
    assert "autograd (a Backend with vjp)" in doc["coverage"]["missing"]
    line = f"2 of {len(own)} properties ran against the target (black-box mode"
    assert line in out.stdout
    assert "passed in black-box mode, which is not a conformance pass" in out.stdout


def test_nothing_verified_exits_3_and_says_what_to_add(tmp_path):
    out = check(
        f"{GATE}:nothing_verifiable", "--max-examples", "3", "--json", str(tmp_path / "r.json")
    )
    assert out.returncode == 3, out.stdout[-2000:] + out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "lstm-props: nothing verified: no property that calls the target passed; 0 of"
    ), last
    assert "give the adapter autograd (a Backend with vjp)" in last
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["coverage"]["ran"] == 0 and doc["summary"]["passed"] == 1  # the reference RNN


def test_a_faulting_backward_exits_2_quickly_and_still_writes_the_report(tmp_path):
    start = time.monotonic()
    out = check(
        f"{GATE}:backward_raises",
        "--max-examples",
        "3",
        "--json",
        str(tmp_path / "r.json"),
        "--report",
        str(tmp_path / "r.html"),
    )
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr
    assert time.monotonic() - start < 120  # shrinking each fault took minutes
    assert "Traceback" not in out.stdout + out.stderr
    assert "ExceptionGroup" not in out.stdout + out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["summary"]["failed"] == 0 and doc["summary"]["error"] > 0
    assert "ADAPTER FAULT" in (tmp_path / "r.html").read_text()
    assert "ended in an adapter fault" in out.stderr.strip().splitlines()[-1]


def test_a_step_returning_numpy_arrays_is_one_line_not_an_internal_error():
    out = check(f"{GATE}:returns_numpy", "--max-examples", "3")
    assert out.returncode == 2
    assert "INTERNALERROR" not in out.stdout + out.stderr
    assert "h returned by step() is a numpy.ndarray that TorchBackend.to_numpy" in out.stderr


def test_an_output_path_that_is_a_directory_is_refused_before_the_run(tmp_path):
    start = time.monotonic()
    out = check("--json", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"lstm-props: error: --json {str(tmp_path)!r}: is a "
        "directory; give a file path, e.g. results/lstm-props.json"
    )
    assert time.monotonic() - start < 15


def test_a_seed_the_derandomized_profile_would_ignore_is_refused():
    out = check("--seed", "5")
    assert out.returncode == 2
    assert out.stderr.strip().startswith(
        "lstm-props: error: --seed 5 has no effect with --profile ci"
    )
    assert len(out.stderr.strip().splitlines()) == 1


def test_workers_are_capped_to_the_cpus(capsys):
    ns = argparse.Namespace(workers=10_000)
    check_command._cap_workers(ns)
    assert ns.workers == (os.cpu_count() or 1)
    assert capsys.readouterr().err.strip() == (
        f"lstm-props: note: --workers 10000 capped to {ns.workers}, the CPUs this machine has"
    )


def test_ctrl_c_ends_the_run_with_exit_2_and_partial_results_marked(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstm_props",
            "check",
            f"{GATE}:slow_cell",
            "--max-examples",
            "3",
            "--json",
            str(tmp_path / "r.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        # Ctrl-C at a terminal reaches a foreground process; one started in the background
        # of a shell without job control (as a CI runner may start this test) inherits
        # SIGINT ignored, and so would the gate: give it the terminal's default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until a property has run, then press Ctrl-C
        if " PASSED " in line or " SKIPPED " in line:
            break
    assert proc.poll() is None, "the run ended before Ctrl-C could be pressed"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, f"after {line!r}:\n{out}\n{err}"
    assert "interrupted" in err.strip().splitlines()[-1]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["interrupted"] is True and doc["complete"] is False
    assert doc["summary"]["failed"] == 0


def _doc(*results: dict, **top) -> dict:
    outcomes = ("passed", "failed", "skipped", "xfailed", "error")
    summary = {o: sum(r["outcome"] == o for r in results) for o in outcomes}
    coverage = {
        "ran": len(results),
        "of": len(results),
        "verified": summary["passed"],
        "mode": "layout",
        "missing": [],
    }
    return {
        "complete": True,
        "interrupted": False,
        "results": list(results),
        "summary": summary,
        "coverage": coverage,
        **top,
    }


def test_the_verdict_of_each_way_a_run_can_end():
    from lstm_props._gate.verdict import verdict

    ok = {"property": "step_values_match_reference[layer0]", "outcome": "passed"}
    suite = {"property": "carry_jacobian_is_diagonal[layer0]", "outcome": "error", "kind": "suite"}
    root = {"property": "carry_map_is_affine_in_c[layer0]", "outcome": "failed", "root_cause": True}
    code, line = verdict(_doc(ok, suite), 1)
    assert code == 2 and line.startswith(
        "lstm_props itself failed in carry_jacobian_is_diagonal[layer0] (a bug of the suite"
    )
    assert line.endswith("please report it with the command above")
    assert verdict(_doc(ok, root), 1) == (
        1,
        "1 properties failed; root cause: carry_map_is_affine_in_c[layer0]; 2 of 2 "
        "properties ran against the target (layout mode)",
    )
    assert verdict(None, -signal.SIGSEGV, "p.py::t[layer0]") == (
        2,
        "the run died before finishing: killed by SIGSEGV while running p.py::t[layer0]",
    )
    assert verdict(_doc(ok, complete=False), 0)[0] == 2  # results without the end marker
    assert verdict(_doc(ok, interrupted=True, complete=False), 2)[1].startswith("interrupted")
    assert verdict(_doc(ok), 0) == (
        0,
        "passed; 1 of 1 properties ran against the target (layout mode)",
    )


def test_the_child_run_loads_only_the_gates_plugins(tmp_path):
    """PYTEST_ADDOPTS naming an option of an uninstalled plugin, and a plugin module that
    would fail every test: neither reaches the gate's child run (autoload off, its own -p
    list), so the check passes on a correct cell."""
    plugin = tmp_path / "hostile_plugin.py"
    plugin.write_text("def pytest_runtest_setup(item):\n    raise RuntimeError('steered')\n")
    out = subprocess.run(
        [sys.executable, "-m", "lstm_props", "check", "--max-examples", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "PYTEST_ADDOPTS": "--no-such-plugin-option",
            "PYTEST_PLUGINS": "hostile_plugin",
            "PYTHONPATH": str(tmp_path),
        },
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
