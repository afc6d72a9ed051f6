"""load_playbook: YAML with marks -> schema + semantic checks (all errors at once) -> typed model.

Values stay raw strings for the engine to template at run time; this module only
normalises shapes (`when`/`notify`/`serial`/`tags` to lists, default task names).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import Diagnostic, InvalidInput
from ajudaplay.playbook.checks import semantic_diagnostics
from ajudaplay.playbook.model import Play, Playbook, Task
from ajudaplay.playbook.schema import playbook_schema
from ajudaplay.schemas import compiled_validator
from ajudaplay.playbook.walk import classify, iter_tasks
from ajudaplay.schema_diagnostics import Vocabulary, schema_diagnostics
from ajudaplay.yamlmarks import Document, JsonPath, load_yaml_file

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.schemas import SchemaValidator

DEFAULT_NAME_LIMIT = 60


def load_playbook(path: Path, registry: Registry) -> Playbook:
    """Load, validate and build a playbook; raises InvalidInput carrying every diagnostic."""
    doc = load_yaml_file(path, strict=False)
    diagnostics = check_playbook_document(doc, registry)
    if diagnostics:
        raise InvalidInput(diagnostics)
    return build_playbook(doc, path, registry)


def playbook_validator(registry: Registry) -> SchemaValidator:
    """The compiled playbook validator for this registry (compose once, reuse for many files)."""
    return compiled_validator(playbook_schema(registry))


def check_playbook_document(doc: Document, registry: Registry, validator: SchemaValidator | None = None) -> list[Diagnostic]:
    """Schema and semantic diagnostics of an already loaded playbook document."""
    actions = set(registry.names())
    _fill_empty_args(doc, actions)
    validator = validator if validator is not None else playbook_validator(registry)
    vocab = Vocabulary(root="plays", classify=lambda p: classify(p, actions), actions=sorted(actions))
    found = list(doc.problems)
    found.extend(schema_diagnostics(doc, validator, vocab))
    found.extend(semantic_diagnostics(doc, actions))
    seen: set[str] = set()
    unique = []
    for diagnostic in found:
        if str(diagnostic) not in seen:
            seen.add(str(diagnostic))
            unique.append(diagnostic)
    unique.sort(key=lambda d: (d.mark.line, d.mark.column) if d.mark else (0, 0))
    return unique


def _fill_empty_args(doc: Document, actions: set[str]) -> None:
    """`ping:` with nothing after it means "no arguments", as in Ansible."""
    plays = doc.data if isinstance(doc.data, list) else []
    for index, play in enumerate(plays):
        for _path, task, _top in iter_tasks(play, (index,)):
            for key in task:
                if key in actions and task[key] is None:
                    task[key] = {}


def build_playbook(doc: Document, path: Path, registry: Registry) -> Playbook:
    """The typed model of a document that passed every check."""
    actions = set(registry.names())
    builder = _ModelBuilder(doc, registry, actions)
    plays = [builder.play(play, (index,)) for index, play in enumerate(doc.data)]
    return Playbook(path=path, plays=plays)


def as_list(value: Any) -> list[Any]:
    """None -> [], a scalar -> [scalar], a list -> itself."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _condition(value: Any) -> list[str]:
    """`when`: a string, a boolean or a list of them -> list of expression strings."""
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in as_list(value)]


def _flag(value: Any) -> str | bool | None:
    """changed_when/failed_when: a list means all must hold."""
    if isinstance(value, list):
        parts = [str(v).lower() if isinstance(v, bool) else str(v) for v in value]
        return " and ".join(f"({p})" for p in parts) if parts else None
    if isinstance(value, (str, bool)):
        return value
    return None


class _ModelBuilder:
    """Builds Play/Task objects with their marks from validated data."""

    def __init__(self, doc: Document, registry: Registry, actions: set[str]) -> None:
        self.doc = doc
        self.registry = registry
        self.actions = actions

    def play(self, data: dict[str, Any], path: JsonPath) -> Play:
        hosts = str(data["hosts"])
        return Play(
            name=str(data.get("name") or hosts),
            hosts=hosts,
            mark=self.doc.mark(path),
            tasks=self.tasks(data.get("tasks"), (*path, "tasks")),
            handlers=self.tasks(data.get("handlers"), (*path, "handlers")),
            vars=dict(data.get("vars") or {}),
            serial=as_list(data.get("serial")),
            max_fail_percentage=data.get("max_fail_percentage"),
            tags=[str(t) for t in as_list(data.get("tags"))],
            lock=bool(data.get("lock", True)),
            hosts_mark=self.doc.mark((*path, "hosts")),
        )

    def tasks(self, items: Any, path: JsonPath) -> list[Task]:
        return [self.task(item, (*path, index)) for index, item in enumerate(items or [])]

    def task(self, data: dict[str, Any], path: JsonPath) -> Task:
        action = next((k for k in data if k in self.actions), None)
        task = Task(name="", mark=self.doc.mark(path))
        if action is not None:
            task.action = action
            task.args = data[action]
            task.arg_marks = self._arg_marks(action, task.args, (*path, action))
        else:
            task.block = self.tasks(data.get("block"), (*path, "block"))
            task.rescue = self.tasks(data.get("rescue"), (*path, "rescue"))
            task.always = self.tasks(data.get("always"), (*path, "always"))
        task.name = str(data["name"]) if data.get("name") is not None else _default_name(action, task.args)
        task.when = _condition(data.get("when"))
        task.loop = data.get("loop")
        control = data.get("loop_control") or {}
        task.loop_var = str(control.get("loop_var", "item"))
        task.loop_label = control.get("label")
        task.register = data.get("register")
        task.retries = int(data.get("retries", 0))
        task.delay = float(data.get("delay", 1.0))
        task.until = data.get("until")
        task.ignore_errors = bool(data.get("ignore_errors", False))
        task.changed_when = _flag(data.get("changed_when"))
        task.failed_when = _flag(data.get("failed_when"))
        task.tags = [str(t) for t in as_list(data.get("tags"))]
        task.notify = [str(n) for n in as_list(data.get("notify"))]
        task.listen = [str(n) for n in as_list(data.get("listen"))]
        timeout = data.get("timeout")
        task.timeout = float(timeout) if timeout is not None else None
        task.vars = dict(data.get("vars") or {})
        task.check_mode = data.get("check_mode")
        task.keyword_marks = {
            str(key): self.doc.mark((*path, key)) for key in data if key != action
        }
        return task

    def _arg_marks(self, action: str, args: Any, path: JsonPath) -> dict[str, Any]:
        if isinstance(args, dict):
            return {str(key): self.doc.mark((*path, key)) for key in args}
        spec = self.registry.get(action)
        name = spec.free_form if spec is not None and spec.free_form else action
        return {name: self.doc.mark(path)}


def _default_name(action: str | None, args: Any) -> str:
    """`deploy api` for `deploy: {service: api, ...}`, `command ls -l` for free form."""
    if action is None:
        return "block"
    first: Any = None
    if isinstance(args, str):
        first = args
    elif isinstance(args, dict) and args:
        value = next(iter(args.values()))
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            first = value
    if first is None:
        return action
    text = " ".join(f"{action} {first}".split())
    return text if len(text) <= DEFAULT_NAME_LIMIT else text[: DEFAULT_NAME_LIMIT - 3] + "..."
