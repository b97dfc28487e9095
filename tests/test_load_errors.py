"""Targets that cannot be checked are refused at load, in one line naming the fix: never an
INTERNALERROR traceback, never a silent check of something else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROPERTIES

LOAD_ERRORS = str(Path(__file__).parent / "targets" / "load_errors.py")

REFUSED = {
    f"{LOAD_ERRORS}:numpy_adapter": "h returned by step() is a numpy.ndarray that "
    "TorchBackend.to_numpy cannot read",
    f"{LOAD_ERRORS}:no_spec_adapter": "AdapterWithoutSpec has no spec: set spec = CellSpec(",
    f"{LOAD_ERRORS}:upcasting_cell": "h returned by step() is float64 but its backend "
    "declares float32",
    f"{LOAD_ERRORS}:gru_cell": "this is a GRU cell (torch.nn.GRUCell), not an LSTM",
    f"{LOAD_ERRORS}:gru": "this is a GRU (torch.nn.GRU), not an LSTM",
    f"{LOAD_ERRORS}:rnn_cell": "this is a plain RNN cell (torch.nn.RNNCell), not an LSTM",
    f"{LOAD_ERRORS}:tuple_spec_adapter": "DuckSpecAdapter has spec (3, 4, 4), not a CellSpec",
    f"{LOAD_ERRORS}:unreachable_device_adapter": "the first step raised RuntimeError: "
    "device 7 is not reachable",
    f"{LOAD_ERRORS}:misdeclared_layout": "MisdeclaredLayoutCell.lstm_layout = "
    "fused(weight='linear.weight', bias='lin.bias', gates='ifgo', inputs='xh'): weight "
    "'linear.weight' does not resolve on the module; its parameters are lin.weight (16, 7), "
    "lin.bias (16,)",
    "torch.nn:GRUCell": "this is a GRU cell (torch.nn.GRUCell), not an LSTM",
    "torch.nn:RNN": "this is a plain RNN (torch.nn.RNN), not an LSTM",
}


def lstm_props(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lstm_props", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text and "INTERNALERROR" not in text
    return lines[0]


def error_lines(out: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in out.stdout + out.stderr, out.stdout[-3000:] + out.stderr
    assert "INTERNALERROR" not in out.stdout + out.stderr, out.stdout[-3000:] + out.stderr
    return [
        line
        for line in (out.stdout + out.stderr).splitlines()
        if "ERROR" in line or "error:" in line
    ]


@pytest.mark.parametrize(("target", "message"), sorted(REFUSED.items()))
def test_target_refused_at_load_in_one_line(run_properties, target, message):
    result = run_properties(target, "--lstm-max-examples", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = one_line(result.stderr.str())
    assert line.startswith(f"ERROR: target {target!r}"), line
    assert message in line, line


def test_output_in_the_declared_precision_passes_the_smoke_test(run_properties):
    """The dtype check compares against the declaration: the same cell run in float64 (its
    .double() then a no-op) loads, and a float32 cast in a float64 run is refused."""
    ok = run_properties(
        f"{LOAD_ERRORS}:upcasting_cell",
        "--lstm-dtype",
        "float64",
        "-k",
        "step_values_match_reference",
        "--lstm-max-examples",
        "2",
    )
    assert ok.ret == 0, ok.stdout.str() + ok.stderr.str()
    down = run_properties(f"{LOAD_ERRORS}:downcasting_cell", "--lstm-dtype", "float64")
    assert down.ret == pytest.ExitCode.USAGE_ERROR
    assert "is float32 but its backend declares float64" in one_line(down.stderr.str())


@pytest.mark.parametrize(
    "extra", [(), ("--workers", "2"), ("--steps", "64")], ids=["serial", "workers", "steps"]
)
def test_numpy_step_is_one_line_exit_2_from_the_gate(extra):
    examples = () if "--steps" in extra else ("--max-examples", "2")
    out = lstm_props("check", f"{LOAD_ERRORS}:numpy_adapter", *examples, *extra)
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr
    lines = error_lines(out)
    assert any("is a numpy.ndarray that TorchBackend.to_numpy cannot read" in ln for ln in lines), (
        lines
    )


@pytest.mark.parametrize("code", ["sys.exit(3)", "sys.exit('bye')", "raise SystemExit"])
def test_sys_exit_at_import_is_a_usage_error(run_properties, tmp_path, code):
    module = tmp_path / "script.py"
    module.write_text(f"import sys\n{code}\n")
    result = run_properties(f"{module}:cell")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = one_line(result.stderr.str())
    assert "called sys.exit(" in line and '`if __name__ == "__main__":`' in line, line


@pytest.mark.parametrize("how", ["cli", "plugin"])
def test_empty_target_is_a_usage_error_not_the_default(run_properties, how):
    if how == "cli":
        out = lstm_props("check", "", "--max-examples", "2")
        assert out.returncode == 2, out.stdout[-2000:] + out.stderr
        assert "passed" not in out.stdout
        text = out.stderr
    else:
        result = run_properties("", "--lstm-max-examples", "2")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert "passed" not in result.stdout.str()
        text = result.stderr.str()
    assert "the target is empty ('')" in one_line(text)


CELL_MODULE = (
    "import torch\n"
    "def make(input_size, hidden_size):\n"
    "    return torch.nn.LSTMCell(input_size, hidden_size)\n"
)


def test_module_target_is_found_in_the_current_directory(tmp_path):
    """Through the console script: `python -m` would put the directory on sys.path itself."""
    (tmp_path / "my_cells_in_cwd.py").write_text(CELL_MODULE)
    script = Path(sys.executable).parent / "lstm-props"
    if not script.is_file():
        pytest.skip(f"no lstm-props console script next to {sys.executable}")
    out = subprocess.run(
        [str(script), "check", "my_cells_in_cwd:make", "--steps", "4", "--hidden", "4"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr


def test_file_target_imports_its_sibling_modules(run_properties, tmp_path):
    (tmp_path / "sibling_cells.py").write_text(CELL_MODULE)
    (tmp_path / "entry.py").write_text("from sibling_cells import make\n")
    result = run_properties(
        f"{tmp_path / 'entry.py'}:make",
        "-k",
        "step_values_match_reference",
        "--lstm-max-examples",
        "2",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)  # one property selected by -k, the rest deselected


def test_xfail_file_not_utf8_is_one_line_exit_2(tmp_path):
    listed = tmp_path / "xfail.txt"
    listed.write_bytes("carry_jacobian_is_diagonal  # d\xe9j\xe0 vu\n".encode("latin-1"))
    out = lstm_props("check", "--xfail", str(listed), "--max-examples", "2")
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr
    line = one_line(out.stderr)
    assert "not UTF-8 text (byte 0xe9 at offset 31); save it as UTF-8" in line, line


def test_xfail_file_with_a_byte_order_mark_reads_its_first_id(tmp_path):
    from lstm_props._gate.results import read_xfail_file

    listed = tmp_path / "xfail.txt"
    listed.write_text(
        "carry_jacobian_is_diagonal\nstep_values_match_reference\n", encoding="utf-8-sig"
    )
    assert read_xfail_file(str(listed)) == {
        "carry_jacobian_is_diagonal",
        "step_values_match_reference",
    }


@pytest.mark.parametrize("target", ["torch.nn:LSTMCell", "lstm_props.targets:lstm_two_layer"])
def test_peephole_declared_on_a_cell_without_peepholes_is_refused(run_properties, target):
    result = run_properties(target, "--lstm-variant", "peephole", "--lstm-max-examples", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = one_line(result.stderr.str())
    assert line.startswith(
        f"ERROR: target {target!r} is declared peephole but its parameters have no peephole weights"
    ), line


def test_peephole_declared_on_a_peephole_cell_loads(run_properties):
    result = run_properties(
        "lstm_props.targets:reference_peephole",
        "--lstm-variant",
        "peephole",
        "-k",
        "step_values_match_reference",
        "--lstm-max-examples",
        "2",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)  # one property selected by -k, the rest deselected


@pytest.mark.parametrize("name", ["dropout_lstm", "jittery_undeclared"])
def test_nondeterministic_target_is_refused_at_load(name):
    start = time.monotonic()
    out = lstm_props("check", f"{LOAD_ERRORS}:{name}", "--max-examples", "2")
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr
    line = one_line(out.stderr)
    assert "is nondeterministic: two identical calls of" in line, line
    assert "call .eval() on it, or declare nondeterminism" in line, line
    assert time.monotonic() - start < 60


def test_declared_nondeterminism_is_not_refused():
    from lstm_props._harness.loading import load_target

    target = load_target(f"{LOAD_ERRORS}:jittery_declared")
    assert not target.probe().layers[0].backend.deterministic


def hang_lines(out: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in out.stdout + out.stderr, out.stdout[-3000:] + out.stderr
    return [line for line in out.stderr.splitlines() if line.startswith("ERROR:")]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_step_that_hangs_ends_the_gate_with_exit_2_naming_the_call(workers):
    start = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstm_props",
            "check",
            # 12 s: loading torch in two workers on a busy 2-core machine
            # may take 5 s, and a slow load must not read as the hang
            f"{LOAD_ERRORS}:hangs_on_sixth_call",
            "--timeout",
            "12",
            "--max-examples",
            "5",
            "--workers",
            workers,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr
    assert time.monotonic() - start < (40 if workers == "1" else 70)
    lines = hang_lines(out)
    assert 1 <= len(lines) <= int(workers), out.stderr  # at most one per worker
    for line in lines:
        assert line.startswith("ERROR: property properties/test_"), line
        # which call hangs within the property depends on the calls before it (loading)
        assert re.search(
            r"ran past the time limit of 12 s: hung in call \d+ into the target, ", line
        ), line
        assert ".step() with argument shapes" in line
        assert "load_errors.py:" in line and "(forward)" in line, line


def test_workers_that_end_at_once_end_the_gate_with_one_line(tmp_path):
    """Both workers end within a millisecond of each other (a kernel that crashes on every
    worker): the gate says so in one line, with no INTERNALERROR from xdist."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstm_props",
            "check",
            f"{LOAD_ERRORS}:dies_with_every_worker",
            "--max-examples",
            "5",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LSTM_PROPS_TEST_BARRIER": str(tmp_path)},
    )
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr
    assert len(list(tmp_path.iterdir())) == 2, "both workers must reach the barrier"
    for noise in ("Traceback", "INTERNALERROR"):
        assert noise not in out.stdout + out.stderr, out.stdout[-3000:] + out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("lstm-props: "), line
    assert "the worker process running " in line and "ended before the property did" in line, line


class _Worker:
    """What the plugin sees of an xdist worker: its config, and shutdown()."""

    def __init__(self, config: pytest.Config) -> None:
        self.config, self.workerinput, self.down = config, {}, False

    def shutdown(self) -> None:
        self.down = True


@pytest.mark.parametrize(
    ("restarts", "target", "stops"),
    [
        ("0", "torch.nn:LSTMCell", True),
        ("2", "torch.nn:LSTMCell", False),  # xdist replaces the crashed one: the run goes on
        ("0", None, False),  # not an LSTM run: the user's own xdist session is left alone
    ],
)
def test_a_crashed_worker_stops_the_feeding_of_the_others(pytester, restarts, target, stops):
    """The deterministic half of the test above: xdist rescheduled a crashed worker's tests
    onto the others before it shut them down, and one already gone raised INTERNALERROR."""
    from lstm_props._gate import plugin

    config = pytester.parseconfigure(
        *(["--lstm-adapter", target] if target else []), "-n", "2", "--max-worker-restart", restarts
    )
    crashed, other = _Worker(config), _Worker(config)
    for worker in (crashed, other):
        plugin.pytest_configure_node(worker)
    plugin.pytest_testnodedown(crashed, error="worker ended with status 2")
    assert (other.down, crashed.down) == (stops, False)


def test_a_target_that_hangs_at_load_is_named_as_loading(run_properties):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            PROPERTIES,
            "-p",
            "no:cacheprovider",
            "--lstm-adapter",
            f"{LOAD_ERRORS}:hangs_on_first_call",
            "--lstm-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr
    (line,) = hang_lines(out)
    assert line.startswith(
        f"ERROR: loading target '{LOAD_ERRORS}:hangs_on_first_call' ran "
        "past the time limit of 10 s: hung in call 1 into the target"
    ), line


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_timeout_that_is_not_a_number_of_seconds_is_a_usage_error(run_properties, value):
    result = run_properties("torch.nn:LSTMCell", "--lstm-timeout", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--lstm-timeout {value}: give seconds per property" in one_line(result.stderr.str())


def test_tests_that_are_not_properties_get_no_time_limit(pytester):
    pytester.makepyfile("import time\ndef test_slow():\n    time.sleep(3)\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lstm-timeout", "1")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)


def test_a_spec_with_the_three_sizes_need_not_be_a_cellspec():
    from lstm_props._harness.loading import load_target

    assert load_target(f"{LOAD_ERRORS}:duck_spec_adapter").probe().layers[0].spec == (3, 4, 4)
