"""How the property and fuzz tests run: derandomized and bounded by default, exploratory with ``--long-fuzz``.

The default profile (``ci``) is derandomized: every run of the suite draws the
same examples, so a clean checkout cannot fail by chance, and no example
database is written. ``pytest --long-fuzz`` loads the ``explore`` profile:
random examples, every budget multiplied by ``LONG_FACTOR``, and a seed that is
printed in the header and beside every failure (``--hypothesis-seed=N`` with
``--long-fuzz`` draws the same examples again).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

LONG_FACTOR = 25
scale = 1  # set by conftest.py from --long-fuzz

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile("ci")


def budget(examples: int, **kwargs: Any) -> settings:
    """Hypothesis settings for ``examples`` examples (times the long-run factor when asked)."""
    return settings(max_examples=examples * scale, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large], **kwargs)
