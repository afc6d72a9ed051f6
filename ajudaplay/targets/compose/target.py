"""ComposeTarget (kind "compose"): one Docker Compose project on a host, via pyinfra.

A HostTarget (shell, files, host lock) plus the service actions and the
service's files for the database verbs (ServiceData: compose/workspace.py). The lock,
the override file and the revisions live in `<project_dir>/.ajudaplay/`. The
project is probed (Compose v1/v2, engine, compose files, state files) on the
first service action, not at open(), so `compose-host.yml` can prepare a host
that has no project yet. The first action on each service in a run first
makes the revision record agree with what runs (reconcile.py).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ajudaplay.errors import TargetError
from ajudaplay.outcomes import FetchOutcome, LogLines, Outcome, UploadOutcome, to_result
from ajudaplay.targets.base import ServiceData, ServiceOps
from ajudaplay.targets.compose import files as filesets
from ajudaplay.targets.compose import ops, reconcile, rollout
from ajudaplay.targets.compose.cli import ComposeProject
from ajudaplay.targets.compose.session import Session
from ajudaplay.targets.compose.settings import ComposeSettings
from ajudaplay.targets.host import HostTarget
from ajudaplay.targets.volumes import ServiceVolumes

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path

    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.locks import LockHolder
    from ajudaplay.outcomes import (
        CertificateOutcome, ConfigOutcome, DeployOutcome, EndpointsOutcome, EnvironmentOutcome, ExecOutcome,
        RestartOutcome, RevisionList, RollbackOutcome, ScaleOutcome, SecretOutcome, ServiceStatus, UsageOutcome,
        VerbResult,
    )
    from ajudaplay.targets.base import CertificateRequest, StepContext
    from ajudaplay.targets.compose.settings import ServiceMap
    from ajudaplay.targets.workspace import Workspace

O = TypeVar("O", bound=Outcome)
C = TypeVar("C", "ConfigOutcome", "SecretOutcome")


class ComposeTarget(ServiceOps, ServiceData, ServiceVolumes, HostTarget):
    """Docker Compose (v2 `docker compose` or v1 `docker-compose`) on `@local` or SSH."""

    kind = "compose"

    def __init__(self, spec: TargetSpec) -> None:
        HostTarget.__init__(self, spec)  # not super(): see Target
        self.settings = ComposeSettings.from_spec(spec.name, spec.connection, spec.services)
        self._session: Session | None = None
        self._checked: set[str] = set()  # services whose record was compared with what runs, this run

    def close(self) -> None:
        """Disconnect and forget the probed state; safe twice."""
        self._session = None
        self._checked = set()
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

    def _act(self, ctx: StepContext, service: str, action: Callable[[Session, ServiceMap], O]) -> VerbResult[O]:
        """Run one service action after the run's first look at that service's record (once per run)."""
        svc = self.settings.service(service)
        sess = self.session(ctx)
        notes = reconcile.Notes()
        if svc.compose not in self._checked:
            notes = reconcile.check(sess, ctx, svc)
            self._checked.add(svc.compose)
        try:
            return to_result(notes.merge(action(sess, svc)))
        except TargetError as exc:
            if notes:
                exc.args = (f"{exc} (before that: {notes.text()})",)
            raise

    # service actions -------------------------------------------------------------
    def deploy(self, ctx: StepContext, service: str, image: str, atomic: bool,
               health_url: str | None = None) -> VerbResult[DeployOutcome]:
        return self._act(ctx, service, lambda sess, svc: rollout.deploy(sess, ctx, svc, image, atomic, health_url))

    def rollback(self, ctx: StepContext, service: str, to_revision: int | None) -> VerbResult[RollbackOutcome]:
        return self._act(ctx, service, lambda sess, svc: rollout.rollback(sess, ctx, svc, to_revision))

    def history(self, ctx: StepContext, service: str) -> VerbResult[RevisionList]:
        return self._act(ctx, service, lambda sess, svc: rollout.history(sess, svc))

    def scale(
        self, ctx: StepContext, service: str, replicas: int | None,
        min_replicas: int | None, max_replicas: int | None,
    ) -> VerbResult[ScaleOutcome]:
        return self._act(ctx, service, lambda sess, svc: ops.scale(sess, ctx, svc, replicas, min_replicas, max_replicas))

    def restart(self, ctx: StepContext, service: str) -> VerbResult[RestartOutcome]:
        return self._act(ctx, service, lambda sess, svc: ops.restart(sess, ctx, svc))

    def status(self, ctx: StepContext, service: str) -> VerbResult[ServiceStatus]:
        return self._act(ctx, service, lambda sess, svc: ops.status(sess, ctx, svc))

    def usage(self, ctx: StepContext, service: str) -> VerbResult[UsageOutcome]:
        from ajudaplay.targets.compose import usage

        return self._act(ctx, service, lambda sess, svc: usage.usage(sess, ctx, svc))

    def config(self, ctx: StepContext, service: str, files: dict[str, bytes], restart: bool) -> VerbResult[ConfigOutcome]:
        return self._act(ctx, service, lambda sess, svc: _recreated(
            sess, ctx, svc, filesets.config(sess, ctx, svc, files, restart)))

    def secret(self, ctx: StepContext, service: str, values: dict[str, str], restart: bool) -> VerbResult[SecretOutcome]:
        return self._act(ctx, service, lambda sess, svc: _recreated(
            sess, ctx, svc, filesets.secret(sess, ctx, svc, values, restart)))

    def certificate(self, ctx: StepContext, request: CertificateRequest) -> VerbResult[CertificateOutcome]:
        return to_result(filesets.certificate(self.session(ctx), ctx, request))

    def logs(self, ctx: StepContext, service: str, tail: int, grep: str | None, *, since: int | None = None,
             previous: bool = False) -> VerbResult[LogLines]:
        from ajudaplay.targets.compose import logs

        return self._act(ctx, service, lambda sess, svc: LogLines.gathered(
            logs.logs(sess, ctx, svc, tail, grep, since, previous)))

    def fetch(self, ctx: StepContext, service: str, src: str, dest: Path, shown_dest: str) -> VerbResult[FetchOutcome]:
        from ajudaplay.targets.compose import copying

        return self._act(ctx, service, lambda sess, svc: FetchOutcome.gathered(
            copying.fetch(sess, ctx, svc, src, dest, shown_dest)))

    def upload(self, ctx: StepContext, service: str, src: Path, dest: str, mode: int | None,
               shown_src: str) -> VerbResult[UploadOutcome]:
        from ajudaplay.targets.compose import copying

        return self._act(ctx, service, lambda sess, svc: UploadOutcome.gathered(
            copying.upload(sess, ctx, svc, src, dest, mode, shown_src)))

    def exec(self, ctx: StepContext, service: str, command: list[str] | str, *, container: str | None = None,
             pod: str | None = None, stdin: str | None = None) -> VerbResult[ExecOutcome]:
        from ajudaplay.targets.compose import execution

        return self._act(ctx, service, lambda sess, svc: execution.exec_(
            sess, ctx, svc, command, container=container, pod=pod, stdin=stdin))

    def endpoints(self, ctx: StepContext, service: str) -> VerbResult[EndpointsOutcome]:
        from ajudaplay.targets.compose import network

        return self._act(ctx, service, lambda sess, svc: network.endpoints(sess, ctx, svc))

    def environment(self, ctx: StepContext, service: str) -> VerbResult[EnvironmentOutcome]:
        from ajudaplay.targets.compose import environment

        return self._act(ctx, service, lambda sess, svc: environment.environment(sess, ctx, svc))

    # the volumes the service mounts (disk: ServiceVolumes): compose/storage.py ------
    def volumes(self, ctx: StepContext, service: str) -> list[dict[str, Any]]:
        from ajudaplay.targets.compose import storage

        return storage.volumes(self.session(ctx), ctx, self.settings.service(service))

    # the service's files (database verbs): compose/workspace.py ---------------------
    def live_workspace(self, ctx: StepContext, service: str) -> AbstractContextManager[Workspace]:
        from ajudaplay.targets.compose import workspace

        return workspace.live(self.session(ctx), ctx, self.settings.service(service))

    def offline(self, ctx: StepContext, service: str) -> AbstractContextManager[Workspace]:
        from ajudaplay.targets.compose import workspace

        return workspace.offline(self.session(ctx), ctx, self.settings.service(service))


def _recreated(sess: Session, ctx: StepContext, svc: ServiceMap, outcome: C) -> C:
    """config/secret may recreate the containers: their new Compose config-hash is ajudaplay's doing."""
    if outcome.changed and not outcome.failed:
        reconcile.remember_config(sess, ctx, svc)
    return outcome
