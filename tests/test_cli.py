"""The lstm-props command: exit codes, JSON, JUnit, xfail file, list."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lstm_props._gate.results import property_claims
from tests.conftest import TARGETS


def lstm_props(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lstm_props", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_default_check_passes_with_json_and_junit(tmp_path):
    out = lstm_props(
        "check",
        "--max-examples",
        "3",
        "--json",
        str(tmp_path / "r.json"),
        "--junitxml",
        str(tmp_path / "r.xml"),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["schema"] == "lstm_props.results/1"
    assert (doc["target"], doc["variant"], doc["device"], doc["dtype"]) == (
        "torch.nn:LSTMCell",
        "standard",
        "cpu",
        "float32",
    )
    assert doc["summary"] == {"passed": 29, "failed": 0, "skipped": 6, "xfailed": 0, "error": 0}
    cases = ET.parse(tmp_path / "r.xml").getroot().iter("testcase")
    assert len(list(cases)) == 35
    assert "lstm_props conformance" in out.stdout


def test_failing_property_exits_1_and_xfail_file_turns_it_green(tmp_path):
    args = (
        "check",
        "lstm_props.mutants:StaleWeightCache",
        "--max-examples",
        "5",
        "--json",
        str(tmp_path / "r.json"),
    )
    failed = lstm_props(*args)
    assert failed.returncode == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    broken = sorted(
        {r["property"].split("[")[0] for r in doc["results"] if r["outcome"] == "failed"}
    )
    assert broken == [
        "closed_forget_gate_cuts_the_carry",
        "closed_forget_gate_forgets_c0",
        "in_place_weight_edits_take_effect",
    ]
    assert all(r["message"] for r in doc["results"] if r["outcome"] == "failed")
    (tmp_path / "xfail.txt").write_text("# known\n" + "\n".join(broken) + "\nno_such_property\n")
    listed = lstm_props(*args, "--xfail", str(tmp_path / "xfail.txt"))
    assert listed.returncode == 0, listed.stdout[-2000:]
    assert "'no_such_property' matches no property" in listed.stdout
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["summary"]["failed"] == 0 and doc["summary"]["xfailed"] >= len(broken)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "nope:x"), "no module named 'nope'"),
        (("check", f"{TARGETS}:nan_cell"), "contains NaN or inf"),
        (("check", "--dtype", "float8"), "invalid choice: 'float8'"),
        (("check", "--workers", "0"), "0 must be at least 1"),
        (("check", "--xfail", "/no/such/file"), "no such file"),
        (("check", "--report", "/no/such/dir/r.html"), "'/no/such/dir' does not exist"),
        (("check", "--json", "/no/such/dir/r.json"), "'/no/such/dir' does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message):
    out = lstm_props(*args)
    assert out.returncode == 2
    assert message in out.stderr + out.stdout
    assert "Traceback" not in out.stderr + out.stdout


def test_adapter_fault_mid_run_exits_2():
    out = lstm_props("check", f"{TARGETS}:RaisesForBatchOfThree", "--max-examples", "10")
    assert out.returncode == 2, out.stdout[-2000:]
    assert "AdapterError" in out.stdout


def test_list_names_properties_targets_and_variants():
    out = lstm_props("list")
    assert out.returncode == 0
    for text in ("carry_jacobian_is_diagonal", "lstm_props.targets:lstm_two_layer", "peephole"):
        assert text in out.stdout
    assert "needs: autograd, layout" in out.stdout  # from the declarations


def test_docs_properties_guarantees_table_is_what_list_writes():
    """One registry: docs/properties.md's table is what `lstm-props list --readme` writes;
    after a property is added, changed or removed, run
    `lstm-props list --readme docs/properties.md`."""
    from lstm_props._gate.doc_blocks import GUARANTEES_MARKERS, block
    from lstm_props._gate.list_command import guarantees_table

    page = (Path(__file__).parents[1] / "docs" / "properties.md").read_text()
    assert block(page, GUARANTEES_MARKERS) == guarantees_table()
    assert len(guarantees_table()) == 2 + len(property_claims())


def test_ci_profile_gives_the_same_results_twice(tmp_path):
    def run(name):
        out = lstm_props(
            "check",
            "lstm_props.targets:reference_cifg",
            "--max-examples",
            "3",
            "--json",
            str(tmp_path / name),
        )
        assert out.returncode == 0
        doc = json.loads((tmp_path / name).read_text())
        return [(r["property"], r["outcome"], r["message"]) for r in doc["results"]], doc["seed"]

    assert run("a.json") == run("b.json")


def test_example_workflow_runs_a_valid_gate_command():
    """The GitHub Actions example's command parses, and uploads what it writes."""
    from pathlib import Path

    from lstm_props._gate.cli import _parser

    workflow = Path(__file__).parents[1] / "examples" / "github-actions-lstm-props.yml"
    text = workflow.read_text()
    command = text.split("run: >", 1)[1].split("- name:", 1)[0].split()
    assert command[0] == "lstm-props"
    ns = _parser().parse_args(command[1:])
    for path in (ns.json, ns.junitxml, ns.report):
        assert path and path in text.split("upload-artifact", 1)[1]


def test_selftest_prints_the_kill_matrix_and_fails_on_a_survivor(tmp_path):
    """A mutant is killed (exit 0); a correct target run as a 'mutant' survives (exit 1)."""
    from lstm_props._gate.doc_blocks import KILLS_MARKERS

    docs = tmp_path / "mutants.md"
    docs.write_text(f"# Kills\n\n{KILLS_MARKERS[0]}\nold\n{KILLS_MARKERS[1]}\n\nafter\n")
    killed = lstm_props(
        "selftest",
        "--mutant",
        "CarryGain",
        "--max-examples",
        "5",
        "--json",
        str(tmp_path / "m.json"),
        "--readme",
        str(docs),
    )
    assert killed.returncode == 0, killed.stdout[-2000:]
    assert "1 of 1 mutants killed" in killed.stdout
    row = next(ln for ln in killed.stdout.splitlines() if ln.startswith("CarryGain "))
    assert "X" in row and row.endswith("yes")
    written = docs.read_text()  # the printed matrix and summary, fenced, between the markers
    assert row in written and "1 of 1 mutants killed" in written and "old" not in written
    assert written.startswith("# Kills") and written.endswith("after\n")
    unmarked = lstm_props("selftest", "--mutant", "CarryGain", "--readme", str(tmp_path / "m.json"))
    assert unmarked.returncode == 2 and "needs an existing file with the lines" in unmarked.stderr
    doc = json.loads((tmp_path / "m.json").read_text())
    assert "carry_product_is_bounded_and_non_increasing" in doc["mutants"][0]["killed_by"]
    survivor = lstm_props(
        "selftest", "--mutant", "lstm_props.targets:reference_standard", "--max-examples", "3"
    )
    assert survivor.returncode == 1
    assert "survived: lstm_props.targets:reference_standard" in survivor.stdout
    unknown = lstm_props("selftest", "--mutant", "NoSuchMutant")
    assert unknown.returncode == 2 and "no such mutant" in unknown.stderr
    # A run that dies or cannot load its target is no kill: it is named, and the exit is 1.
    broken = lstm_props("selftest", "--mutant", "no_such_module_anywhere:Cell")
    assert broken.returncode == 1, broken.stdout[-2000:]
    assert "0 of 1 mutants killed; could not run: no_such_module_anywhere:Cell" in broken.stdout


def test_matrix_tabulates_each_implementation_and_writes_the_readme_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- lstm-props matrix: start -->\nold\n<!-- lstm-props matrix: end -->\nafter\n"
    )
    done = lstm_props(
        "matrix",
        "--only",
        "torch.nn:LSTMCell",
        "--only",
        "lstm_props.targets:reference_no_forget",
        "--dtype",
        "float32",
        "--max-examples",
        "2",
        "--workers",
        "2",
        "--readme",
        str(readme),
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "`torch.nn:LSTMCell`",
        "`targets:reference_no_forget`",
    ]
    assert "✓" in rows[0] and "–" in rows[0] and not any("✗" in r for r in rows)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("after\n") and "\nold\n" not in text
    assert "`step_values_match_reference`" in text


def test_matrix_writes_itself_as_json(tmp_path):
    out = tmp_path / "matrix.json"
    done = lstm_props(
        "matrix",
        "--only",
        "torch.nn:LSTMCell",
        "--dtype",
        "float32",
        "--max-examples",
        "2",
        "--json",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["schema"] == "lstm_props.matrix/1"
    assert doc["properties"] == list(property_claims())  # the declared order
    [row] = doc["rows"]
    assert (row["target"], row["dtype"], row["package"], row["note"]) == (
        "torch.nn:LSTMCell",
        "float32",
        "torch",
        "",
    )
    assert list(row["outcomes"]) == [p for p in doc["properties"] if p in row["outcomes"]]
    assert row["outcomes"]["step_values_match_reference"] == "passed"
    assert row["outcomes"]["fused_sequence_equals_composed_steps"] == "skipped"
    assert set(row["outcomes"].values()) == {"passed", "skipped"}
    # the table is the same run's
    table = next(ln for ln in done.stdout.splitlines() if ln.startswith("| `torch.nn"))
    assert table.count("✓") == list(row["outcomes"].values()).count("passed")


def test_matrix_refuses_a_json_path_in_a_missing_directory_before_running():
    done = lstm_props("matrix", "--only", "torch.nn:LSTMCell", "--json", "/no/such/dir/m.json")
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "lstm-props: error: --json '/no/such/dir/m.json': "
        "the directory '/no/such/dir' does not exist"
    )
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_matrix_writes_a_refusal_once_under_the_table_not_in_every_row():
    from lstm_props._gate.matrix import Verdict, markdown

    why = "building it raised ValueError: float32 only: run with --lstm-dtype float32"
    lines = markdown(
        [
            Verdict("m:a", "float32", {"p": "passed", "q": "failed"}),
            Verdict("m:a", "float64", {}, f"ERROR: target 'm:a': {why}"),
            Verdict("m:b", "float64", {}, f"ERROR: target 'm:b': {why}"),
            Verdict("m:c", "float64", {}, "keras is not installed"),
        ],
        ["p", "q"],
    )
    rows = [line for line in lines if line.startswith("| `")]
    assert rows == [
        "| `m:a` | float32 | ✓ | ✗ |",
        "| `m:a` | float64 | not run (a) |  |",
        "| `m:b` | float64 | not run (a) |  |",
        "| `m:c` | float64 | not run (b) |  |",
    ]
    assert f"(a) ERROR: {why}" in lines and "(b) keras is not installed" in lines
    assert sum(why in line for line in lines) == 1


def test_matrix_refuses_a_readme_without_the_marker_lines(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    done = lstm_props("matrix", "--only", "torch.nn:LSTMCell", "--readme", str(readme))
    assert done.returncode == 2
    assert done.stderr.strip().startswith("lstm-props: error: --readme")
    assert len(done.stderr.strip().splitlines()) == 1
