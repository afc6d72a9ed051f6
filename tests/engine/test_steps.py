"""Task keywords: when, loop, register, retries/until, changed_when/failed_when, ignore_errors,
blocks, handlers, tags, start-at-step, variable precedence."""

from __future__ import annotations

import pytest

from ajudaplay.engine.selection import tag_selected
from ajudaplay.exitcodes import ExitCode
from tests.engine.conftest import Harness, fakes


def msgs(h: Harness, task: str, target: str = "t1") -> list[str]:
    return [r.result.msg for r in h.collector.results(task, target)]


def test_when_list_is_and_and_skips(h: Harness) -> None:
    h.run(
        """
        - hosts: all
          vars: {flag: true, n: 3}
          tasks:
            - {name: "yes", debug: {msg: y}, when: [flag, "n > 2"]}
            - {name: "no", debug: {msg: n}, when: [flag, "n > 5"]}
        """,
        fakes(1),
    )
    assert h.collector.status("yes", "t1") == "ok"
    assert h.collector.status("no", "t1") == "skipped"


def test_loop_register_and_loop_var(h: Harness) -> None:
    h.run(
        """
        - hosts: all
          vars: {images: ["a:1", "b:2"]}
          tasks:
            - name: each
              echo: {value: "{{ img }}"}
              loop: "{{ images }}"
              loop_control: {loop_var: img}
              register: out
            - name: show
              debug: {msg: "{{ out.results | map(attribute='args') | map(attribute='value') | join(',') }}"}
            - name: lit
              echo: {n: "{{ item }}"}
              loop: [1, 2, 3]
              when: item != 2
              register: lit
            - name: count
              debug: {msg: "{{ lit.results | selectattr('skipped') | list | length }}"}
        """,
        fakes(1),
    )
    assert msgs(h, "show") == ["a:1,b:2"]
    assert msgs(h, "count") == ["1"]


def test_native_types_survive_rendering(h: Harness) -> None:
    h.run(
        "- hosts: all\n  vars: {n: 3, l: [1, 2]}\n  tasks:\n    - {name: e, echo: {n: '{{ n }}', l: '{{ l }}', s: 'n={{ n }}'}}\n",
        fakes(1),
    )
    assert h.collector.results("e", "t1")[0].result.data["args"] == {"n": 3, "l": [1, 2], "s": "n=3"}


def test_retries_until(h: Harness) -> None:
    h.run(
        """
        - hosts: all
          tasks:
            - name: poll
              counter: {ok_on: 1}
              register: c
              until: "c.n >= 3"
              retries: 5
              delay: 0
        """,
        fakes(1),
    )
    result = h.collector.results("poll", "t1")[0]
    assert result.status == "ok"
    assert result.result.data["attempts"] == 3


def test_retries_without_until_retry_while_failed(h: Harness) -> None:
    h.run(
        "- hosts: all\n  tasks:\n    - {name: flaky, counter: {ok_on: 2}, retries: 3, delay: 0}\n", fakes(1)
    )
    result = h.collector.results("flaky", "t1")[0]
    assert result.status == "ok" and result.result.data["attempts"] == 2


def test_until_never_true_fails(h: Harness) -> None:
    summary = h.run(
        "- hosts: all\n  tasks:\n    - {name: p, counter: {}, register: r, until: 'r.n > 100', retries: 2, delay: 0}\n", fakes(1)
    )
    assert summary.exit_code == ExitCode.FAILED
    result = h.collector.results("p", "t1")[0]
    assert "not met after 3 attempt(s)" in result.error


def test_changed_when_failed_when_ignore_errors(h: Harness) -> None:
    summary = h.run(
        """
        - hosts: all
          tasks:
            - {name: quiet, exec: {service: api, command: ls}, changed_when: false}
            - {name: judged, exec: {service: api, command: ls}, failed_when: "'ran' in result.stdout", ignore_errors: true}
            - {name: forced, debug: {msg: x}, changed_when: true, register: f}
            - {name: after, debug: {msg: "{{ f.changed }}"}}
        """,
        fakes(1),
    )
    assert summary.exit_code == ExitCode.OK
    assert h.collector.status("quiet", "t1") == "ok"
    assert h.collector.status("judged", "t1") == "ignored"
    assert h.collector.status("forced", "t1") == "changed"
    assert msgs(h, "after") == ["True"]
    assert h.collector.finished.stats["t1"].ignored == 1


def test_block_rescue_always(h: Harness) -> None:
    inventory = fakes(1) + "  bad:\n    fake: {fail_on: [deploy]}\n    services: {api: {}}\n"
    summary = h.run(
        """
        - hosts: all
          tasks:
            - block:
                - {name: d, deploy: {service: api, image: x}}
                - {name: after-d, debug: {msg: in-block}}
              rescue:
                - {name: undo, debug: {msg: rescuing}}
              always:
                - {name: cleanup, debug: {msg: always}}
            - {name: next, debug: {msg: next}}
        """,
        inventory,
    )
    assert summary.exit_code == ExitCode.OK
    c = h.collector
    assert c.status("after-d", "t1") == "ok" and not c.results("after-d", "bad")
    assert c.status("undo", "bad") == "ok" and not c.results("undo", "t1")
    assert c.status("cleanup", "t1") == "ok" and c.status("cleanup", "bad") == "ok"
    assert c.status("next", "bad") == "ok"
    assert c.finished.stats["bad"].rescued == 1 and c.finished.stats["bad"].failed == 0


def test_failed_rescue_and_always_still_runs(h: Harness) -> None:
    summary = h.run(
        """
        - hosts: all
          tasks:
            - block:
                - {name: f1, fail: {msg: first}}
              rescue:
                - {name: f2, fail: {msg: second}}
              always:
                - {name: cleanup, debug: {msg: always}}
            - {name: next, debug: {msg: next}}
        """,
        fakes(1),
    )
    assert summary.exit_code == ExitCode.FAILED
    assert h.collector.status("cleanup", "t1") == "ok"
    assert not h.collector.results("next")


def test_nested_blocks(h: Harness) -> None:
    summary = h.run(
        """
        - hosts: all
          tasks:
            - block:
                - block:
                    - {name: inner-fail, fail: {msg: inner}}
                  rescue:
                    - {name: inner-rescue, fail: {msg: rescue fails too}}
                  always:
                    - {name: inner-always, debug: {msg: ia}}
                - {name: skipped-after, debug: {msg: never}}
              rescue:
                - {name: outer-rescue, debug: {msg: saved}}
              always:
                - {name: outer-always, debug: {msg: oa}}
            - {name: end, debug: {msg: end}}
        """,
        fakes(1),
    )
    assert summary.exit_code == ExitCode.OK
    names = [r.task for r in h.collector.results(target="t1")]
    assert names == ["inner-fail", "inner-rescue", "inner-always", "outer-rescue", "outer-always", "end"]


def test_block_when_and_vars_apply_to_children(h: Harness) -> None:
    h.run(
        """
        - hosts: all
          tasks:
            - block:
                - {name: a, debug: {msg: "{{ colour }}"}}
              vars: {colour: blue}
              when: "target_name == 't1'"
        """,
        fakes(2),
    )
    assert msgs(h, "a", "t1") == ["blue"]
    assert h.collector.status("a", "t2") == "skipped"


def test_handlers_run_once_at_play_end_in_definition_order(h: Harness) -> None:
    """Two changed steps notify `restart api`: it runs once, after the last step, in definition order."""
    inventory = "targets:\n  t1:\n    fake: {images: {api: 'a:1'}}\n    services: {api: {}}\n  t2:\n    fake: {images: {api: 'a:2'}}\n    services: {api: {}}\n"
    h.run(
        """
        - hosts: all
          tasks:
            - {name: d1, deploy: {service: api, image: "a:2"}, notify: [restart api, log]}
            - {name: d2, deploy: {service: api, image: "a:3"}, notify: restart api}
            - {name: last, debug: {msg: last}}
          handlers:
            - {name: log, debug: {msg: logged}}
            - {name: restart api, restart: {service: api}}
            - {name: other, debug: {msg: x}, listen: [log]}
        """,
        inventory,
    )
    assert h.collector.status("d1", "t1") == "changed" and h.collector.status("d2", "t1") == "changed"
    assert h.collector.status("d2", "t2") == "changed"  # t2 notified by d2 only
    t1 = h.targets["t1"].methods()
    assert t1.count("restart") == 1
    assert h.targets["t2"].methods().count("restart") == 1
    order = [r.task for r in h.collector.results(target="t1")]
    assert order[-4:] == ["last", "log", "restart api", "other"]
    assert all(r.handler for r in h.collector.results(target="t1")[-3:])
    assert [r.task for r in h.collector.results(target="t2") if r.handler] == ["restart api"]


def test_unchanged_step_notifies_nothing(h: Harness) -> None:
    inventory = "targets:\n  t1:\n    fake: {images: {api: 'a:2'}}\n    services: {api: {}}\n"
    h.run(
        """
        - hosts: all
          tasks:
            - {name: d, deploy: {service: api, image: "a:2"}, notify: restart api}
          handlers:
            - {name: restart api, restart: {service: api}}
        """,
        inventory,
    )
    assert h.collector.status("d", "t1") == "ok"
    assert "restart" not in h.targets["t1"].methods() and not h.collector.results("restart api")


def test_handler_notified_by_name_and_through_listen_runs_once(h: Harness) -> None:
    h.run(
        """
        - hosts: all
          tasks:
            - {name: a, debug: {msg: a}, changed_when: true, notify: restart api}
            - {name: b, debug: {msg: b}, changed_when: true, notify: web changed}
          handlers:
            - {name: restart api, restart: {service: api}, listen: [web changed]}
        """,
        fakes(1),
    )
    assert h.targets["t1"].methods().count("restart") == 1
    assert len(h.collector.results("restart api", "t1")) == 1


def test_same_handler_in_two_plays_runs_once_per_play(h: Harness) -> None:
    play = """
        - name: {name}
          hosts: all
          tasks:
            - {{name: "{name} one", debug: {{msg: x}}, changed_when: true, notify: restart api}}
            - {{name: "{name} two", debug: {{msg: x}}, changed_when: true, notify: restart api}}
          handlers:
            - {{name: restart api, restart: {{service: api}}}}
        """
    h.run(play.format(name="first") + play.format(name="second"), fakes(1))
    assert h.targets["t1"].methods().count("restart") == 2
    handled = [(r.play, r.task) for r in h.collector.results(target="t1") if r.handler]
    assert handled == [("first", "restart api"), ("second", "restart api")]
    order = [r.task for r in h.collector.results(target="t1")]
    assert order.index("restart api") < order.index("second one")  # the first play's ran at its own end


def test_handlers_skip_failed_targets(h: Harness) -> None:
    h.run(
        """
        - hosts: all
          tasks:
            - {name: c, debug: {msg: c}, changed_when: true, notify: h}
            - {name: f, fail: {msg: x}, when: "target_name == 't2'"}
          handlers:
            - {name: h, debug: {msg: handled}}
        """,
        fakes(2),
    )
    assert h.collector.status("h", "t1") == "ok"
    assert not h.collector.results("h", "t2")


@pytest.mark.parametrize(
    ("tags", "only", "skip", "expected"),
    [
        ([], [], [], True),
        (["deploy"], ["deploy"], [], True),
        (["deploy"], ["other"], [], False),
        (["deploy"], [], ["deploy"], False),
        (["always"], ["other"], [], True),
        (["always"], [], ["always"], False),
        (["never"], [], [], False),
        (["never", "debug"], ["debug"], [], True),
        ([], ["untagged"], [], True),
        (["x"], ["tagged"], [], True),
        (["x"], ["all"], [], True),
    ],
)
def test_tag_rules(tags: list[str], only: list[str], skip: list[str], expected: bool) -> None:
    assert tag_selected(tags, only, skip) is expected


def test_tags_and_start_at_step(h: Harness) -> None:
    playbook = """
        - hosts: all
          tags: [play]
          tasks:
            - {name: a, debug: {msg: a}, tags: [one]}
            - {name: b, debug: {msg: b}, tags: [two]}
            - {name: c, debug: {msg: c}, tags: [always]}
            - {name: d, debug: {msg: d}}
        """
    h.run(playbook, fakes(1), tags=["two"])
    assert [r.task for r in h.collector.results()] == ["b", "c"]
    h.run(playbook, fakes(1), skip_tags=["one"])
    assert [r.task for r in h.collector.results()] == ["b", "c", "d"]
    h.run(playbook, fakes(1), start_at_step="c")
    assert [r.task for r in h.collector.results()] == ["c", "d"]


def test_variable_precedence(h: Harness) -> None:
    inventory = """
        vars: {a: inv, b: inv, c: inv, d: inv, e: inv, f: inv}
        groups:
          g: {targets: [t1], vars: {b: group, c: group, d: group, e: group, f: group}}
        targets:
          t1:
            fake: {}
            vars: {c: target, d: target, e: target, f: target}
        """
    h.run(
        """
        - hosts: all
          vars: {d: play, e: play, f: play}
          tasks:
            - {name: reg, set_vars: {f: registered}}
            - name: show
              echo: {a: "{{ a }}", b: "{{ b }}", c: "{{ c }}", d: "{{ d }}", e: "{{ e }}", f: "{{ f }}", x: "{{ x }}"}
              vars: {e: task, x: task}
        """,
        inventory,
        extra_vars={"x": "extra"},
    )
    args = h.collector.results("show", "t1")[0].result.data["args"]
    assert args == {"a": "inv", "b": "group", "c": "target", "d": "play", "e": "task", "f": "registered", "x": "extra"}


def test_play_vars_may_be_templates(h: Harness) -> None:
    h.run(
        "- hosts: all\n  vars: {base: 'http://x', url: '{{ base }}/health'}\n  tasks:\n    - {name: e, debug: {msg: '{{ url }}'}}\n",
        fakes(1),
    )
    assert msgs(h, "e") == ["http://x/health"]


def test_assert_and_fail(h: Harness) -> None:
    summary = h.run(
        """
        - hosts: all
          vars: {n: 3}
          tasks:
            - {name: good, assert: {that: ["n == 3", "n > 1"]}}
            - {name: bad, assert: {that: "n > 5", fail_msg: "n too small"}, when: "target_name == 't2'"}
            - {name: end, debug: {msg: end}}
        """,
        fakes(2),
    )
    assert summary.exit_code == ExitCode.FAILED
    assert h.collector.status("good", "t1") == "ok"
    assert h.collector.results("bad", "t2")[0].error == "n too small"
    assert h.collector.status("end", "t1") == "ok" and not h.collector.results("end", "t2")


def test_task_names_are_templated_like_ansible(h: Harness) -> None:
    """`Deploy {{ service }}` reads `Deploy api` in the recap, the JSON events and the journal."""
    h.run(
        """
        - hosts: all
          vars: {service: api}
          tasks:
            - {name: "Deploy {{ service }}", debug: {msg: y}}
            - {name: "Broken {{ nowhere | default(undefined_too) }}", debug: {msg: y}, ignore_errors: true}
        """,
        fakes(1),
    )
    assert h.collector.status("Deploy api", "t1") == "ok"
    [broken] = h.collector.results("Broken {{ nowhere | default(undefined_too) }}", "t1")
    assert (broken.status, broken.result.msg, broken.error) == ("ok", "y", "")  # the raw name, the step still runs
