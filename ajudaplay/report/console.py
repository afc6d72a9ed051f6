"""The operator's view of a run: a line per task and target, then an Ansible-style recap.

Only the CLI imports this module, so rich is imported here and nowhere in the
engine. Plain lines (no ANSI codes) when the stream is not a terminal, NO_COLOR
is set or color=False; a live status line of running targets on a terminal.
Without colour and terminal, lines bypass rich (ajudaplay/report/lines.py).
Everything printed comes from an event: the engine already redacted it.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, TextIO

from ajudaplay.engine.events import (
    Event,
    Message,
    PlayStarted,
    Progress,
    RunFinished,
    RunStarted,
    TaskResult,
    TaskStarted,
)
from ajudaplay.engine.prepare import LOCK_LOST_TASK
from ajudaplay.report.changes import change_line, changes_text
from ajudaplay.report.common import Tally, human_duration
from ajudaplay.report.lines import Line, Part, PlainLines, RichLines
from ajudaplay.report.recap import STATUS_STYLE, item_text, recap_lines

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

OUTCOME_STYLE = {"success": "bold green", "interrupted": "bold yellow"}
HEADER_WIDTH = 80
PIPE_PROGRESS_EVERY = 10.0  # seconds: without a live line (a pipe, CI), a long wait prints a line this often
_COLUMN = re.compile(r"^(.*:\d+):\d+$")


def want_color(stream: TextIO, color: bool | None) -> bool:
    """Explicit flag first, then NO_COLOR (any value) / FORCE_COLOR, then: is it a TTY?"""
    if color is not None:
        return color
    if "NO_COLOR" in os.environ:
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return _isatty(stream)


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _quiet_console_class() -> type[Console]:
    """rich's Console, except a closed pipe raises BrokenPipeError instead of exiting.

    rich's default exits the process and dup2()s /dev/null over stdout: a reader
    closing `| head` must not abort a production rollout halfway.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(32, "Broken pipe")

    return _Console


def _header(title: str) -> str:
    return f"{title} ".ljust(HEADER_WIDTH, "*")


def _first_line_and_rest(text: str) -> tuple[str, list[str]]:
    lines = text.strip("\n").splitlines() or [""]
    return lines[0], lines[1:]


class ConsoleReporter:
    """The engine `Listener` for humans at a terminal (and for CI logs, without colour)."""

    def __init__(
        self,
        stream: TextIO,
        verbosity: int = 0,
        color: bool | None = None,
        show_diff: bool = False,
        live: bool | None = None,
        journaled: bool = True,
    ) -> None:
        use_color = want_color(stream, color)
        tty = _isatty(stream)

        def rich_lines() -> RichLines:
            return RichLines(_quiet_console_class()(
                file=stream,
                force_terminal=use_color or tty,  # a TTY keeps its live line even without colour
                color_system=("auto" if tty else "standard") if use_color else None,
                no_color=not use_color,
                highlight=False,
                markup=False,
                emoji=False,
                soft_wrap=True,
            ))

        self._out: RichLines | PlainLines = rich_lines() if use_color or tty else PlainLines(stream, rich_lines)
        self._verbosity = verbosity
        self._show_diff = show_diff
        self._journaled = journaled  # only then does `ajudaplay show RUN` have something to show
        self._use_live = tty and (live if live is not None else True)
        self._live: Live | None = None
        self._running: dict[str, str] = {}  # target -> task, for the live status line
        self._snapshot: tuple[str, tuple[str, ...]] = ("", ())  # immutable copy for the refresher
        self._waits: dict[str, tuple[str, float, float]] = {}  # target -> (what, elapsed, when received)
        self._waits_shown: tuple[tuple[str, str, float, float], ...] = ()  # immutable copy for the refresher
        self._wait_lines: dict[str, int] = {}  # target -> how many PIPE_PROGRESS_EVERY periods were printed
        self._task_since = time.monotonic()
        self._lock = threading.RLock()
        self._tally = Tally()
        self._run: RunStarted | None = None
        self._header_for: tuple[str, str] | None = None
        self._failures: list[TaskResult] = []
        self._broken = False
        self._asking = False  # a question is on the terminal (confirm, restore): no live line over it
        self._unhook: Callable[[], None] = lambda: None
        if self._use_live:
            from ajudaplay.confirm import on_question

            self._unhook = on_question(self._question)

    # Listener ------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """Print what this event means for the operator; never raises on a closed stream."""
        with self._lock:
            if self._broken:
                return
            try:
                self._dispatch(event)
            except (OSError, ValueError):  # EPIPE (`| head`), closed stream
                self._broken = True
                self._stop_live()

    def close(self) -> None:
        """Stop the live status line (it must not outlive the run)."""
        with self._lock:
            self._unhook()
            self._stop_live()

    def _question(self, is_open: bool) -> None:
        """A question opens or closes on the terminal: the live line goes away meanwhile, then comes back."""
        with self._lock:
            self._asking = is_open
            if is_open:
                self._stop_live()
            elif not self._broken:
                self._refresh_live()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._run = event
            if event.check:
                self._print("CHECK MODE: nothing will be changed, changes shown are what would happen", "bold yellow")
            if self._verbosity >= 1:
                self._print(f"run {event.run_id}: {event.playbook} on {event.inventory} as {event.user}", "dim")
        elif isinstance(event, PlayStarted):
            self._print("")
            self._print(_header(f"PLAY [{event.play}]"), "bold")
            if self._verbosity >= 1:
                self._print(f"targets: {', '.join(event.targets)}", "dim")
            for target in event.targets:
                self._tally.add_target(target)
            self._header_for = None
            self._running = {}
        elif isinstance(event, TaskStarted):
            self._task_header(event.play, event.task, event.location, event.handler)
            self._running = {target: event.task for target in event.targets}
            self._task_since = time.monotonic()
            self._waits, self._wait_lines = {}, {}
            self._refresh_live()
        elif isinstance(event, TaskResult):
            self._tally.add(event)
            if self._header_for != (event.play, event.task):
                self._task_header(event.play, event.task, "", event.handler)
            self._running.pop(event.target, None)
            self._waits.pop(event.target, None)
            self._wait_lines.pop(event.target, None)
            self._result(event)
            self._refresh_live()
        elif isinstance(event, Progress):
            self._wait(event)
        elif isinstance(event, Message):
            self._message(event)
        elif isinstance(event, RunFinished):
            self._stop_live()
            self._recap(event)

    # lines ---------------------------------------------------------------------
    def _print(self, line: Line, style: str = "") -> None:
        self._out.print(line, style)

    def _task_header(self, play: str, task: str, location: str, handler: bool) -> None:
        self._header_for = (play, task)
        where = _COLUMN.sub(r"\1", location)
        title = f"{'RUNNING HANDLER' if handler else 'TASK'} [{task}]" + (f" ({where})" if where else "")
        self._print("")
        self._print(_header(title), "bold")

    def _result(self, event: TaskResult) -> None:
        result = event.result
        status = event.status
        if status in ("failed", "unreachable", "interrupted"):
            self._failures.append(event)
        detail = ""
        if status in ("failed", "unreachable", "ignored", "rescued", "skipped", "interrupted"):
            detail = event.error or result.msg
        elif status == "changed":
            detail = changes_text(result.changes) or result.msg
        elif self._verbosity >= 1 or result.show:
            detail = result.msg
        first, rest = _first_line_and_rest(detail)
        line: list[Part] = [
            (f"{status}: ", STATUS_STYLE.get(status, "")),
            (f"[{event.target}]", STATUS_STYLE.get(status, "")),
        ]
        if event.item is not None:
            line.append((f" (item={item_text(event.item)})", ""))
        if first:
            line.append((" " + first, "red" if status in ("failed", "unreachable") else ""))
        if self._verbosity >= 1:
            line.append((f" ({event.duration:.1f}s)", "dim"))
        self._print(line)
        for extra in rest:
            self._print("    " + extra)
        if result.rolled_back:
            self._rolled_back(event)
        for warning in result.warnings:
            self._print(f"[WARNING]: [{event.target}] {warning}", "yellow")
        failed = status in ("failed", "unreachable")
        if failed:
            self._tail(result.data.get("stderr"), 10, "stderr")
        if self._show_diff:
            self._diff(event)
        if self._verbosity >= 1:
            self._data(result.data, stderr_shown=failed)

    def _rolled_back(self, event: TaskResult) -> None:
        moves = "; ".join(
            f"{r.service}: {r.before or '-'} -> {r.after or '-'}" for r in event.result.revisions
        )
        text = f"ROLLED BACK: [{event.target}] the change was undone" + (f" ({moves})" if moves else "")
        self._print(text, STATUS_STYLE["rolled_back"])

    def _diff(self, event: TaskResult) -> None:
        for change in event.result.changes:
            if not change.unified:
                if event.status not in ("changed",):
                    self._print(f"    {change_line(change)}")
                continue
            if not change.unified.startswith("---"):
                self._print(f"--- {change.what}", "bold")
            for diff_line in change.unified.splitlines():
                style = ""
                if diff_line.startswith("+") and not diff_line.startswith("+++"):
                    style = "green"
                elif diff_line.startswith("-") and not diff_line.startswith("---"):
                    style = "red"
                elif diff_line.startswith("@@"):
                    style = "cyan"
                self._print(diff_line, style)

    def _tail(self, value: Any, lines: int, label: str) -> None:
        if not isinstance(value, str) or not value.strip():
            return
        shown = value.rstrip("\n").splitlines()
        if len(shown) > lines and self._verbosity < 2:
            self._print(f"    {label} (last {lines} of {len(shown)} lines):", "dim")
            shown = shown[-lines:]
        else:
            self._print(f"    {label}:", "dim")
        for line in shown:
            self._print("      " + line)

    def _data(self, data: dict[str, Any], stderr_shown: bool) -> None:
        self._tail(data.get("stdout"), 20, "stdout")
        if not stderr_shown:
            self._tail(data.get("stderr"), 20, "stderr")
        rest = {k: v for k, v in data.items() if k not in ("stdout", "stderr")}
        if not rest:
            return
        text = json.dumps(rest, default=str, sort_keys=True, indent=2 if self._verbosity >= 2 else None)
        if self._verbosity < 2 and len(text) > 300:
            text = text[:300] + "... (-vv for all)"
        for line in text.splitlines():
            self._print("    " + line, "dim")

    def _message(self, event: Message) -> None:
        where = f"[{event.target}] " if event.target else ""
        if event.level == "warning":
            self._print(f"[WARNING]: {where}{event.text}", "yellow")
        elif event.level == "info" and self._verbosity >= 1:
            self._print(f"{where}{event.text}", "dim")
        elif event.level == "debug" and self._verbosity >= 2:
            self._print(f"debug: {where}{event.text}", "dim")

    def _wait(self, event: Progress) -> None:
        """A long wait: the live line shows it on a terminal; elsewhere a line every PIPE_PROGRESS_EVERY s."""
        self._waits[event.target] = (event.text, event.elapsed, time.monotonic())
        if self._use_live and isinstance(self._out, RichLines):
            self._refresh_live()
            return
        periods = int(event.elapsed // PIPE_PROGRESS_EVERY)
        if periods >= 1 and periods > self._wait_lines.get(event.target, 0):
            self._wait_lines[event.target] = periods
            self._print(f"[{event.target}] {wait_text(event.text, event.elapsed)}", "dim")

    # recap ---------------------------------------------------------------------
    def _recap(self, event: RunFinished) -> None:
        stats = self._tally.stats(event.stats)
        self._print("")
        self._print(_header("PLAY RECAP"), "bold")
        lost = {failed.target for failed in self._failures if failed.task == LOCK_LOST_TASK}
        for line in recap_lines(stats, lost):
            self._print(line)
        if self._failures:
            self._print("")
            for failed in self._failures:
                reason, _ = _first_line_and_rest(failed.error or failed.result.msg)
                suffix = " (rolled back)" if failed.result.rolled_back else ""
                style = STATUS_STYLE["interrupted"] if failed.status == "interrupted" else "red"
                item = f" (item={item_text(failed.item)})" if failed.item is not None else ""
                self._print(f"{failed.status}: [{failed.target}] {failed.task}{item}: {reason}{suffix}", style)
        duration = ""
        if self._run is not None:
            duration = f" in {human_duration(max(0.0, event.finished_at - self._run.started_at))}"
        self._print("")
        self._print([
            (f"run {event.run_id}: ", ""),
            (event.outcome, OUTCOME_STYLE.get(event.outcome, "bold red")),
            (f" (exit {event.exit_code}){duration}", ""),
        ])
        if event.message:
            self._print(event.message, OUTCOME_STYLE.get(event.outcome, "red"))
        if self._journaled:
            self._print(f"details: ajudaplay show {event.run_id}", "dim")

    # live status line ------------------------------------------------------------
    def _refresh_live(self) -> None:
        self._snapshot = (next(iter(self._running.values()), ""), tuple(sorted(self._running)))
        self._waits_shown = tuple(
            (target, *self._waits[target]) for target in sorted(self._waits) if target in self._running
        )
        if not self._use_live or self._asking or not isinstance(self._out, RichLines):  # a terminal: RichLines
            return
        if not self._running:
            self._stop_live()
            return
        if self._live is None:
            from rich.live import Live

            self._live = Live(
                _RunningLine(self), console=self._out.console, transient=True, refresh_per_second=4
            )
            self._live.start()
        else:
            self._live.refresh()

    def _stop_live(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            try:
                live.stop()
            except (OSError, ValueError):  # the terminal went away: nothing left to clear
                self._broken = True

    def status_text(self) -> str:
        """'running [task] on a, b (3s)': read by the live line's refresh thread, lock-free."""
        task, targets = self._snapshot
        if not targets:
            return ""
        waits = self._waits_shown
        if waits:  # a long wait says what it waits for, and since when
            target, text, elapsed, received = waits[0]
            others = f" (and {len(targets) - 1} more running)" if len(targets) > 1 else ""
            return f"[{target}] {wait_text(text, elapsed + time.monotonic() - received)}{others}"
        shown = ", ".join(targets[:5]) + (f" and {len(targets) - 5} more" if len(targets) > 5 else "")
        return f"running [{task}] on {shown} ({time.monotonic() - self._task_since:.0f}s)"


def wait_text(text: str, elapsed: float) -> str:
    """'waiting for api: 1/2 ready, 20s': what a wait waits for, and for how long."""
    seconds = max(0.0, elapsed)
    return f"{text}, {seconds:.0f}s" if seconds < 60 else f"{text}, {human_duration(seconds)}"


class _RunningLine:
    """A spinner whose text is recomputed at every refresh, so the elapsed time moves."""

    def __init__(self, reporter: ConsoleReporter) -> None:
        from rich.spinner import Spinner

        self._reporter = reporter
        self._spinner = Spinner("dots", style="cyan")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        text = self._reporter.status_text()
        if not text:
            yield Text("")
            return
        self._spinner.update(text=Text(text, style="dim"))
        yield self._spinner
