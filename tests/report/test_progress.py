"""Progress of long waits at the default verbosity: what is awaited and for how long.

- engine/progress.py: a changed text is sent at once, an unchanged one again every
  PROGRESS_EVERY s (by the ticker, even when the target stays silent), with the elapsed time;
- the console: a line every 10 s on a pipe (`[a] waiting for api: 1/2 ready, 20s`), the live
  line on a terminal; JSON Lines: `progress` events;
- the lock wait (the real CLI, a fake target whose lock someone else holds): names the holder,
  and the lock-held failure hints `--lock-wait` and `ajudaplay unlock`;
- a real Compose deploy whose healthcheck takes a while reports `waiting for …: 0/1 ready`.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from ajudaplay.engine.events import PlayStarted, Progress, RunStarted, TaskStarted
from ajudaplay.engine.progress import PROGRESS_EVERY, ProgressFeed, ProgressTicker
from ajudaplay.report.console import ConsoleReporter, wait_text
from ajudaplay.report.jsonl import JsonLinesReporter, event_record
from tests.cli.conftest import Project, events
from tests.compose.conftest import docker_engine, make_project  # docker_engine: the real engine's fixture

__all__ = ["docker_engine"]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_feed_sends_changes_at_once_and_repeats_unchanged_text_only_every_few_seconds() -> None:
    sent: list[Progress] = []
    clock = _Clock()
    feed = ProgressFeed(sent.append, "r1", "a", "deploy", clock=clock)
    feed("waiting for api: 0/2 ready")
    clock.now += 1
    feed("waiting for api: 0/2 ready")  # the same a second later: not again
    clock.now += 1
    feed("waiting for api: 1/2 ready")  # a change: at once
    clock.now += PROGRESS_EVERY
    feed("waiting for api: 1/2 ready")  # unchanged, but PROGRESS_EVERY later: a reminder
    assert [(p.text, p.elapsed) for p in sent] == [
        ("waiting for api: 0/2 ready", 0.0), ("waiting for api: 1/2 ready", 2.0),
        ("waiting for api: 1/2 ready", 2.0 + PROGRESS_EVERY),
    ]
    feed.close()
    feed("after the step")
    assert len(sent) == 3  # a closed feed (the step ended) sends nothing


def test_ticker_reminds_of_a_wait_the_target_does_not_repeat() -> None:
    """A Kubernetes rollout speaks only when the Deployment changes: the ticker keeps the wait visible."""
    sent: list[Progress] = []
    clock = _Clock()
    ticker = ProgressTicker(interval=0.05)
    feed = ProgressFeed(sent.append, "r1", "a", "deploy", ticker=ticker, clock=clock)
    feed("waiting for api: 1 of 2 updated replicas are available")
    clock.now += PROGRESS_EVERY + 1
    deadline = time.monotonic() + 10
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    feed.close()
    assert [p.elapsed for p in sent[:2]] == [0.0, PROGRESS_EVERY + 1]
    assert sent[1].text == sent[0].text


def _console(stream: io.StringIO, live: bool | None = None) -> ConsoleReporter:
    reporter = ConsoleReporter(stream, color=False, live=live)
    reporter.handle(RunStarted("r1", "p.yml", "test", "me", time.time(), False))
    reporter.handle(PlayStarted("r1", "deploy", ["a", "b"]))
    reporter.handle(TaskStarted("r1", "deploy", "deploy api", "p.yml:3:7", ["a", "b"]))
    return reporter


def test_console_on_a_pipe_prints_a_wait_every_ten_seconds() -> None:
    stream = io.StringIO()
    reporter = _console(stream)
    for elapsed in (0.0, 5.0, 10.2, 15.0, 20.1, 21.0, 30.5):
        reporter.handle(Progress("r1", "a", "deploy api", "waiting for api: 1/2 ready", elapsed))
    reporter.close()
    waits = [line for line in stream.getvalue().splitlines() if "waiting" in line]
    assert waits == [
        "[a] waiting for api: 1/2 ready, 10s",
        "[a] waiting for api: 1/2 ready, 20s",
        "[a] waiting for api: 1/2 ready, 30s",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_on_a_terminal_shows_the_wait_in_the_live_line() -> None:
    stream = _Terminal()
    reporter = _console(stream, live=True)
    try:
        assert reporter.status_text().startswith("running [deploy api] on a, b")
        reporter.handle(Progress("r1", "b", "deploy api", "waiting for api: 0/1 ready", 12.0))
        text = reporter.status_text()
        assert text.startswith("[b] waiting for api: 0/1 ready, 12s") and text.endswith("(and 1 more running)")
    finally:
        reporter.close()
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("[b] waiting")]
    assert lines == []  # on a terminal the wait is the live line, not a printed line


def test_wait_text_formats_long_waits_in_minutes() -> None:
    assert wait_text("waiting for api: 1/2 ready", 20.4) == "waiting for api: 1/2 ready, 20s"
    assert wait_text("waiting for api: 1/2 ready", 125) == "waiting for api: 1/2 ready, 2m05s"


def test_json_lines_progress_event() -> None:
    record = event_record(Progress("r1", "a", "deploy api", "waiting for api: 1/2 ready", 20.04))
    assert record == {"event": "progress", "run_id": "r1", "target": "a", "task": "deploy api",
                      "text": "waiting for api: 1/2 ready", "elapsed": 20.0}
    from tests.report.test_jsonl import DOCUMENTED

    assert set(record) == DOCUMENTED["progress"]  # the fields docs/ci-recipes.md names
    stream = io.StringIO()
    JsonLinesReporter(stream).handle(Progress("r1", "a", "t", "x", 1.0))
    assert '"event": "progress"' in stream.getvalue()


# the lock wait, through the real CLI ---------------------------------------------------------------

PLAYBOOK = """\
- name: p
  hosts: all
  tasks:
    - name: status
      status: {service: api}
"""


@pytest.fixture
def held(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.state.mkdir()
    p.inventory({"a": {"lock_held_by": "bob@laptop"}})
    p.write("p.yml", PLAYBOOK)
    return p


def test_lock_wait_reports_progress_naming_the_holder_then_hints_what_to_do(held: Project) -> None:
    done = held.run("run", "p.yml", "-i", "test", "--lock-wait", "5", "--output", "json")
    assert done.returncode == 4, done.stdout + done.stderr  # lock held
    found = events(done.stdout)
    progress = [e for e in found if e["event"] == "progress"]
    assert progress, found
    assert all(e["target"] == "a" and e["task"] == "acquire lock" for e in progress)
    assert progress[0]["text"].startswith("waiting for the lock on a: held by bob@laptop (run other-run")
    assert progress[-1]["elapsed"] >= PROGRESS_EVERY - 2  # the ticker re-sent it while it lasted
    failed = [e for e in found if e["event"] == "task_result" and e["status"] == "failed"]
    assert "waited 5s; wait longer with --lock-wait SECONDS" in failed[0]["msg"]
    assert "`ajudaplay unlock -i test a`" in failed[0]["msg"]
    assert found[-1]["event"] == "run_end" and "ajudaplay unlock -i test a" in found[-1]["message"]


def test_lock_held_without_wait_hints_lock_wait_and_unlock(held: Project) -> None:
    done = held.run("run", "p.yml", "-i", "test")
    assert done.returncode == 4
    assert "is locked by bob@laptop" in done.stdout
    assert "wait for it with --lock-wait SECONDS" in done.stdout
    assert "remove the lock with `ajudaplay unlock -i test a`" in done.stdout
    assert "waiting for the lock" not in done.stdout  # no wait asked: no progress


def test_lock_wait_on_a_pipe_prints_a_line_every_ten_seconds(held: Project) -> None:
    done = held.run("run", "p.yml", "-i", "test", "--lock-wait", "11")
    assert done.returncode == 4
    waits = [line for line in done.stdout.splitlines() if "waiting for the lock" in line]
    assert len(waits) == 1, done.stdout
    assert waits[0].startswith("[a] waiting for the lock on a: held by bob@laptop")
    assert waits[0].endswith(", 10s")


# a real Compose deploy whose healthcheck takes a while ------------------------------------------------

SLOW_HEALTH = ["-e", "healthcheck_interval=12s", "-e", "healthcheck_start_period=1s"]


@pytest.mark.docker
def test_compose_health_wait_reports_progress(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> None:
    """The health wait says what it waits for: a line at 10 s on a pipe, `progress` events in JSON."""
    project = make_project(request, tmp_path, "local", prepare=False)
    prepared = project.run("compose-host.yml", *SLOW_HEALTH)
    assert prepared.rc == 0, prepared.text

    console = project.start("deploy.yml", "-e", "image=ajudaplay-test/api:v2")
    out, _ = console.communicate(timeout=180)
    assert console.returncode == 0, out
    waits = [line for line in out.splitlines() if line.startswith("[box] waiting for api: ")]
    assert waits, out
    assert "ready" in waits[0] and waits[0].endswith(", 10s"), waits

    done = project.run("deploy.yml", "-e", "image=ajudaplay-test/api:v3")
    assert done.rc == 0, done.text
    progress = [e for e in done.events if e["event"] == "progress"]
    assert progress and all(e["target"] == "box" and e["task"] == "Deploy the service" for e in progress), progress
    assert progress[0]["text"].startswith("waiting for api: 0/1 ready")
    assert max(e["elapsed"] for e in progress) >= 5  # repeated while the wait lasted
    assert progress == sorted(progress, key=lambda e: e["elapsed"])


def test_kubernetes_rollout_wait_turns_kubectl_messages_into_short_progress() -> None:
    """kubectl's rollout status lines become `waiting for SERVICE: …` (the whole line stays in the debug log)."""
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.kubernetes.rollouts import _watching

    said: list[str] = []
    logged: list[str] = []
    log = _watching(StepContext(run_id="r", progress=said.append, log=logged.append), "api")
    log('Waiting for deployment "ajudadorabot-api" rollout to finish: 1 of 2 updated replicas are available...')
    log("Waiting for deployment spec update to be observed...")
    assert said == ["waiting for api: 1 of 2 updated replicas are available",
                    "waiting for api: deployment spec update to be observed"]
    assert logged[0].startswith('Waiting for deployment "ajudadorabot-api"')
