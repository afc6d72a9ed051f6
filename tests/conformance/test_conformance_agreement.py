"""The modes agree with each other: each step gives the reference mode's answer and shares its types.

Runs after test_conformance.py (file order) on what it recorded. test_conformance.py holds each mode
to the documented shape; this holds every mode to the reference mode (compose-local, the one every
CI run has) on every key they share, documented or not: a key that is an int on one mode and a dict
on another means a playbook that works on one mode only. A mode whose verb is NotApplicable by design
(scenarios.py) is not compared on that scenario. Needs the reference and the mode in the same session.
"""

from __future__ import annotations

import pytest

from tests.conformance import results
from tests.conformance.drivers import MODE_IDS, REFERENCE, kind_of
from tests.conformance.scenarios import ANY, SCENARIOS, Scenario
from tests.conformance.shapes import disagreements


MODE_MARKS = {"compose-ssh": [pytest.mark.ssh], "kubernetes": [pytest.mark.kubernetes]}


def _params() -> list[object]:
    out: list[object] = []
    for mode_id in MODE_IDS:
        if mode_id == REFERENCE:
            continue
        for s in SCENARIOS:
            if kind_of(mode_id) in s.not_applicable or kind_of(REFERENCE) in s.not_applicable:
                continue  # compared with its NotApplicable reason in test_conformance.py instead
            reason = s.agree_xfail.get(mode_id) or s.agree_xfail.get(kind_of(mode_id))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            marks += MODE_MARKS.get(mode_id, [])
            out.append(pytest.param(mode_id, s, id=f"{mode_id}-{s.name}", marks=marks))
    return out


@pytest.mark.parametrize(("mode_id", "scenario"), _params())
def test_agrees_with_reference(mode_id: str, scenario: Scenario) -> None:
    recorded = results.RECORDED.get(scenario.name, {})
    ran = {m for step in recorded.values() for m in step}
    if not {mode_id, REFERENCE} <= ran:
        pytest.skip(f"needs {mode_id} and {REFERENCE} of test_conformance.py in this session; ran: {sorted(ran)}")
    problems: list[str] = []
    judged = {step.id for step in scenario.steps if step.answer != ANY}
    for step_id, by_mode in recorded.items():
        if step_id not in judged:
            continue
        ours, ref = by_mode[mode_id], by_mode[REFERENCE]
        if ours.answer != ref.answer:
            problems.append(f"{step_id}: answered {ours.answer}, {REFERENCE} answered {ref.answer}")
        problems += [f"{step_id}: {p}" for p in disagreements({mode_id: ours.shape, REFERENCE: ref.shape})]
    assert not problems, f"{mode_id} vs {REFERENCE}, {scenario.name}:\n  " + "\n  ".join(problems)
