"""The Docker Compose deployment mode: `ComposeTarget` and its parts.

    settings  inventory mapping -> typed settings (no I/O)
    cli       Compose v1/v2 detection, commands, `docker inspect`
    state     override file and revision history kept on the host
    session   the probed project for one run
    health    waiting until a service is running and healthy
    reconcile the record made to agree with what runs, before a service's first action
    rollout   deploy / rollback / history
    ops       scale / restart / status / logs / exec
    files     config / secret / certificate
    target    ComposeTarget: the Target interface over these
"""

from ajudaplay.targets.compose.target import ComposeTarget

__all__ = ["ComposeTarget"]
