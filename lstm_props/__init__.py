"""lstm_props: property-based verification of an LSTM's gradient structure.

Public API (everything else is private):

* adapters: :class:`CellAdapter`, :class:`Backend`, :class:`CellSpec`, :class:`Target`,
  :class:`Views`, :class:`TorchBackend`; :func:`load_target` resolves a target string;
* a hand-written torch cell's layout, declared as its ``lstm_layout``: :func:`per_gate`,
  :func:`stacked`, :func:`fused`, each a :class:`TorchLayout`;
* the documented layout: :class:`LSTMParams`, ``GATES``, ``VARIANTS``, ``FORCE_BIAS``;
* strategies: :func:`lstm_cases`, :class:`LSTMCase`;
* errors: :class:`LSTMPropsError`, :class:`TargetError`, :class:`AdapterError`,
  :class:`PropertyFailure`;
* the layout on disk: :mod:`lstm_props.maths` (oracle cells, error model, carry machinery;
  no pytest), :mod:`lstm_props.adapters` (framework bindings), :mod:`lstm_props.testing`
  (what a property of your own needs), :mod:`lstm_props.targets` (the target registry),
  :mod:`lstm_props.mutants` (broken LSTMs for self-tests); the private ``_harness``
  (loading, checked calls, strategies, property declarations), ``_gate`` (plugin, CLI,
  results, matrix, selftest, bench) and ``_report`` (HTML, figures, SVG).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lstm_props._errors import AdapterError, LSTMPropsError, PropertyFailure, TargetError
from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec, Target, Views
from lstm_props.maths.layout import FORCE_BIAS, GATES, VARIANTS, LSTMParams

if TYPE_CHECKING:
    from lstm_props._harness.loading import load_target
    from lstm_props._harness.strategies import LSTMCase, lstm_cases
    from lstm_props.adapters._torch import TorchBackend
    from lstm_props.adapters._torch_layout import TorchLayout, fused, per_gate, stacked

# Names whose modules import torch or Hypothesis, resolved on first use (PEP 562) so that
# `import lstm_props` stays light: an xdist controller, the CLI's argument parsing and a
# JAX-only adapter module never pay for torch.
_LAZY = {
    "TorchBackend": "lstm_props.adapters._torch",
    "TorchLayout": "lstm_props.adapters._torch_layout",
    "per_gate": "lstm_props.adapters._torch_layout",
    "stacked": "lstm_props.adapters._torch_layout",
    "fused": "lstm_props.adapters._torch_layout",
    "load_target": "lstm_props._harness.loading",
    "LSTMCase": "lstm_props._harness.strategies",
    "lstm_cases": "lstm_props._harness.strategies",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lstm_props' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "FORCE_BIAS",
    "GATES",
    "VARIANTS",
    "AdapterError",
    "Backend",
    "CellAdapter",
    "CellSpec",
    "LSTMCase",
    "LSTMParams",
    "LSTMPropsError",
    "PropertyFailure",
    "Target",
    "TargetError",
    "TorchBackend",
    "TorchLayout",
    "Views",
    "fused",
    "load_target",
    "lstm_cases",
    "per_gate",
    "stacked",
]
