"""``--shard K/N`` on the false-alarm sweep and ``lstm-props matrix``, and the merges that
put the shards back together: nothing here runs a target (synthetic logs and verdicts)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lstm_props._gate import cli, matrix
from lstm_props._gate.results import property_claims
from lstm_props._gate.shard import WHOLE, Shard, parse_shard

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "benchmarks" / "false_alarms.py"


def _sweep() -> ModuleType:
    """benchmarks/false_alarms.py as a module (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("false_alarms", SWEEP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sweep = _sweep()


def script(*args: str) -> subprocess.CompletedProcess[str]:
    """The sweep as a command, importing this checkout's lstm_props (its own directory,
    benchmarks/, is what Python puts first on the path, not the repository root)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(SWEEP), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
    )


@pytest.mark.parametrize(("text", "k", "n"), [("1/1", 1, 1), ("2/4", 2, 4), ("4/4", 4, 4)])
def test_a_shard_is_k_of_n(text, k, n):
    assert parse_shard(text) == Shard(k, n)
    assert str(parse_shard(text)) == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("3", "is not K/N"),
        ("a/b", "is not K/N"),
        (" 2/4", "is not K/N"),
        ("-1/4", "is not K/N"),
        ("2/4/", "is not K/N"),
        ("", "is not K/N"),
        ("0/4", "K must be from 1 to N = 4"),
        ("5/4", "K must be from 1 to N = 4"),
        ("1/0", "N must be at least 1"),
    ],
)
def test_a_bad_shard_is_one_line_naming_the_value_and_the_form(text, why):
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        parse_shard(text)
    message = str(caught.value)
    assert message.startswith(repr(text)) and why in message and "e.g. 2/4" in message
    assert "\n" not in message


def test_both_commands_refuse_a_bad_shard_with_exit_2():
    matrix_cli = [sys.executable, "-m", "lstm_props", "matrix", "--shard", "5/4"]
    runs = [subprocess.run(matrix_cli, capture_output=True, text=True, timeout=120)]
    runs.append(script("--shard", "0/4"))
    for done, value in zip(runs, ["'5/4'", "'0/4'"]):
        assert done.returncode == 2 and done.stdout == ""
        last = done.stderr.strip().splitlines()[-1]
        assert f"error: argument --shard: {value}: K must be" in last, done.stderr


SEEDS, TARGETS, DTYPES = list(range(1, 21)), [f"t{k}" for k in range(28)], ["f32", "f64"]


def test_every_sweep_job_is_in_exactly_one_shard_in_run_order():
    whole = sweep.job_list(SEEDS, TARGETS, DTYPES)
    assert whole == [(t, d, s) for s in SEEDS for t in TARGETS for d in DTYPES]  # seed-major
    shards = [sweep.job_list(SEEDS, TARGETS, DTYPES, Shard(k, 8)) for k in range(1, 9)]
    assert sorted(job for part in shards for job in part) == sorted(whole)
    assert sum(len(part) for part in shards) == len(whole)  # none twice
    for part in shards:
        assert part == [job for job in whole if job in set(part)]  # still seed by seed


def test_the_sweep_deals_round_robin_per_target_so_slow_pairs_spread():
    """Dealt in target-major order, shard K holds positions K−1, K−1+N, ...; so every
    target × dtype's 20 seeds land 2 or 3 on each of the 8 shards (in run order, 56 pairs
    per seed, a pair would land on one shard every seed)."""
    dealt = [(t, d, s) for t in TARGETS for d in DTYPES for s in SEEDS]
    for k in range(1, 9):
        mine = set(sweep.job_list(SEEDS, TARGETS, DTYPES, Shard(k, 8)))
        assert mine == set(dealt[k - 1 :: 8])
        per_pair = [sum((t, d, s) in mine for s in SEEDS) for t in TARGETS for d in DTYPES]
        assert set(per_pair) == {2, 3}


def test_a_shard_resumes_from_its_own_log(tmp_path, monkeypatch, capsys):
    ran: list[tuple[str, str, int]] = []

    def fake_run(target, dtype, seed, profile, only="", modules=None):
        ran.append((target, dtype, seed))
        summary = {"passed": 1, "failed": 0, "skipped": 0, "xfailed": 0, "error": 0}
        return {"target": target, "dtype": dtype, "seed": seed, "seconds": 0.0} | {
            "summary": summary,
            "outcomes": {},
            "alarms": [],
        }

    monkeypatch.setattr(sweep, "run_one", fake_run)
    log = tmp_path / "shard2.jsonl"

    def main(*args: str) -> list[tuple[str, str, int]]:
        ran.clear()
        argv = ["false_alarms.py", "--seeds", "1-3", "--targets", "a,b", "--dtypes", "f32"]
        monkeypatch.setattr(sys, "argv", [*argv, "--workers", "1", "--log", str(log), *args])
        assert sweep.main() == 0
        return sorted(ran)

    # target-major: a1 a2 a3 b1 b2 b3; 2/2 holds a2, b1, b3
    assert main("--shard", "2/2") == [("a", "f32", 2), ("b", "f32", 1), ("b", "f32", 3)]
    assert len(log.read_text().splitlines()) == 3
    assert main("--shard", "2/2", "--resume") == []
    assert main("--shard", "1/2", "--resume") == [("a", "f32", 1), ("a", "f32", 3), ("b", "f32", 2)]
    assert "resuming: 3 runs to go" in capsys.readouterr().out


def _row(target: str, dtype: str, seed: int, failed: str = "") -> dict:
    """A log line as the sweep writes it, on the current code of every property module."""
    prints, owner = sweep.fingerprints(), sweep.property_modules()
    outcomes = {p: ("failed" if p == failed else "passed") for p in owner}
    return {
        "target": target,
        "dtype": dtype,
        "seed": seed,
        "seconds": 1.0,
        "summary": {"passed": len(outcomes) - bool(failed), "failed": int(bool(failed))},
        "outcomes": outcomes,
        "alarms": [{"property": failed, "message": "synthetic"}] if failed else [],
        "fingerprint": sweep.fingerprint(),
        "modules": prints,
        "profile": "thorough",
        "only": "",
    }


def test_the_summary_of_shard_logs_is_the_summary_of_their_concatenation(tmp_path, capsys):
    some = next(iter(sweep.property_modules()))
    a, b, both = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "both.jsonl"
    a.write_text("".join(json.dumps(_row("m:x", "float32", s)) + "\n" for s in (1, 2)))
    b.write_text(
        json.dumps(_row("m:x", "float32", 3)) + "\n" + json.dumps(_row("m:y", "float64", 1, some))
    )
    both.write_text(a.read_text() + b.read_text())

    def summary(*logs: Path) -> tuple[int, str]:
        code = sweep.summarise(list(logs), min_seeds=3)
        return code, capsys.readouterr().out

    merged = summary(a, b)
    assert merged == summary(both) == summary(b, a, b)  # a line read twice counts once
    code, out = merged
    assert code == 1 and out.count("FALSE ALARM") == 1
    assert f"FALSE ALARM m:y float64 seed 1: {some}" in out
    assert " 3 " in next(line for line in out.splitlines() if line.startswith("m:x"))
    # the script's own --summary takes several logs after one --log
    done = script("--summary", "--min-seeds", "3", "--log", str(a), str(b))
    assert (done.returncode, done.stdout) == merged


def _fake_run(target, dtype, env, profile, max_examples):
    """matrix.run_one without a process: a verdict that depends on the job alone."""
    declared = list(property_claims())[:3]
    if target == "m:c" and dtype == "float64":
        return matrix.Verdict(target, dtype, {}, "float32 only")
    outcomes = {p: "passed" for p in declared} | {"my_own": "skipped"}
    if target == "m:b":
        outcomes[declared[1]] = "failed"
    return matrix.Verdict(target, dtype, outcomes)


def test_a_sharded_matrix_merges_into_the_whole_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(matrix, "run_one", _fake_run)
    only, dtypes = ["m:a", "m:b", "m:c", "m:d"], ["float32", "float64"]

    def run(out: Path, shard: Shard = WHOLE) -> tuple[int, str]:
        code = matrix.run_matrix(only, dtypes, "ci", 2, None, 1, str(out), shard)
        return code, capsys.readouterr().out

    whole = run(tmp_path / "whole.json")
    parts = [run(tmp_path / f"part{k}.json", Shard(k, 3))[0] for k in (1, 2, 3)]
    assert parts == [1, 0, 1]  # of 8 jobs, 2/3 holds 1, 4, 7: no m:b, the failing one
    doc = json.loads((tmp_path / "part2.json").read_text())
    assert doc["shard"] == "2/3"
    assert [(r["target"], r["dtype"]) for r in doc["rows"]] == [
        ("m:a", "float64"),
        ("m:c", "float32"),
        ("m:d", "float64"),
    ]
    # shards given in any order
    names = [str(tmp_path / f"part{k}.json") for k in (3, 1, 2)]
    merged = cli.main(["matrix", "--merge", *names, "--json", str(tmp_path / "merged.json")])
    assert (merged, capsys.readouterr().out) == whole
    assert (tmp_path / "merged.json").read_text() == (tmp_path / "whole.json").read_text()


def _merge_error(capsys, *argv: str) -> str:
    assert cli.main(["matrix", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    return captured.err.strip()


def test_a_merge_refuses_parts_that_are_not_one_whole_run(tmp_path, capsys):
    def part(name: str, shard: str, rows: int = 1, profile: str = "ci") -> str:
        row = {"target": "m:a", "dtype": "float32", "outcomes": {}, "note": ""}
        doc = {"schema": matrix.SCHEMA, "profile": profile, "max_examples": None}
        (tmp_path / name).write_text(json.dumps(doc | {"shard": shard, "rows": [row] * rows}))
        return str(tmp_path / name)

    one, two = part("1.json", "1/2"), part("2.json", "2/2")
    assert "shard 2/2 is missing" in _merge_error(capsys, "--merge", one)
    assert "shard 1/2 is given twice" in _merge_error(capsys, "--merge", one, one)
    other = part("3.json", "2/3")
    assert "is shard 2/3, but another part is one of 2" in _merge_error(
        capsys, "--merge", one, other
    )
    dev = part("dev.json", "2/2", profile="dev")
    assert "ran with profile dev" in _merge_error(capsys, "--merge", one, dev)
    long = part("long.json", "2/2", rows=3)
    assert "hold [1, 3] rows" in _merge_error(capsys, "--merge", one, long)
    (tmp_path / "x.json").write_text('{"schema": "lstm_props.results/1"}')
    assert "not a matrix file" in _merge_error(capsys, "--merge", str(tmp_path / "x.json"))
    assert "no such file" in _merge_error(capsys, "--merge", str(tmp_path / "none.json"))
    assert "--only with --merge" in _merge_error(capsys, "--merge", one, two, "--only", "m:a")
    readme = tmp_path / "matrix.md"
    readme.write_text("<!-- lstm-props matrix: start -->\n<!-- lstm-props matrix: end -->\n")
    assert "--readme with --shard 1/2" in _merge_error(
        capsys, "--shard", "1/2", "--readme", str(readme)
    )
    assert cli.main(["matrix", "--merge", one, two, "--readme", str(readme)]) == 0
    assert "| `m:a` | float32 |" in readme.read_text()
