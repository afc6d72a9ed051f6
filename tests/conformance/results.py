"""What each mode registered per scenario, kept for the cross-mode comparison (test_conformance_agreement.py).

Recorded before test_conformance.py asserts anything, so a mode that fails a scenario (or is
expected to) still takes part in the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.conformance.drivers import Mode
from tests.conformance.runner import ScenarioRun
from tests.conformance.scenarios import Scenario
from tests.conformance.shapes import shape


@dataclass(frozen=True)
class Recorded:
    """One step on one mode: its answer and the type shape of its registered value."""

    mode: str
    kind: str
    answer: str
    shape: Any


# scenario name -> step id -> mode id -> Recorded
RECORDED: dict[str, dict[str, dict[str, Recorded]]] = {}


def record(mode: Mode, scenario: Scenario, run: ScenarioRun) -> None:
    steps = RECORDED.setdefault(scenario.name, {})
    for step_id, outcome in run.steps.items():
        steps.setdefault(step_id, {})[mode.id] = Recorded(mode.id, mode.kind, outcome.answer, shape(outcome.registered))
