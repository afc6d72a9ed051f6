"""YAML loading that remembers where every value came from, so errors can say file:line:col.

PyYAML (C loader when available) composes a node tree; we construct plain Python
data from it ourselves, keeping each node's start mark in a lookup keyed by the
JSON path (tuple of mapping keys and sequence indexes). Construction is ours
because PyYAML silently keeps the last of two duplicate keys and loses marks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import Diagnostic, InvalidInput, Mark

if TYPE_CHECKING:
    import yaml

JsonPath = tuple[str | int, ...]

TAB_HINT = "YAML does not allow tabs for indentation; use spaces"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_DEPTH = 200  # deep nesting must not exhaust the stack
# Values reached through aliases (`*name`, `<<: *name`) per document, counted
# with nested aliases expanded: a "billion laughs" file of a few hundred bytes
# would otherwise expand to millions of values at load and at every step.
# Documented in docs/playbook-reference.md ("YAML anchors and aliases").
MAX_ALIAS_NODES = 10_000
ALIAS_HINT = (
    "anchors and aliases may repeat at most {limit:,} values per file (a guard against "
    "exponentially expanding 'billion laughs' documents); write the repeated values out, "
    "or alias a smaller anchor"
)


@dataclass
class Document:
    """Plain data loaded from one YAML file plus the position of every value and key."""

    file: str
    data: Any
    marks: dict[JsonPath, Mark] = field(default_factory=dict)  # value (or item) start
    key_marks: dict[JsonPath, Mark] = field(default_factory=dict)  # mapping key start
    problems: list[Diagnostic] = field(default_factory=list)  # duplicate or non-string keys (strict=False)

    def mark(self, path: JsonPath) -> Mark:
        """The value's position, or the nearest enclosing value's, or the file start."""
        for end in range(len(path), -1, -1):
            found = self.marks.get(path[:end])
            if found is not None:
                return found
        return Mark(self.file, 1, 1)

    def key_mark(self, path: JsonPath) -> Mark:
        """The position of the key that leads to `path` (falls back to the value's)."""
        return self.key_marks.get(path) or self.mark(path)


def format_path(path: JsonPath, root: str = "") -> str:
    """`("plays", 0, "tasks", 2)` style paths as `plays[0].tasks[2]` for messages."""
    text = root
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def load_yaml_file(path: Path, display: str | None = None, *, strict: bool = True) -> Document:
    """Read and load one file; a missing or unreadable file is InvalidInput, not a traceback.

    With strict=False, key problems (duplicates, non-string keys) are left in
    `Document.problems` so later checks can report them together with their own.
    """
    name = display if display is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInput([Diagnostic(None, f"{name}: no such file")]) from exc
    except IsADirectoryError as exc:
        raise InvalidInput([Diagnostic(None, f"{name}: is a directory, expected a YAML file")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput([Diagnostic(None, f"{name}: cannot read: {exc}")]) from exc
    return load_yaml(text, name, strict=strict)


def load_yaml(text: str, file: str, *, strict: bool = True) -> Document:
    """Load one YAML document from `text`; syntax errors become InvalidInput with a position."""
    import yaml

    loader_cls: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    try:
        try:
            check_aliases(text, file)
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise InvalidInput([_syntax_diagnostic(exc, text, file)]) from exc
        except yaml.YAMLError as exc:
            raise InvalidInput([Diagnostic(Mark(file, 1, 1), f"invalid YAML: {exc}")]) from exc
        doc = Document(file=file, data=None)
        if node is None:
            return doc
        builder = _Builder(loader, doc, text)
        doc.data = builder.build(node, ())
        doc.problems = builder.diagnostics
        if builder.diagnostics and strict:
            raise InvalidInput(builder.diagnostics)
        return doc
    finally:
        loader.dispose()


def safe_load(text: str, file: str) -> Any:
    """`yaml.safe_load` under the same alias bound, for YAML that needs no marks (-e @file, from_yaml)."""
    import yaml

    check_aliases(text, file)
    return yaml.safe_load(text)


def check_aliases(text: str, file: str, limit: int = MAX_ALIAS_NODES) -> None:
    """Refuse a document whose aliases expand to more than `limit` values, or refer to themselves.

    Works on the event stream, before anything is built: each anchor's size
    (its values, nested aliases expanded) is known when it closes, each alias
    adds its anchor's size, so the cost is linear in the text and the error
    names the alias that crosses the bound. Syntax errors propagate as
    yaml.YAMLError for the caller to report.
    """
    import yaml

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # open collections: [anchor, size so far]
    expanded = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                stack.append([event.anchor, 1])
                continue
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                anchor, size = stack.pop()
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size = event.anchor, 1
            elif isinstance(event, yaml.AliasEvent):
                anchor, size = None, _alias_size(event, sizes, stack, file)
                expanded += size
                if expanded > limit:
                    raise InvalidInput([Diagnostic(
                        _mark(file, event.start_mark),
                        f"YAML aliases expand to more than {limit:,} values: *{event.anchor} "
                        f"({size:,} values) brings this file to {expanded:,}",
                        ALIAS_HINT.format(limit=limit),
                    )])
            else:
                continue
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                stack[-1][1] += size
    finally:
        loader.dispose()


def _alias_size(event: Any, sizes: dict[str, int], stack: list[list[Any]], file: str) -> int:
    """Values an alias stands for; an alias inside its own anchor would be infinite."""
    if any(anchor == event.anchor for anchor, _ in stack):
        raise InvalidInput([Diagnostic(
            _mark(file, event.start_mark),
            f"YAML alias *{event.anchor} refers to a value that contains it (a recursive alias)",
            "an alias may only refer to an anchor whose value is complete before it",
        )])
    return sizes.get(event.anchor, 0)  # an undefined alias is reported by the composer


def _mark(file: str, mark: Any) -> Mark:
    return Mark(file, int(mark.line) + 1, int(mark.column) + 1)


def _syntax_diagnostic(exc: Any, text: str, file: str) -> Diagnostic:
    """Turn a PyYAML MarkedYAMLError into one clear diagnostic; spot tab indentation."""
    where = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    lines = text.splitlines()
    if where is not None:
        tab = _tab_in_indentation(lines, int(where.line))
        if tab is not None:
            return Diagnostic(Mark(file, tab[0] + 1, tab[1] + 1), "tab character in indentation", TAB_HINT)
    if "\\t" in problem or "'\\t'" in str(exc):
        return Diagnostic(_mark(file, where) if where else None, "tab character in YAML", TAB_HINT)
    message = f"invalid YAML: {problem}"
    if exc.context:
        message += f" ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not where:
            message += f" at line {exc.context_mark.line + 1}"
        message += ")"
    hint = "check the indentation and the quoting around this position"
    return Diagnostic(_mark(file, where) if where else None, message, hint)


def _tab_in_indentation(lines: list[str], around: int) -> tuple[int, int] | None:
    """The (line, column) of a tab used as indentation at or just before line `around`."""
    for index in range(min(around, len(lines) - 1), max(around - 3, -1), -1):
        if index < 0:
            break
        line = lines[index]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return index, indent.index("\t")
    return None


class _Builder:
    """Walks a composed node tree into plain data, recording marks and duplicate keys."""

    def __init__(self, loader: Any, doc: Document, text: str) -> None:
        self.loader = loader
        self.doc = doc
        self.lines = text.splitlines()
        self.diagnostics: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: JsonPath, depth: int = 0) -> Any:
        import yaml

        if path not in self.doc.marks:
            self.doc.marks[path] = self._value_mark(node)
        if depth > _MAX_DEPTH:
            self._error(node, "YAML nesting too deep (a recursive alias?)")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        import yaml

        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._error(node, f"invalid value: {getattr(exc, 'problem', exc)}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: JsonPath, depth: int) -> dict[Any, Any]:
        import yaml

        result: dict[Any, Any] = {}
        seen: dict[Any, Mark] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge_source(value_node, path, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._error(key_node, "a mapping key must be a plain string, not a list or mapping")
                continue
            key = self._scalar(key_node)
            key_mark = _mark(self.doc.file, key_node.start_mark)
            if not isinstance(key, str):
                shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else repr(key)
                self.diagnostics.append(Diagnostic(
                    key_mark, f"mapping keys must be strings; YAML read {key_node.value!r} as {type(key).__name__} {shown}",
                    f"quote it: '{key_node.value}':" + (" (YAML 1.1 reads yes/no/on/off as booleans)" if isinstance(key, bool) else ""),
                ))
                continue
            if key in seen:
                first = seen[key]
                self.diagnostics.append(
                    Diagnostic(
                        key_mark,
                        f"duplicate key {key!r} (first defined at line {first.line})",
                        "YAML keeps only one of them; remove or rename one",
                        )
                )
                continue
            seen[key] = key_mark
            child = (*path, key)
            self.doc.key_marks[child] = key_mark
            result[key] = self.build(value_node, child, depth + 1)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_source(self, node: yaml.Node, path: JsonPath, depth: int) -> dict[Any, Any]:
        """`<<: *defaults` (or a list of them): keys the mapping itself does not set."""
        import yaml

        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self._error(source, "`<<` merges mappings only")
                continue
            merged.update(self._mapping(source, path, depth + 1))
        return merged

    def _value_mark(self, node: yaml.Node) -> Mark:
        """Start of the value; for `|`/`>` block scalars, the first content line."""
        mark = _mark(self.doc.file, node.start_mark)
        style = getattr(node, "style", None)
        if style in ("|", ">"):
            line = mark.line  # 1-based line of the indicator == 0-based index of the next line
            while line < len(self.lines) and not self.lines[line].strip():
                line += 1
            if line < len(self.lines):
                text = self.lines[line]
                return Mark(self.doc.file, line + 1, len(text) - len(text.lstrip(" ")) + 1)
        return mark

    def _error(self, node: yaml.Node, message: str) -> None:
        self.diagnostics.append(Diagnostic(_mark(self.doc.file, node.start_mark), message))
