"""Checks before anything executes: target patterns, --limit, --start-at-step, templates.

Every variable a template uses must be definable by some source (inventory,
play/task/block vars, extra vars, a `register` or `set_vars` anywhere in the
playbook, a loop variable, magic variables); unsafe attribute access is
refused. All problems are reported together as InvalidInput, exit code 3,
and nothing has run.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ajudaplay.engine.variables import JINJA_GLOBALS, MAGIC_VARS
from ajudaplay.errors import Diagnostic, InvalidInput, Mark
from ajudaplay.templating import is_template

if TYPE_CHECKING:
    from ajudaplay.engine.state import RunContext
    from ajudaplay.inventory.model import Inventory
    from ajudaplay.playbook.model import Play, Playbook, Task
    from ajudaplay.templating import Templar

RESULT_NAMES = ("result", "item", "ansible_loop")
EXPRESSION_FIELDS = ("until", "changed_when", "failed_when")


def select(inventory: Inventory, pattern: str, limit: str | None, mark: Mark | None = None) -> list[str]:
    """Targets of a play pattern, intersected with --limit, in inventory order."""
    from ajudaplay.inventory.patterns import select_targets

    names = select_targets(inventory, pattern, mark)
    if limit:
        allowed = set(select_targets(inventory, limit))
        names = [n for n in names if n in allowed]
    return names


def preflight(rc: RunContext, templates: bool = True) -> list[list[str]]:
    """Validate the run; return the selected target names of each play. Raises InvalidInput.

    `templates=False` (for --list-tasks/--list-targets) checks only selections.
    """
    diagnostics: list[Diagnostic] = []
    selections: list[list[str]] = []
    opts = rc.options
    if opts.limit:
        try:
            from ajudaplay.inventory.patterns import select_targets

            select_targets(rc.inventory, opts.limit)
        except InvalidInput as exc:
            diagnostics.extend(exc.diagnostics)
    for play in rc.playbook.plays:
        try:
            selections.append(select(rc.inventory, play.hosts, None if diagnostics else opts.limit, play.mark))
        except InvalidInput as exc:
            diagnostics.extend(Diagnostic(d.mark or play.mark, d.message, d.hint, d.path) for d in exc.diagnostics)
            selections.append([])
    if opts.start_at_step and opts.start_at_step not in set(_task_names(rc.playbook)):
        close = difflib.get_close_matches(opts.start_at_step, list(_task_names(rc.playbook)), n=1)
        diagnostics.append(
            Diagnostic(None, f"--start-at-step: no task named {opts.start_at_step!r}",
                       f"did you mean {close[0]!r}?" if close else "use --list-tasks to see the task names")
        )
    if templates:
        diagnostics.extend(check_templates(rc, selections))
    if diagnostics:
        raise InvalidInput(diagnostics)
    return selections


def _task_names(playbook: Playbook) -> Iterator[str]:
    for play in playbook.plays:
        for task in _walk(play.tasks):
            if not task.is_block:
                yield task.name


def _walk(tasks: Sequence[Task]) -> Iterator[Task]:
    for task in tasks:
        yield task
        if task.is_block:
            yield from _walk(task.block or [])
            yield from _walk(task.rescue)
            yield from _walk(task.always)


def _known_everywhere(rc: RunContext, selections: list[list[str]]) -> set[str]:
    from ajudaplay.inventory.vars import vars_for

    known: set[str] = set(MAGIC_VARS) | set(JINJA_GLOBALS) | set(RESULT_NAMES)
    known |= set(rc.inventory.vars) | set(rc.options.extra_vars)
    for name in {n for names in selections for n in names}:
        known |= set(vars_for(rc.inventory, name))
    for play in rc.playbook.plays:
        for task in _walk([*play.tasks, *play.handlers]):
            if task.register:
                known.add(task.register)
            if task.action == "set_vars" and isinstance(task.args, dict):
                known |= set(task.args)
    return known


def check_templates(rc: RunContext, selections: list[list[str]]) -> list[Diagnostic]:
    """Undefined variables and unsafe attribute access in every template of the playbook."""
    known = _known_everywhere(rc, selections)
    diagnostics: list[Diagnostic] = []
    for play in rc.playbook.plays:
        play_known = known | set(play.vars)
        for task in _walk([*play.tasks, *play.handlers]):
            play_known |= set(task.vars) | {task.loop_var}
        for key, value in play.vars.items():
            diagnostics += _check_value(rc.templar, value, play_known, play.mark, f"vars.{key}")
        for task in _walk([*play.tasks, *play.handlers]):
            diagnostics += _check_task(rc.templar, task, play_known)
    return diagnostics


def _check_task(templar: Templar, task: Task, known: set[str]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    marks: dict[str, Mark] = getattr(task, "keyword_marks", {}) or {}
    known = known | _guarded(templar, task.when)
    for expr in task.when:
        found += _check_text(templar, expr, True, known, marks.get("when", task.mark), "when")
    for field in EXPRESSION_FIELDS:
        value = getattr(task, field)
        if isinstance(value, str):
            found += _check_text(templar, value, True, known, marks.get(field, task.mark), field)
    if task.loop is not None:
        found += _check_value(templar, task.loop, known, marks.get("loop", task.mark), "loop")
    for key, value in task.vars.items():
        found += _check_value(templar, value, known, marks.get("vars", task.mark), f"vars.{key}")
    if task.args is not None and not task.is_block:
        if isinstance(task.args, dict):
            for key, value in task.args.items():
                mark = task.arg_marks.get(key, task.mark)
                found += _check_value(templar, value, known, mark, f"{task.action}.{key}")
                if task.action == "assert" and key == "that":
                    for expr in value if isinstance(value, list) else [value]:
                        if isinstance(expr, str):
                            found += _check_text(templar, expr, True, known, mark, "assert.that")
        else:
            mark = next(iter(task.arg_marks.values()), task.mark)
            found += _check_value(templar, task.args, known, mark, str(task.action))
    return found


def _guarded(templar: Templar, conditions: list[str]) -> set[str]:
    if not conditions:  # a playbook without templates never imports Jinja2
        return set()
    from jinja2 import TemplateSyntaxError

    names: set[str] = set()
    for expr in conditions:
        try:
            names |= templar.guarded_names(expr)
        except TemplateSyntaxError:
            pass  # reported by _check_text
    return names


def _check_value(templar: Templar, value: Any, known: set[str], mark: Mark, where: str) -> list[Diagnostic]:
    if isinstance(value, str):
        return _check_text(templar, value, False, known, mark, where) if is_template(value) else []
    if isinstance(value, dict):
        return [d for k, v in value.items() for d in _check_value(templar, v, known, mark, f"{where}.{k}")]
    if isinstance(value, list):
        return [d for i, v in enumerate(value) for d in _check_value(templar, v, known, mark, f"{where}[{i}]")]
    return []


def _check_text(templar: Templar, text: str, expression: bool, known: set[str], mark: Mark, where: str) -> list[Diagnostic]:
    from jinja2 import TemplateSyntaxError

    try:
        undeclared, unsafe = templar.analyse(text, expression)
    except TemplateSyntaxError as exc:
        return [Diagnostic(mark, f"{where}: template syntax error: {exc.message}", f"in {text!r}")]
    found: list[Diagnostic] = []
    for name in sorted(undeclared - known):
        close = difflib.get_close_matches(name, sorted(known - set(JINJA_GLOBALS)), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "define it in the inventory, the play's vars, or pass -e NAME=VALUE"
        found.append(Diagnostic(mark, f"{where}: undefined variable '{name}'", hint))
    for attr in unsafe:
        found.append(
            Diagnostic(mark, f"{where}: unsafe attribute '{attr}' refused by the sandbox",
                       "templates may not reach Python internals (names starting with '_')")
        )
    return found
