"""xdist: the cores each worker may use, and what a worker that crashed leaves behind."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest


@contextlib.contextmanager
def cores_shared_with_xdist_workers() -> Iterator[None]:
    """Under xdist, give each worker its share of the cores while a property runs: torch's
    default of one thread per core in every worker oversubscribes the machine (nn.LSTM on
    oneDNN slows ~20x). Restored after it, for the session's other tests."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers or "torch" not in sys.modules:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def stop_feeding_other_workers(node: Any, workers: list[Any]) -> None:
    """A worker crashed (or the hang watchdog ended it) and none will replace it
    (--max-worker-restart 0, as ``lstm-props check`` runs): the run is over, so hand its
    remaining properties to nobody. xdist would give them to another worker, and where that
    one had ended in the same instant (a kernel that hangs or crashes on every worker), the
    send failed with an INTERNALERROR of xdist's own instead of the gate's one line."""
    if str(node.config.getoption("maxworkerrestart", None)) != "0":
        return
    for other in workers:
        if other is not node:
            other.shutdown()  # xdist's own: marks it shutting down; a closed pipe is ignored


def is_xdist_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("dsession")


def workeroutput(config: pytest.Config) -> dict[str, Any]:
    """What an xdist worker hands back to the controller (pytest_testnodedown reads it)."""
    output: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if output is None:  # xdist sets workeroutput on a worker's config with workerinput
        raise AttributeError("an xdist worker's config has no workeroutput")
    return output
