"""A time limit per property: a target that hangs ends the run with one line, exit 2.

A step that blocks forever (a deadlock, a wait on a device that never answers) would
otherwise hang the gate with no output at all. A watchdog thread, armed around each
property, does what the main thread cannot while it is stuck inside the target: it names
the property, the adapter call in progress (CheckedCell's call log) and the line the main
thread is blocked at, dumps every thread's stack to a file for the curious, and ends the
process. Ending it is the only sure way out: a hang inside C code ignores exceptions and
signals alike. Under xdist the worker ends; the controller reports its property as crashed.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from lstm_props._harness.checked import CALLS

#: Per property, in seconds: above what the slowest correct target needs at the thorough
#: profile (a whole run of the two-layer bidirectional nn.LSTM took up to 2,203 s on 2 shared
#: cores in the false-alarm sweep, benchmarks/results/false_alarms.jsonl), so a slow target
#: is never called hung; below "the CI job was killed after 6 hours with no output".
DEFAULT_TIMEOUT = 3600.0

#: The exit status of a hang: a fault of the target, not a property's finding.
EXIT_HUNG = 2


def _location(frame: FrameType) -> str:
    return f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})"


def _library_dirs() -> tuple[str, ...]:
    """Where the standard library, installed packages and lstm_props itself live: a hang
    is reported at the innermost frame outside them, the target's own line."""
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    dirs.add(str(Path(__file__).resolve().parents[1]))  # lstm_props/
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


def _where(frame: FrameType | None) -> str:
    if frame is None:
        return "an unknown place"
    libraries = _library_dirs()
    own: FrameType | None = frame
    while own is not None and (
        own.f_code.co_filename.startswith("<")  # <frozen ...>
        or os.path.realpath(own.f_code.co_filename).startswith(libraries)
    ):
        own = own.f_back
    if own is None or own is frame:
        return _location(frame)
    return f"{_location(own)}, blocked in {_location(frame)}"


def _stacks_file() -> str:
    """Every thread's stack, written by faulthandler (safe while the others are stuck)."""
    try:
        fd, path = tempfile.mkstemp(prefix="lstm_props_hang_", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            faulthandler.dump_traceback(f, all_threads=True)
        return path
    except OSError:
        return ""


def _expire(
    what: str, seconds: float, thread_id: int, release_stderr: Callable[[], object] | None
) -> None:
    call = CALLS.current or "no adapter call in progress"
    where = _where(sys._current_frames().get(thread_id))
    stacks = _stacks_file()
    line = (
        f"ERROR: {what} ran past the time limit of {seconds:g} s: hung in {call}, at "
        f"{where}; fix the hang, or raise the limit with --lstm-timeout SECONDS "
        f"(lstm-props check --timeout)" + (f"; all stacks in {stacks}" if stacks else "")
    )
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or captured stream must not stop it
            stream.flush()
    if release_stderr is not None:
        with contextlib.suppress(Exception):
            release_stderr()  # pytest's capture holds fd 2 while a test runs
    os.write(2, (line + "\n").encode(errors="replace"))
    os._exit(EXIT_HUNG)


class Watchdog:
    """``with Watchdog(seconds, "property X"):`` ends the process if the block outlives
    ``seconds``; ``seconds`` <= 0 disables it. ``release_stderr`` gives fd 2 back to the
    terminal (pytest's capture) before the line is written."""

    def __init__(
        self, seconds: float, what: str, release_stderr: Callable[[], object] | None = None
    ) -> None:
        self.seconds, self.what, self.release_stderr = seconds, what, release_stderr
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Watchdog:
        CALLS.reset()
        if self.seconds > 0:
            self._timer = threading.Timer(
                self.seconds,
                _expire,
                (self.what, self.seconds, threading.get_ident(), self.release_stderr),
            )
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
