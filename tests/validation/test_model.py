"""The typed playbook model: marks, defaults and normalised shapes the engine relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ajudaplay.actions.base import Registry
from ajudaplay.errors import InvalidInput, Mark
from ajudaplay.playbook.loader import load_playbook
from ajudaplay.playbook.schema import playbook_schema
from ajudaplay.schemas import inventory_schema

GOOD = Path(__file__).parent / "good"


@pytest.fixture
def playbook(registry: Registry):  # type: ignore[no-untyped-def]
    return load_playbook(GOOD / "playbook.yml", registry)


def test_play_fields_and_normalisation(playbook) -> None:  # type: ignore[no-untyped-def]
    first, second = playbook.plays
    assert first.name == "deploy the api" and first.hosts == "api"
    assert first.serial == [1, "50%"] and first.max_fail_percentage == 25
    assert first.tags == ["deploy"] and first.lock is False
    assert first.vars == {"version": "1.2.3"}
    assert first.mark == Mark(str(GOOD / "playbook.yml"), 2, 3)
    assert second.name == "all" and second.lock is True and second.serial == []


def test_task_defaults_marks_and_lists(playbook) -> None:  # type: ignore[no-untyped-def]
    deploy, command, block = playbook.plays[0].tasks
    file = str(GOOD / "playbook.yml")
    assert deploy.name == "deploy api"  # default: action + first argument
    assert deploy.action == "deploy" and deploy.args == {"service": "api", "image": "registry/api:{{ version }}"}
    assert deploy.mark == Mark(file, 10, 7)
    assert deploy.arg_marks["image"] == Mark(file, 10, 37)
    assert deploy.notify == ["restart api"] and deploy.when == ["true"] and deploy.timeout == 120.0
    assert deploy.retries == 0 and deploy.delay == 1.0 and deploy.loop_var == "item" and deploy.register is None
    assert deploy.keyword_marks["when"] == Mark(file, 12, 13)

    assert command.name == "command ls -l /srv" and command.args == "ls -l /srv"  # free form kept as a string
    assert command.arg_marks == {"cmd": Mark(file, 14, 16)}
    assert command.register == "listing" and command.retries == 3 and command.delay == 0.5
    assert command.until == "listing.rc == 0" and command.changed_when is False
    assert command.failed_when == "(listing.rc != 0) and ('error' in listing.stdout)"
    assert command.loop == "{{ dirs }}" and command.loop_var == "dir"
    assert command.tags == ["inspect", "slow"] and command.check_mode is False and command.vars == {"depth": 2}

    assert block.is_block and block.name == "guarded scale" and block.action is None
    assert [t.name for t in block.block or []] == ["scale api"]
    assert [t.name for t in block.rescue] == ["debug scale failed"]
    assert [t.name for t in block.always] == ["ping"] and block.always[0].args == {}


def test_handlers(playbook) -> None:  # type: ignore[no-untyped-def]
    (handler,) = playbook.plays[0].handlers
    assert handler.name == "restart api" and handler.listen == ["restarts"] and handler.action == "restart"


def test_published_playbook_schema_is_valid_and_composed(registry: Registry) -> None:
    from jsonschema import Draft202012Validator

    schema = playbook_schema(registry)
    Draft202012Validator.check_schema(schema)
    assert set(registry.names()) <= set(schema["$defs"]["task"]["properties"])
    assert "action_deploy" in schema["$defs"]
    assert "$schema" not in schema["$defs"]["action_deploy"]
    assert schema["$defs"]["action_command"]["$id"].endswith("actions/command.json")  # has its own $defs
    json.dumps(schema)  # printable by `ajudaplay schema playbook`
    Draft202012Validator.check_schema(inventory_schema())


def test_published_schema_validates_a_playbook_on_its_own(registry: Registry) -> None:
    """What a YAML language server does: the published schema alone accepts good and rejects bad."""
    import yaml
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(playbook_schema(registry))
    good = yaml.safe_load((GOOD / "playbook.yml").read_text())
    assert good[1]["tasks"][0]["ping"] is None  # `ping:` alone is valid for an action without required arguments
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors([{"hosts": "x", "tasks": [{"deploy": {"service": "a"}}]}]))


def test_empty_file_is_not_a_playbook(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("")
    with pytest.raises(InvalidInput) as caught:
        load_playbook(path, registry)
    assert "expected a list of plays" in str(caught.value)


def test_missing_playbook_file(tmp_path: Path, registry: Registry) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_playbook(tmp_path / "nope.yml", registry)
