"""The typed playbook model the engine executes. Values stay raw (templated at run time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ajudaplay.errors import Mark


@dataclass
class Task:
    """One step: exactly one action, or a block with rescue/always."""

    name: str
    mark: Mark
    action: str | None = None  # None for a block
    args: Any = None  # the action's arguments (dict, or a string for free-form actions)
    arg_marks: dict[str, Mark] = field(default_factory=dict)  # argument name -> position
    when: list[str] = field(default_factory=list)  # all must be true
    loop: Any = None  # list, or a template string evaluating to a list
    loop_var: str = "item"
    loop_label: Any = None  # loop_control.label: what output shows per item (a template), None = the item
    register: str | None = None
    retries: int = 0
    delay: float = 1.0
    until: str | None = None
    ignore_errors: bool = False
    changed_when: str | bool | None = None
    failed_when: str | bool | None = None
    tags: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)
    timeout: float | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    block: list[Task] | None = None
    rescue: list[Task] = field(default_factory=list)
    always: list[Task] = field(default_factory=list)
    listen: list[str] = field(default_factory=list)  # handlers: extra names to answer to
    check_mode: bool | None = None  # force check (True) or real run (False) for this task
    keyword_marks: dict[str, Mark] = field(default_factory=dict)  # keyword (when, loop, ...) -> position of its value

    @property
    def is_block(self) -> bool:
        return self.block is not None


@dataclass
class Play:
    name: str
    hosts: str  # a target/group pattern, e.g. "api", "all:!cluster", "web*"
    mark: Mark
    tasks: list[Task] = field(default_factory=list)
    handlers: list[Task] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    serial: list[int | str] = field(default_factory=list)  # e.g. [1, "50%"]; empty = all at once
    max_fail_percentage: float | None = None
    tags: list[str] = field(default_factory=list)
    lock: bool = True  # take the environment lock on each target
    hosts_mark: Mark | None = None  # position of the `hosts` value, for pattern errors


@dataclass
class Playbook:
    path: Path
    plays: list[Play]
