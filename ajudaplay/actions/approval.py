"""`confirm` and `pause`: a person approves (or waits) before the rest of a play runs.

Why here and not in the engine: an approval is a step like any other, so it is
journaled, registered and shown like one, and its "no" is an ordinary failure
that stops the play on that target. Asking goes through `ctx.step.confirm`
(ajudaplay/confirm.py: one question at a time, `--yes`, never a hang without a
terminal). Targets run in parallel but a run has one operator: by default the
first target to reach the step asks and the others wait for that answer
(`per_target: true` asks on each). In check mode neither step asks nor waits:
the operator is previewing, and nothing that follows changes anything.
"""

from __future__ import annotations

import re
import select
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ajudaplay.actions.base import ActionContext, ActionSpec, Registry, same_environment
from ajudaplay.confirm import NotConfirmed
from ajudaplay.errors import TargetError
from ajudaplay.targets.base import Result

POLL = 0.1  # how often a wait looks at the step's cancel event
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # a templated prompt never moves the cursor
_TERMINAL = threading.Lock()  # one line read from the terminal at a time (pause waiting for Enter)


def register(registry: Registry) -> None:
    """Add `confirm` and `pause` to `registry`."""
    registry.register(ActionSpec("confirm", run_confirm, free_form="prompt", controller=True,
                                 description="Ask the operator before the rest of the play runs; a no stops it."))
    registry.register(ActionSpec("pause", run_pause, free_form="prompt", controller=True,
                                 description="Wait a number of seconds, or until the operator presses Enter."))


@dataclass
class _Answer:
    """One question's answer, shared by every target of the step in a run."""

    done: threading.Event = field(default_factory=threading.Event)
    who: str = ""  # who said yes ("alice on the terminal", "alice (--yes)")
    refusal: str = ""  # why not: every waiting target's failure message


_ANSWERS: dict[tuple[str, str, str], _Answer] = {}
_ANSWERS_LOCK = threading.Lock()


def _answer_once(ctx: ActionContext, prompt: str, per_target: bool, ask: Callable[[], str]) -> tuple[_Answer, bool]:
    """The answer for this step: asked here (True) when first or per target, else the first target's.

    Shared by the step's targets (and loop items) whose prompt renders to the same text: a question
    that differs ("Deploy to {{ inventory_hostname }}?") is not answered by another one's yes.
    """
    key = (ctx.step.run_id, ctx.step.step_key, prompt)
    with _ANSWERS_LOCK:
        shared = None if per_target or not ctx.step.step_key else _ANSWERS.get(key)
        first = shared is None
        answer = _Answer() if shared is None else shared
        if first and not per_target and ctx.step.step_key:
            _ANSWERS[key] = answer
    if first:
        try:
            answer.who = _cancellable(ctx, ask)
        except (NotConfirmed, TargetError) as exc:
            answer.refusal = str(exc)
        except BaseException:
            answer.refusal = "the question was not answered (the asking target stopped)"
            raise
        finally:
            answer.done.set()
        return answer, True
    while not answer.done.wait(POLL):
        if ctx.step.cancelled():
            raise TargetError("interrupted while waiting for the answer")
    return answer, False


def _cancellable(ctx: ActionContext, ask: Callable[[], str]) -> str:
    """`ask()` in a worker, so Ctrl-C (the step's cancel) ends the step while a terminal read blocks.

    confirm.py reads a line and cannot be told to stop: left alone, an interrupted run
    would wait its grace period and leave the target's lock to expire. The abandoned
    worker is a daemon; the next line typed goes to it, and nothing acts on its answer.
    """
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["who"] = ask()
        except BaseException as exc:  # handed to the step's thread below
            box["error"] = exc

    worker = threading.Thread(target=work, name="ajudaplay-approval", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(POLL)
        if worker.is_alive() and ctx.step.cancelled():
            raise TargetError("interrupted while waiting for the answer")
    if "error" in box:
        raise box["error"]
    return str(box["who"])


def _args(args: Any, free_form: str) -> dict[str, Any]:
    if isinstance(args, dict):
        return dict(args)
    if args is None:
        return {}
    return {free_form: args}


def _prompt(ctx: ActionContext, a: dict[str, Any], action: str, default: str) -> str:
    value = a.get("prompt", default)
    if not isinstance(value, str) or not value.strip():
        raise TargetError(f"{action}.prompt must be a non-empty text, got {value!r}")
    return _CONTROL.sub(" ", ctx.step.redact(value.strip()))


def _per_target(a: dict[str, Any], action: str) -> bool:
    value = a.get("per_target", False)
    if not isinstance(value, bool):
        raise TargetError(f"{action}.per_target must be true or false, got {value!r}")
    return value


def _on_terminal() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


# confirm ---------------------------------------------------------------------------

CHECK_RUN_WINDOW = 3600.0  # a --check run of the target this recent is shown in the question


def last_check_run(ctx: ActionContext) -> dict[str, Any] | None:
    """The newest `--check` run that touched this target in the last hour (the journal), if any."""
    for run in ctx.recent_runs(ctx.target.name, time.time() - CHECK_RUN_WINDOW):
        if run.get("check") and same_environment(ctx, run):
            return run
    return None


def outlook(ctx: ActionContext, following: list[dict[str, str]], check_run: dict[str, Any] | None) -> str:
    """What the question shows: the tasks the rest of the play runs on this target, and what a recent
    --check run said would change there (the journal keeps its count, `ajudaplay show` its details)."""
    where = f"on {ctx.target.name}"
    lines = [f"the rest of the play {where}:" if following else f"nothing follows in this play {where}"]
    for task in following:
        condition = f"  (when {task['when']})" if task.get("when") else ""
        lines.append(f"  - {task['name']} [{task['action']}]{condition}")
    if check_run is not None:
        minutes = max(0, int((time.time() - float(check_run.get("started") or 0)) // 60))
        lines.append(f"a --check run of {check_run.get('playbook')} {minutes} min ago said {check_run.get('changed')} "
                     f"step(s) would change {where} (ajudaplay show {check_run.get('run_id')})")
    return ctx.step.redact("\n".join(lines))


def run_confirm(ctx: ActionContext, args: Any) -> Result:
    """`confirm: {prompt}`: ask before the rest of the play; yes continues, anything else fails the step."""
    a = _args(args, "prompt")
    prompt = _prompt(ctx, a, "confirm", "Continue?")
    per_target = _per_target(a, "confirm")
    following = ctx.step.following()
    if ctx.step.check:
        return Result(skipped=True, msg=f"would ask: {prompt} (check mode asks nothing)",
                      data={"prompt": prompt, "following": following})
    scope = "" if per_target else " (one answer for every target of this step)"
    check_run = last_check_run(ctx)
    question = f"{outlook(ctx, following, check_run)}\n{prompt}{scope}"

    def ask() -> str:
        try:
            return ctx.step.confirm(question)
        except NotConfirmed:
            if _on_terminal():
                raise NotConfirmed(f"not confirmed by {ctx.step.user} on the terminal: {prompt}") from None
            raise NotConfirmed(f"not confirmed: {prompt}: needs a yes, and there is no terminal to ask on; "
                               "run it from a terminal, or pass --yes to answer yes in advance") from None

    answer, asked = _answer_once(ctx, prompt, per_target, ask)
    if answer.refusal:
        return Result(failed=True, msg=answer.refusal, data={"prompt": prompt, "confirmed": False})
    how = "" if asked else " (asked once for every target)"
    return Result(show=True, msg=f"confirmed by {answer.who}{how}",
                  data={"prompt": prompt, "confirmed": True, "confirmed_by": answer.who, "following": following,
                        "check_run": None if check_run is None else check_run.get("run_id")})


# pause -----------------------------------------------------------------------------

def _seconds(a: dict[str, Any]) -> float | None:
    value = a.get("seconds")
    if value is None:
        return None
    if isinstance(value, bool):
        raise TargetError(f"pause.seconds must be a number of seconds, got {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise TargetError(f"pause.seconds must be a number of seconds, got {value!r}") from None
    if not 0 <= seconds <= 86400:
        raise TargetError(f"pause.seconds must be between 0 and 86400, got {value!r}")
    return seconds


def run_pause(ctx: ActionContext, args: Any) -> Result:
    """`pause: {seconds}` waits (Ctrl-C stops it); `pause: {prompt}` waits for Enter on the terminal."""
    a = _args(args, "prompt")
    seconds = _seconds(a)
    if seconds is None and "prompt" not in a:
        raise TargetError("pause needs `seconds`, a `prompt` (wait for Enter), or both")
    prompt = _prompt(ctx, a, "pause", "Paused")
    per_target = _per_target(a, "pause")
    if ctx.step.check:
        what = f"{seconds:g}s" if seconds is not None else "for Enter"
        return Result(skipped=True, msg=f"would wait {what}: {prompt} (check mode waits for nothing)",
                      data={"prompt": prompt})
    if seconds is not None:
        return _wait(ctx, prompt, seconds)
    if ctx.step.assume_yes:
        who = f"{ctx.step.user} (--yes)"
        return Result(show=True, msg=f"{prompt}: not waiting for Enter: --yes given", data={"prompt": prompt, "confirmed_by": who})
    answer, asked = _answer_once(ctx, prompt, per_target, lambda: _enter(ctx, prompt))
    if answer.refusal:
        return Result(failed=True, msg=answer.refusal, data={"prompt": prompt})
    how = "" if asked else " (once for every target)"
    return Result(show=True, msg=f"resumed by {answer.who}{how}", data={"prompt": prompt, "confirmed_by": answer.who})


def _wait(ctx: ActionContext, prompt: str, seconds: float) -> Result:
    """Sleep `seconds` unless the step is cancelled (Ctrl-C, timeout): then fail, saying how long it waited."""
    start = time.monotonic()
    ctx.step.progress(f"{prompt}: waiting {seconds:g}s")
    if ctx.step.cancel.wait(seconds):
        waited = time.monotonic() - start
        return Result(failed=True, msg=f"{prompt}: interrupted after {waited:.1f}s of {seconds:g}s",
                      data={"prompt": prompt, "waited": round(waited, 3)})
    return Result(show=True, msg=f"{prompt}: waited {seconds:g}s", data={"prompt": prompt, "waited": seconds})


def _enter(ctx: ActionContext, prompt: str) -> str:
    """Wait for Enter on the terminal, looking at the cancel event; who pressed it."""
    if not _on_terminal():
        raise NotConfirmed(f"{prompt}: pause waits for Enter, and there is no terminal to wait on; "
                           "run it from a terminal, give `seconds`, or pass --yes to go on at once")
    with _TERMINAL:
        sys.stderr.write(f"\n{prompt} (press Enter to continue) ")
        sys.stderr.flush()
        while True:
            if ctx.step.cancelled():
                raise TargetError(f"{prompt}: interrupted while waiting for Enter")
            ready, _, _ = select.select([sys.stdin], [], [], POLL)
            if ready:
                if not sys.stdin.readline():
                    raise NotConfirmed(f"{prompt}: the terminal closed while waiting for Enter")
                return f"{ctx.step.user} on the terminal"
