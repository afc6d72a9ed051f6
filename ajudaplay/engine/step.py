"""One task on one target: when, loop, retries/until, changed_when/failed_when, register.

`run_step` never raises for anything a step can do wrong: target errors,
template errors, timeouts and bugs in actions all become a failed (or
unreachable) result, so one target can never crash the run.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ajudaplay.actions.base import ActionContext
from ajudaplay.actions.control import SET_VARS_KEY
from ajudaplay.engine.events import Status, TaskResult
from ajudaplay.engine.inflight import STOP_GRACE
from ajudaplay.engine.prepare import prepare_target
from ajudaplay.engine.progress import ProgressFeed
from ajudaplay.engine.variables import step_vars
from ajudaplay.errors import Interrupted, LockHeld, Mark, TargetError, TargetUnreachable, TemplateError
from ajudaplay.targets.base import Result, StepContext
from ajudaplay.templating import as_data

if TYPE_CHECKING:
    from ajudaplay.engine.plan_walk import Scope
    from ajudaplay.engine.state import RunContext, TargetState
    from ajudaplay.playbook.model import Play, Task

DEFAULT_UNTIL_RETRIES = 3  # like Ansible, `until` without `retries`


@dataclass
class _Outcome:
    """The aggregated result of a task on one target, before it becomes an event."""

    result: Result
    status: Status
    error: str = ""
    registered: dict[str, Any] = field(default_factory=dict)
    itemized: bool = False  # a loop whose items were each reported (and counted) already: no event for the whole


class _Unreachable(Exception):
    """Internal: the target could not be opened; carries the message."""


def run_step(rc: RunContext, play: Play, task: Task, ts: TargetState, scope: Scope, handler: bool = False) -> Status:
    """Run `task` on one target, emit its TaskResult, update the target's state; return the status."""
    started = time.time()
    t0 = time.monotonic()
    check = rc.options.check if task.check_mode is None else task.check_mode
    report = _Reporter(rc, play, task, ts, handler, scope.rescued)
    try:
        outcome = _run(rc, play, task, ts, scope, check, report)
    except Exception as exc:  # a bug in the engine itself: still a result, never a crash
        outcome = _internal_error(rc, ts, exc)
    outcome.status = report.judged(outcome.status)
    if outcome.status == "interrupted":
        outcome.error = outcome.error or "interrupted"
    _account(rc, task, ts, outcome)
    if not outcome.itemized:
        report.emit(outcome.status, outcome.result, outcome.error, started, t0)
    return outcome.status


@dataclass
class _Reporter:
    """Emits the TaskResult events of one task on one target, and counts each one in the recap.

    One event, one count: the console line, the JSON `task_result`, the JUnit
    test case, the journal row and the recap counters all stand for the same
    thing, so the recap and `ajudaplay history` add up to the same numbers.
    A loop reports each item as it finishes (`item` = its label).
    """

    rc: RunContext
    play: Play
    task: Task
    ts: TargetState
    handler: bool
    rescued: bool  # inside a block with a `rescue`: a failure is handed to it

    def judged(self, status: Status) -> Status:
        """The status as reported: a failure while the run stops is "interrupted"; one a rescue takes, "rescued"."""
        if self.rc.interrupted.is_set() and status in ("failed", "ignored"):
            return "interrupted"
        if status == "failed" and self.rescued and self.ts.lock_held is None and not self.ts.lock_lost:
            return "rescued"  # (a lost or held lock is never rescued: engine/blocks.py)
        return status

    def emit(self, status: Status, result: Result, error: str, started: float, t0: float, item: Any = None) -> None:
        status = self.judged(status)
        if status == "interrupted":
            error = error or "interrupted"
        self.ts.counters.add(status, result.rolled_back)
        self.rc.bus.emit(
            TaskResult(
                run_id=self.rc.run_id,
                play=self.play.name,
                task=self.task.name,
                target=self.ts.name,
                status=status,
                result=result,
                duration=time.monotonic() - t0,
                started_at=started,
                item=item,
                handler=self.handler,
                error=error,
                action=self.task.action or "",
            )
        )


def _run(
    rc: RunContext, play: Play, task: Task, ts: TargetState, scope: Scope, check: bool, report: _Reporter,
) -> _Outcome:
    try:
        variables = step_vars(rc, ts, play, [*scope.vars, (task.vars, task.mark)], check)
        conditions = [(w, m) for w, m in scope.when] + [(w, task.mark) for w in task.when]
        if task.loop is None:
            if not _when(rc, conditions, variables):
                return _skipped("conditional result was False")
            result = _attempts(rc, play, task, ts, variables, check)
            return _single(task, result)
        items = rc.templar.render(task.loop, variables, task.mark)
        if not isinstance(items, list):
            raise TemplateError(f"loop must be a list, got {type(items).__name__}", task.mark)
        results: list[Result] = []
        for item in items:
            if rc.interrupted.is_set() or ts.stopped:
                break
            started, t0 = time.time(), time.monotonic()
            item_vars = {**variables, task.loop_var: item}
            label = item if task.loop_label is None else rc.templar.render(task.loop_label, item_vars, task.mark)
            if not _when(rc, conditions, item_vars):
                res = Result(skipped=True, msg="conditional result was False")
            else:
                res = _attempts(rc, play, task, ts, item_vars, check)
            res.data.setdefault(task.loop_var, item)
            results.append(res)
            single = _single(task, res)
            report.emit(single.status, res, single.error, started, t0, item=label)
            if res.failed and not task.ignore_errors:
                break
        return _looped(task, results)
    except _Unreachable as exc:
        return _Outcome(Result(failed=True, msg=str(exc)), "unreachable", str(exc))
    except LockHeld as exc:
        message = ts.error or str(exc)  # prepare_target's, with the --lock-wait / unlock hint
        return _Outcome(Result(failed=True, msg=message), "failed", message)
    except TemplateError as exc:
        return _failed(task, str(exc))


def _when(rc: RunContext, conditions: list[tuple[str, Mark]], variables: Mapping[str, Any]) -> bool:
    return all(rc.templar.truth(expr, variables, mark) for expr, mark in conditions)


def _attempts(rc: RunContext, play: Play, task: Task, ts: TargetState, variables: dict[str, Any], check: bool) -> Result:
    """Call the action, retrying per `retries`/`until`/`delay`, applying changed_/failed_when."""
    retries = task.retries or (DEFAULT_UNTIL_RETRIES if task.until else 0)
    attempts = 0
    while True:
        attempts += 1
        result = _call(rc, play, task, ts, variables, check)
        registered = registered_value(result)
        judged = {**variables, "result": registered}
        if task.register:
            judged[task.register] = registered
        if task.changed_when is not None:
            result.changed = rc.templar.truth(task.changed_when, judged, task.mark)
        if task.failed_when is not None:
            result.failed = rc.templar.truth(task.failed_when, judged, task.mark)
        registered.update(changed=result.changed, failed=result.failed)
        if task.until:
            done = not result.failed and rc.templar.truth(task.until, {**judged, "result": registered}, task.mark)
        else:
            done = not result.failed
        if done or attempts > retries or rc.interrupted.is_set() or ts.stopped:  # stopped: still running
            break
        rc.message(ts.name, f"{task.name}: retrying ({attempts}/{retries}) in {task.delay:g}s", "info")
        if rc.interrupted.wait(task.delay):
            break
    if task.until and not done and not result.failed:
        result.failed = True
        result.msg = f"until condition {task.until!r} not met after {attempts} attempt(s)"
    if retries:
        result.data["attempts"] = attempts
    return result


def _call(rc: RunContext, play: Play, task: Task, ts: TargetState, variables: dict[str, Any], check: bool) -> Result:
    """One action call: render args, connect/lock if needed, enforce the timeout, map errors."""
    spec = rc.registry.get(task.action or "")
    if spec is None:
        return Result(failed=True, msg=f"unknown action {task.action!r}")
    if spec.needs_target(task.args):
        try:
            prepare_target(rc, play, ts)
        except TargetUnreachable as exc:
            raise _Unreachable(str(exc)) from exc
    args = rc.templar.render(task.args, variables, task.mark)
    cancel = rc.new_cancel(ts.name)
    log_target = ts.name
    feed = ProgressFeed(rc.bus.emit, rc.run_id, ts.name, task.name, rc.ticker)

    def log(text: str) -> None:
        rc.message(log_target, text, "debug")

    step = StepContext(
        run_id=rc.run_id,
        check=check,
        diff=rc.options.diff,
        timeout=task.timeout,
        cancel=cancel,
        log=log,
        user=rc.holder.user,
        base_dir=rc.base_dir,
        confirm=rc.confirm,
        progress=feed,
        step_key=f"{id(play)}:{task.mark}",  # blocks.py copies the task (its rendered name): the mark stays
        following=lambda: following_tasks(rc, play, task),
        assume_yes=rc.options.assume_yes,
        redact=rc.bus.redactor.text,
    )
    assert ts.target is not None
    ctx = ActionContext(
        target=ts.target,
        step=step,
        vars=variables,
        render=lambda value: rc.templar.render(value, variables, task.mark),
        add_secret=rc.bus.redactor.add,
        **({"recent_runs": rc.options.recent_runs} if rc.options.recent_runs else {}),
    )
    rc.inflight.enter(ts.name)
    try:
        if task.timeout:
            return _with_timeout(rc, spec.run, ctx, args, task.timeout, cancel, ts)
        try:
            return _guarded(rc, spec.run, ctx, args, ts.name)
        finally:
            rc.inflight.leave(ts.name)
    finally:
        rc.drop_cancel(cancel)
        feed.close()


def _guarded(rc: RunContext, fn: Any, ctx: ActionContext, args: Any, target: str) -> Result:
    """Call an action and turn every exception into a Result (unreachable is re-raised)."""
    try:
        result = fn(ctx, args)
    except TargetUnreachable as exc:
        raise _Unreachable(str(exc)) from exc
    except (TargetError, TemplateError, Interrupted) as exc:  # Interrupted: the action obeyed its cancel
        return Result(failed=True, msg=str(exc))
    except Exception as exc:
        if rc.options.verbosity >= 2:
            rc.message(target, traceback.format_exc(), "debug")
        return Result(failed=True, msg=f"internal error: {type(exc).__name__}: {exc}")
    if not isinstance(result, Result):
        return Result(failed=True, msg=f"internal error: action returned {type(result).__name__}, not Result")
    if ctx.step.cancelled() and rc.interrupted.is_set() and not result.failed:
        result.warnings.append("interrupted")
    return result


def _with_timeout(
    rc: RunContext, fn: Any, ctx: ActionContext, args: Any, timeout: float, cancel: threading.Event, ts: TargetState,
) -> Result:
    """Run the action in a worker and wait at most `timeout`; then stop it, wait for that, fail the step.

    Waiting on a worker (not gevent.Timeout) because raising inside arbitrary
    client code can leave a connection half-used. At the deadline the action
    is told to stop through `ctx.cancel` (its command is killed) and the step
    returns once it has: the target's next task never starts beside it. An
    action still running STOP_GRACE seconds later gives the target up for the
    rest of the run (stopped), so two commands never run at once on a target.
    """
    box: list[Result | BaseException] = []
    done = threading.Event()

    def worker() -> None:
        try:
            box.append(_guarded(rc, fn, ctx, args, ctx.target.name))
        except BaseException as exc:  # _Unreachable travels back to the caller
            box.append(exc)
        finally:
            rc.inflight.leave(ts.name)
            done.set()

    threading.Thread(target=worker, daemon=True, name="ajudaplay-timeout").start()
    if not done.wait(timeout):
        cancel.set()
        if not done.wait(STOP_GRACE):
            ts.stopped = True
            return Result(failed=True, msg=(
                f"timed out after {timeout:g}s, and still running {STOP_GRACE:g}s after it was told to stop; "
                "nothing more runs on this target in this run"))
        return Result(failed=True, msg=f"timed out after {timeout:g}s")
    value = box[0]
    if isinstance(value, BaseException):
        raise value
    return value


def registered_value(result: Result) -> dict[str, Any]:
    """What `register` stores: the action's data plus changed/failed/skipped/msg/changes."""
    data = dict(result.data)
    set_vars = data.pop(SET_VARS_KEY, None)
    if set_vars is not None:
        data["vars"] = set_vars
    data.update(
        changed=result.changed,
        failed=result.failed,
        skipped=result.skipped,
        msg=result.msg,
        changes=[c.summary() for c in result.changes],
    )
    if result.warnings:
        data["warnings"] = list(result.warnings)
    return data


def _skipped(reason: str) -> _Outcome:
    return _Outcome(Result(skipped=True, msg=reason), "skipped", registered={"skipped": True, "changed": False, "failed": False, "msg": reason})


def _failed(task: Task, message: str) -> _Outcome:
    status: Status = "ignored" if task.ignore_errors else "failed"
    result = Result(failed=True, msg=message)
    return _Outcome(result, status, message, registered_value(result))


def _single(task: Task, result: Result) -> _Outcome:
    registered = registered_value(result)
    if result.failed:
        status: Status = "ignored" if task.ignore_errors else "failed"
        return _Outcome(result, status, result.msg or "failed", registered)
    if result.skipped:
        return _Outcome(result, "skipped", registered=registered)
    return _Outcome(result, "changed" if result.changed else "ok", registered=registered)


def _looped(task: Task, results: list[Result]) -> _Outcome:
    merged = Result(
        changed=any(r.changed for r in results),
        failed=any(r.failed for r in results),
        skipped=bool(results) and all(r.skipped for r in results),
        msg="; ".join(r.msg for r in results if r.failed and r.msg),
        changes=[c for r in results for c in r.changes],
        warnings=[w for r in results for w in r.warnings],
        revisions=[v for r in results for v in r.revisions],
        rolled_back=any(r.rolled_back for r in results),
    )
    merged.data["results"] = [registered_value(r) for r in results]
    outcome = _single(task, merged)
    outcome.itemized = bool(results)  # an empty loop still reports the task once
    outcome.registered = {
        "results": merged.data["results"],
        "changed": merged.changed,
        "failed": merged.failed,
        "skipped": merged.skipped,
        "msg": merged.msg,
    }
    return outcome


def _internal_error(rc: RunContext, ts: TargetState, exc: Exception) -> _Outcome:
    if rc.options.verbosity >= 2:
        rc.message(ts.name, traceback.format_exc(), "debug")
    message = f"internal error: {type(exc).__name__}: {exc}"
    return _Outcome(Result(failed=True, msg=message), "failed", message)


def _account(rc: RunContext, task: Task, ts: TargetState, outcome: _Outcome) -> None:
    """Update registered variables, notifications and the target's fate (counting is `count`'s)."""
    status = outcome.status
    if status == "unreachable":
        ts.unreachable = True
        ts.error = outcome.error
    elif status in ("failed", "rescued"):  # rescued: the block stops here and its rescue runs
        ts.failed = True
        ts.error = outcome.error
    elif status == "interrupted":  # the run is stopping: this target runs nothing more
        ts.stopped = True
        ts.error = outcome.error
    if task.register and status != "unreachable":
        ts.facts[task.register] = as_data(outcome.registered)  # data, never a template
    set_vars = outcome.result.data.get(SET_VARS_KEY)
    if isinstance(set_vars, dict) and not outcome.result.failed:
        ts.facts.update(as_data(set_vars))
    if outcome.result.changed and status in ("changed", "ignored"):
        ts.notified.update(task.notify)


def following_tasks(rc: RunContext, play: Play, task: Task) -> list[dict[str, str]]:
    """The play's tasks after `task` that --tags/--skip-tags keep, in run order (StepContext.following).

    Built with the plan's own walker (plan_walk.tree, as plan.py builds a play's
    tree) only when an approval step asks, so every other step pays nothing.
    Rescue sections are left out: they run only when something failed.
    """
    from ajudaplay.engine.plan_walk import Node, Scope, tree

    nodes = tree(play.tasks, Scope(tags=frozenset(play.tags)), rc.options.tags, rc.options.skip_tags)
    order: list[Node] = []

    def walk(section: tuple[Node, ...]) -> None:
        for node in section:
            if node.is_block:
                walk(node.block)
                walk(node.always)
            else:
                order.append(node)

    walk(nodes)
    here = str(task.mark)  # the task as run is a copy (blocks.py renders its name); its place in the file is the same
    after = next((i + 1 for i, node in enumerate(order) if str(node.task.mark) == here), len(order))
    return [{"name": node.task.name, "action": node.task.action or "",
             "when": " and ".join(w for w, _ in node.conditions)}
            for node in order[after:] if node.selected]
