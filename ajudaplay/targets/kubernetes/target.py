"""KubernetesTarget: the Target interface on a cluster namespace, kubectl-faithful.

Thin: resolves the service to its objects and hands over to one module per
concern (rollouts, scaling, configdata, certificates, observe, lease, workspace). The
`kubernetes` client is imported only when the target is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ajudaplay.errors import LockInfo
from ajudaplay.locks import LockHolder
from ajudaplay.outcomes import FetchOutcome, LogLines, UploadOutcome, to_result
from ajudaplay.targets.base import CertificateRequest, Lockable, ServiceData, ServiceOps, StepContext, Target
from ajudaplay.targets.kubernetes.api import ConnectionSettings, Kube, connect
from ajudaplay.targets.kubernetes.services import ServiceRef, resolve
from ajudaplay.targets.volumes import ServiceVolumes

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path

    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.outcomes import (
        CertificateOutcome, ConfigOutcome, DeployOutcome, EndpointsOutcome, EnvironmentOutcome, ExecOutcome,
        RestartOutcome, RevisionList, RollbackOutcome, ScaleOutcome, SecretOutcome, ServiceStatus, UsageOutcome,
        VerbResult,
    )
    from ajudaplay.targets.kubernetes.lease import LeaseLock
    from ajudaplay.targets.workspace import Workspace


class KubernetesTarget(ServiceOps, ServiceData, ServiceVolumes, Lockable, Target):
    """One namespace of one cluster (kubeconfig context or in-cluster), with its services' objects."""

    kind = "kubernetes"

    def __init__(self, spec: TargetSpec) -> None:
        Target.__init__(self, spec)  # not super(): see Target
        self.settings = ConnectionSettings.from_mapping(spec.connection)
        self._kube: Kube | None = None
        self._lock: LeaseLock | None = None

    # lifecycle -------------------------------------------------------------
    def open(self) -> None:
        """Loads credentials; no request yet (the first action's request proves reachability)."""
        if self._kube is None:
            self._kube = connect(self.settings, self.name)

    def close(self) -> None:
        if self._kube is not None:
            self._kube.close()
            self._kube = None
            self._lock = None

    @property
    def kube(self) -> Kube:
        self.open()
        assert self._kube is not None
        return self._kube

    @property
    def namespace(self) -> str:
        return self.kube.namespace

    def ref(self, service: str) -> ServiceRef:
        return resolve(self.spec.services, service, self.name)

    # lock --------------------------------------------------------------------
    def _lease(self) -> LeaseLock:
        from ajudaplay.targets.kubernetes.lease import LeaseLock

        if self._lock is None:
            self._lock = LeaseLock(self.kube, self.settings.lock_name, self.name)
        return self._lock

    def acquire_lock(self, holder: LockHolder, ttl: float, wait: float) -> None:
        self._lease().acquire(holder, ttl, wait)

    def renew_lock(self) -> None:
        self._lease().renew()

    def release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def read_lock(self) -> LockInfo | None:
        return self._lease().read()

    def force_unlock(self) -> LockInfo | None:
        return self._lease().force()

    # actions ---------------------------------------------------------------------
    def deploy(self, ctx: StepContext, service: str, image: str, atomic: bool, health_url: str | None = None) -> VerbResult[DeployOutcome]:
        from ajudaplay.targets.kubernetes import rollouts

        outcome = rollouts.deploy(self.kube, ctx, self.ref(service), image, atomic)
        if health_url:
            outcome.warnings.append("health_url is not checked on Kubernetes targets: readiness probes decide availability")
        return to_result(outcome)

    def rollback(self, ctx: StepContext, service: str, to_revision: int | None) -> VerbResult[RollbackOutcome]:
        from ajudaplay.targets.kubernetes import rollouts

        return to_result(rollouts.rollback(self.kube, ctx, self.ref(service), to_revision))

    def history(self, ctx: StepContext, service: str) -> VerbResult[RevisionList]:
        from ajudaplay.targets.kubernetes import rollouts

        return to_result(rollouts.history(self.kube, ctx, self.ref(service)))

    def restart(self, ctx: StepContext, service: str) -> VerbResult[RestartOutcome]:
        from ajudaplay.targets.kubernetes import rollouts

        return to_result(rollouts.restart(self.kube, ctx, self.ref(service)))

    def scale(
        self, ctx: StepContext, service: str, replicas: int | None, min_replicas: int | None, max_replicas: int | None
    ) -> VerbResult[ScaleOutcome]:
        from ajudaplay.targets.kubernetes import scaling

        return to_result(scaling.scale(self.kube, ctx, self.ref(service), replicas, min_replicas, max_replicas))

    def status(self, ctx: StepContext, service: str) -> VerbResult[ServiceStatus]:
        from ajudaplay.targets.kubernetes import observe

        return to_result(observe.status(self.kube, ctx, self.ref(service)))

    def logs(self, ctx: StepContext, service: str, tail: int, grep: str | None, *, since: int | None = None,
             previous: bool = False) -> VerbResult[LogLines]:
        from ajudaplay.targets.kubernetes import podlogs

        return to_result(LogLines.gathered(podlogs.logs(self.kube, ctx, self.ref(service), tail, grep, since, previous)))

    def fetch(self, ctx: StepContext, service: str, src: str, dest: Path, shown_dest: str) -> VerbResult[FetchOutcome]:
        from ajudaplay.targets.kubernetes import copying

        return to_result(FetchOutcome.gathered(copying.fetch(self.kube, ctx, self.ref(service), src, dest, shown_dest)))

    def upload(self, ctx: StepContext, service: str, src: Path, dest: str, mode: int | None,
               shown_src: str) -> VerbResult[UploadOutcome]:
        from ajudaplay.targets.kubernetes import copying

        return to_result(UploadOutcome.gathered(
            copying.upload(self.kube, ctx, self.ref(service), src, dest, mode, shown_src)))

    def usage(self, ctx: StepContext, service: str) -> VerbResult[UsageOutcome]:
        from ajudaplay.targets.kubernetes import usage

        return to_result(usage.usage(self.kube, ctx, self.ref(service)))

    def config(self, ctx: StepContext, service: str, files: dict[str, bytes], restart: bool) -> VerbResult[ConfigOutcome]:
        from ajudaplay.targets.kubernetes import configdata

        return to_result(configdata.config(self.kube, ctx, self.ref(service), files, restart, lambda: self.restart(ctx, service)))

    def secret(self, ctx: StepContext, service: str, values: dict[str, str], restart: bool) -> VerbResult[SecretOutcome]:
        from ajudaplay.targets.kubernetes import configdata

        return to_result(configdata.secret(self.kube, ctx, self.ref(service), values, restart, lambda: self.restart(ctx, service)))

    def certificate(self, ctx: StepContext, request: CertificateRequest) -> VerbResult[CertificateOutcome]:
        from ajudaplay.targets.kubernetes import certificates

        ref = self.ref(request.service) if request.service else None
        return to_result(certificates.certificate(self.kube, ctx, ref, request, lambda service: self.restart(ctx, service)))

    def exec(self, ctx: StepContext, service: str, command: list[str] | str, *, container: str | None = None,
             pod: str | None = None, stdin: str | None = None) -> VerbResult[ExecOutcome]:
        from ajudaplay.targets.kubernetes import execution

        return to_result(execution.exec_(self.kube, ctx, self.ref(service), command, container=container, pod=pod, stdin=stdin))

    def endpoints(self, ctx: StepContext, service: str) -> VerbResult[EndpointsOutcome]:
        from ajudaplay.targets.kubernetes import network

        return to_result(network.endpoints(self.kube, ctx, self.ref(service)))

    def environment(self, ctx: StepContext, service: str) -> VerbResult[EnvironmentOutcome]:
        from ajudaplay.targets.kubernetes import environment

        return to_result(environment.environment(self.kube, ctx, self.ref(service)))

    # the PVCs the service mounts (disk: ServiceVolumes): kubernetes/storage.py ----------------------
    def volumes(self, ctx: StepContext, service: str) -> list[dict[str, Any]]:
        from ajudaplay.targets.kubernetes import storage

        return storage.volumes(self.kube, ctx, self.ref(service))

    # the service's files (database verbs) ----------------------------------------------------------
    def live_workspace(self, ctx: StepContext, service: str) -> AbstractContextManager[Workspace]:
        from ajudaplay.targets.kubernetes import workspace

        return workspace.live_workspace(self.kube, ctx, self.ref(service))

    def offline(self, ctx: StepContext, service: str) -> AbstractContextManager[Workspace]:
        from ajudaplay.targets.kubernetes import workspace

        return workspace.offline(self.kube, ctx, self.ref(service))
