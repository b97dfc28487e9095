"""--report: the HTML file, as headless Chromium renders it, and the reproduce command in it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_cli import lstm_props

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: The flags a sandboxed, offline machine needs (no GPU, no network chatter, fresh profile).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WIDTH = 1200
FIGURES = ("fig-survival", "fig-bptt", "fig-jacobian", "fig-rnn-jacobian")


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory):
    """One gate run on a mutant that fails one property: (report path, JSON document)."""
    tmp = tmp_path_factory.mktemp("report")
    out = lstm_props(
        "check",
        "lstm_props.mutants:StaleWeightCache",
        "--max-examples",
        "5",
        "--json",
        str(tmp / "r.json"),
        "--report",
        str(tmp / "r.html"),
        cwd=tmp,
    )
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr
    return tmp / "r.html", json.loads((tmp / "r.json").read_text())


def test_report_is_self_contained_and_names_the_run(failing_run):
    html = failing_run[0].read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html), "report reaches the network"
    for text in (
        "lstm_props.mutants:StaleWeightCache",
        "torch",
        "hypothesis",
        "float32",
        "derandomized",
        "FAIL",
    ):
        assert text in html


#: Hypothesis' header of a counterexample: "Falsifying example" in older releases, "Failing
#: test case" in newer ones (6.170 prints it; a fresh install gets the newest).
HYPOTHESIS_CASE = r"Falsifying example|Failing test case"


def test_failure_shows_counterexample_and_a_reproduce_command_that_reproduces(
    failing_run, tmp_path
):
    html, doc = failing_run
    failed = next(r for r in doc["results"] if r["outcome"] == "failed")
    assert re.search(HYPOTHESIS_CASE, failed["counterexample"])
    assert "LSTMCase(" in failed["counterexample"]
    assert failed["reproduce"].startswith("pytest --pyargs ")
    text = html.read_text()
    assert re.search(HYPOTHESIS_CASE, text) and "pytest --pyargs" in text
    # From another directory, the command replays the same failure.
    replay = subprocess.run(
        [sys.executable, "-m", *shlex.split(failed["reproduce"])],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert replay.returncode == 1, replay.stdout[-2000:]
    assert failed["message"].split(":")[0] in replay.stdout


def _chromium(*args: str, cwd: Path) -> str:
    out = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={cwd / 'profile'}", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _layout(report: Path, tmp: Path) -> dict:
    """Bounding boxes of the matrix and the figures, as Chromium lays the report out: a copy
    of the report with a script appended (the report itself has none) dumps them."""
    probe = tmp / "probe.html"
    ids = ["matrix", *FIGURES]
    script = (
        "<script>window.addEventListener('load',()=>{const box=e=>{const b=e."
        "getBoundingClientRect();return [b.left,b.top+scrollY,b.width,b.height];};"
        "const r={height:document.documentElement.scrollHeight};for(const id of "
        + json.dumps(ids)
        + "){const e=document.getElementById(id);if(e){r[id]=box(e);"
        "r[id+' entries']=[...e.querySelectorAll('rect.entry')].map(box);}}"
        "const p=document.createElement('pre');p.id='boxes';"
        "p.textContent=JSON.stringify(r);document.body.appendChild(p);});</script>"
    )
    probe.write_text(report.read_text().replace("</body>", script + "</body>"))
    dom = _chromium(f"--window-size={WIDTH},900", "--dump-dom", probe.as_uri(), cwd=tmp)
    match = re.search(r'<pre id="boxes">(.*?)</pre>', dom)
    assert match, "Chromium rendered no layout"
    return json.loads(match.group(1).replace("&quot;", '"'))


def _screenshot(report: Path, height: int, tmp: Path) -> np.ndarray:
    from PIL import Image

    png = tmp / "shot.png"
    _chromium(f"--window-size={WIDTH},{height}", f"--screenshot={png}", report.as_uri(), cwd=tmp)
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def _near(pixels: np.ndarray, rgb: tuple[int, int, int], within: int = 12) -> int:
    return int((np.abs(pixels - np.array(rgb)).max(axis=-1) <= within).sum())


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)
def test_report_renders_matrix_and_pictures_in_headless_chromium(failing_run, tmp_path):
    """What a person would see: the matrix with green and red cells; four pictures, none
    blank, each with the marks that carry its meaning."""
    assert CHROMIUM, "CI must have Debian's chromium: apt-get install chromium"
    report, doc = failing_run
    boxes = _layout(report, tmp_path)
    assert set(boxes) >= {"matrix", *FIGURES}, boxes
    page = _screenshot(report, int(boxes["height"]) + 20, tmp_path)

    def region(name: str) -> np.ndarray:
        x, y, w, h = (int(v) for v in boxes[name])
        assert w > 100 and h > 100, f"{name} is laid out {w}x{h} px"
        return page[y : y + h, x : x + w]

    matrix = region("matrix")
    passed = sum(r["outcome"] == "passed" for r in doc["results"])
    assert _near(matrix, (0xC8, 0xE6, 0xC9), 2) > 500 * passed, "no green (passed) cells"
    assert _near(matrix, (0xFF, 0xCD, 0xD2), 2) > 500, "no red (failed) cell"
    for name in FIGURES:
        pixels = region(name)
        ink = (pixels.min(axis=-1) < 200).mean()
        colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
        assert ink > 0.01 and colours > 20, f"{name} looks blank: {ink:.1%} ink, {colours} colours"
    # A legend swatch alone is ~40 px of a colour; a drawn curve is hundreds.
    assert _near(region("fig-survival"), (0xD6, 0x27, 0x28), 40) > 200, "no RNN curve"
    assert _near(region("fig-survival"), (20, 80, 200), 40) > 200, "no carry curves"
    assert _near(region("fig-bptt"), (0x1F, 0x77, 0xB4), 40) > 200, "no LSTM BPTT curve"
    carry, rnn = (
        _heat_map_colours(page, boxes[f"{name} entries"])
        for name in ("fig-jacobian", "fig-rnn-jacobian")
    )
    n = carry.shape[0]
    off = ~np.eye(n, dtype=bool)
    assert np.all(carry[~off].min(axis=-1) < 235), "carry Jacobian's diagonal not drawn"
    assert np.all(carry[off].min(axis=-1) > 250), "carry Jacobian shows off-diagonal entries"
    assert (rnn[off].min(axis=-1) < 235).mean() > 0.5, "RNN Jacobian should look dense"


def _heat_map_colours(page: np.ndarray, entries: list) -> np.ndarray:
    """The colour at the centre of each heat-map cell, as an (n, n, 3) grid."""
    n = round(len(entries) ** 0.5)
    assert n * n == len(entries) and n > 1, f"{len(entries)} heat-map cells"
    centres = [page[int(y + h / 2), int(x + w / 2)] for x, y, w, h in entries]
    return np.array(centres).reshape(n, n, 3)
