"""What the operator asked for on the command line, as one typed value the engine reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

DEFAULT_FORKS = 20
DEFAULT_LOCK_TTL = 900.0
INTERRUPT_GRACE = 5.0  # seconds running steps get to stop after Ctrl-C / SIGTERM


@dataclass
class RunOptions:
    """Options of one run; defaults are the safe, ordinary ones."""

    check: bool = False
    diff: bool = False
    forks: int = DEFAULT_FORKS
    limit: str | None = None
    tags: list[str] = field(default_factory=list)
    skip_tags: list[str] = field(default_factory=list)
    start_at_step: str | None = None
    extra_vars: dict[str, Any] = field(default_factory=dict)
    secret_extra_vars: set[str] = field(default_factory=set)  # names whose values are masked
    lock_wait: float = 0.0
    lock_ttl: float = DEFAULT_LOCK_TTL
    verbosity: int = 0
    interrupt_grace: float = INTERRUPT_GRACE
    user: str = ""  # defaults to the login name
    assume_yes: bool = False  # --yes: every confirmation is answered yes
    step: bool = False  # --step: ask on the terminal before each task (y/n/c), like ansible-playbook --step
    # The journal's runs that touched a target since a time (target, epoch seconds) -> newest first;
    # the CLI sets it from the open journal, actions read it through ActionContext.recent_runs.
    recent_runs: Callable[[str, float], list[dict[str, Any]]] | None = None
