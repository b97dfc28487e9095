"""KERAS_BACKEND is the user's: ``lstm_props.adapters.keras:lstm_cell`` runs on the backend
it names, and a target naming another backend is refused in one line, never switched
silently. Keras picks its backend once per process, so each case loads in a process of its
own."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

if importlib.util.find_spec("keras") is None:  # find_spec: importing Keras fixes a backend
    pytest.skip("install the extra: pip install 'lstm-props[keras]'", allow_module_level=True)

LOAD = """
from lstm_props._errors import TargetError
from lstm_props._harness.loading import load_target
try:
    print(load_target({target!r}).probe().layers[0].name)
except TargetError as exc:
    print("REFUSED", exc)
"""


def _load(target: str, keras_backend: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    if keras_backend is not None:
        env["KERAS_BACKEND"] = keras_backend
    done = subprocess.run(
        [sys.executable, "-c", LOAD.format(target=target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_generic_target_runs_on_the_users_backend():
    assert _load("lstm_props.adapters.keras:lstm_cell", "torch") == (
        "keras.layers.LSTMCell (torch backend)"
    )


def test_the_generic_target_follows_another_choice():
    pytest.importorskip("jax", reason="install the extra: pip install 'lstm-props[jax]'")
    assert _load("lstm_props.adapters.keras:lstm_cell", "jax") == (
        "keras.layers.LSTMCell (jax backend)"
    )


def test_a_conflicting_explicit_target_is_refused_in_one_line():
    line = _load("lstm_props.adapters.keras:lstm_cell_torch", "jax")
    assert line.startswith("REFUSED")
    assert "KERAS_BACKEND=jax is set but this target is Keras on torch" in line
    assert "lstm_props.adapters.keras:lstm_cell" in line


def test_an_explicit_target_sets_the_backend_when_the_user_did_not():
    assert _load("lstm_props.adapters.keras:lstm_cell_torch", None) == (
        "keras.layers.LSTMCell (torch backend)"
    )


def test_a_backend_the_adapter_does_not_cover_is_refused_in_one_line():
    line = _load("lstm_props.adapters.keras:lstm_cell", "numpy")
    assert line.startswith("REFUSED") and "'numpy' backend" in line
    assert "torch, jax, tensorflow" in line
