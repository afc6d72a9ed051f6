"""The run: order, parallel fan-out, forks, serial, failures, max_fail, locks, check mode."""

from __future__ import annotations

from ajudaplay.engine.events import Message, PlayStarted, RunFinished, RunStarted, TaskStarted
from ajudaplay.engine.play import batch_sizes
from ajudaplay.exitcodes import ExitCode
from tests.engine.conftest import Harness, fakes


def _overlap(intervals: list[tuple[float, float]]) -> bool:
    """True when every interval overlaps every other (all ran at the same time)."""
    latest_start = max(s for s, _ in intervals)
    earliest_end = min(e for _, e in intervals)
    return latest_start < earliest_end


def test_tasks_run_in_order_on_every_target(h: Harness) -> None:
    summary = h.run(
        """
        - hosts: all
          tasks:
            - {name: one, deploy: {service: api, image: "app:1"}}
            - {name: two, status: {service: api}}
            - {name: three, restart: {service: api}}
        """,
        fakes(3),
    )
    assert summary.exit_code == ExitCode.OK
    for target in h.targets.values():
        assert target.methods() == ["open", "acquire_lock", "deploy", "status", "restart", "release_lock", "close"]
    events = h.collector.events
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    started = [e.task for e in events if isinstance(e, TaskStarted)]
    assert started == ["acquire lock", "one", "two", "three"]
    assert h.collector.finished.stats["t1"].changed == 2  # deploy + restart


def test_fan_out_is_concurrent(h: Harness) -> None:
    h.run("- hosts: all\n  tasks:\n    - {name: s, status: {service: api}}\n", fakes(6, delay=0.4))
    calls = [c for t in h.targets.values() for c in t.calls if c.method == "status"]
    assert len(calls) == 6
    assert _overlap([(c.started, c.ended) for c in calls])


def test_forks_bound_concurrency(h: Harness) -> None:
    h.run("- hosts: all\n  tasks:\n    - {name: s, status: {service: api}}\n", fakes(6, delay=0.2), forks=2)
    calls = sorted((c.started, c.ended) for t in h.targets.values() for c in t.calls if c.method == "status")
    for start, _ in calls:  # never more than 2 running at the same moment
        running = sum(1 for s, e in calls if s <= start < e)
        assert running <= 2
    assert max(sum(1 for s, e in calls if s <= start < e) for start, _ in calls) == 2


def test_next_task_waits_for_all_targets(h: Harness) -> None:
    h.run(
        "- hosts: all\n  tasks:\n    - {name: a, status: {service: api}}\n    - {name: b, restart: {service: api}}\n",
        fakes(3, delay=0.1),
    )
    a_end = max(c.ended for t in h.targets.values() for c in t.calls if c.method == "status")
    b_start = min(c.started for t in h.targets.values() for c in t.calls if c.method == "restart")
    assert b_start >= a_end


def test_batch_sizes() -> None:
    assert batch_sizes([], 5) == [5]
    assert batch_sizes([2], 5) == [2, 2, 1]
    assert batch_sizes(["50%"], 4) == [2, 2]
    assert batch_sizes([1, "50%"], 5) == [1, 2, 2]
    assert batch_sizes(["10%"], 3) == [1, 1, 1]


def test_serial_percentages_round_down_like_ansible() -> None:
    """On the rounding boundary: 30% of 5 is 1.5 -> 1 (never 2), 50% of 5 is 2.5 -> 2, 99% of 2 -> 1."""
    assert batch_sizes(["30%"], 5) == [1, 1, 1, 1, 1]
    assert batch_sizes(["50%"], 5) == [2, 2, 1]
    assert batch_sizes(["99%"], 2) == [1, 1]
    assert batch_sizes(["100%"], 3) == [3]


def test_serial_30_percent_of_5_runs_batches_of_one(h: Harness) -> None:
    h.run("- hosts: all\n  serial: '30%'\n  tasks:\n    - {name: a, status: {service: api}}\n", fakes(5))
    started = [e.targets for e in h.collector.events if isinstance(e, TaskStarted) and e.task == "a"]
    assert started == [["t1"], ["t2"], ["t3"], ["t4"], ["t5"]]


def test_serial_batches_run_one_after_another(h: Harness) -> None:
    h.run(
        "- hosts: all\n  serial: [1, 2]\n  tasks:\n    - {name: a, status: {service: api}}\n    - {name: b, restart: {service: api}}\n",
        fakes(3),
    )
    t1, t2, t3 = (h.targets[n] for n in ("t1", "t2", "t3"))
    t1_end = next(c.ended for c in t1.calls if c.method == "restart")
    assert all(c.started >= t1_end for c in t2.calls + t3.calls if c.method in ("status", "restart"))
    started = [e.targets for e in h.collector.events if isinstance(e, TaskStarted) and e.task == "a"]
    assert started == [["t1"], ["t2", "t3"]]


def test_failed_target_stops_only_itself(h: Harness) -> None:
    inventory = fakes(2) + "  t3:\n    fake: {fail_on: [deploy]}\n    services: {api: {}}\n"
    summary = h.run(
        "- hosts: all\n  tasks:\n    - {name: d, deploy: {service: api, image: x}}\n    - {name: r, restart: {service: api}}\n",
        inventory,
    )
    assert summary.exit_code == ExitCode.FAILED
    assert "restart" not in h.targets["t3"].methods()
    assert "restart" in h.targets["t1"].methods() and "restart" in h.targets["t2"].methods()
    assert h.collector.status("d", "t3") == "failed"
    assert "fake fail_on" in h.collector.results("d", "t3")[0].error
    assert h.targets["t3"].methods()[-2:] == ["release_lock", "close"]  # released on failure too


def test_max_fail_percentage_stops_the_play(h: Harness) -> None:
    inventory = fakes(2) + "  t3:\n    fake: {fail_on: [deploy]}\n    services: {api: {}}\n"
    summary = h.run(
        """
        - hosts: all
          max_fail_percentage: 20
          tasks:
            - {name: d, deploy: {service: api, image: x}}
            - {name: r, restart: {service: api}}
        - hosts: all
          tasks:
            - {name: later, status: {service: api}}
        """,
        inventory,
    )
    assert summary.exit_code == ExitCode.FAILED
    assert all("restart" not in t.methods() for t in h.targets.values())
    assert all("status" not in t.methods() for t in h.targets.values())


MAX_FAIL_PLAY = """
- hosts: all
  max_fail_percentage: {limit}
  tasks:
    - {{name: d, deploy: {{service: api, image: x}}}}
    - {{name: r, restart: {{service: api}}}}
"""


def _one_of_five_fails() -> str:
    return fakes(4) + "  t5:\n    fake: {fail_on: [deploy]}\n    services: {api: {}}\n"


def test_max_fail_percentage_exactly_at_the_limit_goes_on(h: Harness) -> None:
    """1 of 5 failed is exactly 20%: not *more* than max_fail_percentage 20, so the play continues."""
    summary = h.run(MAX_FAIL_PLAY.format(limit=20), _one_of_five_fails())
    assert summary.exit_code == ExitCode.FAILED  # t5 failed
    assert [n for n, t in sorted(h.targets.items()) if "restart" in t.methods()] == ["t1", "t2", "t3", "t4"]
    assert not [e for e in h.collector.events if isinstance(e, Message) and "max_fail_percentage" in e.text]


def test_max_fail_percentage_just_below_the_failed_share_stops(h: Harness) -> None:
    summary = h.run(MAX_FAIL_PLAY.format(limit=19.9), _one_of_five_fails())
    assert summary.exit_code == ExitCode.FAILED
    assert all("restart" not in t.methods() for t in h.targets.values())
    [stop] = [e.text for e in h.collector.events if isinstance(e, Message) and "max_fail_percentage" in e.text]
    assert "1 of 5 targets failed" in stop


def test_canary_batch_failure_stops_later_batches(h: Harness) -> None:
    inventory = "targets:\n  t1:\n    fake: {fail_on: [deploy]}\n    services: {api: {}}\n" + fakes(2).replace("targets:\n", "").replace("t1", "t8").replace("t2", "t9")
    summary = h.run("- hosts: all\n  serial: 1\n  tasks:\n    - {name: d, deploy: {service: api, image: x}}\n", inventory)
    assert summary.exit_code == ExitCode.FAILED
    assert "deploy" not in h.targets["t8"].methods()
    warnings = [e.text for e in h.collector.events if isinstance(e, Message) and e.level == "warning"]
    assert warnings == ["play 'all': batch failed; 2 target(s) in later batches not run"]


def test_a_single_failed_batch_has_no_later_batches_to_warn_about(h: Harness) -> None:
    inventory = "targets:\n  t1:\n    fake: {fail_on: [deploy]}\n    services: {api: {}}\n"
    h.run("- hosts: all\n  tasks:\n    - {name: d, deploy: {service: api, image: x}}\n", inventory)
    assert not [e for e in h.collector.events if isinstance(e, Message) and e.level == "warning"]


def test_unreachable_target_is_counted_and_others_go_on(h: Harness) -> None:
    inventory = fakes(1) + "  down:\n    fake: {unreachable: true}\n    services: {api: {}}\n"
    summary = h.run("- hosts: all\n  tasks:\n    - {name: s, status: {service: api}}\n", inventory)
    assert summary.exit_code == ExitCode.FAILED
    stats = h.collector.finished.stats
    assert stats["down"].unreachable == 1 and stats["t1"].ok == 2  # the lock step counts, as in the journal
    assert "status" not in h.targets["down"].methods()


def test_lock_held_exits_4_and_names_the_holder(h: Harness) -> None:
    inventory = fakes(1) + "  busy:\n    fake: {lock_held_by: alice@laptop}\n    services: {api: {}}\n"
    summary = h.run("- hosts: all\n  tasks:\n    - {name: s, deploy: {service: api, image: x}}\n", inventory)
    assert summary.exit_code == ExitCode.LOCK_HELD
    assert "alice@laptop" in summary.message
    assert "deploy" not in h.targets["busy"].methods()
    assert "deploy" in h.targets["t1"].methods()
    assert h.collector.finished.outcome == "lock_held"


def test_lock_options_are_passed_and_renewed(h: Harness) -> None:
    h.run("- hosts: all\n  tasks:\n    - {name: s, status: {service: api}}\n", fakes(1, delay=1.6), lock_ttl=3, lock_wait=7)
    calls = h.targets["t1"].calls
    acquire = next(c for c in calls if c.method == "acquire_lock")
    # the engine does the --lock-wait waiting (trying every LOCK_POLL s, reporting progress), not the target
    assert acquire.args["ttl"] == 3 and acquire.args["wait"] == 0
    assert "renew_lock" in [c.method for c in calls]


def test_play_without_lock_or_target_actions_does_not_connect(h: Harness) -> None:
    h.run("- hosts: all\n  tasks:\n    - debug: {msg: hi}\n", fakes(2))
    assert all(t.methods() == [] for t in h.targets.values())
    h.run("- hosts: all\n  lock: false\n  tasks:\n    - {name: s, status: {service: api}}\n", fakes(1))
    assert h.targets["t1"].methods() == ["open", "status", "close"]


def test_check_mode_passes_check_and_changes_nothing(h: Harness) -> None:
    inventory = "targets:\n  t1:\n    fake: {images: {api: 'app:1'}}\n    services: {api: {}}\n"
    summary = h.run(
        "- hosts: all\n  tasks:\n    - {name: d, deploy: {service: api, image: 'app:2'}}\n    - {name: st, status: {service: api}, register: s}\n"
        "    - {name: show, debug: {msg: '{{ s.image }}'}}\n",
        inventory,
        check=True,
    )
    assert summary.exit_code == ExitCode.OK
    deploy = next(c for c in h.targets["t1"].calls if c.method == "deploy")
    assert deploy.check is True
    assert h.collector.status("d", "t1") == "changed"  # says what would change
    assert h.collector.results("show", "t1")[0].result.msg == "app:1"  # but nothing changed


def test_task_check_mode_false_overrides(h: Harness) -> None:
    h.run("- hosts: all\n  tasks:\n    - {name: d, deploy: {service: api, image: x}, check_mode: false}\n", fakes(1), check=True)
    assert next(c for c in h.targets["t1"].calls if c.method == "deploy").check is False


def test_plays_select_their_targets_and_limit(h: Harness) -> None:
    inventory = fakes(3) + "groups:\n  web: [t1, t2]\n"
    h.run(
        "- hosts: web\n  tasks:\n    - {name: a, status: {service: api}}\n- hosts: t3\n  tasks:\n    - {name: b, status: {service: api}}\n",
        inventory,
        limit="t2:t3",
    )
    plays = [e.targets for e in h.collector.events if isinstance(e, PlayStarted)]
    assert plays == [["t2"], ["t3"]]
    assert "t1" not in h.targets


def test_secrets_are_redacted_in_every_event(h: Harness) -> None:
    """Inventory secrets and secret extra vars, in task names, messages, loop items, data, lists."""
    inventory = fakes(1) + "vars:\n  db_password: hunter2-secret\nsecrets:\n  vars: [db_password]\n"
    h.run(
        "- hosts: all\n  tasks:\n    - {name: 'show {{ db_password }}', debug: {msg: 'pw={{ db_password }}'}}\n"
        "    - {name: e, exec: {service: api, command: 'login {{ db_password }}'}}\n"
        "    - {name: tok, echo: {header: 'Bearer {{ token }}', lines: ['{{ token }}', ['x {{ token }}']]}}\n"
        "    - {name: each, echo: {v: '{{ item }}'}, loop: ['{{ token }}', 'plain']}\n",
        inventory,
        extra_vars={"token": "tok-abcdef"},
        secret_extra_vars={"token"},
    )
    text = repr(h.collector.events)
    assert "hunter2-secret" not in text and "tok-abcdef" not in text
    assert h.collector.status("e", "t1") == "changed"
    [shown] = [r.task for r in h.collector.results(target="t1") if r.task.startswith("show ")]
    assert shown == "show ********"
    assert h.collector.results("show ********", "t1")[0].result.msg == "pw=********"
    [tok] = h.collector.results("tok", "t1")
    assert tok.result.data["args"] == {"header": "Bearer ********", "lines": ["********", ["x ********"]]}
    each = h.collector.results("each", "t1")  # one result per loop item
    assert [r.item for r in each] == ["********", "plain"]
    assert [r.result.data["item"] for r in each] == ["********", "plain"]


def test_a_numeric_secret_rendered_natively_is_masked_in_data(h: Harness) -> None:
    """`{{ pin }}` alone renders to the int itself: registered data must not carry it either."""
    inventory = fakes(1) + "vars:\n  pin: 9876543\nsecrets:\n  vars: [pin]\n"
    h.run("- hosts: all\n  tasks:\n    - {name: e, echo: {n: '{{ pin }}', other: 42}}\n"
          "    - {name: d, debug: {msg: '{{ pin }}'}}\n", inventory)
    assert "9876543" not in repr(h.collector.events)
    assert h.collector.results("e", "t1")[0].result.data["args"] == {"n": "********", "other": 42}
    assert h.collector.results("d", "t1")[0].result.data == {"msg": "********"}


def test_internal_error_in_action_fails_step_not_run(h: Harness) -> None:
    summary = h.run("- hosts: all\n  tasks:\n    - {name: b, boom: {}}\n    - {name: after, debug: {msg: x}}\n", fakes(2))
    assert summary.exit_code == ExitCode.FAILED
    assert "internal error: ZeroDivisionError: boom" in h.collector.results("b", "t1")[0].error
    assert h.collector.results("after") == []


def test_timeout_fails_the_step_and_cancels(h: Harness) -> None:
    summary = h.run("- hosts: all\n  tasks:\n    - {name: slow, status: {service: api}, timeout: 0.2}\n", fakes(1, delay=5))
    assert summary.exit_code == ExitCode.FAILED
    result = h.collector.results("slow", "t1")[0]
    assert "timed out after 0.2s" in result.error
    assert result.duration < 2


def test_a_controller_action_run_inside_the_service_connects_and_locks_the_target(h: Harness) -> None:
    """`http`/`dns` run on the controller, but `from: service` runs them inside the target's service:
    the engine must open, lock, release and close the target for them as for any target action."""
    from ajudaplay.actions.base import default_registry

    shipped = default_registry()
    for name in ("http", "dns"):
        h.registry.register(shipped.actions[name])
    h.run(
        """
        - hosts: all
          tasks:
            - {name: inside, http: {url: "http://127.0.0.1:8080/health", from: service, service: api}, ignore_errors: true}
            - {name: names, dns: {names: [localhost], service: api}, ignore_errors: true}
        """,
        fakes(1),
    )
    [target] = h.targets.values()
    methods = target.methods()
    assert methods[:2] == ["open", "acquire_lock"] and methods[-2:] == ["release_lock", "close"], methods
    assert "exec" in methods, methods


def test_a_controller_action_from_the_controller_leaves_the_target_alone(h: Harness) -> None:
    h.run("- hosts: all\n  tasks:\n    - {name: here, debug: {msg: hi}}\n", fakes(1))
    [target] = h.targets.values()
    assert "acquire_lock" not in target.methods() and "exec" not in target.methods()
