"""Root cause first: which failed claim explains the others.

When one basic claim fails, the claims built on it fail with it: a forward that is not
affine in c also breaks the secant slope, the carry product and the forcing properties. The
table, the JSON and the HTML report name the most basic failed claims ("root_cause": true)
and mark every other failure as following from them ("follows_from": [...]), so a user
reads one cause, not seventeen symptoms.

The order is declared with each property (``@lstm_property(..., relies_on=(...))``): a
property -> the more basic properties whose claims it relies on (a failure of one of those
is expected to make it fail too). Forward values and the forward carry map come first, then
the one-step carry Jacobian, then the product over steps, then the forcing properties; the
order is a DAG over every property (tests/test_gate_root_cause.py).
"""

from __future__ import annotations

from lstm_props._gate.results import PropertyResult


def depends_on() -> dict[str, tuple[str, ...]]:
    """property id -> the ids it relies on, from the declarations."""
    from lstm_props._harness.declared import declarations

    return {d.id: d.relies_on for d in declarations()}


def ancestors(name: str) -> set[str]:
    """Every property ``name`` relies on, directly or through others."""
    seen: set[str] = set()
    graph = depends_on()
    todo = list(graph.get(name, ()))
    while todo:
        basic = todo.pop()
        if basic not in seen:
            seen.add(basic)
            todo.extend(graph.get(basic, ()))
    return seen


def _name(pid: str) -> str:
    return pid.split("[")[0]


def _layer(pid: str) -> str:
    """'claim[layer1-B2-T3]' -> 'layer1'; 'stack' or '' for the whole stack / no layer."""
    return pid.partition("[")[2].rstrip("]").split("-")[0]


def _same_view(a: str, b: str) -> bool:
    la, lb = _layer(a), _layer(b)
    return la == lb or la in ("", "stack") or lb in ("", "stack")


def _bad(r: PropertyResult) -> bool:
    """A failure or an adapter fault; a bug of the suite explains nothing about the target."""
    return r.outcome == "failed" or (r.outcome == "error" and r.kind != "suite")


def annotate(results: list[PropertyResult]) -> list[PropertyResult]:
    """Set ``root_cause`` and ``follows_from`` on each bad result; return the results with
    the root causes first, then what follows from them, then the rest (each in given order).

    A bad result follows from the bad results of the properties it relies on (transitively,
    on the same layer view) that are themselves root causes; it is a root cause when none of
    the properties it relies on went bad.
    """
    bad = [r for r in results if _bad(r)]
    for r in results:
        r.root_cause, r.follows_from = False, []
    for r in bad:
        basics = ancestors(_name(r.property))
        causes = [
            o for o in bad if _name(o.property) in basics and _same_view(o.property, r.property)
        ]
        r.root_cause = not causes
        r.follows_from = [
            o.property
            for o in causes
            if not (ancestors(_name(o.property)) & {_name(x.property) for x in causes})
        ]
    rank = {id(r): (0 if r.root_cause else 1 if r.follows_from else 2) for r in results}
    return sorted(results, key=lambda r: rank[id(r)])
