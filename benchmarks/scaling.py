"""How the carry verification's cost grows with H and T: docs/benchmarks.md's table.

    python benchmarks/scaling.py [--grid 256x1024,1024x1024,...] [--threads 2]
                                 [--naive-seconds S] [--device cpu] [--json PATH]

Each size runs ``lstm-props bench`` in a fresh process (so the peak RSS is that size's
own) and the figures are printed as a Markdown table. Ratios are measured within one
process, forward and verification back to back; absolute seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_GRID = "256x256,256x1024,256x4096,1024x256,1024x1024,1024x4096,256x100000"


def _sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in item.split("x")) for item in text.split(",")]  # type: ignore[misc]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", default=DEFAULT_GRID, help="HxT,HxT,...")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--naive-seconds", default="60")
    parser.add_argument(
        "--naive-max-steps",
        type=int,
        default=4096,
        help="skip the naive Jacobians above this T (their graph is T long)",
    )
    parser.add_argument("--json", metavar="PATH")
    ns = parser.parse_args()
    rows = []
    for hidden, steps in _sizes(ns.grid):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "b.json"
            args = [
                sys.executable,
                "-m",
                "lstm_props",
                "bench",
                "--hidden",
                str(hidden),
                "--steps",
                str(steps),
                "--threads",
                ns.threads,
                "--device",
                ns.device,
                "--naive-seconds",
                ns.naive_seconds,
                "--json",
                str(out),
            ]
            if steps > ns.naive_max_steps:
                args.append("--no-naive")
            proc = subprocess.run(args, capture_output=True, text=True)
            print(proc.stdout, proc.stderr, sep="", flush=True)
            rows.append(json.loads(out.read_text()))
    print(
        "| H | T | forward (s) | verification (s) | ratio | naive dense (s) | naive ratio "
        "| naive teacher-forced (s) | peak RSS (MiB) | verdict |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        est = "*" if r["naive_how"].startswith("extrapolated") else ""
        est_tf = "*" if r["naive_teacher_forced_how"].startswith("extrapolated") else ""
        naive = (
            (
                f"{r['naive_s']:.1f}{est}",
                f"{r['naive_s'] / r['forward_s']:.0f}x{est}",
                f"{r['naive_teacher_forced_s']:.1f}{est_tf}",
            )
            if r["naive_s"]
            else ("—", "—", "—")
        )
        print(
            f"| {r['hidden']} | {r['steps']} | {r['forward_s']:.3f} | {r['verify_s']:.3f} | "
            f"{r['ratio']:.2f}x | {naive[0]} | {naive[1]} | {naive[2]} | "
            f"{r['peak_rss_mib']:.0f} | {r['verdict']} |"
        )
    first = rows[0]
    print(
        f"\n{first['device_name']}, {first['threads']} threads, torch {first['torch_version']}, "
        f"Python {first['python']}, NumPy {first['numpy']}; * extrapolated from the rows "
        "measured within the naive time budget"
    )
    if ns.json:
        Path(ns.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
