"""Where the plays, tasks and action arguments are in a loaded playbook (paths, not objects).

The schema error mapper, the semantic checks and the model builder all need to
know "is this path a task?"; this module answers it once, defensively, for data
that may not have passed the schema yet.

A different job from engine/plan_walk.py, the one walker over the typed
model (scopes, inherited tags, handlers) that the plan, the argument checks,
the listings and the executor share: this one walks raw YAML paths into
unvalidated data, before there is a model, so error marks can point there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ajudaplay.yamlmarks import JsonPath

PLAY_TASK_LISTS = ("tasks", "handlers")
BLOCK_TASK_LISTS = ("block", "rescue", "always")


def classify(path: JsonPath, actions: set[str]) -> str:
    """"playbook", "play", "task", "args:NAME" or "" for a path into a playbook."""
    if not path:
        return "playbook"
    if not isinstance(path[0], int):
        return ""
    if len(path) == 1:
        return "play"
    state = "play"
    index = 1
    while index < len(path):
        part = path[index]
        if state in ("play", "task") and index + 1 < len(path):
            lists = PLAY_TASK_LISTS if state == "play" else BLOCK_TASK_LISTS
            if part in lists and isinstance(path[index + 1], int):
                state = "task"
                index += 2
                continue
        if state == "task" and isinstance(part, str) and part in actions and index == len(path) - 1:
            return f"args:{part}"
        return ""
    return state


def iter_tasks(play: Any, play_path: JsonPath, lists: tuple[str, ...] = PLAY_TASK_LISTS) -> Iterator[tuple[JsonPath, dict[str, Any], str]]:
    """Every task mapping of a play (nested blocks too): (path, task, top-level list name)."""
    if not isinstance(play, dict):
        return
    for list_name in lists:
        yield from _walk(play.get(list_name), (*play_path, list_name), list_name)


def _walk(items: Any, path: JsonPath, top: str) -> Iterator[tuple[JsonPath, dict[str, Any], str]]:
    if not isinstance(items, list):
        return
    for index, task in enumerate(items):
        if not isinstance(task, dict):
            continue
        task_path = (*path, index)
        yield task_path, task, top
        for nested in BLOCK_TASK_LISTS:
            yield from _walk(task.get(nested), (*task_path, nested), top)


def iter_strings(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    """Every string inside a value (mapping values, list items), with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_strings(item, (*path, index))
