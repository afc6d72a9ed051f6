"""The run's recap, `ajudaplay history` and `ajudaplay show` tell the same story.

- One reported result, one count: the lock step, every loop item, a failure a block's `rescue`
  takes (counted `rescued`, not `failed`, as Ansible does), an ignored failure. The console's
  PLAY RECAP, the JSON run_end stats, `history`'s RESULTS and `show`'s PLAY RECAP agree.
- `show` prints the same recap table as the run, and the REVISIONS section.
- A file change reads `PATH: 1 line changed (sha256 1a2b3c4d… → 9f8e7d6c…)`, not `- -> sha256:…`,
  on the console and in `show`.

The real CLI on fake targets (recaps, revisions) and on a real @local host (file changes).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ajudaplay.report.changes import change_line, restyle_summary
from ajudaplay.results import Change
from tests.cli.conftest import Project, events

PLAYBOOK = """\
- name: mixed
  hosts: all
  tasks:
    - name: deploy
      deploy: {service: api, image: "app:2"}
    - name: each
      debug: {msg: "{{ item }}"}
      loop: [a, b, c]
      when: item != "b"
    - name: guarded
      block:
        - name: breaks
          fail: {msg: broken on purpose}
      rescue:
        - name: repairs
          debug: {msg: repaired}
    - name: tolerated
      fail: {msg: not fatal}
      ignore_errors: true
    - name: restart
      restart: {service: api}
"""

RECAP = re.compile(r"^(\S+)\s+:\s+(ok=\d+.*)$", re.M)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.state.mkdir()
    p.inventory({"a": {"images": {"api": "app:1"}}, "b": {"images": {"api": "app:1"}, "fail_on": ["restart"]}})
    p.write("mixed.yml", PLAYBOOK)
    return p


def _counts(cells: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", cells)}


def test_recap_history_and_show_count_the_same_results(project: Project) -> None:
    done = project.run("run", "mixed.yml", "-i", "test")
    assert done.returncode == 2, done.stdout + done.stderr  # b's restart fails
    recap = {target: _counts(cells) for target, cells in RECAP.findall(done.stdout)}
    # ok: the lock step, 2 loop items, repairs; changed: deploy, restart; skipped: item b; rescued: breaks
    assert recap["a"] == {"ok": 4, "changed": 2, "failed": 0, "skipped": 1, "unreachable": 0, "ignored": 1,
                          "rescued": 1, "rolled_back": 0, "interrupted": 0}
    assert recap["b"]["failed"] == 1 and recap["b"]["rescued"] == 1 and recap["b"]["changed"] == 1
    run_id = re.search(r"details: ajudaplay show (\S+)", done.stdout).group(1)  # type: ignore[union-attr]

    [listed] = json.loads(project.run("history", "--output", "json").stdout)
    totals = {name: recap["a"][name] + recap["b"][name] for name in recap["a"]}
    assert listed["counts"] == totals

    shown = project.run("show", run_id).stdout
    recap_lines = [line for line in done.stdout.splitlines() if RECAP.match(line)]
    shown_lines = [line for line in shown.splitlines() if RECAP.match(line)]
    assert shown_lines == recap_lines  # the same table, character for character
    assert "failed: [b] restart: " in shown and "failed: [b] restart: " in done.stdout
    assert re.search(r"rescued\s+a\s+\S+\s+broken on purpose", shown)


def test_json_stats_match_the_journal(project: Project) -> None:
    done = project.run("run", "mixed.yml", "-i", "test", "--output", "json")
    found = events(done.stdout)
    stats = found[-1]["stats"]
    per_status: dict[str, int] = {}
    for event in found:
        if event["event"] == "task_result":
            per_status[event["status"]] = per_status.get(event["status"], 0) + 1
    for status, count in per_status.items():
        assert sum(target[status] for target in stats.values()) == count, status
    [listed] = json.loads(project.run("history", "--output", "json").stdout)
    assert {k: v for k, v in listed["counts"].items() if v and k != "rolled_back"} == per_status


def test_show_prints_the_revisions_section(project: Project) -> None:
    done = project.run("run", "mixed.yml", "-i", "test", "--output", "json")
    run_id = events(done.stdout)[0]["run_id"]
    shown = project.run("show", run_id).stdout
    section = shown.split("\nREVISIONS\n", 1)[1].splitlines()
    assert section[0].split() == ["TARGET", "SERVICE", "REVISION", "IMAGE", "AT"]
    rows = sorted(line.split()[:6] for line in section[1:])
    assert rows == [["a", "api", "1", "->", "2", "app:2"], ["b", "api", "1", "->", "2", "app:2"]]


# file change lines --------------------------------------------------------------------------------

def test_change_line_for_files() -> None:
    diff = "--- a (host)\n+++ a (new)\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
    assert change_line(Change("config /srv/app/config/nginx/default.conf", "old", "new", diff)) == \
        "/srv/app/config/nginx/default.conf: 2 lines changed"
    assert change_line(Change("file /etc/app.conf", "sha256:1a2b3c4d5e6f", "sha256:9f8e7d6c5b4a", diff)) == \
        "/etc/app.conf: 2 lines changed (sha256 1a2b3c4d… → 9f8e7d6c…)"
    assert change_line(Change("file /etc/app.conf", None, "sha256:9f8e7d6c5b4a", "")) == \
        "/etc/app.conf: created (sha256 9f8e7d6c…)"
    assert change_line(Change("config /x/y.conf", "absent", "new", "--- x\n+++ y\n@@\n+1\n+2\n+3\n")) == \
        "/x/y.conf: created, 3 lines"
    assert change_line(Change("api image", "app:1", "app:2")) == "api image: app:1 -> app:2"  # not a file
    assert restyle_summary("file /etc/app.conf: - -> sha256:9f8e7d6c5b4a; api image: app:1 -> app:2") == \
        "/etc/app.conf: created (sha256 9f8e7d6c…); api image: app:1 -> app:2"


FILE_PLAYBOOK = """\
- name: files
  hosts: all
  tasks:
    - name: page
      copy: {dest: "{{ dest }}", content: "a\n{{ middle }}\nc\n"}
"""


def test_file_changes_read_as_lines_changed_with_hashes_on_a_real_host(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write("inventory/local.yml", f"targets:\n  web:\n    host: '@local'\n    lock_path: {tmp_path / 'web.lock'}\n")
    project.write("files.yml", FILE_PLAYBOOK)
    dest = tmp_path / "site.conf"
    first = project.run("run", "files.yml", "-i", "local", "-e", f"dest={dest}", "-e", "middle=b")
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(rf"changed: \[web\] {re.escape(str(dest))}: created \(sha256 [0-9a-f]{{8}}…\)", first.stdout), first.stdout
    second = project.run("run", "files.yml", "-i", "local", "-e", f"dest={dest}", "-e", "middle=B", "--diff")
    assert second.returncode == 0, second.stdout + second.stderr
    line = re.search(rf"changed: \[web\] {re.escape(str(dest))}: 1 line changed "
                     r"\(sha256 ([0-9a-f]{8})… → ([0-9a-f]{8})…\)", second.stdout)
    assert line, second.stdout
    assert "- -> sha256" not in first.stdout + second.stdout and " -> sha256:" not in second.stdout
    run_id = re.search(r"details: ajudaplay show (\S+)", second.stdout).group(1)  # type: ignore[union-attr]
    shown = project.run("show", run_id).stdout
    assert f"{dest}: changed (sha256 {line.group(1)}… → {line.group(2)}…)" in shown
