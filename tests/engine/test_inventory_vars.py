"""Inventory values are templates written by the operator: rendered once per layer
(inventory < groups < target), against the layers below, with extra vars winning
everywhere; secret values are data and never rendered. The real CLI runs in a
subprocess on fake targets; its JSON Lines are the evidence.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

INVENTORY = """\
vars:
  domain: example.org
  health_url: "https://{{ domain }}/health"
  token: "{{ never_rendered }}-T0kenValue"
  port: "{{ 8000 + 80 }}"
groups:
  web:
    targets: [t1, t2]
    vars:
      probe: "{{ health_url }}?from={{ target_name }}"
secrets:
  vars: [token]
targets:
  t1:
    fake: {}
  t2:
    fake: {}
    vars:
      domain: t2.example.org
"""

PLAYBOOK = """\
- name: p
  hosts: all
  vars:
    banner: "{{ probe }} port={{ port + 1 }}"
  tasks:
    - name: show
      debug: {msg: "{{ banner }} len={{ token | length }} {{ token }}"}
"""


def _ajudaplay(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AJUDAPLAY_JOURNAL": str(tmp / "journal.db")}
    return subprocess.run(
        [sys.executable, "-m", "ajudaplay", *args], cwd=tmp, env=env, capture_output=True, text=True, timeout=60,
    )


def _messages(out: str) -> dict[str, str]:
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    results = [e for e in events if e.get("event") == "task_result" and e.get("task") == "show"]
    return {e["target"]: _msg(e) for e in results}


def _msg(event: dict[str, Any]) -> str:
    return str(event.get("msg") or event.get("result", {}).get("msg", ""))


def _write(tmp: Path, inventory: str = INVENTORY, playbook: str = PLAYBOOK) -> None:
    (tmp / "inv.yml").write_text(inventory)
    (tmp / "pb.yml").write_text(playbook)


def test_inventory_templates_render_once_per_layer_and_secrets_never(tmp_path: Path) -> None:
    _write(tmp_path)
    done = _ajudaplay(tmp_path, "run", "pb.yml", "-i", "inv.yml", "--output", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    shown = _messages(done.stdout)
    # a group value reads an inventory value that reads a target's own override
    assert shown["t1"].startswith("https://example.org/health?from=t1 port=8081 len=")
    assert shown["t2"].startswith("https://t2.example.org/health?from=t2 port=8081 len=")
    secret = "{{ never_rendered }}-T0kenValue"
    assert all(f"len={len(secret)} ********" in m for m in shown.values()), shown
    assert "T0kenValue" not in done.stdout + done.stderr


def test_extra_vars_win_in_values_derived_from_them_too(tmp_path: Path) -> None:
    _write(tmp_path)
    done = _ajudaplay(tmp_path, "run", "pb.yml", "-i", "inv.yml", "--output", "json", "-e", "domain=cli.test")
    assert done.returncode == 0, done.stdout + done.stderr
    shown = _messages(done.stdout)
    assert shown["t1"].startswith("https://cli.test/health?from=t1 ")
    assert shown["t2"].startswith("https://cli.test/health?from=t2 ")


def test_an_undefined_name_in_an_inventory_value_is_invalid_input_for_validate_and_run(tmp_path: Path) -> None:
    _write(tmp_path, INVENTORY.replace("{{ domain }}/health", "{{ domian }}/health"))
    for command in ("validate", "run"):
        done = _ajudaplay(tmp_path, command, "pb.yml", "-i", "inv.yml")
        assert done.returncode == 3, (command, done.stdout + done.stderr)
        assert "inv.yml:1:1: inventory variables of target 't1': undefined variable 'domian'" in done.stderr, done.stderr
    history = _ajudaplay(tmp_path, "history")
    assert "pb.yml" not in history.stdout  # the refused run touched nothing, not even the journal


def test_a_target_value_error_points_at_the_target(tmp_path: Path) -> None:
    _write(tmp_path, INVENTORY.replace("domain: t2.example.org", "domain: \"{{ nope | defualt('x') }}\""))
    done = _ajudaplay(tmp_path, "validate", "pb.yml", "-i", "inv.yml")
    assert done.returncode == 3, done.stdout + done.stderr
    line = next(n for n, text in enumerate(INVENTORY.splitlines(), 1) if text.startswith("  t2:"))
    assert f"inv.yml:{line}:3: inventory variables of target 't2'" in done.stderr, done.stderr
    assert "t1'" not in done.stderr
