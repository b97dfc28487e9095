"""A torch.compile'd module as a target: called as compiled, its parameters read and written
where the compiled graph reads them.

``torch.compile(m)`` returns torch._dynamo's OptimizedModule, which forwards attribute reads
and writes to ``m`` (its ``_orig_mod``) but lists m's parameters as ``_orig_mod.<name>``.
The compiled graph takes those same tensors as inputs on every call (dynamo inlines
nn.Module calls and lifts their parameters), so an in-place write to ``m.weight_ih`` is what
the next compiled call computes with; the property in_place_weight_edits_take_effect checks
that claim rather than trusting it.
"""

from __future__ import annotations

import sys

from torch import nn


def original(module: nn.Module) -> nn.Module:
    """The module a torch.compile'd ``module`` wraps (its ``_orig_mod``), whose parameter
    names are the layout's; any other module as it is."""
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")  # not imported: not compiled
    if eval_frame is not None and isinstance(module, eval_frame.OptimizedModule):
        inner = module._orig_mod
        assert isinstance(inner, nn.Module)
        return original(inner)
    return module
