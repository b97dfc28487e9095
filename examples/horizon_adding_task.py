"""The worked example of ``horizon`` (docs/horizon-example.md): an LSTM learns the adding
problem with lag L, and its horizon is measured before and after training.

    python examples/horizon_adding_task.py --lag 100 --out horizon-example

The task (Hochreiter & Schmidhuber 1997, with the lag fixed): each step carries a value
u_t ~ U(0, 1) and a marker m_t ∈ {0, 1}. Two steps are marked: the first exactly L steps
before the last step, the second anywhere after it; the target, read at the last step, is
the sum of the two marked values. A sequence is P + L + 1 steps long, with a prefix of P
unmarked steps (P drawn in 0 … L per training batch, so the first marker's position says
nothing); the measurement and the test loss use P = L. The first marked value must be held
for exactly L steps: a network whose memory is shorter can do no better than to predict
u₂ + E u₁, whose mean square error is Var u₁ = 1/12 (the "short memory" baseline); the best
constant, E y = 1, scores Var y = 1/6.

The model is nn.LSTM (one layer, batch_first) and a linear readout of the last h, from
PyTorch's default initialisation (no forget-gate bias trick), trained with Adam on one CPU
thread. ``horizon`` is measured on the nn.LSTM module itself, on the test inputs, before
training, at a few points during it (``--track``, a lighter measurement) and after it.
Then an ablation names the units the task rests on: the three longest units' carries cut in
turn (forget gate forced to 0), the readout refit, the test loss.

Writes into --out: before.json and after.json (lstm_props.horizon documents, beyond = L),
summary.json (the numbers docs/horizon-example.md tabulates), and test.npy (the test
inputs) and lstm.pt (the trained nn.LSTM's state_dict), with which ``lstm-props horizon
examples/horizon_adding_task.py:saved_lstm --data OUT/test.npy`` repeats the "after"
measurement from the command line.

Deterministic given --seed on a given machine and torch build: the data come from NumPy
generators seeded with it, the weights from torch.manual_seed, and the run holds torch to
one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_props.horizon import Horizon, LayerHorizon, document, measure_horizon, summary
from lstm_props.horizon import stats as st

#: The survival threshold of the horizon (lstm_props' default).
EPS = 1e-3

#: The ablation's readout refit: ridge λ = RIDGE · (fit sequences).
RIDGE = 1e-6

Log = Callable[[str], None]


def adding_batch(
    rng: np.random.Generator, n: int, lag: int, prefix: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences of the adding problem with lag ``lag``: inputs (n, prefix + lag + 1, 2)
    float32 (value, marker), batch-first, and targets (n,) float32. The first marker sits
    at step ``prefix``, exactly ``lag`` steps before the last step; the second at a uniform
    step after it (up to the last)."""
    steps = prefix + lag + 1
    x = np.zeros((n, steps, 2), dtype=np.float32)
    x[:, :, 0] = rng.uniform(size=(n, steps))
    rows = np.arange(n)
    second = rng.integers(prefix + 1, steps, size=n)
    x[:, prefix, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = x[:, prefix, 0] + x[rows, second, 0]
    return x, y.astype(np.float32)


class AddingModel(nn.Module):
    """nn.LSTM (one layer, batch_first) and a linear readout of its last output."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys, _ = self.lstm(x)
        return self.readout(ys[:, -1]).squeeze(-1)


@torch.no_grad()
def task_loss(model: AddingModel, x: np.ndarray, y: np.ndarray) -> float:
    """The mean square error of ``model`` on (x, y)."""
    model.eval()
    out = model(torch.from_numpy(x))
    return float(torch.mean((out - torch.from_numpy(y)) ** 2))


def baselines(x: np.ndarray, y: np.ndarray, lag: int) -> dict[str, float]:
    """The MSE of the best constant (Var y) and of the best predictor that has lost the value
    ``lag`` steps back but knows the second one exactly (u₂ + mean u₁)."""
    first = x[:, -1 - lag, 0]
    return {
        "constant": float(np.mean((y - y.mean()) ** 2)),
        "short_memory": float(np.mean((first - first.mean()) ** 2)),
    }


def _num(v: float) -> float | str | None:
    """A float for JSON: ±∞ as "inf" / "-inf" (a horizon beyond the data, a survival below
    the histogram), NaN as null, else rounded."""
    if np.isnan(v):
        return None
    return ("inf" if v > 0 else "-inf") if np.isinf(v) else round(float(v), 4)


def survival_at(layer: LayerHorizon, unit: int, span: int) -> float:
    """The median over start positions of log10 ∏f over ``span`` steps, for one unit: the
    measured curve, linear between its grid spans (as the horizon reads it)."""
    median = layer.survival[st.QUANTILES.index(0.5), :, unit]
    return float(np.interp(span, np.r_[0, layer.spans], np.r_[0.0, median]))


def layer_numbers(layer: LayerHorizon, lag: int) -> dict[str, Any]:
    """Horizon figures of one layer against the lag: how many units' median carry survival
    over ``lag`` steps stays ≥ ε (horizon > lag), quantiles of horizon and T_k, the longest
    unit."""
    qs = (0.1, 0.5, 0.9)
    horizon, timescale = layer.horizon, layer.timescale
    share, estimated = layer.keeps_beyond(lag)
    top = int(np.argmax(np.where(np.isfinite(horizon), horizon, layer.horizon_estimate)))
    return {
        "units": layer.hidden,
        "surviving_lag": int(np.sum(horizon > lag)),
        "surviving_lag_share": round(share, 4),
        "surviving_lag_estimated": estimated,
        "horizon": {f"q{int(100 * q)}": _num(np.quantile(horizon, q, method="lower")) for q in qs}
        | {"max": _num(horizon.max())},
        "timescale": {f"q{int(100 * q)}": _num(np.quantile(timescale, q)) for q in qs}
        | {"max": _num(timescale.max())},
        "longest_unit": {
            "unit": top,
            "timescale": _num(timescale[top]),
            "horizon": _num(horizon[top]),
            "horizon_estimate": _num(layer.horizon_estimate[top]),
            "log10_survival_at_lag": _num(survival_at(layer, top, lag)),
            "mean_forget": _num(layer.mean_forget[top]),
            "forget_above_0.9": _num(layer.saturation["forget"][1][top]),
        },
        "measured_spans": int(layer.spans.max(initial=0)),
    }


def two_track_numbers(layer: LayerHorizon) -> dict[str, Any] | None:
    """The carry line's share of the long-range gradient at the longest measured span."""
    tt = layer.two_track
    if tt is None or not tt.spans.size:
        return None
    return {
        "span": int(tt.spans[-1]),
        "share_q10": _num(tt.share[0][-1]),
        "share_median": _num(tt.share[2][-1]),
        "share_q90": _num(tt.share[4][-1]),
        "samples": tt.samples,
    }


@torch.no_grad()
def ablation(
    model: AddingModel,
    fit: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    units: list[int],
) -> dict[str, Any]:
    """Which units the task rests on: each unit's carry cut in turn (its forget-gate bias
    lowered by 10⁴: f_k = 0, c_k,t = i_k,t g_k,t), the linear readout refit by least
    squares on ``fit``'s last h, the test MSE. The readout is refit so that a unit whose h
    merely changes (and which the trained readout reads) is not mistaken for the memory; a
    small ridge (RIDGE · n) keeps the fit sane where a cut unit leaves the features nearly
    collinear. ``intact`` is the same refit with nothing cut."""
    state = {k: v.clone() for k, v in model.lstm.state_dict().items()}
    hidden = model.lstm.hidden_size

    def refit_mse() -> float:
        model.eval()
        feats = [
            np.c_[model.lstm(torch.from_numpy(x))[0][:, -1].double().numpy(), np.ones(len(x))]
            for x in (fit[0], test[0])
        ]
        a = feats[0]
        ridge = RIDGE * len(a) * np.eye(a.shape[1])
        ridge[-1, -1] = 0.0  # the intercept is not shrunk
        w = np.linalg.solve(a.T @ a + ridge, a.T @ fit[1].astype(np.float64))
        return round(float(np.mean((feats[1] @ w - test[1]) ** 2)), 5)

    cut: list[dict[str, Any]] = []
    try:
        intact = refit_mse()
        for k in units:
            bias = state["bias_ih_l0"].clone()
            bias[hidden + k] -= 1e4
            model.lstm.load_state_dict(state | {"bias_ih_l0": bias})
            cut.append({"unit": k, "test_mse": refit_mse()})
    finally:
        model.lstm.load_state_dict(state)
    return {"intact": intact, "carry_cut": cut}


def measure(model: AddingModel, x: np.ndarray, lag: int, two_track: bool = True) -> Horizon:
    """``horizon`` of the model's nn.LSTM on inputs x (N, T, 2), batch-first; the two-track
    share up to span ``lag``."""
    model.eval()
    return measure_horizon(
        model.lstm,
        x,
        eps=EPS,
        two_track_span=lag if two_track else 0,
    )


def train(
    model: AddingModel,
    rng: np.random.Generator,
    lag: int,
    steps: int,
    *,
    batch: int,
    lr: float,
    track: int,
    test: tuple[np.ndarray, np.ndarray],
    log: Log,
) -> tuple[list[dict[str, Any]], float]:
    """Adam on fresh batches (prefix drawn in 0 … lag per batch), gradient norm clipped to 1.
    Every ``track`` steps (and at the end): the test loss and a light horizon (64 test
    sequences, no two-track share). Returns that trajectory and the training seconds (the
    tracking excluded)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    trajectory: list[dict[str, Any]] = []
    spent = 0.0
    for step in range(steps + 1):
        if track and (step % track == 0 or step == steps):
            layer = measure(model, test[0][:64], lag, two_track=False).layers[0]
            point = {
                "step": step,
                "test_mse": round(task_loss(model, *test), 5),
                "surviving_lag": int(np.sum(layer.horizon > lag)),
                "max_timescale": _num(layer.timescale.max()),
            }
            trajectory.append(point)
            log(
                f"step {step:>5}: test MSE {point['test_mse']:.4f}, units with horizon > "
                f"{lag}: {point['surviving_lag']}, max T_k {point['max_timescale']} "
                f"({spent:.0f} s)"
            )
        if step == steps:
            break
        began = time.perf_counter()
        model.train()
        x, y = adding_batch(rng, batch, lag, int(rng.integers(0, lag + 1)))
        loss = torch.mean((model(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        spent += time.perf_counter() - began
    return trajectory, spent


def run(
    lag: int,
    steps: int,
    seed: int,
    out: Path,
    *,
    hidden: int = 32,
    batch: int = 64,
    lr: float = 1e-2,
    test_size: int = 512,
    track: int = 250,
    log: Log = print,
) -> dict[str, Any]:
    """The whole example: measure, train, measure; print both summaries, write before.json,
    after.json and summary.json into ``out``; return the summary."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = AddingModel(hidden)
        x_test, y_test = adding_batch(np.random.default_rng([seed, 1]), test_size, lag, lag)
        stages: dict[str, Any] = {}
        documents: dict[str, dict[str, Any]] = {}
        horizons: dict[str, Horizon] = {}

        def stage(name: str) -> None:
            h = measure(model, x_test, lag)
            log(f"\n-- {name} training --\n{summary(h, lag)}")
            documents[name], horizons[name] = document(h, beyond=lag), h
            layer = h.layers[0]
            stages[name] = {
                "test_mse": round(task_loss(model, x_test, y_test), 5),
                **layer_numbers(layer, lag),
                "two_track": two_track_numbers(layer),
            }

        stage("before")
        trajectory, seconds = train(
            model,
            np.random.default_rng([seed, 0]),
            lag,
            steps,
            batch=batch,
            lr=lr,
            track=track,
            test=(x_test, y_test),
            log=log,
        )
        stage("after")
        longest = np.argsort(-horizons["after"].layers[0].timescale, kind="stable")[:3]
        cut = ablation(
            model,
            adding_batch(np.random.default_rng([seed, 2]), 4 * test_size, lag, lag),
            (x_test, y_test),
            [int(k) for k in longest],
        )
        layer = horizons["after"].layers[0]
        for entry in cut["carry_cut"]:
            k = entry["unit"]
            entry |= {"timescale": _num(layer.timescale[k]), "horizon": _num(layer.horizon[k])}
    finally:
        torch.set_num_threads(threads)
    result = {
        "task": "adding problem, first marker exactly `lag` steps before the last step",
        "lag": lag,
        "eps": EPS,
        "seed": seed,
        "hidden": hidden,
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "test": {"sequences": test_size, "steps": int(x_test.shape[1])},
        "baseline_mse": {k: round(v, 5) for k, v in baselines(x_test, y_test, lag).items()},
        "training_seconds": round(seconds, 1),
        **stages,
        "ablation": cut,
        "trajectory": trajectory,
    }
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "test.npy", x_test)
    torch.save(model.lstm.state_dict(), out / "lstm.pt")
    for name, doc in documents.items():
        (out / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def saved_lstm() -> nn.LSTM:
    """The trained nn.LSTM a run saved, for the command line (docs/horizon-example.md):
    from $HORIZON_EXAMPLE_OUT/lstm.pt (default horizon-example/lstm.pt)."""
    state = torch.load(
        Path(os.environ.get("HORIZON_EXAMPLE_OUT", "horizon-example")) / "lstm.pt",
        weights_only=True,
    )
    lstm = nn.LSTM(2, state["weight_hh_l0"].shape[1], batch_first=True)
    lstm.load_state_dict(state)
    return lstm.eval()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lag", type=int, default=100, help="the dependency length L (default 100)")
    p.add_argument("--steps", type=int, default=3000, help="training steps (default 3000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=32, help="LSTM units (default 32)")
    p.add_argument("--track", type=int, default=250, help="light horizon every N steps (0: off)")
    p.add_argument("--out", type=Path, default=Path("horizon-example"), help="output folder")
    ns = p.parse_args(argv)
    if ns.lag < 1 or ns.steps < 0 or ns.hidden < 1 or ns.track < 0:
        p.error("--lag and --hidden must be ≥ 1, --steps and --track ≥ 0")
    result = run(ns.lag, ns.steps, ns.seed, ns.out, hidden=ns.hidden, track=ns.track)
    b, a = result["before"], result["after"]
    print(
        f"\ntest MSE {b['test_mse']:.4f} -> {a['test_mse']:.4f} (best constant "
        f"{result['baseline_mse']['constant']:.4f}, short memory "
        f"{result['baseline_mse']['short_memory']:.4f}); units with horizon > {ns.lag}: "
        f"{b['surviving_lag']} -> {a['surviving_lag']} of {a['units']}; "
        f"training {result['training_seconds']:.0f} s; written to {ns.out}/"
    )
    cut = result["ablation"]
    print(
        f"readout refit: test MSE {cut['intact']:.4f}; with one unit's carry cut: "
        + ", ".join(
            f"unit {c['unit']} (T_k {c['timescale']}, horizon {c['horizon']}) {c['test_mse']:.4f}"
            for c in cut["carry_cut"]
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
