"""The plan stage's template checks, and `validate`: what a run establishes before it touches a target.

`engine/plan.py` builds the Plan (the one code path behind `run`, the listings
and `validate`); this module checks every template in it (undefined
variables, filters, tests, sandbox, cycles between vars entries), while
engine/argcheck.py renders the arguments known before the run. Without an
inventory (`validate` without `-i`) the checks that need one are skipped, and
the plan says which. Every variable a template uses must be definable by some
source (inventory, play/task/block vars, extra vars, a `register` or
`set_vars` anywhere in the playbook, a loop variable, magic variables). All
problems are reported together as InvalidInput, exit code 3, and nothing has run.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ajudaplay.engine.plan_walk import every
from ajudaplay.engine.variables import JINJA_GLOBALS, MAGIC_VARS, dependency_order
from ajudaplay.errors import Diagnostic, Mark, TemplateError
from ajudaplay.templating import is_template

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.engine.options import RunOptions
    from ajudaplay.engine.plan import PlannedPlay
    from ajudaplay.inventory.model import Inventory
    from ajudaplay.playbook.model import Task
    from ajudaplay.templating import Templar

RESULT_NAMES = ("result", "item", "ansible_loop")
EXPRESSION_FIELDS = ("until", "changed_when", "failed_when")


@dataclass(frozen=True)
class Validation:
    """What `ajudaplay validate` found: every problem, and the checks it could not make."""

    diagnostics: list[Diagnostic]
    skipped: tuple[str, ...]


def validate(paths: list[Path], registry: Registry, inventory: Path | None, options: RunOptions) -> Validation:
    """File checks of every playbook and inventory, then the Plan of each playbook, as `run` builds it."""
    from ajudaplay.engine.plan import build_plan, unique
    from ajudaplay.templating import Templar
    from ajudaplay.validation import check_files

    files = check_files(paths, registry, inventory)
    diagnostics = list(files.diagnostics)
    skipped: tuple[str, ...] = ()
    if inventory is not None and files.inventory is None:
        return Validation(unique(diagnostics), ())  # `run` stops at the inventory's own problems too
    templar = Templar()
    for playbook in files.playbooks:
        checked = build_plan(playbook, files.inventory, registry, options, templar)
        diagnostics.extend(checked.diagnostics)
        skipped = skipped or checked.skipped
    return Validation(unique(diagnostics), skipped)


def known_everywhere(plays: Sequence[PlannedPlay], inventory: Inventory, options: RunOptions, assigned: set[str]) -> set[str]:
    """Every name some source defines: magic, inventory (of the selected targets), extra vars, registered."""
    from ajudaplay.inventory.vars import vars_for

    known: set[str] = set(MAGIC_VARS) | set(JINJA_GLOBALS) | set(RESULT_NAMES)
    known |= set(inventory.vars) | set(options.extra_vars) | assigned
    for name in {n for p in plays for n in p.targets}:
        known |= set(vars_for(inventory, name))
    return known


def check_templates(plays: Sequence[PlannedPlay], templar: Templar, known: set[str] | None) -> list[Diagnostic]:
    """Syntax, filters, tests and the sandbox in every template; undefined variables unless `known` is None."""
    diagnostics: list[Diagnostic] = []
    for planned in plays:
        play = planned.play
        tasks = [n.task for n in every([*planned.tasks, *planned.handlers])]
        play_known = None if known is None else known | set(play.vars)
        for task in tasks:
            if play_known is not None:
                play_known |= set(task.vars) | {task.loop_var}
        for key, value in play.vars.items():
            diagnostics += _check_value(templar, value, play_known, play.mark, f"vars.{key}")
        for task in tasks:
            diagnostics += _check_task(templar, task, play_known)
        for layer, mark in [(play.vars, play.mark), *((t.vars, t.mark) for t in tasks)]:
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
