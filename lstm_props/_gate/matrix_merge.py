"""``lstm-props matrix --merge PART...``: the shards' ``--json`` files of one matrix run
(``--shard 1/N`` … ``--shard N/N``, one machine each) back into the whole table.

Each file says which share of the jobs it holds and keeps its rows in job order
(matrix.document), so the whole run's order comes back by interleaving: shard K's j-th
row was job K−1 + j·N. A merge refuses a set that is not one whole run (a shard missing
or given twice, different shard counts, profiles or example counts, shares of different
job lists) rather than publish a table with rows missing or mixed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lstm_props._gate.matrix import SCHEMA, Verdict, publish
from lstm_props._gate.shard import Shard, parse_shard


class MergeError(ValueError):
    """The parts are not one sharded run; the message is one line (a usage error)."""


def merge(paths: list[str], readme: str | None, json_path: str | None) -> int:
    """Read every part, then publish the whole table as the unsharded run would."""
    verdicts, profile, max_examples = read_parts(paths)
    return publish(verdicts, profile, max_examples, readme, json_path)


def read_parts(paths: list[str]) -> tuple[list[Verdict], str, int | None]:
    """The verdicts of all parts in the whole run's order, its profile and example count."""
    parts: dict[int, list[Verdict]] = {}
    count, settings = 0, None
    for path in paths:
        doc = _load(path)
        shard = _shard(path, doc)
        if count and shard.count != count:
            raise MergeError(f"{path!r} is shard {shard}, but another part is one of {count}")
        if shard.index in parts:
            raise MergeError(f"{path!r}: shard {shard} is given twice")
        count = shard.count
        ran = (doc.get("profile"), doc.get("max_examples"))
        if settings is not None and ran != settings:
            raise MergeError(
                f"{path!r} ran with profile {ran[0]}, max examples {ran[1]}; another part "
                f"with profile {settings[0]}, max examples {settings[1]}"
            )
        settings = ran
        parts[shard.index] = [_verdict(path, row) for row in doc.get("rows", [])]
    missing = [k for k in range(1, count + 1) if k not in parts]
    if missing:
        raise MergeError(f"shard {missing[0]}/{count} is missing (every K/{count} once)")
    sizes = [len(parts[k]) for k in range(1, count + 1)]
    # what round-robin gives each shard of sum(sizes) jobs
    if sizes != [len(range(k, sum(sizes), count)) for k in range(count)]:
        raise MergeError(f"shards 1..{count} hold {sizes} rows: not shares of one job list")
    merged = [parts[k][j] for j in range(sizes[0]) for k in range(1, count + 1) if j < sizes[k - 1]]
    assert settings is not None  # paths is not empty: argparse's nargs="+"
    return merged, str(settings[0]), settings[1]


def _load(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise MergeError(f"{path!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MergeError(f"{path!r}: cannot be read ({e})") from None
    except json.JSONDecodeError as e:
        raise MergeError(f"{path!r}: not JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise MergeError(f"{path!r}: not a matrix file (schema {SCHEMA}, from --json)")
    return doc


def _shard(path: str, doc: dict[str, Any]) -> Shard:
    try:
        return parse_shard(str(doc.get("shard", "1/1")))  # no key: before --shard, whole
    except argparse.ArgumentTypeError as e:
        raise MergeError(f"{path!r}: shard {e}") from None


def _verdict(path: str, row: Any) -> Verdict:
    try:
        return Verdict(
            row["target"],
            row["dtype"],
            dict(row["outcomes"]),
            row.get("note", ""),
            row.get("package", "torch"),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MergeError(f"{path!r}: a row is not target, dtype, outcomes: {row!r}"[:300]) from None
