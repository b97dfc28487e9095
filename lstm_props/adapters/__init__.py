"""Adapters: the framework-neutral contract and the built-in PyTorch implementations."""

from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec, Target, Views
from lstm_props.adapters._torch import TorchBackend

__all__ = ["Backend", "CellAdapter", "CellSpec", "Target", "TorchBackend", "Views"]
