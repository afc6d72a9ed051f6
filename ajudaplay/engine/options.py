"""What the operator asked for on the command line, as one typed value the engine reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

FORKS_PER_CPU = 10  # a step mostly waits on the network (SSH, the API server), not on this machine's CPUs
MAX_DEFAULT_FORKS = 200
FDS_PER_TARGET = 8  # an SSH target holds a socket, an SFTP channel's and the command channels' ends


def default_forks() -> int:
    """Targets in parallel when --forks is not given: 10 per CPU this process may use, at least 5, and
    no more than the open-file limit leaves room for (a run must not fail on "too many open files")."""
    import os
    import resource

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = MAX_DEFAULT_FORKS if soft == resource.RLIM_INFINITY else soft // FDS_PER_TARGET
    return max(5, min(FORKS_PER_CPU * cpus, room, MAX_DEFAULT_FORKS))
DEFAULT_LOCK_TTL = 900.0
INTERRUPT_GRACE = 5.0  # seconds running steps get to stop after Ctrl-C / SIGTERM


@dataclass
class RunOptions:
    """Options of one run; defaults are the safe, ordinary ones."""

    check: bool = False
    diff: bool = False
    forks: int = field(default_factory=default_forks)
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
