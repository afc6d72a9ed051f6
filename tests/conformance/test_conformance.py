"""One procedure, every mode: each scenario of scenarios.py, as a playbook, on each provisioned mode.

Per mode and scenario: every step gives the table's answer (ok/changed/failed), registers the
documented keys with the documented types (shapes.py) and the expected values; a mode that cannot do
the verb gives its NotApplicable answer and reason; a secret value shows in no event. The registered
shapes are kept (results.py) for test_conformance_agreement.py, which compares the modes with each other.
To add a verb: add a Scenario to scenarios.py (see its docstring), nothing here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conformance import results
from tests.conformance.drivers import Mode
from tests.conformance.runner import ScenarioRun, run_scenario
from tests.conformance.scenarios import ANY, SCENARIOS, VARS, Scenario, Step
from tests.conformance.shapes import COMMON, mismatches
from tests.conformance.timing import TIMES

pytestmark = pytest.mark.docker


def _value(template: Any) -> Any:
    """An expected value, with the table's `{{ name }}` placeholders filled in."""
    if isinstance(template, str):
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(VARS[m.group(1)]), template)
    if isinstance(template, list):
        return [_value(v) for v in template]
    return template


def _problems(mode: Mode, scenario: Scenario, run: ScenarioRun) -> list[str]:
    """Everything the mode got wrong in this scenario, one line each."""
    problems: list[str] = []
    na = scenario.not_applicable.get(mode.kind)
    for step in scenario.steps:
        got = run.steps[step.id]
        where = f"{step.id} ({step.action})"
        if step.answer == ANY:
            continue
        if na is not None:
            problems += _not_applicable(where, got.answer, got.registered, na.answer, na.reason)
            continue
        if got.answer != step.answer:
            problems.append(f"{where}: answered {got.answer}, expected {step.answer}: {got.registered.get('msg')!r:.300}")
        problems += [f"{where}: {p}" for p in mismatches(got.registered, {**COMMON, **step.shape})]
        problems += _expected(where, step, got.registered)
    if scenario.secret and scenario.secret in run.output:
        problems.append(f"the secret value shows in the run's events: {run.output[:200]!r}...")
    return problems


def _not_applicable(where: str, answer: str, registered: dict[str, Any], want: str, reason: str) -> list[str]:
    said = " ".join([*registered.get("warnings", []), str(registered.get("msg", ""))])
    out = [] if answer == want else [f"{where}: not applicable here, expected {want}, answered {answer}: {said!r:.300}"]
    if not re.search(reason, said):
        out.append(f"{where}: not applicable here, the reason should match {reason!r}; said {said!r:.300}")
    return out


def _expected(where: str, step: Step, registered: dict[str, Any]) -> list[str]:
    out = []
    for path, want in step.expect.items():
        got = lookup(registered, path)
        if got != _value(want):
            out.append(f"{where}: {path} is {got!r}, expected {_value(want)!r}")
    return out


def lookup(value: Any, path: str) -> Any:
    """`replicas.desired`, `revisions[-1].user`: a registered value's part, or None when not there."""
    for part in re.findall(r"[^.\[\]]+|\[-?\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and -len(value) <= index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def _params() -> list[Any]:
    return [pytest.param(s, id=s.name) for s in SCENARIOS]


@pytest.mark.parametrize("scenario", _params())
def test_scenario(mode: Mode, scenario: Scenario) -> None:
    """xfail marks (scenario.xfail) are added at collection: conftest.py pytest_collection_modifyitems."""
    steps = [(s.id, s.action, s.args) for s in scenario.steps]
    with TIMES.measure(mode.id, scenario.name):
        run = run_scenario(mode, scenario.name, steps, VARS, scenario.files)
    results.record(mode, scenario, run)
    problems = _problems(mode, scenario, run)
    assert not problems, f"{mode.id} / {scenario.name}:\n  " + "\n  ".join(problems)
