"""Generated blocks of the docs (docs/properties.md's guarantees table, docs/matrix.md's
conformance matrix, docs/mutants.md's kill matrix): each written by the command that
computes it, between its own marker lines, so the text cannot drift from what the code
says."""

from __future__ import annotations

from pathlib import Path

MATRIX_MARKERS = ("<!-- lstm-props matrix: start -->", "<!-- lstm-props matrix: end -->")
GUARANTEES_MARKERS = ("<!-- lstm-props list: start -->", "<!-- lstm-props list: end -->")
KILLS_MARKERS = ("<!-- lstm-props selftest: start -->", "<!-- lstm-props selftest: end -->")


def block(text: str, markers: tuple[str, str]) -> list[str] | None:
    """The lines between ``markers`` in ``text`` (None when they are missing)."""
    start, end = markers
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n").split("\n")


def write_between(path: Path, lines: list[str], markers: tuple[str, str]) -> None:
    """Replace what lies between ``markers`` in the file with ``lines``."""
    start, end = markers
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path}: no {start} ... {end} lines to write the table between")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    path.write_text(before + start + "\n" + "\n".join(lines) + "\n" + end + after)
