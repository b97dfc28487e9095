"""The horizon as a self-contained HTML page (``--report``): see write_report."""

from __future__ import annotations

from pathlib import Path

from lstm_props.horizon.measure import Horizon


def write_report(result: Horizon, path: Path, beyond: int = 100) -> None:
    raise NotImplementedError("the horizon report is being written")
