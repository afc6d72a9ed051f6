"""What a target returns is data, never a template (like Ansible's AnsibleUnsafe).

A real `shell` step on a real @local host target prints `{{ secret_var }}` (a secret of the
inventory) and `{{ .Values.x }}` (a Go/Helm template). Registered, then used through every
path a value can take — debug, a task var, set_vars, a later play's vars, a loop over
stdout_lines, a template file, conditions — the text must arrive literally: no step fails,
no secret is substituted. The real CLI runs in a subprocess; its JSON Lines are the evidence.
Variable layers render each entry once, in dependency order (in-process, fake targets).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Harness, fakes

ROOT = Path(__file__).resolve().parents[2]
SECRET = "S3cretValue42-data-safety"
PAYLOAD = "{{ secret_var }}\n{{ .Values.x }}"
LINES = PAYLOAD.splitlines()

INVENTORY = f"""\
vars:
  secret_var: {SECRET}
secrets:
  vars: [secret_var]
targets:
  web:
    host: "@local"
    lock_path: {{lock}}
"""

PLAYBOOK = """\
- name: produce
  hosts: all
  tasks:
    - name: read
      shell: "cat {{ playbook_dir }}/payload.txt"
      register: out
      changed_when: out.stdout_lines | length == 2
      until: "'.Values' in out.stdout"
    - name: show
      debug: {msg: "{{ out.stdout }}"}
    - name: via task var
      debug: {msg: "{{ via }}"}
      vars: {via: "{{ out.stdout }}", again: "{{ via }}"}
    - name: via set_vars
      set_vars: {copied: "{{ out.stdout }}", first: "{{ out.stdout_lines[0] }}"}
    - name: show copied
      debug: {msg: "{{ copied }}"}
    - name: each line
      debug: {msg: "{{ item }}"}
      loop: "{{ out.stdout_lines }}"
    - name: when on data
      debug: {msg: "go {{ first }}"}
      when: first == out.stdout_lines[0] and '.Values' in copied
    - name: file
      template: {src: page.j2, dest: "{{ dest }}"}
- name: consume
  hosts: all
  vars:
    from_play: "{{ copied }}"
    wrapped: "[{{ from_play }}]"
  tasks:
    - name: play var
      debug: {msg: "{{ wrapped }}"}
"""


def _cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "ajudaplay", *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=120)


def _results(stdout: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for line in stdout.splitlines():
        event = json.loads(line)
        if event["event"] == "task_result":
            found.setdefault(event["task"], []).append(event)
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "payload.txt").write_text(PAYLOAD + "\n")
    (tmp_path / "page.j2").write_text("out={{ out.stdout }}|copied={{ copied }}\n")
    (tmp_path / "inv.yml").write_text(INVENTORY.format(lock=tmp_path / "web.lock"))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    return tmp_path


def test_registered_command_output_arrives_literally_everywhere(project: Path) -> None:
    dest = project / "page.txt"
    done = _cli(project, "run", "play.yml", "-i", "inv.yml", "--output", "json", "--no-journal",
                "-e", f"dest={dest}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    results = _results(done.stdout)
    assert all(r["status"] in ("ok", "changed") for rs in results.values() for r in rs), results
    assert results["read"][0]["status"] == "changed"  # changed_when read the registered value
    for task in ("show", "via task var", "show copied"):
        assert results[task][0]["msg"] == PAYLOAD, (task, results[task])
    assert [r["msg"] for r in results["each line"][0]["data"]["results"]] == LINES
    assert results["when on data"][0]["msg"] == "go " + LINES[0]
    assert results["play var"][0]["msg"] == f"[{PAYLOAD}]"
    assert dest.read_text() == f"out={PAYLOAD}|copied={PAYLOAD}\n"
    assert SECRET not in done.stdout + done.stderr + dest.read_text()
    assert "********" not in done.stdout  # nothing was substituted (and then masked)


def test_assert_refuses_an_expression_that_a_template_produced(project: Path) -> None:
    (project / "play.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - {name: read, shell: \"cat {{ playbook_dir }}/payload.txt\", register: out}\n"
        "    - name: bad assert\n"
        "      assert: {that: \"'{{ out.stdout_lines[0] }}' != ''\"}\n"
        "      ignore_errors: true\n"
        "    - name: good assert\n"
        "      assert: {that: \"out.stdout_lines[0] == '{' ~ '{ secret_var }}'\"}\n"
    )
    done = _cli(project, "run", "play.yml", "-i", "inv.yml", "--output", "json", "--no-journal")
    results = _results(done.stdout)
    bad = results["bad assert"][0]
    assert bad["status"] == "ignored" and "is data and is not evaluated" in bad["msg"], bad
    assert results["good assert"][0]["status"] == "ok", results["good assert"]
    assert SECRET not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def test_a_play_var_may_read_a_later_one_each_rendered_once(h: Harness) -> None:
    summary = h.run(
        "- hosts: all\n"
        "  vars:\n"
        "    url: \"{{ base }}/health\"\n"
        "    base: \"http://{{ host }}\"\n"
        "    host: api\n"
        "    raw: \"{{ '{{' }} not rendered }}\"\n"
        "    copy: \"{{ raw }}\"\n"
        "    path: /srv\n"
        "  tasks:\n"
        "    - name: show\n"
        "      debug: {msg: \"{{ url }} {{ copy }} {{ path }}\"}\n"
        "      vars: {path: \"{{ path }}/app\"}\n",
        fakes(1),
    )
    assert summary.exit_code == 0, h.collector.events
    (result,) = h.collector.results("show")
    assert result.result.msg == "http://api/health {{ not rendered }} /srv/app"


def test_a_cycle_between_vars_is_a_clear_error(h: Harness) -> None:
    summary = h.run(
        "- hosts: all\n  vars: {a: \"{{ b }}\", b: \"x{{ c }}\", c: \"{{ a }}\"}\n"
        "  tasks:\n    - {name: show, debug: {msg: \"{{ a }}\"}}\n",
        fakes(1),
    )
    (result,) = h.collector.results("show")
    assert summary.exit_code != 0 and result.status == "failed"
    assert "vars reference each other in a cycle: a -> b -> c -> a" in result.error, result.error


def test_output_naming_a_secret_is_never_substituted(project: Path) -> None:
    (project / "payload.txt").write_text("token={{ secret_var }}\n")
    (project / "play.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - {name: read, shell: \"cat {{ playbook_dir }}/payload.txt\", register: out}\n"
        "    - {name: set, set_vars: {copied: \"{{ out.stdout }}\"}}\n"
        "- hosts: all\n  vars: {from_play: \"{{ copied }}\"}\n  tasks:\n"
        "    - name: show\n"
        "      debug: {msg: \"{{ via }}\"}\n"
        "      vars: {via: \"{{ from_play }}\"}\n"
    )
    done = _cli(project, "run", "play.yml", "-i", "inv.yml", "--output", "json", "--no-journal")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert _results(done.stdout)["show"][0]["msg"] == "token={{ secret_var }}"
    assert "********" not in done.stdout and SECRET not in done.stdout
