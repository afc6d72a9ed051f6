"""Arguments known before the run: what the action itself accepts is never refused, what it refuses is.

In-process through `engine.preflight.validate` (the code `run` and `validate -i`
share) with the shipped actions; tests/cli/test_validate_equals_run.py runs
the CLI both ways.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ajudaplay.actions.base import Registry, default_registry
from ajudaplay.engine.argcheck import coerce
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.preflight import validate

INVENTORY = """
vars: {replicas_text: "3", flag: "yes", seconds: "30", revision: previous, port: 8080}
targets:
  c:
    fake: {}
    services: {api: {}}
  box:
    host: "@local"
"""


@pytest.fixture(scope="module")
def shipped() -> Registry:
    return default_registry()


def _problems(tmp_path: Path, registry: Registry, playbook: str, **options: object) -> list[str]:
    (tmp_path / "inv.yml").write_text(INVENTORY)
    (tmp_path / "p.yml").write_text(playbook)
    found = validate([tmp_path / "p.yml"], registry, tmp_path / "inv.yml", RunOptions(**options))  # type: ignore[arg-type]
    return [str(d) for d in found.diagnostics]


def test_values_the_actions_accept_are_not_refused(tmp_path: Path, shipped: Registry) -> None:
    problems = _problems(tmp_path, shipped, """
- hosts: c
  tasks:
    - scale: {service: api, replicas: "{{ replicas_text }}", timeout: "{{ seconds }}"}
    - deploy: {service: api, image: "app:{{ replicas_text }}", atomic: "{{ flag }}", timeout: "{{ none_given | default('') }}"}
    - rollback: {service: api, to_revision: "{{ revision }}"}
    - scale: {service: api, replicas: "{{ extra_n }}"}
- hosts: box
  tasks:
    - wait_for: {port: "{{ port }}", timeout: 1}
    - status: {service: "not-a-service-on-a-host"}
""", extra_vars={"extra_n": "4"})
    assert problems == []


def test_refusals_name_the_argument_the_value_and_the_target(tmp_path: Path, shipped: Registry) -> None:
    problems = _problems(tmp_path, shipped, """
- hosts: c
  tasks:
    - deploy: {service: api, image: "app:1", atomic: "{{ flag_x }}"}
    - scale: {service: api, replicas: "{{ n }}"}
""", extra_vars={"flag_x": "maybe", "n": "1.5"})
    assert problems == [
        f"{tmp_path}/p.yml:4:54: deploy.atomic: expected true or false, got string 'maybe'"
        " (rendered from '{{ flag_x }}') (on target c)\n"
        "    hint: the value is known before the run (-e, inventory or play vars): fix it there",
        f"{tmp_path}/p.yml:5:39: scale.replicas: expected an integer, got string '1.5'"
        " (rendered from '{{ n }}') (on target c)\n"
        "    hint: the value is known before the run (-e, inventory or play vars): fix it there",
    ]


def test_a_name_set_at_run_time_is_not_known_unless_given_with_e(tmp_path: Path, shipped: Registry) -> None:
    playbook = """
- hosts: c
  vars: {wanted: "{{ n }}"}
  tasks:
    - {name: probe, status: {service: api}, register: n}
    - scale: {service: api, replicas: "{{ wanted }}"}
"""
    assert _problems(tmp_path, shipped, playbook) == []  # `wanted` reads `n`, which `register` defines
    given = _problems(tmp_path, shipped, playbook, extra_vars={"n": "many"})
    assert len(given) == 1 and "scale.replicas: expected an integer, got string 'many'" in given[0]


def test_skipped_tasks_are_not_checked(tmp_path: Path, shipped: Registry) -> None:
    playbook = """
- hosts: c
  tasks:
    - {name: a, scale: {service: nope, replicas: 1}, tags: [risky]}
    - {name: b, scale: {service: api, replicas: "{{ flag }}"}, when: flag == 'no'}
    - {name: c, status: {service: api}}
"""
    assert _problems(tmp_path, shipped, playbook, skip_tags=["risky"]) == []
    assert _problems(tmp_path, shipped, playbook, start_at_step="c") == []
    assert len(_problems(tmp_path, shipped, playbook)) == 1  # the unknown service of task a


@pytest.mark.parametrize("value,prop,expected", [
    ("3", {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "\\{\\{"}]}, 3),
    (" 7 ", {"type": "integer"}, 7),
    ("2.5", {"type": "number"}, 2.5),
    ("off", {"type": "boolean"}, False),
    (8080, {"type": "string"}, "8080"),
    ("abc", {"type": "integer"}, "abc"),
    ("previous", {"anyOf": [{"type": "integer"}, {"type": "string"}]}, "previous"),
])
def test_coerce_reads_values_as_the_actions_do(value: object, prop: dict[str, object], expected: object) -> None:
    assert coerce(value, prop) == expected and type(coerce(value, prop)) is type(expected)


def test_a_static_loop_is_checked_item_by_item(tmp_path: Path, shipped: Registry) -> None:
    problems = _problems(tmp_path, shipped, """
- hosts: c
  tasks:
    - name: restart each
      restart: {service: "{{ item }}"}
      loop: [api, nginx, web]
      when: item != 'web'
    - name: by result
      restart: {service: "{{ item }}"}
      loop: "{{ st.services | default([]) }}"
    - {name: st, status: {service: api}, register: st}
""")
    assert len(problems) == 1 and "restart.service: unknown service 'nginx'" in problems[0]
