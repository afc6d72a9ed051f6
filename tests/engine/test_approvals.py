"""`confirm` and `pause` steps through the real CLI on fake targets (no Docker, no cluster).

The terminal is a real pseudo-terminal (the `Terminal` helper of the `--step`
tests); "no terminal" is stdin from /dev/null and output on pipes, with a
timeout so a hang fails the test instead of blocking the suite.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.cli.conftest import Project, events
from tests.cli.test_step import Terminal

PLAYBOOK = """\
- name: production
  hosts: all
  tasks:
    - {name: before, debug: {msg: ran before}}
    - name: approve
      confirm: {prompt: "Deploy api to production?"}
    - {name: deploy api, deploy: {service: api, image: "api:2"}}
    - name: each
      confirm: {prompt: "Go on here?", per_target: true}
    - {name: after, debug: {msg: ran after}, when: "inventory_hostname != 'zz'"}
"""
PAUSES = """\
- name: waits
  hosts: all
  tasks:
    - name: wait
      pause: {seconds: 30, prompt: "letting caches drain"}
    - {name: after, debug: {msg: ran after}}
"""
ENTER = """\
- name: waits
  hosts: all
  tasks:
    - name: hold
      pause: "check the dashboard"  # free form: the prompt
    - {name: after, debug: {msg: ran after}}
"""
QUESTION = re.compile(r"\[y/N\] ")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.state.mkdir()
    p.inventory({"a": {}, "b": {}})
    p.write("deploy.yml", PLAYBOOK)
    p.write("pauses.yml", PAUSES)
    p.write("enter.yml", ENTER)
    return p


@pytest.fixture
def terminal(project: Project) -> Iterator[Callable[..., Terminal]]:
    """Start the CLI on a pseudo-terminal; a run a failed test left waiting is killed at teardown."""
    started: list[Terminal] = []

    def start(*args: str) -> Terminal:
        started.append(Terminal(project, *args))
        return started[-1]

    yield start
    for term in started:
        if term.proc.poll() is None:
            term.proc.kill()
            term.proc.wait(10)


def no_terminal(project: Project, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The CLI with stdin from /dev/null and its output on pipes: nobody to ask."""
    with open("/dev/null") as devnull:
        return subprocess.run(project.cmd(*args), cwd=project.root, env=project.env(), stdin=devnull,
                              capture_output=True, text=True, timeout=timeout)


def finished(term: Terminal, timeout: float = 20) -> int:
    """`Terminal.finish` with a deadline: a run still waiting for an answer fails the test instead of hanging it."""
    deadline = time.monotonic() + timeout
    while term.proc.poll() is None:
        if time.monotonic() > deadline:
            term.proc.kill()
            term.finish()
            pytest.fail(f"the run still waits after {timeout:g}s:\n{term.seen}")
        term.read_until(re.compile(r"\Z\x01"), timeout=0.5)
    return term.finish()


def deploys(project: Project) -> list[str]:
    return sorted(c["target"] for c in project.calls() if c["method"] == "deploy" and not c["check"])


def results(found: list[dict[str, Any]], task: str) -> dict[str, dict[str, Any]]:
    return {e["target"]: e for e in found if e["event"] == "task_result" and e["task"] == task}


def journaled(project: Project, stdout: str, task: str) -> dict[str, str]:
    """`ajudaplay show RUN --json`: the message journaled for `task` on each target."""
    run_id = next(e["run_id"] for e in events(stdout) if e["event"] == "run_start")
    shown = project.run("show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return {r["target"]: r["msg"] for r in json.loads(shown.stdout)["results"] if r["task"] == task}


def test_yes_answers_once_for_every_target_and_the_journal_says_who(project: Project) -> None:
    done = no_terminal(project, "run", "deploy.yml", "-i", "test", "--yes", "--output", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    found = events(done.stdout)
    approve = results(found, "approve")
    assert {t: e["status"] for t, e in approve.items()} == {"a": "ok", "b": "ok"}
    assert deploys(project) == ["a", "b"]
    messages = journaled(project, done.stdout, "approve")
    user = approve["a"]["msg"].split("confirmed by ", 1)[1].split(" ", 1)[0]
    assert sorted(messages.values()) == [f"confirmed by {user} (--yes)",
                                         f"confirmed by {user} (--yes) (asked once for every target)"]


def test_without_a_terminal_the_step_fails_at_once_and_nothing_after_it_runs(project: Project) -> None:
    started = time.monotonic()
    done = no_terminal(project, "run", "deploy.yml", "-i", "test", timeout=20)
    assert time.monotonic() - started < 15  # never waits for an answer nobody can give
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "ran before" in out and "ran after" not in out
    for target in ("a", "b"):
        assert out.count(f"failed: [{target}] not confirmed: Deploy api to production?: needs a yes, and there is "
                         "no terminal") == 1, out
    assert "pass --yes" in out and "Traceback" not in out
    assert deploys(project) == []


def test_a_terminal_yes_shows_what_follows_and_asks_once_then_per_target(project: Project, terminal: Callable[..., Terminal]) -> None:
    preview = no_terminal(project, "run", "deploy.yml", "-i", "test", "--check", "--output", "json", timeout=20)
    check_id = next(e["run_id"] for e in events(preview.stdout) if e["event"] == "run_start")
    term = terminal("run", "deploy.yml", "-i", "test")
    assert term.read_until(QUESTION) is not None, term.seen
    shown = term.seen
    assert re.search(rf"a --check run of deploy.yml 0 min ago said 1 step\(s\) would change on [ab] "
                     rf"\(ajudaplay show {check_id}\)", shown), shown
    assert re.search(r"the rest of the play on [ab]:\s+- deploy api \[deploy\]\s+- each \[confirm\]\s+"
                     r"- after \[debug\]  \(when inventory_hostname != 'zz'\)", shown), shown
    assert "Deploy api to production? (one answer for every target of this step)" in shown
    term.answer("y")
    for _ in range(2):  # per_target: each target asks its own question
        assert term.read_until(QUESTION) is not None, term.seen
        term.answer("yes")
    assert term.read_until(QUESTION, timeout=1) is None
    code = finished(term)
    assert code == 0, term.seen
    assert term.seen.count("Go on here?") == 2
    assert term.seen.count("Deploy api to production?") == 1  # asked once for both targets
    assert re.search(r"ok: \[[ab]\] confirmed by \S+ on the terminal \(asked once for every target\)", term.seen)
    assert deploys(project) == ["a", "b"]


def test_a_terminal_no_fails_every_waiting_target_and_stops_the_play(project: Project, terminal: Callable[..., Terminal]) -> None:
    term = terminal("run", "deploy.yml", "-i", "test")
    assert term.read_until(QUESTION) is not None, term.seen
    term.answer("n")
    code = finished(term)
    assert code == 2, term.seen
    assert len(re.findall(r"failed: \[[ab]\] not confirmed by \S+ on the terminal: Deploy api to production\?",
                          term.seen)) == 2
    assert "Go on here?" not in term.seen and "ran after" not in term.seen
    assert deploys(project) == []
    run_id = re.findall(r"details: ajudaplay show ([0-9a-f]+)", term.seen)[-1]
    shown = json.loads(project.run("show", run_id, "--json").stdout)
    refused = {r["target"]: (r["status"], r["msg"]) for r in shown["results"] if r["task"] == "approve"}
    assert set(refused) == {"a", "b"}
    assert all(status == "failed" and re.fullmatch(r"not confirmed by \S+ on the terminal: Deploy api to production\?", msg)
               for status, msg in refused.values()), refused


def test_check_mode_asks_nothing_and_says_what_it_would_ask(project: Project) -> None:
    done = no_terminal(project, "run", "deploy.yml", "-i", "test", "--check", "--output", "json", timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
    found = events(done.stdout)
    for task, prompt in (("approve", "Deploy api to production?"), ("each", "Go on here?")):
        assert {t: (e["status"], e["msg"]) for t, e in results(found, task).items()} == {
            t: ("skipped", f"would ask: {prompt} (check mode asks nothing)") for t in ("a", "b")}
    assert {t: e["status"] for t, e in results(found, "after").items()} == {"a": "ok", "b": "ok"}


def test_pause_seconds_stops_on_ctrl_c(project: Project) -> None:
    proc = project.popen("run", "pauses.yml", "-i", "test")
    time.sleep(2)  # the CLI starts (about 0.5 s here) and reaches the 30 s pause
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert time.monotonic() - started < 10, out + err
    assert proc.returncode != 0, out + err
    assert re.search(r"\[a\] .*letting caches drain: interrupted after \d+\.\d+s of 30s", out + err), out + err
    assert "ran after" not in out


def test_pause_for_enter_without_a_terminal_fails_unless_yes(project: Project) -> None:
    done = no_terminal(project, "run", "enter.yml", "-i", "test", timeout=20)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "check the dashboard: pause waits for Enter, and there is no terminal to wait on" in out
    assert "ran after" not in out
    done = no_terminal(project, "run", "enter.yml", "-i", "test", "--yes", timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("check the dashboard: not waiting for Enter: --yes given") == 2
    assert "ran after" in done.stdout


def test_pause_for_enter_on_a_terminal_waits_for_one_enter(project: Project, terminal: Callable[..., Terminal]) -> None:
    term = terminal("run", "enter.yml", "-i", "test")
    assert term.read_until(re.compile(r"check the dashboard \(press Enter to continue\) ")) is not None, term.seen
    assert "ran after" not in term.seen
    term.answer("")
    assert finished(term) == 0, term.seen
    assert re.search(r"ok: \[[ab]\] resumed by \S+ on the terminal \(once for every target\)", term.seen)
    assert term.seen.count("ran after") == 2


def test_what_follows_skips_rescues_and_tasks_the_tags_leave_out(tmp_path: Path) -> None:
    """engine/step.py's `following_tasks` (StepContext.following), on a loaded playbook: no run needed."""
    from types import SimpleNamespace

    from ajudaplay.actions.base import default_registry
    from ajudaplay.engine.step import following_tasks
    from ajudaplay.playbook.loader import load_playbook

    path = tmp_path / "p.yml"
    path.write_text("""\
- name: p
  hosts: all
  tags: [all-of-it]
  tasks:
    - {name: first, debug: {msg: x}, tags: [deploy]}
    - {name: ask, confirm: {prompt: "go?"}, tags: [deploy]}
    - block:
        - {name: inner, debug: {msg: x}, tags: [deploy], when: "x == 1"}
      rescue:
        - {name: on failure, debug: {msg: x}, tags: [deploy]}
      always:
        - {name: finally, debug: {msg: x}, tags: [deploy]}
    - {name: not tagged, debug: {msg: x}}
""")
    play = load_playbook(path, default_registry()).plays[0]
    ask = play.tasks[1]
    rc: Any = SimpleNamespace(options=SimpleNamespace(tags=["deploy"], skip_tags=[]))
    assert following_tasks(rc, play, ask) == [
        {"name": "inner", "action": "debug", "when": "x == 1"},
        {"name": "finally", "action": "debug", "when": ""},
    ]
    rc.options.tags = []
    assert [t["name"] for t in following_tasks(rc, play, ask)] == ["inner", "finally", "not tagged"]
    assert following_tasks(rc, play, play.tasks[-1]) == []


def test_a_prompt_that_differs_per_target_is_asked_for_each(project: Project) -> None:
    project.write("own.yml", """\
- name: own
  hosts: all
  tasks:
    - name: own question
      confirm: "Restart {{ inventory_hostname }}?"
""")
    done = no_terminal(project, "run", "own.yml", "-i", "test", "--yes", "--output", "json", timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
    own = results(events(done.stdout), "own question")
    assert sorted(e["data"]["prompt"] for e in own.values()) == ["Restart a?", "Restart b?"]
    assert not [e for e in own.values() if "asked once" in e["msg"]]  # one target's yes never answers the other's question


def test_ctrl_c_while_the_question_waits_ends_the_run_at_once(project: Project, terminal: Callable[..., Terminal]) -> None:
    term = terminal("run", "deploy.yml", "-i", "test")
    assert term.read_until(QUESTION) is not None, term.seen
    started = time.monotonic()
    term.proc.send_signal(signal.SIGINT)
    code = finished(term)
    assert time.monotonic() - started < 5, term.seen  # no grace period spent on a blocked terminal read
    assert code == 130, term.seen
    assert len(re.findall(r"interrupted: \[[ab]\] interrupted while waiting for the answer", term.seen)) == 2
    assert "still running" not in term.seen
    assert project.locks() == [] and deploys(project) == []


def test_the_check_run_shown_is_one_of_this_inventory() -> None:
    """One team journal holds several environments whose targets share names: a --check run of staging's
    `cluster` is not what production's confirm quotes."""
    from ajudaplay.actions.approval import last_check_run
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.errors import Mark
    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.fake import FakeTarget

    runs = [{"run_id": "s1", "inventory": "staging", "check": True}, {"run_id": "p1", "inventory": "prod", "check": True}]
    spec = TargetSpec(name="cluster", kind="fake", mark=Mark("inventory.yml", 1, 1), connection={}, services={"api": {}})
    ctx = ActionContext(target=FakeTarget(spec), step=StepContext(run_id="r"), vars={"inventory_name": "prod"},
                        render=lambda value: value, recent_runs=lambda target, since: runs)
    found = last_check_run(ctx)
    assert found is not None and found["run_id"] == "p1"
