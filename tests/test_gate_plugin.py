"""The plugin's share of the gate: refused options, output files, the coverage line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GATE = str(Path(__file__).parent / "targets" / "gate.py")


def test_a_seed_for_a_derandomized_profile_is_refused(run_properties):
    result = run_properties("torch.nn:LSTMCell", "--lstm-seed=5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.str().splitlines() if line.strip()]
    assert lines == [
        "ERROR: --lstm-seed 5: the ci profile is derandomized (the same examples "
        "on every run), so a seed would change what it promises; drop the seed, "
        "or use --lstm-profile dev or thorough"
    ]


def test_an_output_path_that_is_a_directory_is_a_usage_error(run_properties, tmp_path):
    result = run_properties("torch.nn:LSTMCell", "--lstm-report", str(tmp_path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "is a directory; give a file path" in result.stderr.str()


def test_an_earlier_runs_json_is_gone_when_the_run_cannot_write_a_new_one(run_properties, tmp_path):
    """A run ended by a usage error after configure leaves no stale 'passed' file."""
    stale = tmp_path / "r.json"
    stale.write_text(json.dumps({"summary": {"passed": 34}}))
    result = run_properties("no_such_module:cell", "--lstm-json", str(stale))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert not stale.exists()


def test_the_terminal_summary_says_how_much_of_the_suite_ran(run_properties):
    result = run_properties(f"{GATE}:nothing_verifiable", "--lstm-max-examples", "2")
    out = result.stdout.str()
    assert "lstm_props: 0 of" in out
    assert (
        "NOTHING VERIFIED: no property that calls the target passed, so this run is no "
        "evidence of conformance"
    ) in out


def test_a_result_file_that_cannot_be_written_is_not_a_silent_pass(
    run_properties, tmp_path, monkeypatch
):
    import lstm_props._gate.run_outputs

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lstm_props._gate.run_outputs, "write_json", full_disk)
    result = run_properties(
        "torch.nn:LSTMCell",
        "-k",
        "carry_map_is_coordinatewise",
        "--lstm-max-examples",
        "2",
        "--lstm-json",
        str(tmp_path / "r.json"),
    )
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    assert "could not write it: [Errno 28] No space left on device" in result.stdout.str()


def test_the_mode_is_the_targets_own_even_when_k_selects_no_layout_property(
    run_properties, tmp_path
):
    """A black-box cell checked with -k on a property that needs no layout: no skip reason
    says "black-box", yet the run must not call itself a layout-mode check."""
    cells = str(Path(__file__).parent / "targets" / "cells.py")
    out = tmp_path / "r.json"
    result = run_properties(
        f"{cells}:FusedIFOGCell",
        "-k",
        "carry_backward",
        "--lstm-max-examples",
        "2",
        "--lstm-json",
        str(out),
    )
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert "(black-box mode)" in result.stdout.str()
    doc = json.loads(out.read_text())
    assert doc["mode"] == doc["coverage"]["mode"] == "black-box"
