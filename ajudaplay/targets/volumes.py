"""ServiceVolumes: the optional capability to list the volumes a service mounts (the `disk` action).

Not a ServiceOps verb: only `disk` needs it, and df/du go through `exec`. A kind
declares it as a base class (Compose: named volumes and binds from `docker inspect`
Mounts; Kubernetes: the PVCs its pod template mounts); `capable(target,
ServiceVolumes)` tells the action whether the kind can answer. Read-only.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext

__all__ = ["ServiceVolumes"]


@runtime_checkable
class ServiceVolumes(Protocol):
    """What storage the service's containers mount, one dict per mount (keys documented in docs/actions-storage.md)."""

    @abstractmethod
    def volumes(self, ctx: StepContext, service: str) -> list[dict[str, Any]]:
        """Each mount: {name, kind, mount_path, read_only, ...}; Kubernetes adds the PVC's phase, capacity,
        storage_class; Compose the volume's driver/source. Read-only: runs in check mode too."""
