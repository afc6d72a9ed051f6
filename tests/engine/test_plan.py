"""The plan stage: listing, validate and run agree on one Plan for tricky playbooks.

Each test builds the Plan the CLI builds (`Runner.preflight`), prints the
listings from it, runs it on fake targets and compares what the run did
(TaskStarted/TaskResult events: which task on which targets, in which batch)
with what the Plan and the listings said.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ajudaplay.actions.base import Registry, default_registry
from ajudaplay.engine.events import PlayStarted, TaskStarted
from ajudaplay.engine.listing import list_targets, list_tasks
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.plan import Plan
from ajudaplay.engine.plan_walk import leaves
from ajudaplay.engine.preflight import validate
from ajudaplay.engine.run import Runner
from ajudaplay.errors import InvalidInput
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.playbook.loader import load_playbook

from .conftest import Collector, Harness, fakes

LOCK = "acquire lock"


def started(collector: Collector) -> list[tuple[str, list[str], bool]]:
    """(task, targets, handler) of every task the run started, lock pseudo-task left out."""
    return [(e.task, list(e.targets), e.handler) for e in collector.events
            if isinstance(e, TaskStarted) and e.task != LOCK]


def listed_tasks(plan: Plan) -> list[str]:
    """The task names --list-tasks prints (header lines and handlers left out)."""
    return [line.strip().split("    TAGS:")[0] for line in list_tasks(plan)
            if line.startswith("    ") and "TAGS:" in line]


def plan_and_run(h: Harness, playbook: str, inventory: str, **options: Any) -> tuple[Plan, Collector]:
    """The listing's Plan (templates unchecked, as the CLI builds it), then a real run of the same inputs."""
    listing = h.runner(playbook, inventory, **options).preflight(templates=False)
    h.run(playbook, inventory, **options)
    return listing, h.collector


TAGGED = """
- name: tagged
  hosts: all
  tags: [play]
  tasks:
    - {name: top, debug: {msg: top}}
    - block:
        - {name: inner-a, debug: {msg: a}}
        - block:
            - {name: deep, debug: {msg: deep}, tags: [deeper]}
          tags: [inner]
        - {name: failing, fail: {msg: boom}, tags: [inner]}
      rescue:
        - {name: rescuer, debug: {msg: rescued}, tags: [inner]}
      always:
        - {name: finally, debug: {msg: always}}
      tags: [outer]
    - {name: marked, debug: {msg: x}, tags: [never, debugging]}
    - {name: kept, debug: {msg: kept}, tags: [always]}
"""


@pytest.mark.parametrize(("options", "expected"), [
    ({}, ["top", "inner-a", "deep", "failing", "rescuer", "finally", "kept"]),
    ({"tags": ["inner"]}, ["deep", "failing", "rescuer", "kept"]),
    ({"tags": ["outer"], "skip_tags": ["deeper"]}, ["inner-a", "failing", "rescuer", "finally", "kept"]),
    ({"tags": ["debugging"]}, ["marked", "kept"]),
    ({"skip_tags": ["always", "play"]}, []),
])
def test_tags_inherited_through_blocks_agree(h: Harness, options: dict[str, Any], expected: list[str]) -> None:
    plan, run = plan_and_run(h, TAGGED, fakes(2), **options)
    planned = plan.plays[0]
    assert [n.task.name for n in planned.task_leaves() if planned.listed(n)] == expected
    assert listed_tasks(plan) == expected
    assert [task for task, _, _ in started(run)] == expected  # `failing` fails, `rescuer` rescues it
    assert {n.task.name: n.tags for n in planned.task_leaves()}["deep"] == {"play", "outer", "inner", "deeper"}


def test_check_mode_runs_the_plan_the_listing_shows(h: Harness) -> None:
    plan, run = plan_and_run(h, TAGGED, fakes(2), check=True, tags=["outer"])
    assert [task for task, _, _ in started(run)] == listed_tasks(plan)
    assert listed_tasks(plan) == ["inner-a", "deep", "failing", "rescuer", "finally", "kept"]


HANDLERS = """
- name: with handlers
  hosts: all
  serial: 1
  tasks:
    - {name: change, echo: {x: 1}, changed_when: "inventory_hostname == 't1'", notify: [restart it]}
    - {name: tagged change, echo: {x: 2}, changed_when: true, notify: [audit], tags: [extra]}
  handlers:
    - {name: restart it, debug: {msg: restart}}
    - {name: audit, debug: {msg: audit}, listen: [audit]}
"""


def test_handlers_are_planned_listed_and_run_without_tag_filtering(h: Harness) -> None:
    plan, run = plan_and_run(h, HANDLERS, fakes(2), skip_tags=["extra"])
    planned = plan.plays[0]
    assert [n.task.name for n in leaves(planned.handlers)] == ["restart it", "audit"]
    assert all(n.handler and planned.listed(n) for n in leaves(planned.handlers))
    assert [line.strip() for line in list_tasks(plan) if "handler:" in line] == ["handler: restart it", "handler: audit"]
    assert started(run) == [("change", ["t1"], False), ("restart it", ["t1"], True), ("change", ["t2"], False)]


SERIAL = """
- name: rolling
  hosts: all
  serial: [1, "50%"]
  tasks:
    - {name: prepare, debug: {msg: p}}
    - {name: switch, debug: {msg: s}}
    - {name: verify, debug: {msg: v}}
- name: second
  hosts: t2,t4
  tasks:
    - {name: after, debug: {msg: a}}
"""


@pytest.mark.parametrize("limit", [None, "all:!t3"])
def test_serial_batches_and_limit_agree(h: Harness, limit: str | None) -> None:
    plan, run = plan_and_run(h, SERIAL, fakes(5), limit=limit)
    expected = ["t1", "t2", "t3", "t4", "t5"] if limit is None else ["t1", "t2", "t4", "t5"]
    assert plan.selections[0] == expected
    assert [e.targets for e in run.events if isinstance(e, PlayStarted)] == plan.selections
    assert list_targets(plan)[1:] == [f"  play #1 (all): rolling    TARGETS: {len(expected)}",
                                      *(f"    {n}" for n in expected),
                                      "  play #2 (t2,t4): second    TARGETS: 2", "    t2", "    t4"]
    batches = [tuple(targets) for task, targets, _ in started(run) if task == "prepare"]
    assert batches == list(plan.plays[0].batches)
    assert plan.plays[0].batches == ((("t1",), ("t2", "t3"), ("t4", "t5")) if limit is None
                                     else (("t1",), ("t2", "t4"), ("t5",)))


def test_start_at_step_skips_in_the_first_batch_only_as_the_run_does(h: Harness) -> None:
    plan, run = plan_and_run(h, SERIAL, fakes(4), start_at_step="switch")
    planned = plan.plays[0]
    first, *later = planned.batches
    assert first == ("t1",)
    ran = started(run)
    names = [n.task.name for n in planned.task_leaves()]
    for number, batch in enumerate(planned.batches):
        runs = [n.task.name for n in planned.task_leaves() if planned.runs(n, number)]
        assert [task for task, targets, _ in ran if targets == list(batch)] == runs
    assert [task for task, targets, _ in ran if targets == ["t1"]] == ["switch", "verify"]
    assert [task for task, targets, _ in ran if targets == ["t2", "t3"]] == names
    assert listed_tasks(plan) == [*names, "after"]  # `prepare` runs in the later batches: listed


def test_start_at_step_in_a_later_play_skips_the_earlier_plays(h: Harness) -> None:
    plan, run = plan_and_run(h, SERIAL, fakes(4), start_at_step="after")
    assert listed_tasks(plan) == ["after"]
    assert started(run) == [("after", ["t2", "t4"], False)]


def test_start_at_step_without_serial_is_honoured_by_the_listing(h: Harness) -> None:
    plan, run = plan_and_run(h, TAGGED, fakes(1), start_at_step="failing")
    assert listed_tasks(plan) == ["failing", "rescuer", "finally", "kept"]
    assert [task for task, _, _ in started(run)] == listed_tasks(plan)


def test_when_decided_before_the_run_only_when_it_can_be(h: Harness) -> None:
    playbook = """
- hosts: all
  vars: {plain: 3, templated: "{{ other }}", other: 1, later: 0}
  tasks:
    - {name: literal, debug: {msg: x}, when: "1 == 2"}
    - {name: extra, debug: {msg: x}, when: "wanted == 'yes'"}
    - {name: play var, debug: {msg: x}, when: "plain > 2"}
    - {name: templated, debug: {msg: x}, when: "templated == 1"}
    - {name: inventory, debug: {msg: x}, when: "inventory_hostname == 't1'"}
    - {name: registered, debug: {msg: x}, register: later, when: "later == 0"}
    - {name: looped, debug: {msg: x}, loop: [1, 2], when: "item == 1"}
    - block:
        - {name: in block, debug: {msg: x}, when: "plain == 3"}
      when: "wanted == 'no'"
    - {name: unconditional, debug: {msg: x}}
"""
    plan = h.runner(playbook, fakes(1), extra_vars={"wanted": "yes"}).preflight()
    decided = {n.task.name: n.when for n in plan.plays[0].task_leaves()}
    assert decided == {"literal": False, "extra": True, "play var": True, "templated": None, "inventory": None,
                       "registered": None, "looped": None, "in block": False, "unconditional": True}


def test_inventory_variables_are_rendered_once_per_target(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from ajudaplay.engine import variables

    calls: list[str] = []
    original = variables.target_vars

    def counting(templar: Any, inventory: Any, target: str, extra: Any) -> dict[str, Any]:
        calls.append(target)
        return original(templar, inventory, target, extra)

    monkeypatch.setattr(variables, "target_vars", counting)
    inventory = "vars: {url: 'https://{{ inventory_hostname }}.example'}\n" + fakes(2)
    summary = h.run("""
- hosts: all
  tasks:
    - {name: show, echo: {url: "{{ url }}"}}
- hosts: t1
  tasks:
    - {name: again, echo: {url: "{{ url }}"}}
""", inventory)
    assert summary.exit_code == 0
    assert sorted(calls) == ["t1", "t2"]
    assert h.collector.results("show", "t2")[0].result.data["args"] == {"url": "https://t2.example"}


@pytest.fixture(scope="module")
def shipped() -> Registry:
    return default_registry()


def test_validate_refuses_what_a_later_batch_would_fail_on(tmp_path: Path, shipped: Registry) -> None:
    """--start-at-step skips `check` in the first batch only: validate -i checks it for the later batch."""
    playbook = tmp_path / "p.yml"
    playbook.write_text("""
- hosts: all
  serial: 1
  vars: {svc: nope}
  tasks:
    - {name: check, status: {service: "{{ svc }}"}}
    - {name: go, status: {service: api}}
""")
    inventory = tmp_path / "inv.yml"
    inventory.write_text(fakes(2))
    options = RunOptions(start_at_step="go")
    found = validate([playbook], shipped, inventory, options)
    assert [d.message for d in found.diagnostics] == [
        "status.service: unknown service 'nope': not in the inventory's services of t2 (on target t2)"]
    runner = Runner(load_playbook(playbook, shipped), load_inventory(inventory), shipped, options, [])
    with pytest.raises(InvalidInput) as refused:
        runner.run()
    assert "unknown service 'nope'" in str(refused.value)
