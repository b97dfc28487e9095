"""A trained LSTM's memory horizon on real data (``lstm-props horizon``).

The properties prove that an implementation *has* the carry highway; this measures what a
trained network *does* with it, on the user's data, with the model's own weights, through
the same adapter contract: per layer and unit, the forget-gate distribution and timescale
T_k = −1/mean log f_k, the carry-path survival log10 ∏ f over spans Δ and the horizon where
it falls below ε, the gates' saturation, the spans after which ∏ f underflows half and
single precision, and the share of the long-range gradient that the carry line carries
against the total through both tracks. docs/horizon.md: what each figure is, its error, the
JSON schema.

Public: :func:`measure_horizon`, :class:`Horizon`, :class:`LayerHorizon`,
:func:`document` (the JSON), :func:`summary` (the text), :class:`DataError`.
"""

from lstm_props.horizon.data import DataError
from lstm_props.horizon.measure import Horizon, measure_horizon
from lstm_props.horizon.output import SCHEMA, document, summary
from lstm_props.horizon.result import LayerHorizon, TwoTrack

__all__ = [
    "SCHEMA",
    "DataError",
    "Horizon",
    "LayerHorizon",
    "TwoTrack",
    "document",
    "measure_horizon",
    "summary",
]
