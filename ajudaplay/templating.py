"""Sandboxed Jinja2 for playbook values: undefined variables and unsafe access are errors.

Why a class and not module functions: each `Templar` owns its environment and
compiled-template cache (no module-level mutable state), so concurrent runs or
tests never share one. Jinja2 is imported lazily: `validate` start-up stays fast.

Semantics follow Ansible where users expect them:
- strings in dicts/lists are rendered recursively;
- a string that is exactly one ``{{ expr }}`` keeps the native type (an int
  stays an int, a list stays a list);
- `evaluate()` takes bare expressions (`when`, `until`, `changed_when`,
  `failed_when`); booleans pass through.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ajudaplay.errors import Mark, TemplateError

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

_SINGLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)
_NAME_IN_UNDEFINED = re.compile(r"^'(?P<name>[^']+)' is undefined")


class Data(str):
    """Text that is data, never a template: what a target, a file or a registered result returned,
    and the output of every render (Ansible's AnsibleUnsafe).

    `render` returns it unchanged and `evaluate` refuses it, so command output
    holding `{{ secret }}` or a Go/Helm `{{ .Values.x }}` arrives literally and
    a value is rendered at most once, whatever path it takes through the run.
    """

    __slots__ = ()


def as_data(value: Any) -> Any:
    """`value` with every string inside it (dict values, list items) marked as Data."""
    _teach_yaml()
    return _marked(value)


def _marked(value: Any) -> Any:
    if isinstance(value, Data):
        return value
    if isinstance(value, str):
        return Data(value)
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_marked(v) for v in value]
    return value


def _teach_yaml() -> None:
    """Let PyYAML's dumpers write Data as the plain string it is (compose files, `to_yaml`)."""
    import yaml

    for dumper in (yaml.SafeDumper, yaml.Dumper, getattr(yaml, "CSafeDumper", None), getattr(yaml, "CDumper", None)):
        if dumper is not None and Data not in dumper.yaml_representers:
            dumper.add_representer(Data, yaml.representer.SafeRepresenter.represent_str)


def is_template(value: Any) -> bool:
    """True when a string (not Data) contains Jinja2 markup and needs rendering."""
    return (
        isinstance(value, str)
        and not isinstance(value, Data)
        and ("{{" in value or "{%" in value or "{#" in value)
    )


def refuse_data(expr: Any, what: str, mark: Mark | None = None) -> None:
    """An expression must be playbook text: one that came out of a template is data, not code."""
    if isinstance(expr, Data):
        raise TemplateError(
            f"{what} was produced by a template, so it is data and is not evaluated as an expression",
            mark,
            "write the expression bare, without {{ }}: `result.stdout == 'ok'`, not `\"{{ result.stdout }} == 'ok'\"`",
        )


def _to_bool(value: Any) -> bool:
    """Ansible's `bool` filter: yes/true/on/1 are true, everything else false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in ("yes", "y", "true", "t", "on", "1")


def _filters() -> dict[str, Callable[..., Any]]:
    """The filters Ansible users reach for first, implemented with the stdlib."""
    import base64
    import json
    import os.path
    import shlex

    def to_json(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
        return json.dumps(value, indent=indent, sort_keys=sort_keys, default=str)

    def to_nice_json(value: Any, indent: int = 4) -> str:
        return json.dumps(value, indent=indent, sort_keys=True, default=str)

    def to_yaml(value: Any, indent: int = 2) -> str:
        import yaml

        text: str = yaml.safe_dump(value, indent=indent, default_flow_style=False, sort_keys=False)
        return text

    def from_yaml(text: str) -> Any:
        from ajudaplay.errors import InvalidInput
        from ajudaplay.yamlmarks import safe_load

        try:
            return safe_load(str(text), "from_yaml input")
        except InvalidInput as exc:  # data from a target: bounded like any file we load
            raise ValueError("; ".join(d.message for d in exc.diagnostics)) from exc

    def b64encode(value: Any, encoding: str = "utf-8") -> str:
        raw = value if isinstance(value, bytes) else str(value).encode(encoding)
        return base64.b64encode(raw).decode("ascii")

    def b64decode(value: str, encoding: str = "utf-8") -> str:
        return base64.b64decode(value).decode(encoding)

    def regex_search(value: str, pattern: str, *groups: str, ignorecase: bool = False) -> Any:
        flags = re.IGNORECASE if ignorecase else 0
        match = re.search(pattern, str(value), flags)
        if match is None:
            return None
        if not groups:
            return match.group(0)
        picked = [match.group(int(g[1:]) if g.startswith("\\") else g) for g in groups]
        return picked

    def regex_replace(value: str, pattern: str = "", replacement: str = "", ignorecase: bool = False) -> str:
        flags = re.IGNORECASE if ignorecase else 0
        return re.sub(pattern, replacement, str(value), flags=flags)

    def regex_findall(value: str, pattern: str, ignorecase: bool = False) -> list[Any]:
        return re.findall(pattern, str(value), re.IGNORECASE if ignorecase else 0)

    def combine(*dicts: Mapping[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for d in dicts:
            merged.update(d)
        return merged

    def ternary(value: Any, true_val: Any, false_val: Any) -> Any:
        return true_val if value else false_val

    return {
        "to_json": to_json,
        "to_nice_json": to_nice_json,
        "to_yaml": to_yaml,
        "to_nice_yaml": to_yaml,
        "from_json": json.loads,
        "from_yaml": from_yaml,
        "b64encode": b64encode,
        "b64decode": b64decode,
        "regex_search": regex_search,
        "regex_replace": regex_replace,
        "regex_findall": regex_findall,
        "bool": _to_bool,
        "basename": os.path.basename,
        "dirname": os.path.dirname,
        "quote": lambda v: shlex.quote(str(v)),
        "combine": combine,
        "ternary": ternary,
    }


def _result_test(key: str, want: bool) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        if isinstance(value, Mapping):
            return bool(value.get(key, False)) is want
        return False

    return test


def _tests() -> dict[str, Callable[..., bool]]:
    """Ansible's result tests: `result is failed`, `is changed`, `is succeeded`, `is skipped`."""
    return {
        "failed": _result_test("failed", True),
        "succeeded": _result_test("failed", False),
        "success": _result_test("failed", False),
        "changed": _result_test("changed", True),
        "skipped": _result_test("skipped", True),
    }


class Templar:
    """Renders values and evaluates conditions with a sandboxed, strict Jinja2 environment."""

    def __init__(self) -> None:
        self._env: ImmutableSandboxedEnvironment | None = None
        self._templates: dict[str, Template] = {}
        self._expressions: dict[str, Any] = {}
        self._references: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    # environment ---------------------------------------------------------
    @property
    def env(self) -> ImmutableSandboxedEnvironment:
        if self._env is None:
            from jinja2 import StrictUndefined
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            env = ImmutableSandboxedEnvironment(
                undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
            )
            env.filters.update(_filters())
            env.tests.update(_tests())
            self._env = env
        return self._env

    def _template(self, source: str) -> Template:
        with self._lock:
            template = self._templates.get(source)
            if template is None:
                template = self.env.from_string(source)
                self._templates[source] = template
            return template

    def _expression(self, source: str) -> Any:
        with self._lock:
            compiled = self._expressions.get(source)
            if compiled is None:
                compiled = self.env.compile_expression(source, undefined_to_none=False)
                self._expressions[source] = compiled
            return compiled

    # public API ----------------------------------------------------------
    def render(self, value: Any, variables: Mapping[str, Any], mark: Mark | None = None) -> Any:
        """Render every template string inside `value` (dicts and lists recursively), once.

        What a template produces is Data: rendering it again returns it unchanged.
        """
        if isinstance(value, str):
            return self.render_str(value, variables, mark)
        if isinstance(value, dict):
            return {k: self.render(v, variables, mark) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, variables, mark) for v in value]
        return value

    def render_str(self, text: str, variables: Mapping[str, Any], mark: Mark | None = None) -> Any:
        """Render one string; a lone ``{{ expr }}`` keeps the expression's native type."""
        if not is_template(text):
            return text
        single = _SINGLE_EXPR.match(text)
        if single is not None and "{%" not in text:
            return as_data(self._eval(single.group("expr").strip(), variables, mark, text))
        try:
            return as_data(self._template(text).render(dict(variables)))
        except Exception as exc:  # translated at the boundary
            raise self._translate(exc, text, mark) from exc

    def evaluate(self, expr: str | bool | int | None, variables: Mapping[str, Any], mark: Mark | None = None) -> Any:
        """Evaluate a bare expression (`when`, `until`, ...); booleans pass through."""
        if expr is None or isinstance(expr, (bool, int, float)):
            return expr
        refuse_data(expr, "the expression", mark)
        text = str(expr).strip()
        single = _SINGLE_EXPR.match(text)
        if single is not None:  # tolerate `when: "{{ x }}"` like Ansible does
            text = single.group("expr").strip()
        return self._eval(text, variables, mark, str(expr))

    def truth(self, expr: str | bool | None, variables: Mapping[str, Any], mark: Mark | None = None) -> bool:
        """`evaluate` coerced to a boolean, with Ansible's string truthiness."""
        value = self.evaluate(expr, variables, mark)
        if isinstance(value, str):
            return _to_bool(value)
        return bool(value)

    def _eval(self, expr: str, variables: Mapping[str, Any], mark: Mark | None, source: str) -> Any:
        from jinja2 import Undefined

        try:
            value = self._expression(expr)(**dict(variables))
        except Exception as exc:
            raise self._translate(exc, source, mark) from exc
        if isinstance(value, Undefined):
            try:
                str(value)
            except Exception as exc:
                raise self._translate(exc, source, mark) from exc
        return value

    def references(self, value: Any) -> set[str]:
        """Every variable name the templates inside `value` read (guarded or not): the
        dependencies of a vars entry. Unparsable text reads nothing here; rendering reports it."""
        if isinstance(value, dict):
            return {n for v in value.values() for n in self.references(v)}
        if isinstance(value, list):
            return {n for v in value for n in self.references(v)}
        if not is_template(value):
            return set()
        with self._lock:
            found = self._references.get(value)
        if found is None:
            from jinja2 import TemplateSyntaxError, meta

            try:
                found = frozenset(meta.find_undeclared_variables(self.env.parse(value)))
            except TemplateSyntaxError:
                found = frozenset()
            with self._lock:
                self._references[value] = found
        return set(found)

    # static analysis (preflight) -------------------------------------------
    def analyse(self, text: str, expression: bool = False) -> tuple[set[str], list[str]]:
        """Free variable names and unsafe attribute names of a template or bare expression."""
        from jinja2 import meta, nodes

        source = text
        if expression:
            single = _SINGLE_EXPR.match(text)
            inner = single.group("expr") if single else text
            source = "{{ (" + inner + ") }}"
        ast = self.env.parse(source)
        undeclared = set(meta.find_undeclared_variables(ast))
        for test in ast.find_all(nodes.Test):  # `x is defined` may name an absent variable
            if test.name in ("defined", "undefined") and isinstance(test.node, nodes.Name):
                undeclared.discard(test.node.name)
        for filt in ast.find_all(nodes.Filter):  # `x | default(...)` too
            if filt.name in ("default", "d") and isinstance(filt.node, nodes.Name):
                undeclared.discard(filt.node.name)
        unsafe: list[str] = []
        for node in ast.find_all(nodes.Getattr):
            if node.attr.startswith("_"):
                unsafe.append(node.attr)
        for item in ast.find_all(nodes.Getitem):
            if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str) and item.arg.value.startswith("_"):
                unsafe.append(item.arg.value)
        return undeclared, unsafe

    def guarded_names(self, expr: str) -> set[str]:
        """Names a condition tests with `is defined` (a `when` guarding its own task)."""
        from jinja2 import nodes

        ast = self.env.parse("{{ (" + expr + ") }}")
        return {
            t.node.name
            for t in ast.find_all(nodes.Test)
            if t.name == "defined" and isinstance(t.node, nodes.Name)
        }

    # errors ----------------------------------------------------------------
    @staticmethod
    def _translate(exc: Exception, source: str, mark: Mark | None) -> TemplateError:
        from jinja2 import TemplateSyntaxError, UndefinedError
        from jinja2.exceptions import SecurityError

        if isinstance(exc, TemplateError):
            return exc
        if isinstance(exc, SecurityError):
            return TemplateError(
                f"unsafe attribute access refused by the sandbox in {source!r}: {exc}",
                mark,
                "templates may not reach Python internals (names starting with '_')",
            )
        if isinstance(exc, UndefinedError):
            message = str(exc)
            found = _NAME_IN_UNDEFINED.match(message)
            if found:
                return TemplateError(
                    f"undefined variable '{found.group('name')}' in {source!r}",
                    mark,
                    "define it in the inventory, the play's vars, a `register`, or pass -e NAME=VALUE",
                )
            return TemplateError(f"undefined value in {source!r}: {message}", mark)
        if isinstance(exc, TemplateSyntaxError):
            return TemplateError(f"template syntax error in {source!r}: {exc.message}", mark)
        return TemplateError(f"template {source!r} failed: {type(exc).__name__}: {exc}", mark)
