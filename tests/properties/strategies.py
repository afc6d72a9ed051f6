"""Shared hypothesis settings for the property tests: bounded, so the whole set stays well under 20 s.

deadline=None: the machine is shared, a slow example is not a failure of the property.
database=None: nothing is written into the work tree; a failure prints its example to reproduce.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}

FAST = settings(max_examples=40, **_COMMON)  # pure functions and in-memory reporters
FEW = settings(max_examples=25, **_COMMON)  # each example loads an inventory file
SLOW = settings(max_examples=12, **_COMMON)  # each example is a whole engine run
