"""Parses `-e/--extra-vars` values the way ansible-playbook users write them.

`key=value key2=value2` (values are strings; shell-style quoting), a JSON
object, or `@file` (YAML or JSON mapping). Later `-e` values win.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from ajudaplay.errors import Diagnostic, InvalidInput


def parse_extra_vars(values: list[str], cwd: Path) -> dict[str, Any]:
    """Merge every -e value into one mapping; raises InvalidInput naming the bad one."""
    merged: dict[str, Any] = {}
    problems: list[Diagnostic] = []
    for raw in values:
        try:
            merged.update(_one(raw, cwd))
        except InvalidInput as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise InvalidInput(problems)
    return merged


def _one(raw: str, cwd: Path) -> dict[str, Any]:
    text = raw.strip()
    if text.startswith("@"):
        return _from_file(cwd / text[1:], raw)
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _bad(raw, f"invalid JSON: {exc.msg} at column {exc.colno}", "quote the JSON for your shell: -e '{\"k\": 1}'") from exc
        if not isinstance(data, dict):
            raise _bad(raw, "JSON must be an object", "-e '{\"image\": \"app:2\"}'")
        return data
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise _bad(raw, f"cannot split: {exc}", "balance the quotes") from exc
    result: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep and result:  # `-e before="2024-01-01 10:00:00"`: the shell took the quotes away
            last = list(result)[-1]
            raise _bad(raw, f"expected key=value, got {word!r}",
                       f"a value with spaces is quoted inside the argument, as ansible-playbook reads it: "
                       f"-e '{last}=\"{result[last]} {word}\"'")
        if not sep:
            raise _bad(raw, f"expected key=value, got {word!r}", "e.g. -e image=app:2 -e replicas=3")
        if not key.isidentifier():
            raise _bad(raw, f"invalid variable name {key!r}: a name is letters, digits and _ and does not start with a digit",
                       f"e.g. -e {_suggest_name(key)}={value}")
        result[key] = value
    return result


def _suggest_name(key: str) -> str:
    """`foo-bar` → `foo_bar`, `1st` → `_1st`: the nearest valid name, for the hint."""
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in key) or "name"
    return f"_{name}" if name[0].isdigit() else name


def _from_file(path: Path, raw: str) -> dict[str, Any]:
    import yaml

    from ajudaplay.yamlmarks import safe_load

    try:
        data = safe_load(path.read_text(encoding="utf-8"), str(path))  # alias-bounded
    except OSError as exc:
        raise _bad(raw, f"cannot read {path}: {exc.strerror}", "the path is relative to the current folder") from exc
    except yaml.YAMLError as exc:
        raise _bad(raw, f"{path} is not valid YAML/JSON: {exc}", "") from exc
    if not isinstance(data, dict):
        raise _bad(raw, f"{path} must contain a mapping of variables", "")
    return data


def _bad(raw: str, message: str, hint: str) -> InvalidInput:
    return InvalidInput([Diagnostic(None, f"-e {raw!r}: {message}", hint)])
