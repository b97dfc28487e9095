"""Run-wide adjustments of the property library that depend on the target's size."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis._settings import local_settings


@pytest.fixture(autouse=True)
def _wide_fixed_target_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    """At most WIDE_MAX_EXAMPLES examples per property on a wide fixed-size target (a user's
    own H = 1024 model: one example costs ∝ T·B·H² and checks thousands of coordinates),
    unless --lstm-max-examples sets the count explicitly."""
    if ("lstm" not in request.fixturenames
            or request.config.getoption("lstm_max_examples", None) is not None):
        yield
        return
    from lstm_props.strategies import WIDE_MAX_EXAMPLES, wide_fixed_hidden

    lstm = request.getfixturevalue("lstm")
    current = settings.default
    if wide_fixed_hidden(lstm.target) is None or current.max_examples <= WIDE_MAX_EXAMPLES:
        yield
        return
    with local_settings(settings(current, max_examples=WIDE_MAX_EXAMPLES)):
        yield
