"""PyTorch 2.13 (TorchScript): the LSTMCell of PyTorch's own benchmarks/fastrnns/custom_lstms.py
(lstm_props.adapters._fastrnns, the same script_method) computes the right forward, but its backward
raises from the graph executor's second run on when only c' (or only h') receives a gradient:
the differentiable graph's backward of ``gates.chunk(4, 1)`` gets undefined gradients for the
chunks that do not reach the output and sums a 3H-wide gradient into the 4H-wide gates
(pytorch/pytorch#54140, open since 2021). Expected output: run 0 ok, runs 1 to 3 raise
"expected those two sizes to be the same:16, 12"; with both h' and c' in the loss every run is
ok. Found by lstm_props (every property that differentiates c' alone reports the fault)."""

import warnings

import torch

from lstm_props.adapters._fastrnns import LSTMCell

warnings.simplefilter("ignore")  # torch.jit's deprecation warnings
torch.manual_seed(0)
cell = LSTMCell(3, 4)
for run in range(4):
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    c = torch.randn(2, 4, requires_grad=True)
    _, (_, c_new) = cell(x, (h, c))
    try:
        torch.autograd.grad(c_new, c, torch.ones_like(c_new))
        print(run, "ok")
    except RuntimeError as exc:
        print(run, "raises:", str(exc).strip().splitlines()[-1])
