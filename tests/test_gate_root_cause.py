"""Root cause first: the most basic failed claim is named, the others follow from it."""

from __future__ import annotations

import json

from lstm_props._gate.results import PropertyResult, property_claims, table
from lstm_props._gate.root_cause import ancestors, annotate, depends_on


def test_the_dependency_order_covers_every_property_and_has_no_cycle():
    names = set(property_claims())
    assert set(depends_on()) == names
    for name, basics in depends_on().items():
        assert set(basics) <= names, name
        assert name not in ancestors(name), f"{name} depends on itself"


def _r(pid: str, outcome: str = "failed", kind: str = "") -> PropertyResult:
    return PropertyResult(pid, outcome, f"{pid} broke", 0.1, kind=kind)


def test_failures_built_on_a_failed_basic_claim_follow_from_it():
    results = annotate(
        [
            _r("carry_product_matches_oracle[layer0]"),
            _r("carry_slope_matches_autograd[layer0]"),
            _r("carry_map_is_affine_in_c[layer0]"),
            _r("carry_map_is_coordinatewise[layer0]", "passed"),
            _r("carry_map_is_affine_in_c[layer1]", "passed"),
            _r("carry_slope_matches_autograd[layer1]"),  # its layer's basic claim held
            _r("step_values_match_reference[layer0]", "error", kind="suite"),  # explains nothing
        ]
    )
    by_id = {r.property: r for r in results}
    assert by_id["carry_map_is_affine_in_c[layer0]"].root_cause
    assert by_id["carry_slope_matches_autograd[layer0]"].follows_from == [
        "carry_map_is_affine_in_c[layer0]"
    ]
    assert by_id["carry_product_matches_oracle[layer0]"].follows_from == [
        "carry_map_is_affine_in_c[layer0]"
    ]
    assert by_id["carry_slope_matches_autograd[layer1]"].root_cause
    assert not by_id["carry_map_is_coordinatewise[layer0]"].root_cause
    assert [r.root_cause for r in results[:2]] == [True, True]  # root causes first
    lines = table(results)
    assert "ROOT CAUSE: carry_map_is_affine_in_c[layer0] broke" in lines[1]
    assert any(
        "follows from carry_map_is_affine_in_c[layer0]: carry_product" in line for line in lines
    )


def test_a_forward_not_affine_in_c_is_named_once_as_the_root_cause(run_properties, tmp_path):
    """ForgetReadsCell (f reads c) breaks affinity in c, and the secant slope with it."""
    out = run_properties(
        "lstm_props.mutants:ForgetReadsCell",
        "-k",
        "affine_in_c or carry_slope or carry_map_is_coordinatewise",
        "--lstm-json",
        str(tmp_path / "r.json"),
        "--lstm-table",
        profile="mutants",
    )
    doc = json.loads((tmp_path / "r.json").read_text())
    bad = [r for r in doc["results"] if r["outcome"] == "failed"]
    roots = [r["property"] for r in bad if r["root_cause"]]
    assert roots == ["carry_map_is_affine_in_c[layer0]"], doc["results"]
    assert doc["results"][0]["property"] == roots[0]
    followers = [r for r in bad if not r["root_cause"]]
    assert followers and all(r["follows_from"] == roots for r in followers)
    assert "lstm_props: root cause: carry_map_is_affine_in_c[layer0]" in out.stdout.str()
