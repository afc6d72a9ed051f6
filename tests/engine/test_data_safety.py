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
    assert [r["msg"] for r in results["each line"]] == LINES  # one task_result per loop item
    assert [r["item"] for r in results["each line"]] == LINES
    assert results["when on data"][0]["msg"] == "go " + LINES[0]
    assert results["play var"][0]["msg"] == f"[{PAYLOAD}]"
    assert dest.read_text() == f"out={PAYLOAD}|copied={PAYLOAD}\n"
    assert SECRET not in done.stdout + done.stderr + dest.read_text()
    assert "********" not in done.stdout  # nothing was substituted (and then masked)


def test_assert_with_a_templated_expression_is_refused_before_anything_runs(project: Path) -> None:
    (project / "play.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - {name: read, shell: \"cat {{ playbook_dir }}/payload.txt\", register: out}\n"
        "    - name: bad assert\n"
        "      assert: {that: \"'{{ out.stdout_lines[0] }}' != ''\"}\n"
    )
    for command in (["validate"], ["run", "--no-journal"]):
        done = _cli(project, *command, "play.yml", "-i", "inv.yml")
        out = done.stdout + done.stderr
        assert done.returncode == 3, out
        assert "play.yml:5:22: assert.that: write the expression bare, without {{ }}" in out, out
    assert not (project / "web.lock").exists()


def test_a_bare_assert_over_registered_data_compares_it_literally(project: Path) -> None:
    (project / "play.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - {name: read, shell: \"cat {{ playbook_dir }}/payload.txt\", register: out}\n"
        "    - name: good assert\n"
        "      assert: {that: [\"out.stdout_lines[0] == '{' ~ '{ secret_var }}'\", \"'.Values' in out.stdout\"]}\n"
    )
    done = _cli(project, "run", "play.yml", "-i", "inv.yml", "--output", "json", "--no-journal")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert _results(done.stdout)["good assert"][0]["status"] == "ok"
    assert SECRET not in done.stdout + done.stderr


def test_a_refused_expression_that_reaches_the_action_fails_the_step() -> None:
    """Defence in depth: `assert` and `debug var` refuse Data even if preflight was skipped."""
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.actions.control import run_assert, run_debug
    from ajudaplay.templating import Templar, as_data

    templar = Templar()
    ctx = ActionContext(target=None, step=None, vars={}, render=lambda v: templar.render(v, {}))  # type: ignore[arg-type]
    for run, args, what in ((run_assert, {"that": as_data("1 == 1")}, "assert.that[0]"),
                            (run_debug, {"var": as_data("x")}, "debug.var")):
        with pytest.raises(Exception) as caught:
            run(ctx, args)
        assert f"{what} was produced by a template, so it is data" in str(caught.value)


def test_a_var_cycle_is_refused_by_validate_too(project: Path) -> None:
    (project / "play.yml").write_text(
        "- hosts: all\n  vars: {a: \"{{ b }}\", b: \"x{{ a }}\"}\n"
        "  tasks:\n    - {name: show, debug: {msg: \"{{ a }}\"}}\n"
    )
    done = _cli(project, "validate", "play.yml")
    assert done.returncode == 3 and "vars reference each other in a cycle: a -> b -> a" in done.stdout + done.stderr


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


def test_a_cycle_between_vars_is_a_clear_error() -> None:
    from ajudaplay.engine.variables import render_layer
    from ajudaplay.errors import Mark, TemplateError
    from ajudaplay.templating import Templar

    context: dict[str, Any] = {}
    with pytest.raises(TemplateError) as caught:
        render_layer(Templar(), {"a": "{{ b }}", "b": "x{{ c }}", "c": "{{ a }}"}, context, Mark("p.yml", 2, 3))
    assert str(caught.value).startswith("p.yml:2:3: vars reference each other in a cycle: a -> b -> c -> a")
    assert context == {}  # nothing half-rendered


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
