"""Each verb's registered shape is documented once, and the document is the types.

docs/actions-service.md, "Registered data", has one row per action: its
outcome type and the keys every mode registers. They must be exactly the
fields of that type in ajudaplay/outcomes.py, so the doc cannot drift from
what the targets return (and a new field is a doc change). The same holds for
a history entry's keys, the replica counts, and the wait default the schemas
announce.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from ajudaplay import outcomes
from tests.markdown_sections import sections

DOC = Path(__file__).resolve().parent.parent / "docs" / "actions-service.md"
WAITING = ("deploy", "rollback", "restart", "scale", "config", "secret")


def _section() -> str:
    return sections(DOC.read_text(encoding="utf-8"))["Registered data"]


def _rows() -> dict[str, tuple[str, list[str]]]:
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in _section().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), re.findall(r"`([a-z_0-9]+)`", cells[2]))
    return rows


def _names(text: str) -> list[str]:
    return re.findall(r"`([a-z_]+)`", text)


def test_every_verb_has_one_row_naming_its_outcome_type() -> None:
    rows = _rows()
    assert sorted(rows) == sorted(cls.VERB for cls in outcomes.VERBS)
    for cls in outcomes.VERBS:
        assert rows[cls.VERB][0] == cls.__name__, cls.VERB


@pytest.mark.parametrize("cls", outcomes.VERBS, ids=lambda cls: cls.VERB)
def test_the_documented_keys_are_the_outcome_fields(cls: type[outcomes.Outcome]) -> None:
    assert _rows()[cls.VERB][1] == cls.registered_keys()


def test_history_entry_and_replicas_keys_are_documented_as_the_types_have_them() -> None:
    text = _section()
    entry = re.search(r"Each entry of `history`'s `revisions` has (.*?) oldest", text, re.S)
    assert entry is not None
    assert _names(entry.group(1)) == list(outcomes.Revision.KEYS)
    replicas = re.search(r"`replicas` is always a mapping of whole numbers (.*?) \(", text, re.S)
    assert replicas is not None
    assert _names(replicas.group(1)) == [f for f in outcomes.Replicas.__dataclass_fields__]


def test_the_wait_default_is_one_constant_that_docs_and_schemas_state() -> None:
    seconds = int(outcomes.DEFAULT_WAIT)
    assert f"{seconds} when the step\ngives none" in _section()
    for verb in WAITING:
        text = resources.files("ajudaplay.schemas.actions").joinpath(f"{verb}.json").read_text()
        described = json.loads(text)["properties"]["timeout"]["description"]
        assert f"(default {seconds})" in described, verb
    deploy_row = next(line for line in DOC.read_text().splitlines() if line.startswith("| `deploy` | `service`"))
    assert f"`timeout` (s, {seconds})" in deploy_row


def test_registered_data_is_plain_and_omits_only_optional_keys() -> None:
    outcome = outcomes.DeployOutcome(service="api", image="app:1", revision=2, replicas=outcomes.Replicas.same(3),
                                     extra={"deployment": "api", "replicas": "never wins"})
    assert outcome.data == {"service": "api", "image": "app:1", "revision": 2,
                            "replicas": {"desired": 3, "current": 3, "ready": 3, "available": 3},
                            "deployment": "api"}
    undone = outcome.but(rolled_back_to=1)
    assert undone.data["rolled_back_to"] == 1
    result = outcomes.to_result(undone.but(changed=True, failed=True, msg="m"))
    assert (result.changed, result.failed, result.msg, result.outcome) == (True, True, "m", undone.but(
        changed=True, failed=True, msg="m"))
    assert result.data == undone.data


def test_every_service_action_has_an_outcome_type() -> None:
    from ajudaplay.actions.base import Registry
    from ajudaplay.actions.service import register

    registry = Registry()
    register(registry)
    assert sorted(registry.names()) == sorted(cls.VERB for cls in outcomes.VERBS)
