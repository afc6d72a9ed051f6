"""Semantic checks the schema cannot express: handlers, names, reserved variables, template syntax.

Run after the schema, on data that may still be partly invalid, so every check
is defensive (isinstance before use) and a playbook with five problems reports five.
Duplicate explicit task names in one play are errors: `--start-at-step NAME`,
the recap and the journal identify a step by its name.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import Diagnostic, Mark
from ajudaplay.playbook.walk import BLOCK_TASK_LISTS, iter_strings, iter_tasks
from ajudaplay.schema_diagnostics import did_you_mean
from ajudaplay.yamlmarks import Document, JsonPath, format_path

if TYPE_CHECKING:
    import jinja2

# Variables the engine sets itself; `register: target_name` would hide them.
RESERVED_VARIABLES = frozenset({
    "inventory_name", "target_name", "target_kind", "groups", "hostvars", "vars",
    "item", "loop", "omit", "play_name", "task_name", "check_mode", "run_id",
    "true", "false", "none", "True", "False", "None",
})

# Keywords whose string value is a bare Jinja2 expression (no braces), like Ansible's `when`.
EXPRESSION_KEYWORDS = ("when", "until", "changed_when", "failed_when")
TEMPLATE_MARKERS = ("{{", "{%", "{#")


def semantic_diagnostics(doc: Document, actions: set[str]) -> list[Diagnostic]:
    """All semantic problems of a (possibly schema-invalid) playbook document."""
    out: list[Diagnostic] = []
    plays = doc.data if isinstance(doc.data, list) else []
    checker = _TemplateChecker(doc)
    for index, play in enumerate(plays):
        if not isinstance(play, dict):
            continue
        play_path: JsonPath = (index,)
        out.extend(_handler_checks(doc, play, play_path))
        out.extend(_task_checks(doc, play, play_path, actions))
        for path, text in iter_strings(play, play_path):
            out.extend(checker.check(path, text))
    return out


def _label(path: JsonPath) -> str:
    return format_path(path, "plays")


def _duplicate_names(
    doc: Document, named: list[tuple[JsonPath, str]], what: str, hint: str, scope: str = ""
) -> list[Diagnostic]:
    """One diagnostic per repeated name, pointing back at where it was first used."""
    out: list[Diagnostic] = []
    first_seen: dict[str, Mark] = {}
    for path, name in named:
        mark = doc.mark((*path, "name"))
        if name in first_seen:
            out.append(Diagnostic(
                mark, f"duplicate {what} {name!r}{scope} (first at line {first_seen[name].line})", hint, _label(path),
            ))
        else:
            first_seen[name] = mark
    return out


def _handler_checks(doc: Document, play: dict[str, Any], play_path: JsonPath) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    answers: set[str] = set()
    named: list[tuple[JsonPath, str]] = []
    for path, task, top in iter_tasks(play, play_path, ("handlers",)):
        name = task.get("name")
        if isinstance(name, str):
            named.append((path, name))
            answers.add(name)
        answers.update(_names(task.get("listen")))
    out.extend(_duplicate_names(
        doc, named, "handler name",
        "a notification runs every handler of that name; give each a unique name and use `listen` to share one",
    ))
    for path, task, top in iter_tasks(play, play_path):
        notify = task.get("notify")
        for offset, name in enumerate(_names(notify)):
            if name in answers or any(marker in name for marker in TEMPLATE_MARKERS):
                continue
            where = (*path, "notify", offset) if isinstance(notify, list) else (*path, "notify")
            hint = did_you_mean(name, answers) or (
                f"handlers of this play: {', '.join(sorted(answers))}" if answers else "this play has no handlers"
            )
            out.append(Diagnostic(doc.mark(where), f"notify: unknown handler {name!r}", hint, _label(path)))
        if "listen" in task and top != "handlers":
            out.append(Diagnostic(
                doc.key_mark((*path, "listen")), "`listen` is only meaningful in handlers",
                "move this task under `handlers:` or drop `listen`", _label(path),
            ))
    return out


def _task_checks(doc: Document, play: dict[str, Any], play_path: JsonPath, actions: set[str]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    named = [
        (path, task["name"]) for path, task, _ in iter_tasks(play, play_path, ("tasks",))
        if isinstance(task.get("name"), str) and not any(k in task for k in BLOCK_TASK_LISTS)
    ]
    out.extend(_duplicate_names(
        doc, named, "task name", "--start-at-step, the recap and the journal identify steps by name; rename one",
        " in this play",
    ))
    for path, task, top in iter_tasks(play, play_path):
        register = task.get("register")
        if isinstance(register, str) and register in RESERVED_VARIABLES:
            out.append(Diagnostic(
                doc.mark((*path, "register")),
                f"register: {register!r} is a reserved variable name",
                f"pick another name, e.g. {register}_result", _label(path),
            ))
        control = task.get("loop_control")
        loop_var = control.get("loop_var") if isinstance(control, dict) else None
        if isinstance(loop_var, str) and loop_var in RESERVED_VARIABLES - {"item"}:
            out.append(Diagnostic(
                doc.mark((*path, "loop_control", "loop_var")),
                f"loop_var: {loop_var!r} is a reserved variable name", "", _label(path),
            ))
    return out


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class _TemplateChecker:
    """Parses (never renders) every templated string; reports syntax errors at their line."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._seen: dict[tuple[str, str], tuple[int, str, str]] = {}  # same text parses the same way

    @property
    def env(self) -> jinja2.Environment:
        return _parse_env()

    def check(self, path: JsonPath, text: str) -> list[Diagnostic]:
        templated = any(m in text for m in TEMPLATE_MARKERS)
        kind = "expression" if _is_expression(path) and not templated else "template"
        if kind == "template" and not templated:
            return []
        cached = self._seen.get((kind, text))
        if cached is not None:
            return [Diagnostic(self._at(path, cached[0]), cached[1], cached[2], _label(path))] if cached[1] else []
        found = self._parse(path, text, kind)
        self._seen[(kind, text)] = (
            (found[0].mark.line - self.doc.mark(path).line if found[0].mark else 0), found[0].message, found[0].hint,
        ) if found else (0, "", "")
        return found

    def _at(self, path: JsonPath, line_offset: int) -> Mark:
        base = self.doc.mark(path)
        return Mark(base.file, base.line + line_offset, base.column)

    def _parse(self, path: JsonPath, text: str, kind: str) -> list[Diagnostic]:
        from jinja2 import TemplateSyntaxError

        try:
            if kind == "expression":
                self._parse_expression(text)
            else:
                self.env.parse(text)
        except TemplateSyntaxError as exc:
            mark = self._at(path, max((exc.lineno or 1) - 1, 0))
            message = str(exc.message or "invalid syntax").replace("end of template", "end of " + kind)
            return [Diagnostic(
                mark, f"{kind} syntax error: {message}",
                "check the {{ }} / {% %} pairs and the quoting" if kind == "template"
                else f"`{path[-1] if isinstance(path[-1], str) else path[-2]}` takes a bare Jinja2 expression, e.g. result.rc == 0",
                _label(path),
            )]
        return []

    def _parse_expression(self, text: str) -> None:
        """Parse a bare expression the way Environment.compile_expression does, without compiling."""
        from jinja2 import TemplateSyntaxError
        from jinja2.lexer import TOKEN_EOF
        from jinja2.parser import Parser

        parser = Parser(self.env, text, state="variable")
        parser.parse_expression()
        current = parser.stream.current
        if not current.test(TOKEN_EOF):
            raise TemplateSyntaxError(f"unexpected {current.value!r} after the expression", current.lineno)


@functools.lru_cache(maxsize=1)
def _parse_env() -> jinja2.Environment:
    """One environment for parsing, shared by every document (parsing keeps no state in it)."""
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])


def _is_expression(path: JsonPath) -> bool:
    """`when: x == 1`, `until: ...`, and items of a `when:` list are bare expressions."""
    if not path:
        return False
    last = path[-1]
    if isinstance(last, str):
        return last in EXPRESSION_KEYWORDS and _is_task_keyword(path)
    return len(path) >= 2 and path[-2] in EXPRESSION_KEYWORDS and _is_task_keyword(path[:-1])


def _is_task_keyword(path: JsonPath) -> bool:
    """True when `path` is `<task>.<keyword>` (not an action argument that happens to be called `when`)."""
    return len(path) >= 3 and isinstance(path[-2], int)
