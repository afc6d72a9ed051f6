"""The secrets known before a run (actions/known_secrets.py): a backup's or restore's `key` is masked
from the first event on, and only the variables its template reads, not the flags beside it."""

from __future__ import annotations

from pathlib import Path

from ajudaplay.actions.base import default_registry
from ajudaplay.actions.known_secrets import given_secrets
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.playbook.loader import load_playbook

PLAYBOOK = """\
- hosts: all
  vars: {encrypt: true}
  tasks:
    - backup: {service: api, encrypt: "{{ encrypt }}", key: "{{ backup_key | default(none) }}"}
    - restore: {service: api, latest: true, key: "{{ restore_key }}", confirm: false}
"""
INVENTORY = """\
vars: {backup_key: "b4ckup-passphrase-0941", restore_key: "rest0re-passphrase-7730", encrypt: "yes-please"}
targets:
  t: {fake: {}, services: {api: {}}}
"""


def test_backup_and_restore_keys_are_known_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "inv.yml").write_text(INVENTORY)
    found = given_secrets(load_playbook(tmp_path / "play.yml", default_registry()), load_inventory(tmp_path / "inv.yml"), {})
    assert "b4ckup-passphrase-0941" in found and "rest0re-passphrase-7730" in found
    assert "yes-please" not in found  # `encrypt` is read by the task, but it is not the key
