"""KubernetesTarget: the Target interface on a cluster namespace, kubectl-faithful.

Thin: resolves the service to its objects and hands over to one module per
concern (rollouts, scaling, configdata, certificates, observe, lease). The
`kubernetes` client is imported only when the target is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ajudaplay.errors import LockInfo
from ajudaplay.locks import LockHolder
from ajudaplay.targets.base import CertificateRequest, Result, StepContext, Target
from ajudaplay.targets.kubernetes.api import ConnectionSettings, Kube, connect
from ajudaplay.targets.kubernetes.services import ServiceRef, resolve

if TYPE_CHECKING:
    from pathlib import Path

    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.targets.kubernetes.lease import LeaseLock


class KubernetesTarget(Target):
    """One namespace of one cluster (kubeconfig context or in-cluster), with its services' objects."""

    kind = "kubernetes"

    def __init__(self, spec: TargetSpec) -> None:
        super().__init__(spec)
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
    def deploy(self, ctx: StepContext, service: str, image: str, atomic: bool, health_url: str | None = None) -> Result:
        from ajudaplay.targets.kubernetes import rollouts

        result = rollouts.deploy(self.kube, ctx, self.ref(service), image, atomic)
        if health_url:
            result.warnings.append("health_url is not checked on Kubernetes targets: readiness probes decide availability")
        return result

    def rollback(self, ctx: StepContext, service: str, to_revision: int | None) -> Result:
        from ajudaplay.targets.kubernetes import rollouts

        return rollouts.rollback(self.kube, ctx, self.ref(service), to_revision)

    def history(self, ctx: StepContext, service: str) -> Result:
        from ajudaplay.targets.kubernetes import rollouts

        return rollouts.history(self.kube, ctx, self.ref(service))

    def restart(self, ctx: StepContext, service: str) -> Result:
        from ajudaplay.targets.kubernetes import rollouts

        return rollouts.restart(self.kube, ctx, self.ref(service))

    def scale(
        self, ctx: StepContext, service: str, replicas: int | None, min_replicas: int | None, max_replicas: int | None
    ) -> Result:
        from ajudaplay.targets.kubernetes import scaling

        return scaling.scale(self.kube, ctx, self.ref(service), replicas, min_replicas, max_replicas)

    def status(self, ctx: StepContext, service: str) -> Result:
        from ajudaplay.targets.kubernetes import observe

        return observe.status(self.kube, ctx, self.ref(service))

    def logs(self, ctx: StepContext, service: str, tail: int, grep: str | None, *, since: int | None = None,
             previous: bool = False) -> Result:
        from ajudaplay.targets.kubernetes import podlogs

        return podlogs.logs(self.kube, ctx, self.ref(service), tail, grep, since, previous)

    def fetch(self, ctx: StepContext, service: str, src: str, dest: Path, shown_dest: str) -> Result:
        from ajudaplay.targets.kubernetes import copying

        return copying.fetch(self.kube, ctx, self.ref(service), src, dest, shown_dest)

    def upload(self, ctx: StepContext, service: str, src: Path, dest: str, mode: int | None, shown_src: str) -> Result:
        from ajudaplay.targets.kubernetes import copying

        return copying.upload(self.kube, ctx, self.ref(service), src, dest, mode, shown_src)

    def config(self, ctx: StepContext, service: str, files: dict[str, bytes], restart: bool) -> Result:
        from ajudaplay.targets.kubernetes import configdata

        return configdata.config(self.kube, ctx, self.ref(service), files, restart, lambda: self.restart(ctx, service))

    def secret(self, ctx: StepContext, service: str, values: dict[str, str], restart: bool) -> Result:
        from ajudaplay.targets.kubernetes import configdata

        return configdata.secret(self.kube, ctx, self.ref(service), values, restart, lambda: self.restart(ctx, service))

    def certificate(self, ctx: StepContext, request: CertificateRequest) -> Result:
        from ajudaplay.targets.kubernetes import certificates

        ref = self.ref(request.service) if request.service else None
        return certificates.certificate(self.kube, ctx, ref, request, lambda service: self.restart(ctx, service))

    def exec(self, ctx: StepContext, service: str, command: list[str] | str, *, container: str | None = None,
             pod: str | None = None, stdin: str | None = None) -> Result:
        from ajudaplay.targets.kubernetes import execution

        return execution.exec_(self.kube, ctx, self.ref(service), command, container=container, pod=pod, stdin=stdin)
