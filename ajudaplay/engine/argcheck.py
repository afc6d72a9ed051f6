"""Action arguments whose values are known before the run: rendered, then checked like the run would.

Why: `-e replicas=abc` or `-e service=nope` used to pass preflight, take the
lock and fail the step (exit 2). Every argument whose template uses only
values known statically is rendered here, per selected target, exactly as
the step would render it, and checked against the action's JSON schema and
the target's `services` in the inventory: exit 3, nothing locked.

Known statically: the magic variables, inventory/group/target vars, extra
vars, play vars and block/task vars. Not known: anything a `register`,
`set_vars` or loop may (re)define at run time, and whatever depends on it; an
extra var stays known (it wins over registered values). A task is checked
only when it would run: its `when` conditions known and true, selected by
--tags/--skip-tags, not skipped by --start-at-step in that target's batch (the
Plan says which). Anything not known is left to the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ajudaplay.engine.plan_walk import Node, assigned_names, leaves
from ajudaplay.engine.variables import is_template_value, render_layer
from ajudaplay.errors import Diagnostic, Mark, TemplateError
from ajudaplay.kinds import SERVICELESS_KINDS
from ajudaplay.redaction import Redactor
from ajudaplay.templating import is_template

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.engine.options import RunOptions
    from ajudaplay.engine.plan import Plan
    from ajudaplay.inventory.model import Inventory, TargetSpec
    from ajudaplay.playbook.model import Play, Task
    from ajudaplay.templating import Templar

RUN_TIME_NAMES = frozenset({"result", "item", "ansible_loop", "run_id"})  # never known before the run
MAX_LOOP_ITEMS = 200  # a static loop is checked item by item, up to this many
_WHOLE_NUMBER = re.compile(r"^\s*[+-]?\d+\s*$")
_TRUE, _FALSE = ("yes", "y", "true", "on", "1"), ("no", "n", "false", "off", "0")  # actions/service.py _bool


@dataclass
class _Found:
    """Problems keyed by what they say, with the targets they were found on."""

    targets: dict[tuple[Mark, str, str], list[str]] = field(default_factory=dict)

    def add(self, mark: Mark, message: str, hint: str, target: str) -> None:
        on = self.targets.setdefault((mark, message, hint), [])
        if target not in on:
            on.append(target)

    def diagnostics(self) -> list[Diagnostic]:
        out = []
        for (mark, message, hint), names in self.targets.items():
            label = "target" if len(names) == 1 else "targets"
            out.append(Diagnostic(mark, f"{message} (on {label} {', '.join(names)})", hint))
        return out


def check_arguments(
    plan: Plan, inventory: Inventory, registry: Registry, options: RunOptions, templar: Templar,
) -> list[Diagnostic]:
    """Type errors and unknown services in arguments known before the run, for every selected target.

    Each target is checked on the tasks the Plan runs in its batch (tags,
    --start-at-step), and with the inventory variables the Plan rendered.
    """
    assigned = assigned_names(n for p in plan.plays for n in (*p.tasks, *p.handlers)) - set(options.extra_vars)
    redactor = Redactor(list(inventory.secret_values))
    for name in options.secret_extra_vars | (set(options.extra_vars) & inventory.secret_names):
        redactor.add(options.extra_vars.get(name, ""))
    found = _Found()
    cache: dict[str, frozenset[str]] = {}  # template -> the names it reads
    for planned in plan.plays:
        tasks, handlers = planned.task_leaves(), list(leaves(planned.handlers))
        for number, batch in enumerate(planned.batches):
            runs = [n for n in tasks if planned.runs(n, number)] + handlers
            for target in batch:
                checker = _TargetCheck(plan, planned.play, inventory, registry, options, templar, target, assigned, cache)
                for node in runs:
                    for mark, message, hint in checker.task(node):
                        found.add(mark, redactor.text(message), redactor.text(hint), target)
    return found.diagnostics()


class _TargetCheck:
    """The static variables of one play on one target, and the checks of its tasks."""

    def __init__(
        self, plan: Plan, play: Play, inventory: Inventory, registry: Registry, options: RunOptions,
        templar: Templar, target: str, assigned: set[str], cache: dict[str, frozenset[str]],
    ) -> None:
        self.play = play
        self.spec: TargetSpec = inventory.targets[target]
        self.registry = registry
        self.templar = templar
        self.cache = cache
        self.extra = dict(options.extra_vars)
        self.unknown = (set(assigned) | RUN_TIME_NAMES) - set(self.extra)
        context: dict[str, Any] = {"inventory_hostname": target, "target_name": target}
        context.update(plan.target_vars[target])
        context.update(playbook_dir=str(plan.playbook.path.parent), play_name=play.name, check_mode=options.check,
                       ajudaplay_user=options.user or _login())
        context.update(self.extra)
        self.context = self._layer(context, play.vars, play.mark, self.unknown)

    # variables ----------------------------------------------------------------
    def names(self, value: Any) -> set[str]:
        """Every variable a value's templates read (guarded ones too: they may be defined at run time)."""
        if isinstance(value, str):
            if not is_template(value):
                return set()
            if value not in self.cache:
                self.cache[value] = _template_names(self.templar, value)
            return set(self.cache[value])
        if isinstance(value, dict):
            return {n for v in value.values() for n in self.names(v)}
        if isinstance(value, list):
            return {n for v in value for n in self.names(v)}
        return set()

    def known(self, value: Any, context: Mapping[str, Any], unknown: set[str]) -> bool:
        used = self.names(value)
        return not (used & unknown) and used <= set(context)

    def _layer(self, context: dict[str, Any], layer: Mapping[str, Any], mark: Mark | None, unknown: set[str]) -> dict[str, Any]:
        """`context` plus one vars layer, rendered by the run's own `render_layer`; dynamic entries dropped."""
        dynamic = {k for k in layer if k in unknown}
        while True:  # entries that read dynamic ones (or each other) are dynamic too
            visible = (set(context) | set(layer)) - dynamic - unknown
            more = {k for k in layer if k not in dynamic and not self.names(layer[k]) <= visible}
            if not more:
                break
            dynamic |= more
        result = dict(context)
        try:
            render_layer(self.templar, {k: v for k, v in layer.items() if k not in dynamic}, result, mark, self.extra)
        except TemplateError:
            dynamic |= set(layer)
        for key in dynamic:
            result.pop(key, None)
            if key not in self.extra:
                unknown.add(key)
        result.update(self.extra)  # extra vars win over every layer, as in step_vars
        return result

    # tasks --------------------------------------------------------------------
    def task(self, node: Node) -> list[tuple[Mark, str, str]]:
        task = node.task
        spec = self.registry.get(task.action or "")
        if spec is None or not isinstance(task.args, dict):
            return []
        unknown = set(self.unknown)
        context = self.context
        for layer, mark in [*node.scope.vars, (task.vars, task.mark)]:
            if layer:
                context = self._layer(context, layer, mark, unknown)
        conditions = node.conditions
        if task.loop is None:
            runs = self._runs(conditions, context, unknown)
            return self._arguments(task, spec.name, spec.schema, context, unknown) if runs else []
        if not self.known(task.loop, context, unknown):
            return []
        items = self._render(task.loop, context, task.mark)  # as the step: the loop first, `when` per item
        out: list[tuple[Mark, str, str]] = []
        unknown.discard(task.loop_var)
        for item in items[:MAX_LOOP_ITEMS] if isinstance(items, list) else []:
            item_context = {**context, task.loop_var: item}
            if self._runs(conditions, item_context, unknown):
                out += [p for p in self._arguments(task, spec.name, spec.schema, item_context, unknown) if p not in out]
        return out

    def _runs(self, conditions: list[tuple[str, Mark]], context: Mapping[str, Any], unknown: set[str]) -> bool:
        """True only when every condition is known now and holds."""
        for expr, mark in conditions:
            if not self.known("{{ (" + expr + ") }}", context, unknown):
                return False
            try:
                if not self.templar.truth(expr, context, mark):
                    return False
            except TemplateError:
                return False
        return True

    def _render(self, value: Any, context: Mapping[str, Any], mark: Mark) -> Any:
        try:
            return self.templar.render(value, context, mark)
        except TemplateError:
            return None

    def _arguments(
        self, task: Task, action: str, schema: dict[str, Any], context: Mapping[str, Any], unknown: set[str],
    ) -> list[tuple[Mark, str, str]]:
        out: list[tuple[Mark, str, str]] = []
        args: dict[str, Any] = {}
        rendered: dict[str, Any] = {}  # argument -> the template it was rendered from
        static: set[str] = set()  # arguments whose value is known now (written as is, or rendered)
        found = schema.get("properties")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        for key, raw in task.args.items():
            mark = task.arg_marks.get(key, task.mark)
            if not is_template_value(raw):
                args[key] = raw  # already checked by the playbook's schema
                static.add(key)
                continue
            if not self.known(raw, context, unknown):
                args[key] = raw  # only known at run time: the template passes the schema as it is
                continue
            try:
                value = self.templar.render(raw, context, mark)
            except TemplateError as exc:
                out.append((mark, f"{action}.{key}: {exc.diagnostic.message}", exc.hint))
                continue
            rendered[key] = raw
            static.add(key)
            value = coerce(value, properties.get(key))
            if value is not _ABSENT:
                args[key] = value
        if rendered:
            out += [(task.arg_marks.get(str(path[0]), task.mark) if path else task.mark, message, hint)
                    for path, message, hint in schema_problems(action, schema, args, rendered)]
        service = args.get("service") if "service" in static else None
        if isinstance(service, str) and "service" in properties and self.spec.kind not in SERVICELESS_KINDS:
            if service not in self.spec.services:
                out.append((task.arg_marks.get("service", task.mark), *self._unknown_service(action, service)))
        return out

    def _unknown_service(self, action: str, service: str) -> tuple[str, str]:
        from ajudaplay.schema_diagnostics import did_you_mean

        defined = sorted(self.spec.services)
        hint = did_you_mean(service, defined) or (
            f"services of {self.spec.name}: {', '.join(defined)}" if defined else f"{self.spec.name} defines no services")
        return f"{action}.service: unknown service {service!r}: not in the inventory's services of {self.spec.name}", hint


def _template_names(templar: Templar, text: str) -> frozenset[str]:
    from jinja2 import TemplateSyntaxError, meta

    try:
        return frozenset(meta.find_undeclared_variables(templar.env.parse(text)))
    except TemplateSyntaxError:  # reported by the template checks; never known here
        return frozenset({"\0unparsable"})


class _Absent:
    """A rendered value the action reads as "not given" (None or "" where a number/boolean goes)."""


_ABSENT = _Absent()


def coerce(value: Any, prop: Any) -> Any:
    """The rendered value as the action itself reads it: "3" is a whole number, "yes" a boolean.

    Mirrors the actions' helpers (actions/service.py `_int`, `_bool`, `_step`),
    so a value the run accepts is never refused here; a scalar where a string
    goes is a string, as the actions str() it.
    """
    types = _types(prop)
    scalar = {"integer", "number", "boolean"}
    if types and types <= scalar and (value is None or value == ""):
        return _ABSENT
    if isinstance(value, str) and not isinstance(value, bool):
        text = value.strip().lower()
        if "integer" in types and _WHOLE_NUMBER.match(value):
            return int(value)
        if "number" in types:
            try:
                return float(value)
            except ValueError:
                pass
        if "boolean" in types and text in _TRUE + _FALSE:
            return text in _TRUE
    elif isinstance(value, (int, float)) and types == {"string"}:
        return str(value)
    return value


def _types(prop: Any) -> set[str]:
    """The JSON types an argument takes once rendered (template-only branches left out)."""
    if not isinstance(prop, dict):
        return set()
    branches = prop.get("anyOf") or prop.get("oneOf") or [prop]
    types: set[str] = set()
    for branch in branches:
        if not isinstance(branch, dict) or "{{" in str(branch.get("pattern", "")).replace("\\", ""):
            continue
        kind = branch.get("type")
        types |= {kind} if isinstance(kind, str) else set(kind or [])
    return types


def schema_problems(
    action: str, schema: dict[str, Any], args: dict[str, Any], rendered: Mapping[str, Any],
) -> list[tuple[tuple[Any, ...], str, str]]:
    """The action's schema errors in `args`, explained as the playbook validator explains them."""
    from ajudaplay.schema_diagnostics import Vocabulary, schema_diagnostics
    from ajudaplay.schemas import compiled_validator
    from ajudaplay.yamlmarks import Document

    validator = compiled_validator(schema)
    doc = Document(file="", data=args)
    vocab = Vocabulary(root="", classify=lambda p: f"args:{action}" if not p else "")
    out = []
    for error in schema_diagnostics(doc, validator, vocab):
        path = _path_of(error.path)
        key = str(path[0]) if path else ""
        where = f"{action}.{error.path}" if error.path else action
        message = error.message.removeprefix(f"{action}: ")
        message = f"{where}: {message}" + (f" (rendered from {rendered[key]!r})" if key in rendered else "")
        out.append((path, message, "the value is known before the run (-e, inventory or play vars): fix it there"))
    return out


def _path_of(label: str) -> tuple[Any, ...]:
    """`replicas` / `files[0].src` back to a path; only the first key matters for the mark."""
    first = re.split(r"[.\[]", label, maxsplit=1)[0] if label else ""
    return (first,) if first else ()


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
