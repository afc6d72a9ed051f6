"""`ajudaplay run` end to end over real SSH: files land, a second run changes nothing, failures are reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

AJUDAPLAY = [sys.executable, "-m", "ajudaplay"]

PLAYBOOK = [
    {
        "name": "configure",
        "hosts": "all",
        "tasks": [
            {"name": "dir", "command": {"argv": ["mkdir", "-p", "{{ dir }}"], "creates": "{{ dir }}"}},
            {"name": "config", "template": {"src": "app.ini.j2", "dest": "{{ dir }}/app.ini", "mode": "0640"}},
            {"name": "static", "copy": {"content": "static\n", "dest": "{{ dir }}/static.txt"}},
            {"name": "read back", "command": "cat {{ dir }}/app.ini", "register": "ini", "changed_when": False,
             "check_mode": False},
            {"name": "check", "assert": {"that": ["ini.stdout == 'name = ' ~ inventory_hostname"]}},
        ],
    }
]


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _run(tmp_path: Path, inventory: Path, *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = subprocess.run(
        [*AJUDAPLAY, "run", str(tmp_path / "site.yml"), "-i", str(inventory), "--output", "json", "--no-journal", *extra],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )
    return proc.returncode, _events(proc.stdout), proc.stderr


def test_run_over_ssh_then_no_change(sshd: Any, tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text(yaml.safe_dump(PLAYBOOK))
    (tmp_path / "app.ini.j2").write_text("name = {{ inventory_hostname }}\n")
    targets = {
        f"web{i}": {
            "host": f"ssh://ajtest{i:02d}@127.0.0.{i}:{sshd.port}",
            "key": str(sshd.client_key),
            "known_hosts": str(sshd.known_hosts),
            "vars": {"dir": f"/home/ajtest{i:02d}/ajudaplay-cli-test"},
        }
        for i in (1, 2, 3)
    }
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"targets": targets}))
    try:
        rc, events, err = _run(tmp_path, inventory)
        assert rc == 0, err
        end = events[-1]
        assert end["event"] == "run_end" and end["outcome"] == "success"
        assert all(s["changed"] == 3 and s["failed"] == 0 for s in end["stats"].values()), end["stats"]
        for i in (1, 2, 3):
            ini = Path(f"/home/ajtest{i:02d}/ajudaplay-cli-test/app.ini")
            assert ini.read_text() == f"name = web{i}\n"
            assert oct(ini.stat().st_mode & 0o777) == "0o640"
            assert ini.stat().st_uid == __import__("pwd").getpwnam(f"ajtest{i:02d}").pw_uid
        rc, events, err = _run(tmp_path, inventory)
        assert rc == 0, err
        assert all(s["changed"] == 0 for s in events[-1]["stats"].values()), events[-1]["stats"]
        # check mode after a template change: reports, writes nothing
        (tmp_path / "app.ini.j2").write_text("name = {{ inventory_hostname }}\nnew = 1\n")
        rc, events, err = _run(tmp_path, inventory, "--check", "--diff")
        assert rc == 0, err
        changed = [e for e in events if e["event"] == "task_result" and e["task"] == "config"]
        assert {e["status"] for e in changed} == {"changed"}
        assert Path("/home/ajtest01/ajudaplay-cli-test/app.ini").read_text() == "name = web1\n"
    finally:
        for i in (1, 2, 3):
            subprocess.run(["rm", "-rf", f"/home/ajtest{i:02d}/ajudaplay-cli-test"])


def test_unreachable_target_is_reported_and_others_continue(sshd: Any, tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text(yaml.safe_dump(
        [{"name": "p", "hosts": "all", "tasks": [{"name": "hello", "command": "echo hi"}]}]
    ))
    targets = {
        "up": {"host": f"ssh://ajtest@127.0.0.1:{sshd.port}", "key": str(sshd.client_key),
               "known_hosts": str(sshd.known_hosts)},
        "down": {"host": f"ssh://ajtest@127.0.0.1:{sshd.port + 1 if sshd.port < 65535 else 1}",
                 "key": str(sshd.client_key), "known_hosts": str(sshd.known_hosts)},
    }
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"targets": targets}))
    rc, events, err = _run(tmp_path, inventory)
    assert rc == 2, err
    stats = events[-1]["stats"]
    assert stats["up"]["changed"] == 1 and stats["down"]["unreachable"] == 1
    down = [e for e in events if e["event"] == "task_result" and e["target"] == "down"]
    assert down and "connection refused" in down[0]["msg"]
