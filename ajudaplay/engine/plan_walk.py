"""The one walker over the task model: blocks/rescue/always, handlers, inherited tags, when and vars.

Why one: the plan, the argument checks, the listings and the executor used
to walk the task tree each in their own way (and could disagree on which
tasks a tag keeps). `tree()` builds, once per play, the nodes they all read:
each task with the scope its enclosing blocks give it and whether
--tags/--skip-tags keep it. `leaves()` is the flat order the run reaches the
tasks in (block, then rescue, then always), which --start-at-step counts in.

(playbook/walk.py walks raw YAML paths for the schema mapper, before there
is a model; that is a different job.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ajudaplay.engine.selection import tag_selected

if TYPE_CHECKING:
    from collections.abc import Callable

    from ajudaplay.errors import Mark
    from ajudaplay.playbook.model import Task

    Decide = Callable[[Task, "Scope"], "bool | None"]  # a task's `when`, decided before the run


@dataclass(frozen=True)
class Scope:
    """What enclosing blocks add to a task: conditions, variables and tags (as engine/step.py applies them)."""

    when: tuple[tuple[str, Mark], ...] = ()
    vars: tuple[tuple[Mapping[str, Any], Mark | None], ...] = ()
    tags: frozenset[str] = frozenset()
    # a failure here is handed to an enclosing block's `rescue`: reported as "rescued", not "failed" (as Ansible counts)
    rescued: bool = False

    def enter(self, block: Task) -> Scope:
        """The scope of the block's rescue and always sections (its own tasks: `enter_block`)."""
        return Scope(
            when=self.when + tuple((w, block.mark) for w in block.when),
            vars=self.vars + ((block.vars, block.mark),) if block.vars else self.vars,
            tags=self.tags | frozenset(block.tags),
            rescued=self.rescued,
        )

    def enter_block(self, block: Task) -> Scope:
        """The scope of the block's own tasks: their failures are rescued when the block has a `rescue`."""
        inner = self.enter(block)
        return dataclasses.replace(inner, rescued=True) if block.rescue else inner


@dataclass(frozen=True)
class Node:
    """One task of a play as the plan sees it; a block's sections are nodes too.

    `index` numbers the play's tasks (not blocks) in run order, separately for
    handlers; `selected` is the verdict of --tags/--skip-tags (always True for
    handlers and blocks: tags select tasks, not sections); `when` is its
    conditions decided before the run (None: only the run can tell).
    """

    task: Task
    scope: Scope
    handler: bool
    selected: bool
    index: int = -1
    when: bool | None = None
    block: tuple[Node, ...] = ()
    rescue: tuple[Node, ...] = ()
    always: tuple[Node, ...] = ()

    @property
    def is_block(self) -> bool:
        return self.task.is_block

    @property
    def tags(self) -> frozenset[str]:
        """Its own tags and every tag inherited from the play and enclosing blocks."""
        return self.scope.tags | frozenset(self.task.tags)

    @property
    def conditions(self) -> list[tuple[str, Mark]]:
        """Every `when` that must hold: the enclosing blocks' first, then its own."""
        return [*self.scope.when, *((w, self.task.mark) for w in self.task.when)]


def tree(
    tasks: Sequence[Task], scope: Scope, only: Collection[str] = (), skip: Collection[str] = (),
    handler: bool = False, decide: Decide | None = None,
) -> tuple[Node, ...]:
    """The nodes of a task list (a play's tasks, or its handlers with `handler=True`)."""
    return _Builder(set(only), set(skip), handler, decide).build(tasks, scope)


class _Builder:
    def __init__(self, only: set[str], skip: set[str], handler: bool, decide: Decide | None) -> None:
        self.only, self.skip, self.handler, self.decide = only, skip, handler, decide
        self.count = 0

    def build(self, tasks: Sequence[Task], scope: Scope) -> tuple[Node, ...]:
        nodes = []
        for task in tasks:
            if task.is_block:
                inner = scope.enter(task)
                nodes.append(Node(task, scope, self.handler, True, -1, None,
                                  self.build(task.block or [], scope.enter_block(task)), self.build(task.rescue, inner),
                                  self.build(task.always, inner)))
                continue
            selected = self.handler or tag_selected(scope.tags | set(task.tags), self.only, self.skip)
            when = self.decide(task, scope) if self.decide is not None else None
            nodes.append(Node(task, scope, self.handler, selected, self.count, when))
            self.count += 1
        return tuple(nodes)


def leaves(nodes: Sequence[Node]) -> Iterator[Node]:
    """Every task (not block) in run order: a block's tasks, then its rescue, then its always."""
    for node in nodes:
        if node.is_block:
            for section in (node.block, node.rescue, node.always):
                yield from leaves(section)
        else:
            yield node


def every(nodes: Sequence[Node]) -> Iterator[Node]:
    """Every node, blocks included, each before its sections."""
    for node in nodes:
        yield node
        for section in (node.block, node.rescue, node.always):
            yield from every(section)


def assigned_names(nodes: Iterable[Node]) -> set[str]:
    """Every name a `register` or `set_vars` among these nodes (and their sections) may define at run time."""
    names: set[str] = set()
    for node in every(list(nodes)):
        task = node.task
        if task.register:
            names.add(task.register)
        if task.action == "set_vars" and isinstance(task.args, dict):
            names |= {str(k) for k in task.args}
    return names
