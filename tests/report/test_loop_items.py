"""Loops report per item, as Ansible does: one console line, one `task_result` event, one JUnit
test case `TASK (item=…)` and one journal row per item, showing `loop_control.label` when given,
with secrets masked (the label and the item are output like any other value).

The real CLI runs in a subprocess on a fake target (kind "fake": what is tested is the engine
and its reporters, not a target); its console, JSON Lines, JUnit XML and journal are read back.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.cli.conftest import Project, events

SECRET = "l00p-s3cret-4417"

PLAYBOOK = """\
- name: loops
  hosts: all
  tasks:
    - name: users
      debug: {msg: "user {{ item.name }}"}
      loop:
        - {name: alice, password: "{{ db_password }}"}
        - {name: bob, password: "{{ db_password }}"}
      loop_control: {label: "{{ item.name }}"}
    - name: plain
      debug: {msg: "n={{ n }}"}
      loop: [1, 2, 3]
      loop_control: {loop_var: n}
      when: n != 2
    - name: leaky label
      debug: {msg: "shown"}
      loop: [x]
      loop_control: {label: "{{ item }}-{{ db_password }}"}
    - name: one fails
      fail: {msg: "item {{ item }} is bad"}
      when: item == "b"
      loop: [a, b, c]
"""

INVENTORY_EXTRA = f"""\
vars:
  db_password: {SECRET}
secrets:
  vars: [db_password]
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.state.mkdir()
    p.inventory({"a": {}}, INVENTORY_EXTRA)
    p.write("loops.yml", PLAYBOOK)
    return p


def test_console_prints_one_line_per_item_with_its_label(project: Project) -> None:
    done = project.run("run", "loops.yml", "-i", "test")
    assert done.returncode == 2, done.stdout + done.stderr  # "one fails" fails on item b
    out = done.stdout
    assert SECRET not in out + done.stderr
    assert "ok: [a] (item=alice) user alice" in out
    assert "ok: [a] (item=bob) user bob" in out
    assert "ok: [a] (item=1) n=1" in out
    assert "skipped: [a] (item=2)" in out
    assert "ok: [a] (item=3) n=3" in out
    assert "ok: [a] (item=x-********) shown" in out  # a label with a secret in it is masked
    assert "skipped: [a] (item=a)" in out
    assert "failed: [a] (item=b) item b is bad" in out
    assert "(item=c)" not in out  # a failed item stops the loop, as in Ansible
    assert "failed: [a] one fails (item=b): item b is bad" in out  # the recap's failure names the item
    assert out.count("TASK [users]") == 1


def test_json_lines_have_one_task_result_per_item(project: Project) -> None:
    done = project.run("run", "loops.yml", "-i", "test", "--output", "json")
    assert SECRET not in done.stdout
    results = [e for e in events(done.stdout) if e["event"] == "task_result"]
    assert [(e["task"], e["item"], e["status"]) for e in results] == [
        ("users", "alice", "ok"), ("users", "bob", "ok"),
        ("plain", 1, "ok"), ("plain", 2, "skipped"), ("plain", 3, "ok"),
        ("leaky label", "x-********", "ok"),
        ("one fails", "a", "skipped"), ("one fails", "b", "failed"),
    ]
    end = events(done.stdout)[-1]
    assert end["event"] == "run_end"
    # every item counts once in the run's stats, as it does in the journal
    assert end["stats"]["a"]["ok"] == 2 + 2 + 1  # users x2, plain x2, leaky label
    assert end["stats"]["a"]["skipped"] == 2 and end["stats"]["a"]["failed"] == 1


def test_junit_has_one_test_case_per_item(project: Project) -> None:
    report = project.root / "junit.xml"
    project.run("run", "loops.yml", "-i", "test", "--junit", str(report))
    text = report.read_text()
    assert SECRET not in text
    names = [case.get("name") for case in ET.fromstring(text).iter("testcase")]
    assert names == [
        "users (item=alice)", "users (item=bob)",
        "plain (item=1)", "plain (item=2)", "plain (item=3)", "leaky label (item=x-********)",
        "one fails (item=a)", "one fails (item=b)",
    ]
    failed = [case.get("name") for case in ET.fromstring(text).iter("testcase") if case.find("failure") is not None]
    assert failed == ["one fails (item=b)"]


def test_journal_keeps_a_row_per_item_and_show_prints_them(project: Project) -> None:
    done = project.run("run", "loops.yml", "-i", "test", "--output", "json")
    run_id = events(done.stdout)[0]["run_id"]
    shown = project.run("show", run_id, "--output", "json")
    assert SECRET not in shown.stdout
    rows = [(r["task"], r["item"]) for r in json.loads(shown.stdout)["results"] if r["task"] == "users"]
    assert rows == [("users", "alice"), ("users", "bob")]
    table = project.run("show", run_id).stdout
    assert "(item=alice) user alice" in table and "(item=bob) user bob" in table


def test_registered_loop_results_keep_the_whole_item(project: Project) -> None:
    """The label is for output only: `register` still holds each item in full (its secret masked when printed)."""
    project.write("reg.yml", """\
        - name: reg
          hosts: all
          tasks:
            - name: loop
              debug: {msg: "{{ item.k }}"}
              loop: [{k: one, v: 1}, {k: two, v: 2}]
              loop_control: {label: "{{ item.k }}"}
              register: looped
            - name: sum
              debug: {msg: "{{ looped.results | map(attribute='item') | map(attribute='v') | sum }}"}
        """)
    done = project.run("run", "reg.yml", "-i", "test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: [a] 3" in done.stdout
