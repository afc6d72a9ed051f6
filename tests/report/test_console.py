"""The console reporter: what an operator reads at 3 a.m., with and without a terminal."""

from __future__ import annotations

import io
import os
import re
import select

import pytest

from ajudaplay.engine.events import Event, TargetStats
from ajudaplay.report.console import ConsoleReporter
from tests.report import scripted
from tests.report.conftest import feed

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RECAP_LINE = re.compile(r"^(\S+)\s+:\s+(.*)$")


def render(events: list[Event], **kwargs: object) -> str:
    stream = io.StringIO()
    feed(ConsoleReporter(stream, **kwargs), events)  # type: ignore[arg-type]
    return stream.getvalue()


def recap(output: str) -> dict[str, dict[str, int]]:
    lines = output.split("PLAY RECAP", 1)[1].splitlines()[1:]
    table: dict[str, dict[str, int]] = {}
    for line in lines:
        match = RECAP_LINE.match(line)
        if not match or "=" not in match.group(2):
            break
        table[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return table


def test_plain_output_has_no_ansi_codes_when_not_a_tty(run_events: list[Event]) -> None:
    output = render(run_events, show_diff=True, verbosity=2)
    assert not ANSI.search(output)


def test_no_color_env_wins_over_auto_detection(monkeypatch: pytest.MonkeyPatch, run_events: list[Event]) -> None:
    monkeypatch.setenv("NO_COLOR", "")  # any value, even empty
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not ANSI.search(render(run_events))


def test_color_false_and_color_true_are_obeyed(run_events: list[Event]) -> None:
    assert not ANSI.search(render(run_events, color=False))
    assert ANSI.search(render(run_events, color=True))


def test_result_lines_carry_the_reason(run_events: list[Event]) -> None:
    lines = render(run_events).splitlines()
    assert "TASK [deploy image] (playbooks/deploy.yml:12) " + "*" * 34 in lines
    assert "changed: [cluster] api image: v1 -> v2" in lines
    assert "failed: [small] health check failed: GET /health returned 503" in lines
    assert "ROLLED BACK: [small] the change was undone (api: 7 -> 7)" in lines
    assert "unreachable: [small] ssh deploy@10.0.0.5: connection refused" in lines
    assert "skipped: [small] target failed earlier" in lines
    assert "ignored: [cluster] expires in 5 days" in lines
    assert "rescued: [cluster] smoke test failed, rescue ran" in lines
    assert "ok: [cluster] (item=api)" in lines
    assert "[WARNING]: [cluster] HPA api-hpa will override replicas" in lines
    assert "[WARNING]: [cluster] certificate api-tls expires in 5 days" in lines
    assert any(line.startswith("RUNNING HANDLER [restart nginx]") for line in lines)
    assert "      container api is unhealthy" in lines  # stderr of the failure, without -v


def test_recap_counts_each_status_per_target(run_events: list[Event]) -> None:
    output = render(run_events)
    assert recap(output) == scripted.EXPECTED_STATS
    assert f"run {scripted.RUN_ID}: failed (exit 2) in 12.5s" in output
    assert f"details: ajudaplay show {scripted.RUN_ID}" in output
    assert "failed: [small] deploy image: health check failed: GET /health returned 503 (rolled back)" in output


def test_recap_prefers_the_engine_stats_when_given() -> None:
    stats = {"cluster": TargetStats(ok=7, changed=2), "small": TargetStats(failed=1, rolled_back=1)}
    table = recap(render(scripted.events(stats=stats)))
    assert table["cluster"]["ok"] == 7 and table["cluster"]["changed"] == 2
    assert table["small"] == {**dict.fromkeys(table["small"], 0), "failed": 1, "rolled_back": 1}


def test_diff_only_with_show_diff(run_events: list[Event]) -> None:
    assert "+worker_connections 1024;" not in render(run_events)
    assert "+worker_connections 1024;" in render(run_events, show_diff=True).splitlines()


def test_verbose_shows_registered_stdout_and_info(run_events: list[Event]) -> None:
    quiet, verbose = render(run_events), render(run_events, verbosity=1)
    assert "api 3/3 ready" not in quiet and "waiting for rollout" not in quiet
    assert "      api 3/3 ready" in verbose.splitlines()
    assert "[cluster] waiting for rollout" in verbose


def test_check_mode_is_announced() -> None:
    events = scripted.events()
    start = events[0]
    events[0] = type(start)(**{**start.__dict__, "check": True})
    assert render(events).startswith("CHECK MODE")


def test_a_closed_pipe_does_not_raise(run_events: list[Event]) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    feed(ConsoleReporter(Broken()), run_events)


@pytest.mark.parametrize("no_color", [False, True])
def test_live_status_on_a_tty_does_not_hide_lines(
    run_events: list[Event], no_color: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    master, slave = os.openpty()
    with open(slave, "w", encoding="utf-8", closefd=True) as tty:
        reporter = ConsoleReporter(tty)
        for event in run_events[:4]:
            reporter.handle(event)
        assert reporter._live is not None  # one target is still running: the status line is up
        for event in run_events[4:]:
            reporter.handle(event)
        assert reporter._live is None  # stopped before the recap
        reporter.close()
        tty.flush()
        chunks = []
        while select.select([master], [], [], 0.2)[0]:  # read until the pty has nothing more
            chunks.append(os.read(master, 65536))
    os.close(master)
    raw = b"".join(chunks).decode("utf-8", "replace")
    assert bool(re.search(r"\x1b\[[0-9;]*m", raw)) is not no_color  # colour (SGR) codes only with colour
    text = ANSI.sub("", raw)
    assert "failed: [small] health check failed" in text
    assert "PLAY RECAP" in text


def test_ok_lines_show_the_message_only_when_the_action_asks() -> None:
    """`debug` output is the point of the task; other ok lines stay quiet below -v."""
    from ajudaplay.engine.events import TaskResult
    from ajudaplay.targets.base import Result

    shown = TaskResult(scripted.RUN_ID, scripted.PLAY, "say", "cluster", "ok",
                       Result(msg="certificate valid until 2027-01-01", show=True), 0.0, scripted.T0)
    quiet = TaskResult(scripted.RUN_ID, scripted.PLAY, "check", "small", "ok",
                       Result(msg="all assertions passed"), 0.0, scripted.T0)
    lines = render([shown, quiet]).splitlines()
    assert "ok: [cluster] certificate valid until 2027-01-01" in lines
    assert "ok: [small]" in lines


def test_no_show_hint_when_the_run_was_not_journaled(run_events: list[Event]) -> None:
    assert "details: ajudaplay show" in render(run_events)
    assert "details: ajudaplay show" not in render(run_events, journaled=False)
