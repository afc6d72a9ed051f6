"""ComposeTarget (kind "compose"): one Docker Compose project on a host, via pyinfra.

A HostTarget (shell, files, host lock) plus the service actions. The lock,
the override file and the revisions live in `<project_dir>/.ajudaplay/`. The
project is probed (Compose v1/v2, engine, compose files, state files) on the
first service action, not at open(), so `compose-host.yml` can prepare a host
that has no project yet.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ajudaplay.targets.compose import files as filesets
from ajudaplay.targets.compose import ops, rollout
from ajudaplay.targets.compose.cli import ComposeProject
from ajudaplay.targets.compose.session import Session
from ajudaplay.targets.compose.settings import ComposeSettings
from ajudaplay.targets.host import HostTarget

if TYPE_CHECKING:
    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.targets.base import CertificateRequest, LockHolder, Result, StepContext


class ComposeTarget(HostTarget):
    """Docker Compose (v2 `docker compose` or v1 `docker-compose`) on `@local` or SSH."""

    kind = "compose"

    def __init__(self, spec: TargetSpec) -> None:
        super().__init__(spec)
        self.settings = ComposeSettings.from_spec(spec.name, spec.connection, spec.services)
        self._session: Session | None = None

    def close(self) -> None:
        """Disconnect and forget the probed state; safe twice."""
        self._session = None
        super().close()

    # lock: under the project directory ---------------------------------------
    def lock_path(self) -> str:
        return str(self.spec.connection.get("lock_path") or self.settings.lock_path)

    def acquire_lock(self, holder: LockHolder, ttl: float, wait: float) -> None:
        """Create the state folder if needed, then take the lock (mkdir on the host)."""
        import posixpath

        parent = posixpath.dirname(self.lock_path())
        result = self.host().run(f"mkdir -p {shlex.quote(parent)}", timeout=30)
        if not result.ok:
            from ajudaplay.errors import TargetError

            raise TargetError(
                f"target {self.name!r}: cannot create {parent} for the lock: {result.stderr.strip()}; "
                "is compose.project_dir writable by the connecting user?"
            )
        super().acquire_lock(holder, ttl, wait)

    # session -------------------------------------------------------------------
    def session(self, ctx: StepContext | None = None) -> Session:
        """The probed project (one round trip on first use); its commands obey `ctx.cancel`."""
        project = self._session.project if self._session is not None else ComposeProject(self.host(), self.settings)
        project.cancel = ctx.cancel if ctx is not None else None
        if self._session is None:
            self._session = Session.open(project)
        return self._session

    def services(self) -> list[str]:
        return sorted(self.settings.services)

    # service actions -------------------------------------------------------------
    def deploy(self, ctx: StepContext, service: str, image: str, atomic: bool, health_url: str | None = None) -> Result:
        svc = self.settings.service(service)
        return rollout.deploy(self.session(ctx), ctx, svc, image, atomic, health_url)

    def rollback(self, ctx: StepContext, service: str, to_revision: int | None) -> Result:
        svc = self.settings.service(service)
        return rollout.rollback(self.session(ctx), ctx, svc, to_revision)

    def history(self, ctx: StepContext, service: str) -> Result:
        svc = self.settings.service(service)
        return rollout.history(self.session(ctx), svc)

    def scale(
        self, ctx: StepContext, service: str, replicas: int | None,
        min_replicas: int | None, max_replicas: int | None,
    ) -> Result:
        svc = self.settings.service(service)
        return ops.scale(self.session(ctx), ctx, svc, replicas, min_replicas, max_replicas)

    def restart(self, ctx: StepContext, service: str) -> Result:
        svc = self.settings.service(service)
        return ops.restart(self.session(ctx), ctx, svc)

    def status(self, ctx: StepContext, service: str) -> Result:
        svc = self.settings.service(service)
        return ops.status(self.session(ctx), ctx, svc)

    def config(self, ctx: StepContext, service: str, files: dict[str, bytes], restart: bool) -> Result:
        svc = self.settings.service(service)
        return filesets.config(self.session(ctx), ctx, svc, files, restart)

    def secret(self, ctx: StepContext, service: str, values: dict[str, str], restart: bool) -> Result:
        svc = self.settings.service(service)
        return filesets.secret(self.session(ctx), ctx, svc, values, restart)

    def certificate(self, ctx: StepContext, request: CertificateRequest) -> Result:
        return filesets.certificate(self.session(ctx), ctx, request)

    def logs(self, ctx: StepContext, service: str, tail: int, grep: str | None) -> Result:
        svc = self.settings.service(service)
        return ops.logs(self.session(ctx), ctx, svc, tail, grep)

    def exec(self, ctx: StepContext, service: str, command: list[str] | str) -> Result:
        svc = self.settings.service(service)
        return ops.exec_(self.session(ctx), ctx, svc, command)
