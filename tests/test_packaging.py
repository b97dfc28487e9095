"""The wheel ships every subpackage: an explicit package list silently drops a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")


def test_every_subpackage_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts)
               for init in (ROOT / "lstm_props").rglob("__init__.py")}
    on_disk |= {"lstm_props.properties"} if (ROOT / "properties/__init__.py").exists() else set()
    assert on_disk - listed == set(), (
        f"add {sorted(on_disk - listed)} to [tool.setuptools] packages in pyproject.toml")
    assert listed - on_disk == set(), f"listed but missing on disk: {sorted(listed - on_disk)}"
