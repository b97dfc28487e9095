"""Hand-written targets for the self-tests: correct cells in other layouts, and bad targets."""

from __future__ import annotations

import random

import torch
from torch import nn

from lstm_props import fused, per_gate, stacked


class FusedIFOGCell(nn.Module):
    """A correct LSTM cell in another layout: one fused (D + H, 4H) kernel, gates i, f, o, g
    in columns, one bias (Keras-like). The suite cannot read it: black-box mode."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.kernel = nn.Parameter(torch.randn(input_size + hidden_size, 4 * hidden_size) * 0.5)
        self.bias = nn.Parameter(torch.randn(4 * hidden_size) * 0.5)

    def forward(self, x, state):
        h, c = state
        z = torch.cat([x, h], dim=1) @ self.kernel + self.bias
        i, f, o, g = z.chunk(4, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


def fused_cell() -> nn.Module:
    """A fixed-size instance (zero-argument factory)."""
    return FusedIFOGCell(3, 5)


class _Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.input_size, self.hidden_size = 3, 4


class RaisingCell(_Broken):
    def forward(self, x, state):
        raise RuntimeError("kernel launch failed")


class WrongShapeCell(_Broken):
    def forward(self, x, state):
        h, c = state
        return h[:, :1], c


class NaNCell(_Broken):
    def forward(self, x, state):
        h, c = state
        return h * float("nan"), c


class NaNForLargeInputCell(nn.LSTMCell):
    """Fine on the smoke test, NaN once |x| > 2: an adapter fault found mid-property."""

    def forward(self, x, state):
        h, c = super().forward(x, state)
        if x.abs().max() > 2:
            c = c * float("nan")
        return h, c


class NotACell:
    pass


raising_cell = RaisingCell()
wrong_shape_cell = WrongShapeCell()
nan_cell = NaNCell()
not_a_cell = NotACell()
number = 3.5


class RaisesForBatchOfThree(nn.LSTMCell):
    """Passes the smoke test (batch 2), raises whenever a property draws batch 3."""

    def forward(self, x, state):
        if x.shape[0] == 3:
            raise RuntimeError("workspace too small for batch 3")
        return super().forward(x, state)


class PlantedCouplingCell(nn.LSTMCell):
    """nn.LSTMCell with one off-diagonal carry entry: c_t[:, k] also reads 1e-3·c_{t-1}[:, j]
    (k = 2, j = 5), everything else exact. A coupling a dense Jacobian shows at (k, j)."""

    source, sink = 5, 2

    def forward(self, x, state):
        h_new, c_new = super().forward(x, state)
        plant = torch.zeros_like(c_new)
        plant[:, self.sink] = 1e-3 * state[1][:, self.source]
        return h_new, c_new + plant


def wide_cell() -> nn.Module:
    """A fixed-size nn.LSTMCell at H = 96 (B·H beyond the dense Jacobian threshold)."""
    return nn.LSTMCell(96, 96)


def wide_mixed_units() -> nn.Module:
    """The CarryMixedAcrossUnits mutant at a fixed H = 96."""
    from lstm_props.mutants import CarryMixedAcrossUnits

    return CarryMixedAcrossUnits(96, 96)


def wide_projected() -> nn.Module:
    """A fixed-size projected nn.LSTM (H = 96, P = 48): the random-probe path of
    ∂h_t/∂c_{t-1} = W_hr diag(o tanh'(c_t) f)."""
    return nn.LSTM(96, 96, proj_size=48)


class WeightsSeenCell(nn.LSTMCell):
    """nn.LSTMCell that appends weight_ih[0, 0] of every call to the file named by
    $LSTM_PROPS_WEIGHTS_SEEN: each example writes fresh weights, so the distinct values
    count the examples (plus the load-time smoke test)."""

    def forward(self, x, state=None):
        import os

        with open(os.environ["LSTM_PROPS_WEIGHTS_SEEN"], "a") as log:
            log.write(f"{float(self.weight_ih[0, 0].detach())!r}\n")
        return super().forward(x, state)


def wide_enough_cell() -> nn.Module:
    """A fixed-size cell at H = WIDE_HIDDEN = 128: small B, T and example budget."""
    return WeightsSeenCell(128, 128)


class SeedsFromRandomCell(nn.LSTMCell):
    """A correct cell whose construction draws from the ``random`` module, as Keras and
    TensorFlow initializers do."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        random.random()


# -- hand-written cells in other people's styles, each declaring its layout (lstm_layout) ---


def _ifgo(prefix: str, attr: str) -> dict[str, str]:
    return {g: f"{prefix}_{g}.{attr}" for g in "ifgo"}


class PerGateLinearCell(nn.Module):
    """One nn.Linear a gate: W_* (D -> H, with bias) on x, U_* (H -> H, no bias) on h, the
    tutorial style. One bias a gate: the layout's b_ih + b_hh, written as their sum."""

    lstm_layout = per_gate(
        w_ih=_ifgo("W", "weight"), w_hh=_ifgo("U", "weight"), b_ih=_ifgo("W", "bias")
    )

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        for g in "ifgo":
            setattr(self, f"W_{g}", nn.Linear(input_size, hidden_size))
            setattr(self, f"U_{g}", nn.Linear(hidden_size, hidden_size, bias=False))

    def gate(self, g: str, x, h):
        return getattr(self, f"W_{g}")(x) + getattr(self, f"U_{g}")(h)

    def forget(self, z):
        return torch.sigmoid(z)

    def forward(self, x, state):
        h, c = state
        i = torch.sigmoid(self.gate("i", x, h))
        f = self.forget(self.gate("f", x, h))
        g = torch.tanh(self.gate("g", x, h))
        o = torch.sigmoid(self.gate("o", x, h))
        c_new = f * c + i * g
        return o * torch.tanh(c_new), c_new


class PerGateNoBiasCell(PerGateLinearCell):
    """PerGateLinearCell without any bias: its layout reads zero biases and is read-only."""

    lstm_layout = per_gate(w_ih=_ifgo("W", "weight"), w_hh=_ifgo("U", "weight"))

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        for g in "ifgo":
            setattr(self, f"W_{g}", nn.Linear(input_size, hidden_size, bias=False))


class PerGateTanhForgetCell(PerGateLinearCell):
    """A planted bug: the forget gate squashed by tanh instead of σ (declared per_gate)."""

    def forget(self, z):
        return torch.tanh(z)


class FusedLinearIFOGCell(nn.Module):
    """One nn.Linear(D + H, 4H) over torch.cat([x, h], 1), chunked i, f, o, g."""

    lstm_layout = fused(weight="lin.weight", bias="lin.bias", gates="ifog")

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.lin = nn.Linear(input_size + hidden_size, 4 * hidden_size)

    def forward(self, x, state):
        h, c = state
        i, f, o, g = self.lin(torch.cat([x, h], 1)).chunk(4, 1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


class FusedLinearDeclaredIFGOCell(FusedLinearIFOGCell):
    """The same cell declared with the wrong gate order (ifgo for a cell that is ifog)."""

    lstm_layout = fused(weight="lin.weight", bias="lin.bias", gates="ifgo")


class StackedTF1Cell(nn.Module):
    """TensorFlow 1 style: kernel (D, 4H) and recurrent_kernel (H, 4H), gates i, c(= g), f,
    o in columns, one bias (4H,)."""

    lstm_layout = stacked(
        w_ih="kernel", w_hh="recurrent_kernel", b_ih="bias", gates="igfo", transposed=True
    )

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.kernel = nn.Parameter(torch.randn(input_size, 4 * hidden_size) * 0.5)
        self.recurrent_kernel = nn.Parameter(torch.randn(hidden_size, 4 * hidden_size) * 0.5)
        self.bias = nn.Parameter(torch.randn(4 * hidden_size) * 0.5)

    def forward(self, x, state):
        h, c = state
        z = x @ self.kernel + h @ self.recurrent_kernel + self.bias
        i, g, f, o = z.chunk(4, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


class DeclaredFusedIFOGCell(FusedIFOGCell):
    """FusedIFOGCell (black-box above) with its layout declared: a transposed fused kernel."""

    lstm_layout = fused(weight="kernel", bias="bias", gates="ifog", transposed=True)


# -- correct cells with other calling conventions, declared as lstm_call ---------------------


class OutputAndStateCell(nn.LSTMCell):
    """A correct cell returning its output beside its state, as many hand-written cells do."""

    lstm_call = "m(x, (h, c)) -> (y, (h, c))"

    def forward(self, x, state=None):  # type: ignore[override]
        h, c = super().forward(x, state)
        return h, (h, c)


class CarryFirstCell(nn.LSTMCell):
    """A correct cell keeping its state as (c, h), TensorFlow 1's LSTMStateTuple order."""

    lstm_call = "m(x, (c, h)) -> (c, h)"

    def forward(self, x, state=None):  # type: ignore[override]
        c, h = state
        h, c = super().forward(x, (h, c))
        return c, h


class CarryFirstUndeclaredCell(CarryFirstCell):
    """The same cell without its declaration: run as nn.LSTMCell's convention, h and c swap."""

    lstm_call = None


# -- a forget-bias constant inside the forward, declared as lstm_forget_bias -----------------


class ForgetBiasOneCell(nn.LSTMCell):
    """A correct cell adding 1 to the forget pre-activation inside its forward, as
    TensorFlow's forget_bias=1.0 and Haiku's LSTM do."""

    lstm_forget_bias = 1.0

    def forward(self, x, state=None):  # type: ignore[override]
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = z.chunk(4, 1)
        c = torch.sigmoid(f + 1.0) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ForgetBiasOneUndeclaredCell(ForgetBiasOneCell):
    """The same cell without its declaration."""

    lstm_forget_bias = 0.0


#: The cell clip of the clipping cells: small enough that drawn states reach it.
CELL_CLIP = 1.0


class CellClipCell(nn.LSTMCell):
    """A correct cell clamping its carried state, c' = clamp(f ⊙ c + i ⊙ g, −1, 1), as TF 1's
    LSTMCell(cell_clip=1.0) does, declared as lstm_cell_clip."""

    lstm_cell_clip = CELL_CLIP

    def forward(self, x, state=None):  # type: ignore[override]
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = z.chunk(4, 1)
        c_hat = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        c = self.clamp(c_hat)
        return torch.sigmoid(o) * torch.tanh(c), c

    def clamp(self, c_hat):
        return torch.clamp(c_hat, -CELL_CLIP, CELL_CLIP)


class ClipGradientPassedThroughCell(CellClipCell):
    """Broken: the clamp's value with the identity's gradient (straight through), so where c
    is clamped the carry derivative is f instead of 0, as TensorFlow's block kernels'
    backward with cell_clip (docs/frameworks.md)."""

    def clamp(self, c_hat):
        return c_hat + (super().clamp(c_hat) - c_hat).detach()
