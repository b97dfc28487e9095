"""The suite's own error hierarchy.

Three kinds of trouble are kept apart, because they mean different things to a user:

* :class:`TargetError` -- the target could not be loaded or is not an LSTM (a usage problem);
* :class:`AdapterError` -- the implementation misbehaved outside the properties' claims
  (raised, returned the wrong shape, returned NaN for finite input);
* :class:`PropertyFailure` -- a property's mathematical claim is false for the target.
"""

from __future__ import annotations


class LSTMPropsError(Exception):
    """Base class of every error lstm_props raises on purpose."""


class TargetError(LSTMPropsError):
    """The target named on the command line cannot be loaded or used."""


class AdapterError(LSTMPropsError):
    """The implementation under test faulted: it raised, or returned wrong shapes or NaN."""


class PropertyFailure(AssertionError, LSTMPropsError):
    """A property's claim does not hold for the target (a real finding, not a fault)."""


class AdapterFault(BaseException):
    """An :class:`AdapterError` met inside a Hypothesis test, carried out of it at once.

    Hypothesis shrinks anything derived from ``Exception`` (minutes of re-running a broken
    backward to minimise inputs that do not matter); a ``BaseException`` that is not a
    ``SystemExit`` or ``GeneratorExit`` passes straight through its engine. The plugin unwraps
    it into the property's ``error`` outcome; ``error`` is the AdapterError itself.
    """

    def __init__(self, error: AdapterError) -> None:
        super().__init__(str(error))
        self.error = error
