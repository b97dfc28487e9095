"""Root cause first: which failed claim explains the others.

When one basic claim fails, the claims built on it fail with it: a forward that is not
affine in c also breaks the secant slope, the carry product and the forcing properties. The
table, the JSON and the HTML report name the most basic failed claims ("root_cause": true)
and mark every other failure as following from them ("follows_from": [...]), so a user
reads one cause, not seventeen symptoms.

:data:`DEPENDS_ON` is the declared order: a property -> the more basic properties whose
claims it relies on (a failure of one of those is expected to make it fail too). Forward
values and the forward carry map come first, then the one-step carry Jacobian, then the
product over steps, then the forcing properties; the order is a DAG over every property.
"""

from __future__ import annotations

from lstm_props._gate.results import PropertyResult

STEP_VALUES = "step_values_match_reference"
COORDINATEWISE = "carry_map_is_coordinatewise"
AFFINE = "carry_map_is_affine_in_c"
DETERMINISTIC = "forward_and_backward_are_deterministic"
DIAGONAL = "carry_jacobian_is_diagonal"
EQUALS_F = "carry_jacobian_diagonal_equals_forget_gate"
UNIT_INTERVAL = "carry_jacobian_entries_in_unit_interval"
SLOPE = "carry_slope_matches_autograd"
BOUNDED = "carry_product_is_bounded_and_non_increasing"
PRODUCT = "carry_product_matches_oracle"
FUSED = "fused_sequence_equals_composed_steps"
RNN = "reference_rnn_jacobian_is_dense_and_vanishes"

DEPENDS_ON: dict[str, tuple[str, ...]] = {
    # forward values and the forward carry map: the most basic claims
    STEP_VALUES: (),
    COORDINATEWISE: (),
    AFFINE: (COORDINATEWISE,),
    DETERMINISTIC: (),
    RNN: (),
    "in_place_weight_edits_take_effect": (STEP_VALUES,),
    "float32_agrees_with_float64": (STEP_VALUES,),
    "cuda_agrees_with_cpu": (STEP_VALUES,),
    FUSED: (DETERMINISTIC,),
    "packed_batch_equals_each_sequence_alone": (FUSED,),
    "reverse_direction_is_flip_lstm_flip": (FUSED,),
    # the one-step carry Jacobian
    DIAGONAL: (COORDINATEWISE,),
    SLOPE: (AFFINE,),
    UNIT_INTERVAL: (DIAGONAL, AFFINE),
    EQUALS_F: (STEP_VALUES, DIAGONAL, SLOPE),
    "hidden_output_carry_derivative": (EQUALS_F,),
    "one_step_vjp_splits_into_carry_and_hidden_tracks": (EQUALS_F,),
    "edge_shapes_keep_a_diagonal_carry_and_the_values": (STEP_VALUES, DIAGONAL),
    # backward over many steps
    "carry_backward_matches_finite_differences": (SLOPE,),
    "bptt_equals_product_of_step_jacobians": (DETERMINISTIC,),
    # h_0's gradient over T steps flows through the carry too
    "input_backward_matches_finite_differences": ("carry_backward_matches_finite_differences",),
    "parameter_gradients_match_finite_differences": ("carry_backward_matches_finite_differences",),
    # the carry product
    BOUNDED: (UNIT_INTERVAL,),
    PRODUCT: (EQUALS_F, BOUNDED),
    # forcing the forget gate
    "open_forget_gate_gives_identity_carry": (PRODUCT, STEP_VALUES),
    "no_forget_variant_carry_is_identity": (DIAGONAL,),
    "open_forget_gate_translates_the_carry": (AFFINE,),
    "closed_forget_gate_cuts_the_carry": (PRODUCT,),
    "closed_forget_gate_forgets_c0": (AFFINE,),
    "lstm_carry_survives_where_rnn_vanishes": (PRODUCT, RNN),
}


def ancestors(name: str) -> set[str]:
    """Every property ``name`` relies on, directly or through others."""
    seen: set[str] = set()
    todo = list(DEPENDS_ON.get(name, ()))
    while todo:
        basic = todo.pop()
        if basic not in seen:
            seen.add(basic)
            todo.extend(DEPENDS_ON.get(basic, ()))
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
