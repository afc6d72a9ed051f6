"""The plan stage's checks: everything a run establishes before it touches a target.

`plan()` is the one code path behind `run`, `run --list-tasks/--list-targets`
and `validate`: target patterns, --limit, --start-at-step, every template
(undefined variables, filters, tests, sandbox) and the arguments whose values
are known before the run (engine/argcheck.py). Without an inventory
(`validate` without `-i`) the checks that need one are skipped, and the plan
says which. Every variable a template uses must be definable by some source
(inventory, play/task/block vars, extra vars, a `register` or `set_vars`
anywhere in the playbook, a loop variable, magic variables). All problems are
reported together as InvalidInput, exit code 3, and nothing has run.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ajudaplay.engine.variables import JINJA_GLOBALS, MAGIC_VARS, dependency_order
from ajudaplay.errors import Diagnostic, InvalidInput, Mark, TemplateError
from ajudaplay.templating import is_template

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.engine.options import RunOptions
    from ajudaplay.engine.state import RunContext
    from ajudaplay.inventory.model import Inventory
    from ajudaplay.playbook.model import Playbook, Task
    from ajudaplay.templating import Templar

RESULT_NAMES = ("result", "item", "ansible_loop")
EXPRESSION_FIELDS = ("until", "changed_when", "failed_when")
INVENTORY_CHECKS = ("host patterns", "undefined variables", "argument values", "service names")


@dataclass(frozen=True)
class Plan:
    """What the checks before a run established: the targets of each play, and every problem.

    The seed of the plan stage (parse -> validate -> plan -> execute): `run`,
    the listings and `validate` all build one, and nothing else decides
    whether a run may start.
    """

    selections: list[list[str]]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    skipped: tuple[str, ...] = ()  # checks that need an inventory, when there was none

    def raise_if_invalid(self) -> None:
        if self.diagnostics:
            raise InvalidInput(self.diagnostics)


def select(inventory: Inventory, pattern: str, limit: str | None, mark: Mark | None = None) -> list[str]:
    """Targets of a play pattern, intersected with --limit, in inventory order."""
    from ajudaplay.inventory.patterns import select_targets

    names = select_targets(inventory, pattern, mark)
    if limit:
        allowed = set(select_targets(inventory, limit))
        names = [n for n in names if n in allowed]
    return names


def plan(
    playbook: Playbook, inventory: Inventory | None, registry: Registry, options: RunOptions,
    templar: Templar, templates: bool = True,
) -> Plan:
    """Every check a run makes before it touches a target; `inventory=None` skips those that need one.

    `templates=False` (for --list-tasks/--list-targets) checks only selections.
    """
    diagnostics: list[Diagnostic] = []
    if inventory is None:
        selections: list[list[str]] = [[] for _ in playbook.plays]
    else:
        selections = _selections(playbook, inventory, options, diagnostics)
    if options.start_at_step and options.start_at_step not in set(_task_names(playbook)):
        close = difflib.get_close_matches(options.start_at_step, list(_task_names(playbook)), n=1)
        diagnostics.append(
            Diagnostic(None, f"--start-at-step: no task named {options.start_at_step!r}",
                       f"did you mean {close[0]!r}?" if close else "use --list-tasks to see the task names")
        )
    if templates:
        known = None if inventory is None else _known_everywhere(playbook, inventory, options, selections)
        template_problems = check_templates(playbook, templar, known)
        if inventory is not None:
            template_problems += check_inventory_templates(inventory, templar, options, selections)
        diagnostics.extend(template_problems)
        if inventory is not None and not template_problems:  # rendering a refused template proves nothing
            from ajudaplay.engine.argcheck import check_arguments

            diagnostics.extend(check_arguments(playbook, inventory, registry, options, templar, selections))
    return Plan(selections, _unique(diagnostics), INVENTORY_CHECKS if inventory is None else ())


def preflight(rc: RunContext, templates: bool = True) -> list[list[str]]:
    """`plan()` for a run: the selected target names of each play. Raises InvalidInput."""
    checked = plan(rc.playbook, rc.inventory, rc.registry, rc.options, rc.templar, templates)
    checked.raise_if_invalid()
    return checked.selections


def _selections(playbook: Playbook, inventory: Inventory, options: RunOptions, diagnostics: list[Diagnostic]) -> list[list[str]]:
    selections: list[list[str]] = []
    if options.limit:
        try:
            from ajudaplay.inventory.patterns import select_targets

            select_targets(inventory, options.limit)
        except InvalidInput as exc:
            diagnostics.extend(exc.diagnostics)
    limit = None if diagnostics else options.limit
    for index, play in enumerate(playbook.plays):
        mark = play.hosts_mark or play.mark
        try:
            selections.append(select(inventory, play.hosts, limit, mark))
        except InvalidInput as exc:
            diagnostics.extend(Diagnostic(d.mark or mark, d.message, d.hint, d.path or f"plays[{index}].hosts")
                               for d in exc.diagnostics)
            selections.append([])
    return selections


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[str] = set()
    out = []
    for diagnostic in diagnostics:
        if str(diagnostic) not in seen:
            seen.add(str(diagnostic))
            out.append(diagnostic)
    return out


@dataclass(frozen=True)
class Validation:
    """What `ajudaplay validate` found: every problem, and the checks it could not make."""

    diagnostics: list[Diagnostic]
    skipped: tuple[str, ...]


def validate(paths: list[Path], registry: Registry, inventory: Path | None, options: RunOptions) -> Validation:
    """File checks of every playbook and inventory, then `plan()` of each playbook, as `run` makes it."""
    from ajudaplay.templating import Templar
    from ajudaplay.validation import check_files

    files = check_files(paths, registry, inventory)
    diagnostics = list(files.diagnostics)
    skipped: tuple[str, ...] = ()
    if inventory is not None and files.inventory is None:
        return Validation(_unique(diagnostics), ())  # `run` stops at the inventory's own problems too
    templar = Templar()
    for playbook in files.playbooks:
        checked = plan(playbook, files.inventory, registry, options, templar)
        diagnostics.extend(checked.diagnostics)
        skipped = skipped or checked.skipped
    return Validation(_unique(diagnostics), skipped)


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


def _known_everywhere(playbook: Playbook, inventory: Inventory, options: RunOptions, selections: list[list[str]]) -> set[str]:
    from ajudaplay.inventory.vars import vars_for

    known: set[str] = set(MAGIC_VARS) | set(JINJA_GLOBALS) | set(RESULT_NAMES)
    known |= set(inventory.vars) | set(options.extra_vars)
    for name in {n for names in selections for n in names}:
        known |= set(vars_for(inventory, name))
    for play in playbook.plays:
        for task in _walk([*play.tasks, *play.handlers]):
            if task.register:
                known.add(task.register)
            if task.action == "set_vars" and isinstance(task.args, dict):
                known |= set(task.args)
    return known


def check_inventory_templates(
    inventory: Inventory, templar: Templar, options: RunOptions, selections: list[list[str]]
) -> list[Diagnostic]:
    """Render the inventory variables of every selected target, as the run will: undefined
    names, unknown filters, sandbox escapes and cycles there are found before anything runs."""
    from ajudaplay.engine.variables import target_vars

    diagnostics: list[Diagnostic] = []
    for name in dict.fromkeys(n for names in selections for n in names):
        try:
            target_vars(templar, inventory, name, options.extra_vars)
        except TemplateError as exc:
            d = exc.diagnostic
            diagnostics.append(Diagnostic(d.mark, f"inventory variables of target {name!r}: {d.message}", d.hint))
    return diagnostics


def check_templates(playbook: Playbook, templar: Templar, known: set[str] | None) -> list[Diagnostic]:
    """Syntax, filters, tests and the sandbox in every template; undefined variables unless `known` is None."""
    diagnostics: list[Diagnostic] = []
    for play in playbook.plays:
        play_known = None if known is None else known | set(play.vars)
        for task in _walk([*play.tasks, *play.handlers]):
            if play_known is not None:
                play_known |= set(task.vars) | {task.loop_var}
        for key, value in play.vars.items():
            diagnostics += _check_value(templar, value, play_known, play.mark, f"vars.{key}")
        for task in _walk([*play.tasks, *play.handlers]):
            diagnostics += _check_task(templar, task, play_known)
        for layer, mark in [(play.vars, play.mark), *((t.vars, t.mark) for t in _walk([*play.tasks, *play.handlers]))]:
            try:
                dependency_order(templar, layer, mark)  # a cycle between vars entries
            except TemplateError as exc:
                diagnostics.append(exc.diagnostic)
    return diagnostics


def _check_task(templar: Templar, task: Task, known: set[str] | None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    marks: dict[str, Mark] = getattr(task, "keyword_marks", {}) or {}
    if known is not None:
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
                        if is_template(expr):  # rendered first, it would be data, never evaluated
                            found.append(Diagnostic(mark, "assert.that: write the expression bare, without {{ }}",
                                                    "e.g. `that: result.stdout == 'ok'`; what a template produces is data"))
                        elif isinstance(expr, str):
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


def _check_value(templar: Templar, value: Any, known: set[str] | None, mark: Mark, where: str) -> list[Diagnostic]:
    if isinstance(value, str):
        return _check_text(templar, value, False, known, mark, where) if is_template(value) else []
    if isinstance(value, dict):
        return [d for k, v in value.items() for d in _check_value(templar, v, known, mark, f"{where}.{k}")]
    if isinstance(value, list):
        return [d for i, v in enumerate(value) for d in _check_value(templar, v, known, mark, f"{where}[{i}]")]
    return []


def _check_text(templar: Templar, text: str, expression: bool, known: set[str] | None, mark: Mark, where: str) -> list[Diagnostic]:
    from jinja2 import TemplateSyntaxError

    try:
        undeclared, unsafe = templar.analyse(text, expression)
    except TemplateSyntaxError as exc:
        return [_syntax_problem(templar, exc, text, mark, where)]
    found: list[Diagnostic] = []
    candidates = sorted(known - set(JINJA_GLOBALS)) if known is not None else []
    for name in sorted(undeclared - known) if known is not None else ():  # None: no inventory, not known
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "define it in the inventory, the play's vars, or pass -e NAME=VALUE"
        found.append(Diagnostic(mark, f"{where}: undefined variable '{name}'", hint))
    for attr in unsafe:
        found.append(
            Diagnostic(mark, f"{where}: unsafe attribute '{attr}' refused by the sandbox",
                       "templates may not reach Python internals (names starting with '_')")
        )
    return found


_UNKNOWN_NAME = re.compile(r"^No (?P<kind>filter|test) named '(?P<name>[^']+)'")


def _syntax_problem(templar: Templar, exc: Exception, text: str, mark: Mark, where: str) -> Diagnostic:
    """A template that does not compile; an unknown filter or test gets a did-you-mean."""
    message = str(getattr(exc, "message", None) or exc)
    found = _UNKNOWN_NAME.match(message)
    if found is None:
        return Diagnostic(mark, f"{where}: template syntax error: {message}", f"in {text!r}")
    kind, name = found.group("kind"), found.group("name")
    names = sorted(templar.env.filters if kind == "filter" else templar.env.tests)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'? (in {text!r})" if close else f"{kind}s: {', '.join(names)}"
    return Diagnostic(mark, f"{where}: unknown {kind} '{name}'", hint)


def invalid_run_events(
    playbook: str, inventory: str, diagnostics: list[Diagnostic], *, check: bool = False, limit: str | None = None,
) -> list[Any]:
    """The events of a run refused at validation: RunStarted, one InputProblem each, RunFinished `invalid`."""
    import getpass
    import time
    import uuid

    from ajudaplay.engine.events import InputProblem, RunFinished, RunStarted
    from ajudaplay.exitcodes import ExitCode

    run_id = uuid.uuid4().hex[:16]
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    count = len(diagnostics)
    message = f"{count} problem{'s' if count != 1 else ''} found; nothing was changed"
    return [
        RunStarted(run_id, playbook, inventory, user, time.time(), check, {"limit": limit}),
        *(InputProblem(run_id, d) for d in diagnostics),
        RunFinished(run_id, "invalid", int(ExitCode.INVALID_INPUT), time.time(), {}, message),
    ]
