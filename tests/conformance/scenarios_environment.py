"""Conformance scenarios of the environment verb (issue 10): appended to scenarios.SCENARIOS."""

from __future__ import annotations

from tests.conformance.scenarios import Scenario

SCENARIOS: tuple[Scenario, ...] = ()
