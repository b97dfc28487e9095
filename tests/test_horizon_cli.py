"""``lstm-props horizon``: exit codes, the terminal summary, the JSON document."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lstm_props.horizon.stats import QUANTILES
from tests.test_cli import lstm_props

MODEL = """
import torch

torch.manual_seed(0)
model = torch.nn.LSTM(3, 6, num_layers=2)
with torch.no_grad():
    model.bias_ih_l0[6:12] += 4.0  # long timescales on layer 0

def batches():
    import numpy as np
    rng = np.random.default_rng(1)
    for _ in range(2):
        yield rng.standard_normal((3, 150, 3))
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "mymodel.py").write_text(MODEL)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((4, 200, 3)))
    np.save(tmp_path / "wide.npy", np.zeros((4, 20, 5)))
    return tmp_path


def horizon(project, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The command in this process (its own subprocess test is the first one)."""
    from lstm_props._gate.cli import main

    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    code = main(["horizon", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_measures_prints_a_verdict_per_layer_and_writes_json(project):
    out = lstm_props(
        "horizon",
        "mymodel.py:model",
        "--data",
        "x.npy",
        "--json",
        "h.json",
        "--two-track-span",
        "16",
        "--beyond",
        "50",
        cwd=project,
    )
    assert out.returncode == 0, out.stderr
    assert "layer 0: " in out.stdout and "keep gradient beyond 50 steps" in out.stdout
    doc = json.loads((project / "h.json").read_text())
    assert doc["schema"] == "lstm_props.horizon/1"
    assert doc["data"] == {"sequences": 4, "steps": [200, 200]}
    assert [layer["name"] for layer in doc["layers"]] == ["layer 0", "layer 1"]
    layer = doc["layers"][0]
    units = layer["units"]
    assert len(units["timescale"]) == 6 and len(units["horizon"]) == 6
    assert set(units["precision_horizon"]) == {"float16", "bfloat16", "float32"}
    survival = layer["survival"]
    assert survival["quantiles"] == list(QUANTILES)
    assert len(survival["log10_per_unit"]) == len(QUANTILES)
    assert len(survival["log10_per_unit"][0]) == len(survival["spans"])
    assert layer["two_track"]["spans"][-1] == 16
    assert sum(layer["forget_histogram"]["counts"]) == 4 * 200 * 6
    # JSON holds no NaN or bare infinities: ∞ is the string "inf"
    json.loads((project / "h.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    timescales = [math.inf if t == "inf" else t for t in units["timescale"]]
    assert all(t > 0 for t in timescales)


def test_a_function_yielding_batches_is_data(project, monkeypatch, capsys):
    code, _, err = horizon(
        project,
        monkeypatch,
        capsys,
        "mymodel.py:model",
        "--data",
        "mymodel.py:batches",
        "--two-track-span",
        "0",
        "--json",
        "h.json",
        "--quiet",
    )
    assert code == 0, err
    doc = json.loads((project / "h.json").read_text())
    assert doc["data"] == {"sequences": 6, "steps": [150, 150]}
    assert all(layer["two_track"] is None for layer in doc["layers"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "missing.npy"], "no such file"),
        (["--data", "wide.npy"], "5 features per step (shape (4, 20, 5)); the model takes 3"),
        (["--data", "mymodel.py:nothing"], "has no attribute 'nothing'"),
        (["--data", "x.npy", "--eps", "2"], "must lie in"),
        (["--data", "x.npy", "--json", "no/such/dir/h.json"], "--json"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(project, monkeypatch, capsys, args, message):
    code, _, err = horizon(project, monkeypatch, capsys, "mymodel.py:model", *args)
    assert code == 2
    assert message in err and err.count("\n") == 1, err


def test_a_bad_target_is_one_line_and_exit_2(project, monkeypatch, capsys):
    code, _, err = horizon(project, monkeypatch, capsys, "mymodel.py:missing", "--data", "x.npy")
    assert code == 2 and err.count("\n") == 1, err
