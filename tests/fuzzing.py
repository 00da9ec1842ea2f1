"""How long the property and fuzz tests run: bounded by default, much longer with ``pytest --long-fuzz``.

The normal suite keeps each hypothesis test to tens of examples; ``--long-fuzz``
multiplies every budget by ``LONG_FACTOR`` (a run of minutes rather than seconds)
for a deeper search before a release or after a change to the readers or the
expression compiler.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

LONG_FACTOR = 25
scale = 1  # set by conftest.py from --long-fuzz


def budget(examples: int, **kwargs: Any) -> settings:
    """Hypothesis settings for ``examples`` examples (times the long-run factor when asked)."""
    return settings(max_examples=examples * scale, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large], **kwargs)
