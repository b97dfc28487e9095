"""``--report PATH``: one self-contained HTML file a person can read (no network to view it).

Sections: the verdict, the run's identity and environment, the conformance matrix
(property × layer view), each failure's minimal counterexample and reproduce command, and
the carry-path pictures of :mod:`lstm_props._report.figures` drawn by :mod:`lstm_props._report.svg`.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from lstm_props._gate.faults import REPORT_PHRASE
from lstm_props._gate.results import PropertyResult, coverage, coverage_line, summary, why
from lstm_props._report.figures import Figures
from lstm_props._report.svg import Series, heat_map, line_plot

#: log₁₀ below which a gradient is drawn as "underflowed" at the plot's floor.
FLOOR = -40.0

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.passed{background:#c8e6c9}.failed{background:#ffcdd2}.error{background:#e1bee7}
.skipped{background:#eeeeee;color:#666}.xfailed{background:#ffe0b2}
.verdict{font-size:18px;padding:10px 14px;border-radius:6px;display:inline-block}
pre{background:#f7f7f7;border:1px solid #ddd;padding:8px;white-space:pre-wrap;font-size:12px}
figure{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}
figcaption{font-size:12px;color:#444;max-width:460px}
"""


def _verdict(results: list[PropertyResult], header: dict[str, Any]) -> tuple[str, str]:
    counts, cov = summary(results), coverage(results, header.get("mode"))
    if header.get("interrupted"):
        return "error", "INTERRUPTED: the run was stopped; these results are partial"
    if header.get("complete") is False:
        return "error", "INCOMPLETE: the run ended before finishing; these results are partial"
    if any(r.kind == "suite" for r in results):
        return "error", (
            "SUITE ERROR: lstm_props itself raised (a bug of the suite, not of "
            "the target); " + REPORT_PHRASE
        )
    if counts["error"]:
        return "error", "ADAPTER FAULT: the implementation raised, returned wrong shapes or NaN"
    if counts["failed"]:
        return "failed", "FAIL: at least one property's claim does not hold"
    if cov["verified"] == 0:
        return "error", (
            "NOTHING VERIFIED: no property that calls the target passed; " + coverage_line(cov)
        )
    if cov["mode"] == "black-box":
        return "skipped", (
            "BLACK-BOX PASS (not a conformance pass): every property that ran "
            "holds; " + coverage_line(cov)
        )
    return "passed", f"PASS: every applicable property holds; {coverage_line(cov)}"


def _split(pid: str) -> tuple[str, str]:
    name, _, param = pid.partition("[")
    return name, param.rstrip("]") or "-"


def _matrix(results: list[PropertyResult], claims: dict[str, str]) -> str:
    cells: dict[tuple[str, str], PropertyResult] = {_split(r.property): r for r in results}
    names = [n for n in claims if any(k[0] == n for k in cells)]
    names += sorted({k[0] for k in cells} - set(names))
    columns = sorted({k[1] for k in cells}, key=lambda c: (c == "stack", c))
    rows = [
        '<table id="matrix"><tr><th>property</th><th>claim</th>'
        + "".join(f"<th>{escape(c)}</th>" for c in columns)
        + "</tr>"
    ]
    for name in names:
        row = f"<tr><td><code>{escape(name)}</code></td><td>{escape(claims.get(name, ''))}</td>"
        for col in columns:
            r = cells.get((name, col))
            if r is None:
                row += "<td></td>"
                continue
            label = (
                "<br><small>root cause</small>"
                if r.root_cause
                else "<br><small>follows</small>"
                if r.follows_from
                else ""
            )
            row += (
                f'<td class="{r.outcome}" title="{escape(why(r))}">{r.outcome}{label}'
                f"<br><small>{r.duration:.2f}s</small></td>"
            )
        rows.append(row + "</tr>")
    return "\n".join([*rows, "</table>"])


def _failures(results: list[PropertyResult]) -> str:
    bad = [r for r in results if r.outcome in ("failed", "error", "xfailed")]
    if not bad:
        return "<p>None.</p>"
    out = []
    for r in bad:
        cause = (
            "root cause"
            if r.root_cause
            else f"follows from {', '.join(r.follows_from)}"
            if r.follows_from
            else ""
        )
        mark = f' <span class="cause">({escape(cause)})</span>' if cause else ""
        out.append(
            f'<h3 class="{r.outcome}">{escape(r.property)}: {r.outcome}{mark}</h3>'
            f"<p>{escape(r.message)}</p>"
        )
        if r.counterexample:
            out.append(f"<p>Minimal counterexample:</p><pre>{escape(r.counterexample)}</pre>")
        if r.reproduce:
            out.append(f"<p>Reproduce with:</p><pre>{escape(r.reproduce)}</pre>")
    return "\n".join(out)


def _skips(results: list[PropertyResult]) -> str:
    skipped = [r for r in results if r.outcome == "skipped"]
    if not skipped:
        return ""
    items = "".join(
        f"<li><code>{escape(r.property)}</code>: {escape(r.message)}</li>" for r in skipped
    )
    return f"<h2>Not applicable to this target</h2><ul>{items}</ul>"


def _blues(k: int, n: int) -> str:
    t = k / max(n - 1, 1)
    return f"rgb({int(20 + 120 * t)},{int(80 + 110 * t)},{int(200 - 20 * t)})"


def _pictures(fig: Figures) -> str:
    hidden = fig.survival.shape[1]
    survival = [
        Series(
            "LSTM carry, one line per unit",
            fig.spans.astype(float),
            fig.survival[:, k],
            _blues(k, hidden),
        )
        for k in range(hidden)
    ]
    survival.append(
        Series(
            "vanilla RNN, same candidate weights",
            fig.spans.astype(float),
            fig.rnn_survival,
            "#d62728",
            2.5,
            "6 3",
        )
    )
    lengths = fig.lengths.astype(float)
    with np.errstate(divide="ignore"):
        bptt = [
            Series("LSTM ‖∂(1ᵀc_T)/∂(h₀,c₀)‖", lengths, np.log10(fig.bptt), "#1f77b4", 2.5),
            Series(
                "vanilla RNN ‖∂(1ᵀh_T)/∂h₀‖", lengths, np.log10(fig.rnn_bptt), "#d62728", 2.5, "6 3"
            ),
        ]
    plots = [
        (
            "fig-survival",
            line_plot(
                "Carry-path gradient survival",
                "span T − s (steps)",
                "log₁₀ |∂c_T/∂c_s| (carry path)",
                survival,
                FLOOR,
            ),
            "Each blue line is one unit's log₁₀ ∏ f_t over the span, taken by the "
            "implementation's own backward along the carry (h teacher-forced): straight lines, "
            "slope log₁₀ f. The dashed red line is the vanilla RNN built from the same cell's "
            "candidate weights: ‖∏ diag(1−h²) W_hh‖₂ decays geometrically in every direction.",
        ),
        (
            "fig-bptt",
            line_plot(
                "Total BPTT gradient norm", "sequence length T", "log₁₀ gradient norm", bptt, FLOOR
            ),
            "Both paths, free-running: the LSTM's full backward through h and c against the "
            "RNN's, for the same inputs.",
        ),
        (
            "fig-jacobian",
            heat_map("One carry Jacobian ∂c_t/∂c_{t−1}", fig.jacobian, "c_t unit", "c_{t−1} unit"),
            "Step t = T/2, batch row 0, h and x held fixed: diagonal, entries f_t ∈ [0, 1].",
        ),
        (
            "fig-rnn-jacobian",
            heat_map("Vanilla RNN ∂h_t/∂h_{t−1}", fig.rnn_jacobian, "h_t unit", "h_{t−1} unit"),
            "The same step of the contrast RNN: diag(1 − h_t²) W_hh, dense.",
        ),
    ]
    out = [
        f"<p>Weights: {escape(fig.weights)}; inputs x_t ~ N(0, 1), h₀ = c₀ = 0; "
        f"values below 1e{FLOOR:g} (underflow) are drawn on the floor.</p>"
    ]
    for fid, svg, caption in plots:
        out.append(f'<figure id="{fid}">{svg}<figcaption>{escape(caption)}</figcaption></figure>')
    return "\n".join(out)


def render(
    header: dict[str, Any],
    environment: dict[str, str],
    results: list[PropertyResult],
    claims: dict[str, str],
    figures: Figures | str,
) -> str:
    """The report as one HTML string; ``figures`` is a message when they could not be made."""
    counts = summary(results)
    css_class, verdict = _verdict(results, header)
    ident = {**{k: str(v) for k, v in header.items()}, **environment}
    if header.get("seed") is None:
        ident["seed"] = "derandomized (the ci profile: the same examples every run)"
    ident_rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in ident.items()
    )
    count_text = ", ".join(f"{v} {k}" for k, v in counts.items())
    pictures = (
        _pictures(figures)
        if isinstance(figures, Figures)
        else f'<p class="skipped">No pictures: {escape(figures)}</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>lstm_props report: {escape(str(header.get("target", "")))}</title>
<style>{_CSS}</style></head><body>
<h1>lstm_props conformance report: <code>{escape(str(header.get("target", "")))}</code></h1>
<p id="verdict" class="verdict {css_class}">{escape(verdict)} ({escape(count_text)})</p>
<h2>Run</h2><table id="environment">{ident_rows}</table>
<h2>Conformance matrix</h2>
{_matrix(results, claims)}
<h2>Failures</h2>
<div id="failures">{_failures(results)}</div>
{_skips(results)}
<h2>The carry path, pictured</h2>
<div id="pictures">{pictures}</div>
</body></html>
"""


def environment(device: str) -> dict[str, str]:
    """Versions and the machine, for the report's identity table."""
    import platform
    from datetime import datetime, timezone
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    env = {"python": platform.python_version(), "platform": platform.platform()}
    env.update(
        {
            dist: version(dist)
            for dist in ("lstm-props", "torch", "hypothesis", "numpy", "pytest", "pytest-xdist")
        }
    )
    machine = platform.processor() or platform.machine()
    if device == "cuda":
        import torch

        machine = torch.cuda.get_device_name()
    env["device name"] = machine
    env["written"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return env


def write_html_report(
    path: str, header: dict[str, Any], target: Any, results: list[PropertyResult]
) -> None:
    """Compute the pictures on ``target`` (or say why not) and write the report to path."""
    from lstm_props._errors import LSTMPropsError
    from lstm_props._gate.results import property_claims
    from lstm_props._report.figures import figure_data

    figures: Figures | str
    if isinstance(target, str):
        figures = target
    else:
        try:
            figures = figure_data(target)
        except (LSTMPropsError, ValueError) as exc:
            figures = str(exc)
        except Exception as exc:  # a faulting target: the report is still written
            figures = f"computing them raised {type(exc).__name__}: {exc}"
    html = render(header, environment(header["device"]), results, property_claims(), figures)
    try:
        Path(path).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise LSTMPropsError(
            f"--report {path!r}: cannot write it ({exc.strerror}); "
            "give a path in a writable directory"
        ) from None
