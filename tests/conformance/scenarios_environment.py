"""Conformance scenarios of the environment verb (issue 10): appended to scenarios.SCENARIOS.

Runs after the `secret` scenario put API_TOKEN in (restart false): whatever names a mode reports then,
the shape is the documented one (docs/actions-incident.md) and the secret's value shows in no event.
"""

from __future__ import annotations

from tests.conformance.scenarios import SECRET_VALUE, Scenario, Step, _s
from tests.conformance.shapes import Spec

REF: dict[str, Spec] = {"name": (str, None), "kind": str, "source": str, "key": (str, None), "present": bool}
ENVIRONMENT: dict[str, Spec] = {"service": str, "names": [str], "expected": [str], "missing": [str], "refs": [REF],
                                "limits": {"memory_bytes": (int, None), "cpu_millicores": (int, float, None)}}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("environment", (
        Step("env", "environment", _s(), "ok", ENVIRONMENT, {"expected": [], "missing": []}),
    ), secret=SECRET_VALUE),
)
