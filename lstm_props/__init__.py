"""lstm_props: property-based verification of an LSTM's gradient structure.

Public API (everything else is private):

* adapters: :class:`CellAdapter`, :class:`Backend`, :class:`CellSpec`, :class:`Target`,
  :class:`Views`, :class:`TorchBackend`; :func:`load_target` resolves a target string;
* the documented layout: :class:`LSTMParams`, ``GATES``, ``VARIANTS``, ``FORCE_BIAS``;
* strategies: :func:`lstm_cases`, :class:`LSTMCase`;
* errors: :class:`LSTMPropsError`, :class:`TargetError`, :class:`AdapterError`,
  :class:`PropertyFailure`;
* modules: :mod:`lstm_props.carry` (carry-path machinery), :mod:`lstm_props.chunked_carry`
  (the carry product at production sizes: chunked, probed), :mod:`lstm_props.reference`
  (oracle cells), :mod:`lstm_props.tolerances` (the error model), :mod:`lstm_props.targets`
  (built-in targets), :mod:`lstm_props.mutants` (broken LSTMs for self-tests).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lstm_props._errors import AdapterError, LSTMPropsError, PropertyFailure, TargetError
from lstm_props._layout import FORCE_BIAS, GATES, VARIANTS, LSTMParams
from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec, Target, Views

if TYPE_CHECKING:
    from lstm_props._loading import load_target
    from lstm_props.adapters._torch import TorchBackend
    from lstm_props.strategies import LSTMCase, lstm_cases

# Names whose modules import torch or Hypothesis, resolved on first use (PEP 562) so that
# `import lstm_props` stays light: an xdist controller, the CLI's argument parsing and a
# JAX-only adapter module never pay for torch.
_LAZY = {
    "TorchBackend": "lstm_props.adapters._torch",
    "load_target": "lstm_props._loading",
    "LSTMCase": "lstm_props.strategies",
    "lstm_cases": "lstm_props.strategies",
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
    "Views",
    "load_target",
    "lstm_cases",
]
