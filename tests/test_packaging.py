"""Packaging: the wheel ships every subpackage (an explicit package list silently drops a new
one), and the public API imports without torch until a torch-backed name is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")


def test_every_subpackage_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "lstm_props").rglob("__init__.py")
    }
    on_disk |= {"lstm_props.properties"} if (ROOT / "properties/__init__.py").exists() else set()
    assert on_disk - listed == set(), (
        f"add {sorted(on_disk - listed)} to [tool.setuptools] packages in pyproject.toml"
    )
    assert listed - on_disk == set(), f"listed but missing on disk: {sorted(listed - on_disk)}"


def test_every_public_name_resolves_and_import_stays_free_of_torch():
    """`import lstm_props` is light (an xdist controller and the CLI's argument parsing
    never import torch); the torch-backed public names resolve on first use."""
    code = (
        "import sys, lstm_props; assert 'torch' not in sys.modules, 'torch imported'; "
        "missing = [n for n in lstm_props.__all__ if getattr(lstm_props, n, None) is None]; "
        "assert not missing, missing; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
