"""How a hand-written torch cell is called, declared rather than wrapped.

nn.LSTMCell's convention is ``m(x, (h, c)) -> (h, c)``. Cells written elsewhere return their
output beside the state, ``m(x, (h, c)) -> (h, (h, c))``, or keep the state as ``(c, h)``
(TensorFlow 1's LSTMStateTuple order is (c, h)). A module says which with its
``lstm_call`` attribute, one of :data:`CALLS` (spaces free, ``y`` or ``h`` for the output)::

    class MyCell(nn.Module):
        lstm_call = "m(x, (c, h)) -> (h, (c, h))"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lstm_props._errors import TargetError

DEFAULT = "m(x, (h, c)) -> (h, c)"
#: argument forms: how (h, c) is passed after x
_ARGS = {"(h,c)": "hc", "(c,h)": "ch", "h,c": "h,c", "c,h": "c,h"}
#: result forms: where h' and c' are found in what the module returns
_RESULTS = {
    "(h,c)": (0, 1),
    "(c,h)": (1, 0),
    "(h,(h,c))": ((1, 0), (1, 1)),
    "(h,(c,h))": ((1, 1), (1, 0)),
}


def _spaced(form: str) -> str:
    return form.replace(",", ", ")


#: Every accepted lstm_call, as the docs spell them.
CALLS = [f"m(x, {_spaced(a)}) -> {_spaced(r)}" for a in _ARGS for r in _RESULTS]


@dataclass(frozen=True)
class Call:
    """A parsed ``lstm_call``: how to call the module and where h', c' are in its result."""

    text: str
    args: str
    h_at: Any
    c_at: Any

    def __call__(self, module: Callable[..., Any], x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        if self.args == "hc":
            out = module(x, (h, c))
        elif self.args == "ch":
            out = module(x, (c, h))
        elif self.args == "h,c":
            out = module(x, h, c)
        else:
            out = module(x, c, h)
        return _at(out, self.h_at), _at(out, self.c_at)


def _at(out: Any, where: int | tuple[int, int]) -> Any:
    return out[where] if isinstance(where, int) else out[where[0]][where[1]]


def parse(declared: Any, name: str, owner: str) -> Call:
    """``declared`` (the module's lstm_call, or None for nn.LSTMCell's) as a :class:`Call`;
    a one-line TargetError naming the accepted forms for anything else."""
    text = DEFAULT if declared is None else declared
    compact = re.sub(r"\s+", "", text) if isinstance(text, str) else None
    match = re.fullmatch(r"m\(x,(.+)\)->(.+)", compact or "")
    args = match and _ARGS.get(match[1])
    result = match and _RESULTS.get(
        match[2].replace("y", "h", 1) if "(y," in match[2] else match[2]
    )
    if not (match and args and result):
        raise TargetError(
            f"target {name!r}: {owner}.lstm_call = {declared!r} is not a calling convention "
            "the suite knows; give 'm(x, ARGS) -> RESULT' with ARGS one of "
            f"{', '.join(_spaced(a) for a in _ARGS)} and RESULT one of "
            f"{', '.join(_spaced(r) for r in _RESULTS)} (y may name the output), e.g. "
            f"{CALLS[2]!r} (docs/adapters.md: declaring how a cell is called)"
        )
    h_at, c_at = result
    return Call(text, args, h_at, c_at)
