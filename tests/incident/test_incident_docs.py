"""docs/actions-incident.md is the reference: its registered-data rows are what the actions register (the
environment row is its outcome type's fields; the changes row is what the action returns), and its
playbook table lists every incident playbook that ships."""

from __future__ import annotations

from pathlib import Path

from ajudaplay import outcomes
from ajudaplay.actions.base import ActionContext
from ajudaplay.actions.incident import run_changes
from ajudaplay.errors import Mark
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.fake import FakeTarget
from tests.markdown_sections import registered_rows, sections

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docs" / "actions-incident.md").read_text(encoding="utf-8")
DOC = sections(TEXT)
INCIDENT_PLAYBOOKS = ("incident", "triage-service-down", "triage-wont-start", "triage-errors", "triage-latency",
                      "network", "dns", "telegram")


def _rows(section: str, cells_per_row: int) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in DOC[section].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == cells_per_row and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_environment_row_is_the_outcome_fields() -> None:
    cls = outcomes.EnvironmentOutcome
    assert cls in outcomes.INCIDENT_VERBS
    assert registered_rows(TEXT)[cls.VERB] == (cls.__name__, cls.registered_keys())


def test_changes_row_is_what_the_action_registers() -> None:
    spec = TargetSpec(name="t1", kind="fake", mark=Mark("inventory.yml", 1, 1), connection={}, services={"api": {}})
    ctx = ActionContext(target=FakeTarget(spec), step=StepContext(run_id="r"), vars={}, render=lambda v: v)
    registered = run_changes(ctx, {"service": "api"}).data
    assert registered_rows(TEXT)["changes"][1] == list(registered)


def test_every_incident_playbook_ships_and_is_in_the_table() -> None:
    listed = [name.removesuffix(".yml") for name in _rows("The incident playbooks", 4)]
    assert sorted(listed) == sorted(INCIDENT_PLAYBOOKS)
    for name in INCIDENT_PLAYBOOKS:
        assert (ROOT / "playbooks" / f"{name}.yml").is_file(), name
