"""How every ``lstm-props`` command reports a usage error: one line on stderr, exit 2."""

from __future__ import annotations

import sys


def usage_error(message: str) -> int:
    print(f"lstm-props: error: {message}", file=sys.stderr)
    return 2
