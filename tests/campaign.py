"""How long the property-based tests search: fixed and repeatable in `make test`, long in `make test-deep`.

`make test` (and CI) loads the Hypothesis profile "repeatable": `derandomize=True`, so every run draws the
same examples and a green run stays green. `make test-deep` sets LINREP_DEEP=N and loads "deep": random
seeds, N times the examples of every property test, and the database on, so that failures found are
replayed next time.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

DEEP_FACTOR = int(os.environ.get("LINREP_DEEP", "0") or 0)

settings.register_profile("repeatable", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", derandomize=False, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("deep" if DEEP_FACTOR > 0 else "repeatable")


def examples(n: int) -> int:
    """The number of examples a property test draws: n in `make test`, n·LINREP_DEEP in a deep campaign."""
    return n * max(DEEP_FACTOR, 1)
