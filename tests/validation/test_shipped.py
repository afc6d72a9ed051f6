"""The shipped action registry composes into a valid published schema, and validate works with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ajudaplay.actions.base import Registry, default_registry
from ajudaplay.errors import InvalidInput
from ajudaplay.playbook.loader import load_playbook
from ajudaplay.playbook.schema import playbook_schema
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.preflight import validate

GOOD = Path(__file__).parent / "good"


@pytest.fixture(scope="module")
def shipped() -> Registry:
    return default_registry()


def test_every_shipped_action_schema_composes(shipped: Registry) -> None:
    from jsonschema import Draft202012Validator

    schema = playbook_schema(shipped)
    Draft202012Validator.check_schema(schema)
    for name in shipped.names():
        assert f"action_{name}" in schema["$defs"], name


def test_unknown_action_lists_shipped_actions(tmp_path: Path, shipped: Registry) -> None:
    path = tmp_path / "pb.yml"
    path.write_text("- hosts: all\n  tasks:\n    - depoy: {service: api, image: 'x:1'}\n")
    with pytest.raises(InvalidInput) as caught:
        load_playbook(path, shipped)
    (diagnostic,) = caught.value.diagnostics
    assert str(diagnostic.mark).endswith("pb.yml:3:7")
    assert diagnostic.message == "unknown action 'depoy'"
    assert diagnostic.hint.startswith("did you mean 'deploy'? actions: ")


def test_validate_folder_with_inventory(tmp_path: Path, shipped: Registry) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "ok.yml").write_text(
        "- hosts: api\n  tasks:\n    - debug: {msg: 'hello {{ target_name }}'}\n"
    )
    (tmp_path / "playbooks" / "bad.yaml").write_text("- hosts: nope\n  tasks: []\n")
    (tmp_path / "playbooks" / "notes.yml").write_text("just: a mapping\n")
    inventory = GOOD / "inventory" / "prod.yml"
    found = validate([tmp_path / "playbooks", inventory], shipped, inventory, RunOptions()).diagnostics
    text = "\n".join(str(d) for d in found)
    assert "bad.yaml:1:10: plays[0].hosts: unknown target or group 'nope'" in text
    assert "notes.yml:1:1: expected a playbook (a list of plays) or an inventory" in text
    assert "ok.yml" not in text
    assert len(found) == 2
    assert validate([tmp_path / "missing"], shipped, None, RunOptions()).diagnostics[0].message.endswith("no such file or folder")


CLEANUP_PATHS = """\
- hosts: all
  tasks:
    - cleanup:
        service: api
        path: /app/logs/../../etc
    - cleanup: {service: api, path: /}
    - cleanup: {service: api, path: //}
    - cleanup: {service: api, path: logs}
    - cleanup: {service: api, path: /app/./logs}
    - cleanup: {service: api, path: "{{ logs_dir }}"}
    - cleanup: {service: api, path: /app/logs/}
    - cleanup: {service: api, path: /app/..logs/a.b}
    - cleanup: {service: api}
"""


def test_validate_refuses_a_cleanup_path_run_would_refuse(tmp_path: Path, shipped: Registry) -> None:
    """`validate` says what `run` would: '..', '.', '/' and relative paths, at their line and column."""
    path = tmp_path / "clean.yml"
    path.write_text(CLEANUP_PATHS)
    found = validate([path], shipped, None, RunOptions()).diagnostics
    said = {str(d.mark).rsplit("clean.yml:", 1)[1]: d.message for d in found}
    assert list(said) == ["5:15", "6:37", "7:37", "8:37", "9:37"], found
    assert said["5:15"] == ("expected an absolute path in the container without '.' or '..' parts, other than '/', "
                            "got string '/app/logs/../../etc'")
    assert [d.path for d in found][:2] == ["plays[0].tasks[0].cleanup.path", "plays[0].tasks[1].cleanup.path"]
    for where, value in (("6:37", "'/'"), ("7:37", "'//'"), ("8:37", "'logs'"), ("9:37", "'/app/./logs'")):
        assert said[where].endswith(f"got string {value}"), said
