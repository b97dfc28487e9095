"""lstm-props horizon --report: the self-contained page, its four figures per layer, what it
says where the two-track share was not measured, ∞ and NaN, and the page in headless
Chromium."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_props.horizon import Horizon, TwoTrack, measure_horizon
from lstm_props.horizon.report import render, write_report
from lstm_props.horizon.two_track import NO_BACKWARD
from tests.test_cli import lstm_props
from tests.test_report import CHROMIUM, _chromium, _near, _screenshot

#: Each figure's id suffix and its SVG title (after "layer k: ").
FIGURES = {
    "timescales": "timescales T_k",
    "survival": "carry survival",
    "saturation": "gate saturation",
    "two-track": "two-track share",
}
MODEL = "import torch\n\ntorch.manual_seed(0)\nmodel = torch.nn.LSTM(3, 8, num_layers=2)\n"


@pytest.fixture(scope="module")
def measured() -> Horizon:
    torch.manual_seed(0)
    model = torch.nn.LSTM(3, 8, num_layers=2)
    data = np.random.default_rng(0).standard_normal((4, 120, 3))
    return measure_horizon(model, data, two_track_span=16)


def _page(h: Horizon, tmp_path: Path) -> str:
    path = tmp_path / "horizon.html"
    write_report(h, path, 100)
    return path.read_text(encoding="utf-8")


def _well_formed(html: str) -> list[ET.Element]:
    """Every inline SVG parses as XML (so everything in it is escaped)."""
    return [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", html, re.S)]


def _no_bad_numbers(html: str) -> None:
    assert not re.search(r"\bnan\b|\binf\b", html, re.I), "a NaN or inf reached the page"


def test_self_contained_with_the_four_figures_per_layer(measured, tmp_path):
    html = _page(measured, tmp_path)
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html), "report reaches the network"
    assert "<script" not in html
    assert "&lt;LSTM object&gt;" in html and "<LSTM object>" not in html  # escaped
    for text in ("float32", "standard", "4 sequences of 120 steps", "docs/horizon.md", " s in all"):
        assert text in html
    assert len(re.findall(r'<section id="layer-\d+">', html)) == len(measured.layers) == 2
    for k, layer in enumerate(measured.layers):
        for fid, title in FIGURES.items():
            assert f'id="layer-{k}-{fid}"' in html
            assert f'aria-label="{layer.name}: {title}"' in html
        assert "keep gradient beyond 100 steps" in html
    assert len(_well_formed(html)) == 4 * len(measured.layers)
    for fmt in ("float16 normal", "bfloat16 subnormal", "float32 subnormal"):
        assert fmt in html
    assert "measured," in html and "extrapolated" in html
    _no_bad_numbers(html)


def test_says_when_the_two_track_share_was_not_measured(measured, tmp_path):
    empty = TwoTrack(np.zeros(0, int), np.zeros((5, 0)), np.zeros(0), np.zeros(0), 0, NO_BACKWARD)
    skipped, forward_only = (
        dataclasses.replace(layer, two_track=tt)
        for layer, tt in zip(measured.layers, (None, empty))
    )
    html = _page(dataclasses.replace(measured, layers=[skipped, forward_only]), tmp_path)
    assert "not measured: skipped (--two-track-span 0)" in html
    assert "not measured: the target has no backward" in html
    assert 'aria-label="layer 0: two-track share"' not in html
    assert 'aria-label="layer 1: two-track share"' not in html
    assert 'id="layer-0-two-track"' in html and 'id="layer-1-two-track"' in html
    _well_formed(html)


def test_infinite_timescales_are_counted_and_nan_never_printed(measured):
    layer = measured.layers[0]
    t = layer.timescale.copy()
    t[:3] = np.inf, np.inf, np.nan  # two units with f ≡ 1, one without a value
    pooled = layer.survival_pooled.copy()
    pooled[:, -3:] = -np.inf
    pooled[:, 0] = np.nan
    survival = layer.survival.copy()
    survival[:, :, 0] = np.nan
    tt = layer.two_track
    assert tt is not None
    share = tt.share.copy()
    share[:, 1] = np.nan
    odd = dataclasses.replace(
        layer,
        timescale=t,
        survival=survival,
        survival_pooled=pooled,
        horizon=np.where(np.isinf(t), np.inf, layer.horizon),
        two_track=dataclasses.replace(tt, share=share),
    )
    html = render(dataclasses.replace(measured, layers=[odd]))
    assert "2 unit(s) with f ≡ 1 (T_k = ∞) in the ∞ bar" in html
    assert "1 without a value" in html
    assert re.search(r'class="bar outside"[^>]*><title>∞: 2</title>', html)
    _well_formed(html)
    _no_bad_numbers(html)


def test_cli_writes_the_report(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((4, 120, 3)))
    out = lstm_props(
        "horizon",
        "model.py:model",
        "--data",
        "x.npy",
        "--report",
        "out.html",
        "--json",
        "out.json",
        "--two-track-span",
        "8",
        "--quiet",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    doc = json.loads((tmp_path / "out.json").read_text())
    for layer in doc["layers"]:
        assert layer["verdict"] in html
    assert 'aria-label="layer 1: two-track share"' in html


def _boxes(report: Path, ids: list[str], tmp: Path) -> dict:
    """Bounding boxes of elements by id as Chromium lays the page out, and how many scatter
    points each holds inside it (a probe copy of the report with a script appended dumps
    them; the report itself has none)."""
    probe = tmp / "probe.html"
    script = (
        "<script>window.addEventListener('load',()=>{const r={height:document.documentElement"
        ".scrollHeight};for(const id of " + json.dumps(ids) + "){const e=document."
        "getElementById(id);if(e){const b=e.getBoundingClientRect();r[id]=[b.left,b.top+"
        "scrollY,b.width,b.height];r[id+' points']=[...e.querySelectorAll('.point')].filter(q=>"
        "{const c=q.getBoundingClientRect();return c.width>0&&c.left>=b.left&&c.right<=b.right"
        "&&c.top>=b.top&&c.bottom<=b.bottom;}).length;}}"
        "const p=document.createElement('pre');p.id='boxes';p.textContent=JSON.stringify(r);"
        "document.body.appendChild(p);});</script>"
    )
    probe.write_text(report.read_text().replace("</body>", script + "</body>"))
    dom = _chromium("--window-size=1200,900", "--dump-dom", probe.as_uri(), cwd=tmp)
    match = re.search(r'<pre id="boxes">(.*?)</pre>', dom)
    assert match, "Chromium rendered no layout"
    return json.loads(match.group(1).replace("&quot;", '"'))


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)
def test_renders_in_headless_chromium(measured, tmp_path):
    """What a person sees: every figure laid out, none blank, each with its marks."""
    assert CHROMIUM, "CI must have Debian's chromium: apt-get install chromium"
    report = tmp_path / "horizon.html"
    write_report(measured, report, 100)
    ids = [f"layer-{k}-{fid}" for k in range(len(measured.layers)) for fid in FIGURES]
    boxes = _boxes(report, ids, tmp_path)
    assert set(boxes) >= set(ids), boxes
    page = _screenshot(report, int(boxes["height"]) + 20, tmp_path)

    def region(name: str) -> np.ndarray:
        x, y, w, h = (int(v) for v in boxes[name])
        assert w > 100 and h > 100, f"{name} is laid out {w}x{h} px"
        return page[y : y + h, x : x + w]

    for name in ids:
        pixels = region(name)
        ink = (pixels.min(axis=-1) < 200).mean()
        assert ink > 0.01, f"{name} looks blank: {ink:.1%} ink"
    for k in range(len(measured.layers)):
        assert _near(region(f"layer-{k}-timescales"), (0x1F, 0x77, 0xB4), 8) > 300, "no bars"
        # the 25–75% band: #1f77b4 at 0.3 (with the 10–90% band beneath) on white
        assert _near(region(f"layer-{k}-survival"), (0x1F, 0x77, 0xB4), 8) > 100, "no median"
        assert _near(region(f"layer-{k}-survival"), (0xA5, 0xC9, 0xE1), 20) > 300, "no band"
        assert _near(region(f"layer-{k}-two-track"), (0xFF, 0x7F, 0x0E), 12) > 100, "no median"
        assert _near(region(f"layer-{k}-two-track"), (0xFF, 0xDF, 0xC3), 12) > 300, "no band"
        # a marker per unit and gate, drawn inside the figure
        assert boxes[f"layer-{k}-saturation points"] == 3 * measured.layers[k].hidden
