"""examples/horizon_adding_task.py at a tiny size: the task is what docs/horizon-example.md
says, the script runs end to end, writes its outputs, is deterministic given the seed, and
its saved model is what the command line measures. No claim about learning (that is the
docs page's full run)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from lstm_props.horizon import SCHEMA

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "horizon_adding_task.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("horizon_adding_task", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_first_marker_is_exactly_lag_steps_before_the_last_step(example):
    rng = np.random.default_rng(0)
    for prefix in (0, 3, 7):
        x, y = example.adding_batch(rng, 50, 7, prefix)
        assert x.shape == (50, prefix + 7 + 1, 2) and y.shape == (50,)
        marks = x[:, :, 1]
        assert np.all(marks.sum(1) == 2)
        assert np.all(marks[:, -1 - 7] == 1)  # exactly L = 7 steps before the last step
        assert np.all(marks[:, : prefix + 1].sum(1) == 1)  # the other one after it
        np.testing.assert_allclose(y, (x[:, :, 0] * marks).sum(1), rtol=1e-6)


def tiny(example, out: Path, seed: int = 3) -> dict:
    return example.run(
        5, 4, seed, out, hidden=4, batch=8, test_size=16, track=2, log=lambda s: None
    )


def test_the_example_runs_and_writes_its_outputs(example, tmp_path):
    result = tiny(example, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "after.json",
        "before.json",
        "lstm.pt",
        "summary.json",
        "test.npy",
    ]
    assert json.loads((tmp_path / "summary.json").read_text()) == result
    for name in ("before", "after"):
        doc = json.loads((tmp_path / f"{name}.json").read_text())
        assert doc["schema"] == SCHEMA
        assert doc["data"] == {"sequences": 16, "steps": [11, 11]}
        assert doc["layers"][0]["keeps_beyond"]["steps"] == 5
        stage = result[name]
        assert stage["units"] == 4 and 0 <= stage["surviving_lag"] <= 4
        assert stage["two_track"]["span"] == 5
    assert [p["step"] for p in result["trajectory"]] == [0, 2, 4]
    assert set(result["baseline_mse"]) == {"constant", "short_memory"}
    assert len(result["ablation"]["carry_cut"]) == 3


def test_the_example_is_deterministic_given_the_seed(example, tmp_path):
    one, two, other = (tiny(example, tmp_path / n, s) for n, s in (("a", 3), ("b", 3), ("c", 4)))
    for r in (one, two, other):
        r.pop("training_seconds")
    assert one == two
    assert one != other


def test_the_timescales_are_the_forget_gates_of_the_saved_weights(example, tmp_path):
    """T_k = −1/mean log f, with f recomputed by hand in float64 from lstm.pt over test.npy
    (PyTorch's gate order i, f, g, o), is what after.json reports."""
    import torch

    tiny(example, tmp_path)
    w = {k: v.double() for k, v in torch.load(tmp_path / "lstm.pt", weights_only=True).items()}
    x = torch.from_numpy(np.load(tmp_path / "test.npy")).double()
    hidden = w["weight_hh_l0"].shape[1]
    h = c = torch.zeros(x.shape[0], hidden, dtype=torch.float64)
    log_f = []
    for t in range(x.shape[1]):
        z = x[:, t] @ w["weight_ih_l0"].T + h @ w["weight_hh_l0"].T
        i, f, g, o = (z + w["bias_ih_l0"] + w["bias_hh_l0"]).split(hidden, 1)
        log_f.append(torch.nn.functional.logsigmoid(f))
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    by_hand = -1 / torch.stack(log_f).mean((0, 1)).numpy()
    after = json.loads((tmp_path / "after.json").read_text())
    reported = np.array(after["layers"][0]["units"]["timescale"], dtype=float)
    np.testing.assert_allclose(reported, by_hand, rtol=1e-5)


def test_the_saved_lstm_is_the_trained_one(example, tmp_path, monkeypatch):
    from lstm_props.horizon import document, measure_horizon

    tiny(example, tmp_path)
    monkeypatch.setenv("HORIZON_EXAMPLE_OUT", str(tmp_path))
    lstm = example.saved_lstm()
    again = document(measure_horizon(lstm, np.load(tmp_path / "test.npy"), two_track_span=5), 5)
    after = json.loads((tmp_path / "after.json").read_text())
    assert again["layers"][0]["units"] == after["layers"][0]["units"]


def test_the_command_line_runs(example, tmp_path, capsys):
    argv = ["--lag", "5", "--steps", "2", "--hidden", "4", "--track", "1", "--out", str(tmp_path)]
    assert example.main(argv) == 0
    out = capsys.readouterr().out
    assert "-- before training --" in out and "-- after training --" in out
    assert "units with horizon > 5: " in out and "readout refit: test MSE" in out
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == 2
    with pytest.raises(SystemExit):
        example.main(["--lag", "0"])
