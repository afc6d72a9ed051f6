"""Turns jsonschema errors into diagnostics a human understands, pointing into the YAML.

jsonschema says "Additional properties are not allowed ('retires' was unexpected)";
we say `deploy.yml:12:7: plays[0].tasks[2]: unknown keyword 'retires'` with
"did you mean 'retries'?". Every error is reported (iter_errors), mapped back to
the mark of the key or value it is about, explained by what the path *is*
(a play, a task, an action's arguments, a target), and deduplicated.

Playbooks and inventories both use it, so it sits below both (core layer):
what differs between them is the Vocabulary each passes in.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from ajudaplay.errors import Diagnostic
from ajudaplay.kinds import USER_KINDS
from ajudaplay.yamlmarks import Document, JsonPath, format_path

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


class ErrorSource(Protocol):
    """What reports the schema errors: ajudaplay.schemas.SchemaValidator, or jsonschema's own validator."""

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]: ...

TASK_LISTS = ("tasks", "handlers", "block", "rescue", "always")

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing (null)",
}


@dataclass
class Vocabulary:
    """What the paths of one kind of document mean, so messages can name things properly."""

    root: str  # label prefix of paths, e.g. "plays" for a playbook, "" for an inventory
    classify: Callable[[JsonPath], str]  # "play", "task", "args:deploy", "target", "" ...
    actions: list[str] = field(default_factory=list)  # action names (playbooks)
    kinds: list[str] = field(default_factory=list)  # target kind keys (inventories)


def did_you_mean(word: str, choices: list[str] | set[str]) -> str:
    """`did you mean 'retries'?` or "" when nothing is close."""
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def describe_value(value: Any) -> str:
    """`string 'three'`, `integer 3`, `a mapping`: what the user wrote, shortened."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def expected_types(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    words = [_TYPE_NAMES.get(name, name) for name in names]
    return " or ".join(words)


def schema_diagnostics(doc: Document, validator: ErrorSource, vocab: Vocabulary) -> list[Diagnostic]:
    """Every schema error in `doc`, explained, positioned and deduplicated, in file order."""
    explainer = _Explainer(doc, vocab)
    found: list[Diagnostic] = []
    seen: set[tuple[str, str, str]] = set()
    for error in validator.iter_errors(doc.data):
        for diagnostic in explainer.explain(error):
            key = (str(diagnostic.mark), diagnostic.path, diagnostic.message)
            if key not in seen:
                seen.add(key)
                found.append(diagnostic)
    found.sort(key=lambda d: (d.mark.line, d.mark.column) if d.mark else (0, 0))
    return found


class _Explainer:
    """Explains one jsonschema error at a time, by validator keyword and by what the path is."""

    def __init__(self, doc: Document, vocab: Vocabulary) -> None:
        self.doc = doc
        self.vocab = vocab

    def _diag(self, path: JsonPath, message: str, hint: str = "", *, key: bool = False) -> Diagnostic:
        mark = self.doc.key_mark(path) if key else self.doc.mark(path)
        label_path = path[:-1] if key else path
        return Diagnostic(mark, message, hint, format_path(label_path, self.vocab.root))

    def explain(self, error: ValidationError) -> list[Diagnostic]:
        path: JsonPath = tuple(error.absolute_path)
        handler = getattr(self, f"_on_{error.validator}", None)
        if handler is not None:
            result: list[Diagnostic] = handler(error, path)
            return result
        return [self._diag(path, str(error.message))]

    # -- structure -----------------------------------------------------------------------

    def _on_additionalProperties(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        instance = error.instance
        allowed = set(error.schema.get("properties", {}))
        extras = [k for k in instance if k not in allowed]
        what = self.vocab.classify(path)
        out = []
        for extra in extras:
            where = (*path, extra)
            if what == "task":
                out.append(self._unknown_task_key(where, str(extra), allowed, instance))
            elif what.startswith("args:"):
                action = what[5:]
                hint = did_you_mean(extra, allowed) or _listing("arguments", allowed)
                out.append(self._diag(where, f"{action}: unknown argument {extra!r}", hint, key=True))
            else:
                noun = f"{what} keyword" if what in ("play", "target", "group") else "key"
                hint = did_you_mean(extra, allowed) or _listing("expected", allowed)
                out.append(self._diag(where, f"unknown {noun} {extra!r}", hint, key=True))
        return out

    def _unknown_task_key(self, where: JsonPath, extra: str, allowed: set[str], task: dict[str, Any]) -> Diagnostic:
        actions = set(self.vocab.actions)
        if not self._is_action_typo(extra, task):
            hint = did_you_mean(extra, _TASK_KEYWORDS) or "see docs/playbook-reference.md for task keywords"
            return self._diag(where, f"unknown keyword {extra!r}", hint, key=True)
        near_action = difflib.get_close_matches(extra, sorted(actions), n=1, cutoff=0.6)
        hint = f"did you mean {near_action[0]!r}? " if near_action else ""
        return self._diag(where, f"unknown action {extra!r}", hint + _listing("actions", actions), key=True)

    def _is_action_typo(self, key: str, task: dict[str, Any]) -> bool:
        """An unknown task key is taken for a misspelt action unless the task has one or it looks like a keyword."""
        actions = sorted(self.vocab.actions)
        if any(k in self.vocab.actions or k == "block" for k in task):
            return False
        keyword_score = max(difflib.SequenceMatcher(None, key, k).ratio() for k in _TASK_KEYWORDS)
        action_score = max((difflib.SequenceMatcher(None, key, a).ratio() for a in actions), default=0.0)
        return not (keyword_score >= 0.75 and keyword_score >= action_score)

    def _on_required(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        allowed = set(error.schema.get("properties", {}))
        closed = error.schema.get("additionalProperties") is False
        typos = [k for k in error.instance if isinstance(k, str) and k not in allowed] if closed else []
        missing = [
            r for r in error.validator_value
            if r not in error.instance and not difflib.get_close_matches(r, typos, n=1, cutoff=0.6)
        ]  # `imgae: x` is reported once, as an unknown argument with "did you mean 'image'?"
        what = self.vocab.classify(path)
        out = []
        for name in missing:
            if what.startswith("args:"):
                out.append(self._diag(path, f"{what[5:]}: missing required argument {name!r}"))
            elif what in ("play", "target", "group", "task"):
                out.append(self._diag(path, f"missing required keyword {name!r}"))
            else:
                out.append(self._diag(path, f"missing required key {name!r}"))
        return out

    def _on_dependentRequired(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        out = []
        for key, needs in error.validator_value.items():
            if key in error.instance and any(n not in error.instance for n in needs):
                wanted = " and ".join(repr(n) for n in needs)
                out.append(self._diag((*path, key), f"{key!r} needs {wanted} in the same task", key=True))
        return out

    def _on_oneOf(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        what = self.vocab.classify(path)
        if what == "task" and isinstance(error.instance, dict):
            return self._task_actions(error.instance, path)
        if what == "target" and isinstance(error.instance, dict):
            return self._target_kinds(error.instance, path)
        return self._branches(error, path)

    def _on_anyOf(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        return self._branches(error, path)

    def _task_actions(self, task: dict[str, Any], path: JsonPath) -> list[Diagnostic]:
        found = [k for k in task if k in self.vocab.actions or k == "block"]
        if len(found) > 1:
            listed = " and ".join(repr(k) for k in found[:2])
            hint = "put the action inside the block" if "block" in found else "split it into one task per action"
            return [self._diag(path, f"a task has exactly one action; found {listed}", hint)]
        if not found and not any(k not in _TASK_KEYWORDS and self._is_action_typo(str(k), task) for k in task):
            return [self._diag(path, "a task needs one action (or a block); found none", _listing("actions", set(self.vocab.actions)))]
        return []  # the unknown key is reported as an unknown action

    def _target_kinds(self, target: dict[str, Any], path: JsonPath) -> list[Diagnostic]:
        found = [k for k in target if k in self.vocab.kinds]
        if len(found) > 1:
            listed = " and ".join(repr(k) for k in found[:2])
            return [self._diag(path, f"a target has exactly one kind; found {listed}")]
        if not found:
            return [self._diag(path, "a target needs one kind key", _listing("kinds", set(self.vocab.kinds) & set(USER_KINDS)))]
        return []

    def _branches(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        """Pick the branch of a oneOf/anyOf the user meant instead of dumping the union."""
        from jsonschema.exceptions import best_match

        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context or []:
            by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        wrong_type = {
            branch for branch, subs in by_branch.items()
            if any(s.validator == "type" and tuple(s.absolute_path) == path for s in subs)
        }
        if by_branch and all(len(subs) == 1 and subs[0].validator == "required" for subs in by_branch.values()):
            names = [n for subs in by_branch.values() for n in subs[0].validator_value if n not in error.instance]
            what = self.vocab.classify(path)
            prefix = f"{what[5:]}: " if what.startswith("args:") else ""
            listed = ", ".join(repr(n) for n in dict.fromkeys(names))
            return [self._diag(path, f"{prefix}needs at least one of {listed}")]
        plausible = {b: subs for b, subs in by_branch.items() if b not in wrong_type}
        if plausible and wrong_type and all(
            s.validator == "pattern" and _pattern_kind(str(s.validator_value)) == "template"
            for subs in plausible.values() for s in subs
        ):  # `replicas: three` where an integer or a "{{ template }}" string is allowed
            plausible = {}
        if not plausible:
            types: list[str] = []
            for subs in by_branch.values():
                for sub in subs:
                    if sub.validator == "type" and tuple(sub.absolute_path) == path:
                        value = sub.validator_value
                        types.extend([value] if isinstance(value, str) else value)
            wanted = expected_types(list(dict.fromkeys(types))) or "another value"
            template = any(
                s.validator == "pattern" and _pattern_kind(str(s.validator_value)) == "template"
                for subs in by_branch.values() for s in subs
            )
            hint = "or a Jinja2 template such as '{{ value }}'" if template else ""
            return [self._diag(path, f"expected {wanted}, got {describe_value(error.instance)}", hint)]
        if len(plausible) == 1:
            subs = next(iter(plausible.values()))
        else:
            best = best_match([s for subs in plausible.values() for s in subs])
            subs = [best] if best is not None else []
        out: list[Diagnostic] = []
        for sub in subs:
            out.extend(self.explain(sub))
        return out or [self._diag(path, str(error.message))]

    # -- values --------------------------------------------------------------------------

    def _on_type(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        what = self.vocab.classify(path)
        got = describe_value(error.instance)
        expected = expected_types(error.validator_value)
        if what.startswith("args:"):
            return [self._diag(path, f"{what[5:]}: expected {expected} of arguments, got {got}")]
        if path == () and self.vocab.root == "plays":
            return [self._diag(path, f"expected a list of plays, got {got}", "a playbook starts with `- name: ...` / `hosts: ...`")]
        return [self._diag(path, f"expected {expected}, got {got}")]

    def _on_enum(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        choices = [str(c) for c in error.validator_value]
        hint = did_you_mean(str(error.instance), choices)
        listed = ", ".join(choices)
        return [self._diag(path, f"expected one of {listed}; got {describe_value(error.instance)}", hint)]

    def _on_const(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        return [self._diag(path, f"expected {error.validator_value!r}, got {describe_value(error.instance)}")]

    def _on_pattern(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        value = error.instance
        description = str(error.schema.get("description", ""))
        if "ssh://" in description:
            return [self._diag(path, ssh_url_problem(str(value)), "expected @local or ssh://[user@]host[:port]")]
        form = _pattern_kind(str(error.validator_value))
        if form == "template":
            return [self._diag(path, f"expected a Jinja2 template ({{{{ ... }}}}), got {describe_value(value)}")]
        if form == "percentage":
            return [self._diag(path, f"expected a percentage like '30%', got {describe_value(value)}")]
        if form == "identifier":
            return [self._diag(path, f"{value!r} is not a valid variable name", "use letters, digits and _, not starting with a digit")]
        if description:  # a person reads "a Docker image reference", not the regular expression
            return [self._diag(path, f"expected {description}, got {describe_value(value)}")]
        return [self._diag(path, f"{describe_value(value)} does not match the expected form {error.validator_value}")]

    def _on_propertyNames(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        name = error.instance
        hint = "names use letters, digits, '_', '-' and '.'"
        return [self._diag((*path, name), f"invalid name {name!r}", hint, key=True)]

    def _on_minimum(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        return [self._diag(path, f"expected at least {error.validator_value}, got {describe_value(error.instance)}")]

    def _on_exclusiveMinimum(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        return [self._diag(path, f"expected more than {error.validator_value}, got {describe_value(error.instance)}")]

    def _on_maximum(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        return [self._diag(path, f"expected at most {error.validator_value}, got {describe_value(error.instance)}")]

    def _on_minItems(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        if path == () and self.vocab.root == "plays":
            return [self._diag(path, "a playbook needs at least one play")]
        return [self._diag(path, f"expected at least {error.validator_value} item(s), got {len(error.instance)}")]

    def _on_minLength(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        return [self._diag(path, "must not be empty")]

    def _on_minProperties(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        return [self._diag(path, f"expected at least {error.validator_value} entry")]


_TASK_KEYWORDS = {
    "name", "when", "loop", "loop_control", "register", "retries", "until", "delay",
    "ignore_errors", "changed_when", "failed_when", "tags", "notify", "listen", "timeout",
    "vars", "check_mode", "block", "rescue", "always",
}


def _pattern_kind(pattern: str) -> str:
    """What a schema `pattern` asks for, judged by probing it: "template", "percentage", "identifier" or ""."""
    import re

    def matches(text: str) -> bool:
        try:
            return re.search(pattern, text) is not None
        except re.error:
            return False

    if matches("{{ x }}") and not matches("x"):
        return "template"
    if matches("30%") and not matches("30"):
        return "percentage"
    if matches("abc_1") and not matches("1abc") and not matches("a-b"):
        return "identifier"
    return ""


def _listing(label: str, names: set[str]) -> str:
    shown = sorted(names)
    text = ", ".join(shown[:25]) + (", ..." if len(shown) > 25 else "")
    return f"{label}: {text}"


def ssh_url_problem(url: str) -> str:
    """Why a host URL is malformed, in words (the schema only knows it does not match)."""
    userinfo = url.split("://", 1)[-1].rpartition("@")[0]
    if ":" in userinfo:  # never echo a password
        return "malformed ssh URL: passwords in the URL are not supported; use `key:` (an SSH key)"
    if not url.startswith("ssh://"):
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme:
            return f"malformed host URL {url!r}: scheme {scheme!r} is not supported, only ssh://"
        return f"malformed host URL {url!r}: missing ssh:// (or use @local)"
    rest = url[len("ssh://"):].rstrip("/")
    user, _, hostport = rest.rpartition("@")
    if "@" in user or (not user and rest.startswith("@")):
        return f"malformed ssh URL {url!r}: empty or invalid user"
    host, sep, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    if not sep:
        host, port = hostport, ""
    if not host:
        return f"malformed ssh URL {url!r}: missing host name"
    if sep and not port.isdigit():
        return f"malformed ssh URL {url!r}: port {port!r} is not a number"
    if port and not 0 < int(port) < 65536:
        return f"malformed ssh URL {url!r}: port {port} is out of range 1-65535"
    return f"malformed ssh URL {url!r}: unexpected characters (path, spaces or query are not allowed)"
