"""The plan stage: the playbook expanded against the inventory, before anything runs.

parse (playbook/, inventory/) -> validate (validation.py, the schema) -> plan
(this module) -> execute (run, play, blocks, step) -> report (events).

A `Plan` is every play with its selected targets (patterns, --limit), the
`serial` batches the run forms, its task tree (engine/plan_walk.py: inherited
tags, block scopes, --tags/--skip-tags verdicts, `when` decided statically
where it can be), what --start-at-step skips in which batch, each selected
target's inventory variables rendered once, and every problem the checks
before a run find (engine/preflight.py: templates; engine/argcheck.py:
arguments known before the run). `run`, `run --check`, `run --list-tasks`,
`run --list-targets` and `validate -i` all build this one object with
`build_plan()`; the listings print it, the run executes its plays, batches
and selections. Nothing else decides whether a run may start.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ajudaplay.engine.plan_walk import Node, Scope, assigned_names, leaves, tree
from ajudaplay.errors import Diagnostic, InvalidInput, Mark, TemplateError

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.engine.options import RunOptions
    from ajudaplay.inventory.model import Inventory
    from ajudaplay.playbook.model import Play, Playbook, Task
    from ajudaplay.templating import Templar

INVENTORY_CHECKS = ("host patterns", "undefined variables", "argument values", "service names")


def batch_sizes(serial: Sequence[int | str], total: int) -> list[int]:
    """Ansible's `serial`: ints or "N%", the last value repeating; empty means one batch."""
    if total <= 0:
        return []
    if not serial:
        return [total]
    sizes: list[int] = []
    index = 0
    while sum(sizes) < total:
        spec = serial[min(index, len(serial) - 1)]
        if isinstance(spec, str) and spec.strip().endswith("%"):
            size = int(math.floor(total * float(spec.strip()[:-1]) / 100.0))
        else:
            size = int(spec)
        size = max(1, min(size, total - sum(sizes)))
        sizes.append(size)
        index += 1
    return sizes


@dataclass(frozen=True)
class PlannedPlay:
    """One play expanded: its targets, batches, task tree and what --start-at-step skips."""

    index: int  # 1-based, as the listings number plays
    play: Play
    targets: tuple[str, ...]
    batches: tuple[tuple[str, ...], ...]
    tasks: tuple[Node, ...]
    handlers: tuple[Node, ...]
    touches_targets: bool  # some action runs on the target, not only on the controller: lock it
    start_skips: frozenset[int] = frozenset()  # task indices --start-at-step skips in the first batch
    start_skips_every_batch: bool = False  # the start step is in a later play: every batch skips them

    def skipped(self, batch: int) -> frozenset[int]:
        """Task indices --start-at-step skips in batch number `batch` (0-based)."""
        return self.start_skips if batch == 0 or self.start_skips_every_batch else frozenset()

    def runs(self, node: Node, batch: int) -> bool:
        """Whether the run starts this task in that batch (tags, --start-at-step); `when` is the step's."""
        return node.handler or (node.selected and node.index not in self.skipped(batch))

    def listed(self, node: Node) -> bool:
        """Whether the task runs in some batch: what --list-tasks shows."""
        return any(self.runs(node, batch) for batch in range(max(1, len(self.batches))))

    def task_leaves(self) -> list[Node]:
        return list(leaves(self.tasks))


@dataclass(frozen=True)
class Plan:
    """What a run will do and every problem found before it: one object for run, listings and validate."""

    playbook: Playbook
    plays: tuple[PlannedPlay, ...]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    skipped: tuple[str, ...] = ()  # checks that need an inventory, when there was none
    target_vars: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # rendered once, for the run
    checked: bool = True  # templates and arguments checked (False: a listing's plan)

    @property
    def selections(self) -> list[list[str]]:
        """The selected target names of each play."""
        return [list(p.targets) for p in self.plays]

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


def build_plan(
    playbook: Playbook, inventory: Inventory | None, registry: Registry, options: RunOptions,
    templar: Templar, templates: bool = True,
) -> Plan:
    """Expand and check a playbook as a run would; `inventory=None` skips what needs one.

    `templates=False` (the listings) expands everything but skips the template
    and argument checks and leaves the inventory variables unrendered.
    """
    from ajudaplay.engine.preflight import check_templates, known_everywhere

    diagnostics: list[Diagnostic] = []
    if inventory is None:
        selections: list[list[str]] = [[] for _ in playbook.plays]
    else:
        selections = _selections(playbook, inventory, options, diagnostics)
    assigned = assigned_names(n for p in playbook.plays for n in (*tree(p.tasks, Scope()), *tree(p.handlers, Scope())))
    plays = _expand(playbook, registry, options, templar, selections, assigned - set(options.extra_vars))
    diagnostics += _start_problems(plays, options)
    target_vars: dict[str, dict[str, Any]] = {}
    if templates:
        known = None if inventory is None else known_everywhere(plays, inventory, options, assigned)
        template_problems = check_templates(plays, templar, known)
        if inventory is not None:
            target_vars, found = _render_targets(inventory, templar, options, selections)
            template_problems += found
        diagnostics.extend(template_problems)
        if inventory is not None and not template_problems:  # rendering a refused template proves nothing
            from ajudaplay.engine.argcheck import check_arguments

            partial = Plan(playbook, plays, target_vars=target_vars)
            diagnostics.extend(check_arguments(partial, inventory, registry, options, templar))
    return Plan(playbook, plays, unique(diagnostics), INVENTORY_CHECKS if inventory is None else (),
                target_vars, templates)


def _expand(
    playbook: Playbook, registry: Registry, options: RunOptions, templar: Templar,
    selections: list[list[str]], assigned: set[str],
) -> tuple[PlannedPlay, ...]:
    pending = options.start_at_step  # shared across plays, as the run reaches them
    plays = []
    for index, (play, names) in enumerate(zip(playbook.plays, selections), 1):
        decide = _StaticWhen(templar, play, options.extra_vars, assigned)
        tasks = tree(play.tasks, Scope(tags=frozenset(play.tags)), options.tags, options.skip_tags, decide=decide)
        handlers = tree(play.handlers, Scope(), handler=True, decide=decide)
        batches, position = [], 0
        for size in batch_sizes(play.serial, len(names)):
            batches.append(tuple(names[position:position + size]))
            position += size
        skips: set[int] = set()
        every_batch = False
        if pending is not None:  # a play without targets runs nothing and never reaches the start step
            for node in leaves(tasks):
                if names and node.selected and node.task.name == pending:
                    pending = None
                    break
                skips.add(node.index)
            every_batch = pending is not None
        touches = any(_on_target(registry, n.task) for n in (*leaves(tasks), *leaves(handlers)))
        plays.append(PlannedPlay(index, play, tuple(names), tuple(batches), tasks, handlers, touches,
                                 frozenset(skips), every_batch))
    return tuple(plays)


def _on_target(registry: Registry, task: Task) -> bool:
    spec = registry.get(task.action or "")
    return spec is None or spec.needs_target(task.args)


def _start_problems(plays: Sequence[PlannedPlay], options: RunOptions) -> list[Diagnostic]:
    if not options.start_at_step:
        return []
    names = list(dict.fromkeys(n.task.name for p in plays for n in leaves(p.tasks)))
    if options.start_at_step in names:
        return []
    close = difflib.get_close_matches(options.start_at_step, names, n=1)
    return [Diagnostic(None, f"--start-at-step: no task named {options.start_at_step!r}",
                       f"did you mean {close[0]!r}?" if close else "use --list-tasks to see the task names")]


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


def _render_targets(
    inventory: Inventory, templar: Templar, options: RunOptions, selections: list[list[str]],
) -> tuple[dict[str, dict[str, Any]], list[Diagnostic]]:
    """Each selected target's inventory variables, rendered once as the run uses them: undefined
    names, unknown filters, sandbox escapes and cycles there are found before anything runs."""
    from ajudaplay.engine.variables import target_vars

    rendered: dict[str, dict[str, Any]] = {}
    diagnostics: list[Diagnostic] = []
    for name in dict.fromkeys(n for names in selections for n in names):
        try:
            rendered[name] = target_vars(templar, inventory, name, options.extra_vars)
        except TemplateError as exc:
            d = exc.diagnostic
            diagnostics.append(Diagnostic(d.mark, f"inventory variables of target {name!r}: {d.message}", d.hint))
    return rendered, diagnostics


class _StaticWhen:
    """Decides a task's `when` before the run when it reads only literals, extra vars and plain play vars.

    Conservative: a name a block or task `vars`, a loop, a `register` or
    `set_vars` may (re)define, an inventory or magic variable, a templated
    play var, or anything that fails to evaluate leaves the answer unknown
    (None). Conditions are read in the step's order: the first unknown one
    stops the decision, as the run might fail there.
    """

    def __init__(self, templar: Templar, play: Play, extra: Mapping[str, Any], assigned: set[str]) -> None:
        from ajudaplay.templating import is_template

        self.templar = templar
        self.extra = dict(extra)
        plain = {k: v for k, v in play.vars.items() if k not in assigned and not _is_template(v, is_template)}
        self.context: dict[str, Any] = {**plain, **self.extra}

    def __call__(self, task: Task, scope: Scope) -> bool | None:
        conditions = [*scope.when, *((w, task.mark) for w in task.when)]
        if not conditions:
            return True
        shadowed = ({k for layer, _ in scope.vars for k in layer} | set(task.vars)) - set(self.extra)
        if task.loop is not None:
            shadowed.add(task.loop_var)  # the loop variable wins even over extra vars
        known = set(self.context) - shadowed
        for expr, mark in conditions:
            names = self.templar.references("{{ (" + expr + ") }}") if expr.strip() else {"\0"}
            if not names <= known or "{{" in expr:
                return None
            try:
                if not self.templar.truth(expr, self.context, mark):
                    return False
            except Exception:  # whatever it is, the step reports it: here the answer is only unknown
                return None
        return True


def _is_template(value: Any, is_template: Any) -> bool:
    if isinstance(value, dict):
        return any(_is_template(v, is_template) for v in value.values())
    if isinstance(value, list):
        return any(_is_template(v, is_template) for v in value)
    return bool(is_template(value))


def unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Each problem once, in the order found."""
    seen: set[str] = set()
    out = []
    for diagnostic in diagnostics:
        if str(diagnostic) not in seen:
            seen.add(str(diagnostic))
            out.append(diagnostic)
    return out
