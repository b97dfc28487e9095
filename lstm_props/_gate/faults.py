"""Who is to blame for an exception a property raised: the claim, the target, or the suite.

* ``failed`` -- an AssertionError (a :class:`PropertyFailure` or a property's assert): the
  claim is false for the target, a finding;
* ``adapter`` -- an :class:`AdapterError` (every call into the target is guarded and raises
  one): the implementation faulted, which says nothing about the claim;
* ``suite`` -- anything else: the target was not being called (its calls are guarded), so
  lstm_props itself is broken. Reporting it as a failure would blame the target for the
  suite's bug.

One exception does not fit: code of the user's own (neither lstm_props nor an installed
library) as the innermost frame means the target ran outside a guarded call (a sized
factory building inside a strategy): that is the target's fault too.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import traceback
from pathlib import Path
from types import TracebackType

from lstm_props._errors import AdapterError, AdapterFault

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup
else:  # Hypothesis' own dependency on 3.10
    from exceptiongroup import BaseExceptionGroup

FAILED, ADAPTER, SUITE = "failed", "adapter", "suite"
#: Read by the CLI to tell a suite bug from a target's fault in pytest's output.
SUITE_PREFIX = "SuiteError (a bug in lstm_props, not in the target)"
ADAPTER_PREFIX = "AdapterError (the implementation faulted, not a property)"
REPORT_PHRASE = "please report it with the command above"


def _own_dirs() -> tuple[str, ...]:
    import lstm_props
    from lstm_props._harness.declared import properties_dir

    return tuple(
        os.path.realpath(p) + os.sep for p in (Path(lstm_props.__file__).parent, properties_dir())
    )


def _library_dirs() -> tuple[str, ...]:
    import site

    paths = sysconfig.get_paths()
    dirs = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    dirs += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    return tuple({os.path.realpath(d) + os.sep for d in dirs})


def innermost_code(tb: TracebackType | None) -> tuple[str, str]:
    """(SUITE or ADAPTER, "file:line in function") of the innermost frame that is not an
    installed library's: lstm_props' own code, or the user's."""
    own, libraries = _own_dirs(), _library_dirs()
    frames = traceback.extract_tb(tb)
    for frame in reversed(frames):
        path = os.path.realpath(frame.filename)
        where = f"{frame.filename}:{frame.lineno} in {frame.name}"
        if path.startswith(own):
            return SUITE, where
        if not path.startswith(libraries) and not frame.filename.startswith("<"):
            return ADAPTER, where
    last = frames[-1] if frames else None
    return SUITE, f"{last.filename}:{last.lineno} in {last.name}" if last else "unknown"


def classify(exc: BaseException) -> str:
    """FAILED, ADAPTER or SUITE (see the module docstring). A group is as bad as its worst."""
    if isinstance(exc, (AdapterFault, AdapterError)):
        return ADAPTER
    if isinstance(exc, BaseExceptionGroup):
        kinds = {classify(e) for e in exc.exceptions}
        return next(k for k in (ADAPTER, SUITE, FAILED) if k in kinds)
    if isinstance(exc, AssertionError):
        return FAILED
    import pytest

    if isinstance(exc, (pytest.fail.Exception, pytest.skip.Exception)):
        return FAILED
    return innermost_code(exc.__traceback__)[0]


def _first(exc: BaseException, kind: str) -> BaseException:
    """The first exception of ``kind`` in a (possibly nested) group."""
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            if classify(sub) == kind:
                return _first(sub, kind)
    return exc


def one_line(exc: BaseException, kind: str) -> str:
    """The fault's one-line report, prefixed so the results reader can tell the kinds apart."""
    exc = _first(exc, kind)
    if isinstance(exc, AdapterFault):
        exc = exc.error
    if isinstance(exc, AdapterError):
        return f"{ADAPTER_PREFIX}: {exc}"
    origin, where = innermost_code(exc.__traceback__)
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    if origin == ADAPTER:
        return (
            f"{ADAPTER_PREFIX}: the target's own code raised {text} at {where}, outside "
            "a call the suite guards"
        )
    return f"{SUITE_PREFIX}: {text} at {where}; {REPORT_PHRASE}"
