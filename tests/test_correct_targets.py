"""Every property passes (or skips, with its reason) on every correct built-in target."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstm_props._gate.results import property_claims
from lstm_props.targets import TARGETS
from lstm_props.testing import NEEDS
from tests.conftest import outcomes_by_name

ROOT = Path(__file__).resolve().parents[1]
ALL = [f"test_{name}" for name in property_claims()]

CUDA = "test_cuda_agrees_with_cpu"
#: runs only for a target without a float64 twin (every target here has one)
OWN_PRECISION = "test_input_backward_matches_finite_differences"

#: target -> the properties it must skip (by variant, or a need the registry says it lacks)
#: besides CUDA agreement (a CPU run) and float32-against-float64 (in a float64 run); all
#: others must pass. The registry's torch targets whose skips it pins
#: (lstm_props.targets.TARGETS).
CORRECT = {t.name: t for t in TARGETS if t.package == "torch" and t.skips is not None}


def test_every_property_and_need_the_registry_names_is_declared():
    """A finding naming a property that does not exist, or a target lacking a need no
    property declares, would pin nothing."""
    named = {
        p
        for t in TARGETS
        for f in t.findings
        for props in (*f.fails.values(), *f.may_fail.values())
        for p in props
    }
    assert named - set(property_claims()) == set()
    assert {n for t in TARGETS for n in t.lacks or ()} - set(NEEDS) == set()


def _runs() -> list:
    """(target, dtype) for every pinned target, marked nightly where the registry says so
    (a compiled or exported target takes minutes: a graph, or an export, per drawn size)."""
    return [
        pytest.param(name, dtype, marks=[pytest.mark.nightly] if dtype in t.nightly else [])
        for name, t in CORRECT.items()
        for dtype in ("float32", "float64")
    ]


@pytest.mark.parametrize(("target", "dtype"), _runs())
def test_correct_target_passes_every_applicable_property(run_properties, target, dtype):
    info = CORRECT[target]
    if dtype not in info.dtypes:
        pytest.skip(f"{target} computes in {', '.join(sorted(info.dtypes))} only")
    result = run_properties(info.located(ROOT), "--lstm-dtype", dtype)
    outcomes = outcomes_by_name(result)
    # a known finding fails exactly its properties (a property with several cases may pass
    # some of them: a parametrized shape sweep)
    finding = {f"test_{p}" for p in info.fails(dtype)}
    assert result.ret == (1 if finding else 0), result.stdout.str()[-3000:]
    assert outcomes.get("failed", set()) == finding
    expected = {f"test_{p}" for p in info.skips or ()} | {CUDA, OWN_PRECISION}
    if dtype == "float64":
        expected.add("test_float32_agrees_with_float64")
    assert outcomes.get("skipped", set()) == expected
    assert set(ALL) - expected - finding <= outcomes["passed"] <= set(ALL) - expected
