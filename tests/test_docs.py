"""The README and docs/: every relative link resolves (file and heading anchor), the
generated blocks sit where their commands write them, and the README still carries the
exact test command CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from lstm_props._gate.doc_blocks import GUARANTEES_MARKERS, MATRIX_MARKERS

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^()\s]+)\)")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def split_code(text: str) -> tuple[list[str], list[str]]:
    """The lines of a Markdown file outside and inside fenced code blocks."""
    outside: list[str] = []
    inside: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        else:
            (inside if fenced else outside).append(line)
    return outside, inside


def outside_code(text: str) -> list[str]:
    return split_code(text)[0]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    found: set[str] = set()
    count: dict[str, int] = {}
    for line in outside_code(path.read_text()):
        if match := re.match(r"#{1,6} (.+)", line):
            base = slug(match.group(1))
            found.add(base if base not in count else f"{base}-{count[base]}")
            count[base] = count.get(base, 0) + 1
    return found


def broken_links(path: Path) -> list[str]:
    """Every `](target)` in ``path`` whose file, or whose heading anchor, does not exist."""
    problems = []
    for line in outside_code(path.read_text()):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.exists():
                problems.append(f"{path.name}: {target}: no such file")
            elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
                problems.append(f"{path.name}: {target}: no heading with that anchor")
    return problems


def test_the_link_checker_sees_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.md").write_text(
        "# A page\n\n## ONNX Runtime (the ONNX `LSTM` operator)\n\n"
        "[ok](#onnx-runtime-the-onnx-lstm-operator) [ok](a.md#a-page) "
        "[gone](b.md) [wrong](a.md#no-such-heading)\n"
        "```\n[in code](c.md)\n```\n"
    )
    assert broken_links(tmp_path / "a.md") == [
        "a.md: b.md: no such file",
        "a.md: a.md#no-such-heading: no heading with that anchor",
    ]


def test_every_relative_link_in_the_readme_and_docs_resolves():
    problems = [p for page in pages() for p in broken_links(page)]
    assert not problems, "\n".join(problems)


def test_generated_blocks_live_in_the_pages_their_commands_write():
    """`lstm-props list --readme docs/properties.md` and `lstm-props matrix --readme
    docs/matrix.md` need their marker lines there, and nowhere else."""
    homes = {GUARANTEES_MARKERS: "properties.md", MATRIX_MARKERS: "matrix.md"}
    for markers, home in homes.items():
        holders = [page.name for page in pages() if markers[0] in page.read_text()]
        assert holders == [home], (markers[0], holders)
        assert markers[1] in (ROOT / "docs" / home).read_text()


def test_the_readme_shows_the_test_command_ci_runs():
    """CI (.ci/run) ends with the README's test command: the same line, in a fenced block."""
    run = (ROOT / ".ci/run").read_text().strip().splitlines()
    command = run[-1]
    assert command.startswith("pytest tests")
    assert command in split_code((ROOT / "README.md").read_text())[1]
