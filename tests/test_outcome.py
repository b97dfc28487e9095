"""The one outcome policy (lstm_props._gate.outcome): every fold of layers and phases uses it."""

from __future__ import annotations

import json

from lstm_props._gate.outcome import ALARMS, SEVERITY, Outcome, fold


def _results(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"property": p, "outcome": o} for p, o in pairs]


def test_a_property_is_skipped_only_where_every_layer_skipped():
    folded = fold(
        _results(
            ("a[layer0]", "skipped"),
            ("a[layer1]", "passed"),
            ("b[layer0]", "skipped"),
            ("b[layer1]", "skipped"),
        )
    )
    assert folded == {"a": "passed", "b": "skipped"}


def test_the_worst_layer_decides_and_a_fault_outranks_a_failure():
    folded = fold(
        _results(
            ("a[layer0]", "failed"),
            ("a[layer1]", "error"),
            ("b[layer0]", "error"),
            ("b[layer1]", "failed"),
            ("c[layer0]", "passed"),
            ("c[layer1]", "xfailed"),
            ("d", "failed"),
        )
    )
    assert folded == {"a": "error", "b": "error", "c": "xfailed", "d": "failed"}


def test_outcomes_are_the_jsons_strings():
    assert [o.value for o in Outcome] == ["passed", "failed", "skipped", "xfailed", "error"]
    assert sorted(SEVERITY, key=lambda o: o.severity) == list(SEVERITY)
    assert json.dumps(fold(_results(("a", "error")))) == '{"a": "error"}'
    assert "failed" in ALARMS and Outcome.ERROR in ALARMS and "skipped" not in ALARMS
    assert f"{Outcome.PASSED}" == "passed"
