"""``lstm-props list``: the properties in the one order of their declarations, the built-in
targets and the variants; ``list --markdown``: docs/properties.md's guarantees table."""

from __future__ import annotations

from pathlib import Path

from lstm_props._gate.doc_blocks import GUARANTEES_MARKERS, write_between
from lstm_props._gate.usage import usage_error
from lstm_props.maths.layout import VARIANTS


def guarantees_table() -> list[str]:
    """docs/properties.md's guarantees table: one row per declared property, in the one
    order."""
    from lstm_props._harness.declared import declarations

    lines = ["| # | property | claim | needs |", "|---|---|---|---|"]
    for k, d in enumerate(declarations()):
        needs = ", ".join(d.needs) or "—"
        if d.variants is not None:
            needs += f"; variants {', '.join(d.variant_names() or [])}"
        claim = d.claim.replace("|", "\\|")
        lines.append(
            f"| {k + 1} | `{d.id}` ({d.module.rsplit('.', 1)[-1][5:]}) | {claim} | {needs} |"
        )
    return lines


def list_properties(markdown: bool = False, readme: str | None = None) -> int:
    if markdown or readme:
        lines = guarantees_table()
        print("\n".join(lines))
        if readme:
            try:
                write_between(Path(readme), lines, GUARANTEES_MARKERS)
            except (OSError, ValueError) as exc:
                return usage_error(f"--readme {readme}: {exc}")
        return 0
    from lstm_props._harness.declared import declarations

    print("properties:")
    for k, d in enumerate(declarations()):
        needs = ", ".join(d.needs) or "nothing"
        variants = "" if d.variants is None else f"; variants: {', '.join(d.variant_names() or [])}"
        print(f"  {k + 1:>2}. {d.id:52} {d.claim}\n      needs: {needs}{variants}")
    print("\nbuilt-in targets:")
    from lstm_props.targets import TARGETS

    for target in TARGETS:
        if target.builtin:
            print(f"  {target.name:44} ({target.variant})")
    print(f"\nvariants: {', '.join(VARIANTS)}")
    return 0
