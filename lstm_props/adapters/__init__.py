"""Adapters: the framework-neutral contract and the built-in PyTorch implementations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lstm_props.adapters._protocol import Backend, CellAdapter, CellSpec, Target, Views

if TYPE_CHECKING:
    from lstm_props.adapters._torch import TorchBackend


def __getattr__(name: str) -> Any:
    if name == "TorchBackend":  # imported on first use: the contract itself needs no torch
        from lstm_props.adapters._torch import TorchBackend

        return TorchBackend
    raise AttributeError(f"module 'lstm_props.adapters' has no attribute {name!r}")


__all__ = ["Backend", "CellAdapter", "CellSpec", "Target", "TorchBackend", "Views"]
