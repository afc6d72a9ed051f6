"""Who holds an environment lock: the identity host locks and Kubernetes Leases both write.

It lives below hosts/ and targets/ because both layers write it (hosts/lock.py
for Compose and plain hosts, targets/kubernetes/lease.py for clusters).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LockHolder:
    """Identity written into a lock: who, from where, which run."""

    user: str
    hostname: str
    run_id: str

    @property
    def holder(self) -> str:
        return f"{self.user}@{self.hostname}"
