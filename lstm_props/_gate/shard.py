"""``--shard K/N``: one machine's share of a job list, for ``lstm-props matrix`` and
benchmarks/false_alarms.py.

A run that outgrows one machine is spread by an engine that already exists (a CI matrix,
one runner per shard), not by a pool of our own: every shard is given the same job list
and keeps the jobs at positions K−1, K−1+N, K−1+2N, … (round-robin), so the shards need no
coordination, every job lands in exactly one, and the merged outputs cover the whole list.

Kept apart from lstm_props._gate.options: the false-alarm sweep fingerprints that module
(a change to it restarts every property's count), and splitting a run decides no verdict.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
FORM = "K/N, the 1-based shard K of N, e.g. 2/4"


@dataclass(frozen=True)
class Shard:
    index: int  # K, 1-based
    count: int  # N

    def owns(self, position: int) -> bool:
        """Whether the job at 0-based ``position`` of the full list is this shard's."""
        return position % self.count == self.index - 1

    def take(self, jobs: Sequence[T]) -> list[T]:
        return [job for k, job in enumerate(jobs) if self.owns(k)]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Shard(1, 1)


def parse_shard(text: str) -> Shard:
    """``"K/N"`` -> Shard(K, N), 1 <= K <= N; anything else raises ArgumentTypeError with a
    one-line message naming the value and the expected form (argparse prints it as is)."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not {FORM}")
    index, count = int(match[1]), int(match[2])
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be at least 1 ({FORM})")
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be from 1 to N = {count} ({FORM})")
    return Shard(index, count)
