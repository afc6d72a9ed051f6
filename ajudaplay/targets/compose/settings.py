"""A Compose target's inventory settings, typed: project, files, service mapping.

Pure data, no I/O, so messages and tests can use it without a host.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from ajudaplay.errors import TargetError, UnknownService

STATE_DIR = ".ajudaplay"  # under the project directory: lock, override, revisions, env files


def project_name_for(project_dir: str) -> str:
    """The name Compose (v1 and v2) derives from the folder: lowercase, only [a-z0-9_-]."""
    base = posixpath.basename(project_dir.rstrip("/")) or "default"
    return re.sub(r"[^a-z0-9_-]", "", base.lower()) or "default"


@dataclass(frozen=True)
class ServiceMap:
    """How one playbook service maps onto this Compose project."""

    name: str  # the playbook's name, e.g. "api"
    compose: str  # the Compose service, e.g. "ajudadorabot-api"
    health_url: str | None = None
    config_dir: str | None = None  # where `config` uploads files (relative to project_dir)
    env_file: str | None = None  # where `secret` writes; None = .ajudaplay/env/<svc>.env via the override
    tls_cert: str | None = None
    tls_key: str | None = None
    reload_command: str | None = None  # run inside the service to reload (e.g. "nginx -s reload")


@dataclass(frozen=True)
class ComposeSettings:
    """Where the project lives on the host and how to call Compose for it."""

    target: str
    project_dir: str
    compose_files: tuple[str, ...]
    project_name: str
    services: dict[str, ServiceMap]
    compose_command: str | None = None  # force "docker compose" or "docker-compose" instead of detecting

    @classmethod
    def from_spec(cls, target: str, connection: dict[str, Any], services: dict[str, dict[str, Any]]) -> ComposeSettings:
        """Read the inventory's `compose:` and `services:` mappings."""
        project_dir = str(connection.get("project_dir") or "").rstrip("/")
        if not project_dir.startswith("/"):
            raise TargetError(
                f"target {target!r}: compose.project_dir must be an absolute path on the host, got {project_dir!r}"
            )
        files = connection.get("compose_files") or ["docker-compose.yml"]
        if isinstance(files, str):
            files = [files]
        name = str(connection.get("project_name") or project_name_for(project_dir))
        mapped: dict[str, ServiceMap] = {}
        for key, value in (services or {}).items():
            value = value or {}
            mapped[key] = ServiceMap(
                name=key,
                compose=str(value.get("service") or key),
                health_url=value.get("health_url"),
                config_dir=value.get("config_dir"),
                env_file=value.get("env_file"),
                tls_cert=value.get("tls_cert"),
                tls_key=value.get("tls_key"),
                reload_command=value.get("reload_command"),
            )
        forced = connection.get("compose_command")
        if forced is not None and forced not in ("docker compose", "docker-compose"):
            raise TargetError(
                f"target {target!r}: compose.compose_command must be 'docker compose' or 'docker-compose', got {forced!r}"
            )
        return cls(target, project_dir, tuple(str(f) for f in files), name, mapped, forced)

    def service(self, name: str) -> ServiceMap:
        """The mapping for a playbook service; UnknownService lists what the inventory defines."""
        try:
            return self.services[name]
        except KeyError:
            raise UnknownService(name, self.target, list(self.services)) from None

    def path(self, relative: str) -> str:
        """A path on the host: absolute as given, else under the project directory."""
        if relative.startswith("/"):
            return relative
        return posixpath.normpath(posixpath.join(self.project_dir, relative))

    @property
    def state_dir(self) -> str:
        return posixpath.join(self.project_dir, STATE_DIR)

    @property
    def override_path(self) -> str:
        return posixpath.join(self.state_dir, "override.yml")

    @property
    def revisions_path(self) -> str:
        return posixpath.join(self.state_dir, "revisions.json")

    @property
    def lock_path(self) -> str:
        return posixpath.join(self.state_dir, "lock")

    def default_env_file(self, service: ServiceMap) -> str:
        return posixpath.join(self.state_dir, "env", f"{service.compose}.env")
