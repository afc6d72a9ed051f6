"""The environment lock as a coordination.k8s.io/v1 Lease in the target's namespace.

holderIdentity is "user@host run=<id>"; leaseDurationSeconds, acquireTime and
renewTime as client-go's leader election writes them, plus the annotation
`ajudaplay.io/owner` (hostname, pid) of the process that holds it. Every write
carries the resourceVersion read just before (create on absence, replace
otherwise), so two runs racing for a free or expired Lease cannot both win:
the loser gets 409 and looks again. Releasing deletes the Lease with a
resourceVersion precondition, only if this run still holds it.

Expiry never compares the holder's clock with ours (client-go's approach): a
waiting run notes, on its own monotonic clock, when it first saw the Lease's
current spec; the Lease is expired once that spec has not changed for
leaseDurationSeconds. renewTime is only shown to people. A Lease whose owner
process ran on this machine and is gone is stale at once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass

from ajudaplay.errors import LockHeld, LockInfo, LockLost
from ajudaplay.owner import ProcessOwner
from ajudaplay.locks import LockHolder
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError

POLL = 1.0
OWNER_ANNOTATION = "ajudaplay.io/owner"


def identity(holder: LockHolder) -> str:
    return f"{holder.holder} run={holder.run_id}"


def _micro(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def lease_info(lease: JSON, target: str) -> LockInfo:
    """LockInfo from a Lease: holder, run id, acquired and expiry times (the holder's clock)."""
    spec = lease.get("spec") or {}
    ident = str(spec.get("holderIdentity") or "")
    holder, _, run = ident.partition(" run=")
    acquired = _parse_time(spec.get("acquireTime")) or 0.0
    renewed = _parse_time(spec.get("renewTime")) or acquired
    duration = float(spec.get("leaseDurationSeconds") or 0)
    return LockInfo(holder=holder or "unknown", run_id=run, acquired_at=acquired, expires_at=renewed + duration, target=target)


def lease_owner(lease: JSON) -> ProcessOwner | None:
    """The process that wrote the Lease, from its annotation (None for Leases of other writers)."""
    text = ((lease.get("metadata") or {}).get("annotations") or {}).get(OWNER_ANNOTATION)
    try:
        return ProcessOwner.from_json(json.loads(text)) if text else None
    except ValueError:
        return None


@dataclass
class _Observed:
    """The Lease spec a waiting run last saw, and when (its own monotonic clock) it first saw it."""

    record: str
    since: float


@dataclass
class LeaseLock:
    """One target's lock; remembers the resourceVersion of the Lease it wrote last."""

    kube: Kube
    name: str
    target: str
    held: str | None = None  # our holderIdentity while we hold it
    ttl: float = 0.0
    resource_version: str | None = None
    observed: _Observed | None = None

    @property
    def path(self) -> str:
        return self.kube.ns_path("coordination.k8s.io/v1", "leases", self.name)

    def _body(self, ident: str, ttl: float, acquired: float, now: float, transitions: int, rv: str | None) -> JSON:
        meta: JSON = {
            "name": self.name,
            "namespace": self.kube.namespace,
            "labels": {"app.kubernetes.io/managed-by": "ajudaplay"},
            "annotations": {OWNER_ANNOTATION: json.dumps(ProcessOwner.current().to_json(), sort_keys=True)},
        }
        if rv:
            meta["resourceVersion"] = rv
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": ident,
                "leaseDurationSeconds": max(1, int(round(ttl))),
                "acquireTime": _micro(acquired),
                "renewTime": _micro(now),
                "leaseTransitions": transitions,
            },
        }

    def _unchanged_for(self, lease: JSON) -> float:
        """Seconds, on this process's monotonic clock, since the Lease's spec last changed as seen from here."""
        record = json.dumps(lease.get("spec") or {}, sort_keys=True)
        now = time.monotonic()
        if self.observed is None or self.observed.record != record:
            self.observed = _Observed(record, now)
        return now - self.observed.since

    def acquire(self, holder: LockHolder, ttl: float, wait: float) -> None:
        """Takes the Lease when free, expired or already ours; waits up to `wait` s, then LockHeld."""
        ident = identity(holder)
        deadline = time.monotonic() + max(0.0, wait)
        attempt_create = True  # usually no Lease exists: create first, one request
        while True:
            now = time.time()
            try:
                if attempt_create:
                    attempt_create = False
                    created = self.kube.request("POST", self.kube.ns_path("coordination.k8s.io/v1", "leases"),
                                                body=self._body(ident, ttl, now, now, 0, None), what=f"lease {self.name!r}")
                    return self._took(ident, ttl, created)
                lease = self.kube.get_or_none(self.path, what=f"lease {self.name!r}")
                if lease is None:
                    attempt_create = True
                    continue
                spec = lease.get("spec") or {}
                current = spec.get("holderIdentity")
                duration = float(spec.get("leaseDurationSeconds") or 0)
                unchanged = self._unchanged_for(lease)
                owner = lease_owner(lease)
                if current == ident or not current or unchanged >= duration or (owner is not None and owner.is_gone()):
                    transitions = int(spec.get("leaseTransitions") or 0) + (0 if current == ident else 1)
                    acquired = lease_info(lease, self.target).acquired_at if current == ident else now
                    replaced = self.kube.request("PUT", self.path, what=f"lease {self.name!r}", body=self._body(
                        ident, ttl, acquired, now, transitions, lease["metadata"]["resourceVersion"]))
                    return self._took(ident, ttl, replaced)
                seen = lease_info(lease, self.target)
                info = LockInfo(seen.holder, seen.run_id, seen.acquired_at, now + duration - unchanged, self.target)
            except KubeApiError as exc:
                if exc.status != 409:  # 409: it exists, or another run won this round; look again
                    raise
                continue
            if time.monotonic() >= deadline:
                raise LockHeld(self.target, info)
            time.sleep(min(POLL, max(0.05, deadline - time.monotonic())))

    def _took(self, ident: str, ttl: float, lease: JSON) -> None:
        self.held = ident
        self.ttl = ttl
        self.resource_version = (lease.get("metadata") or {}).get("resourceVersion")
        self.observed = None

    def renew(self) -> None:
        """Moves renewTime forward.

        Raises LockLost when the Lease is not this run's any more (deleted by
        `ajudaplay unlock`, taken over, holder edited with kubectl); API and
        transport errors propagate at once (no client retries) for the caller
        to retry until its renew deadline.
        """
        if not self.held:
            return
        for _ in range(3):  # a 409 means the Lease changed between GET and PUT: look again
            lease = self._get_once()
            if lease is None:
                self.held = None
                raise LockLost(self.target, f"the Lease {self.name!r} was deleted (ajudaplay unlock?)")
            if (lease.get("spec") or {}).get("holderIdentity") != self.held:
                self.held = None
                other = lease_info(lease, self.target)
                raise LockLost(self.target, f"the Lease {self.name!r} was taken over by {other.holder} "
                               f"(run {other.run_id or '?'})", other)
            spec = dict(lease["spec"])
            spec["renewTime"] = _micro(time.time())
            spec["leaseDurationSeconds"] = max(1, int(round(self.ttl)))
            try:
                updated = self.kube.request("PUT", self.path, body=dict(lease, spec=spec), retry=False,
                                            what=f"lease {self.name!r}")
            except KubeApiError as exc:
                if exc.status == 409:
                    continue
                raise
            self.resource_version = (updated.get("metadata") or {}).get("resourceVersion")
            return
        raise KubeApiError(409, "Conflict", f"lease {self.name!r} keeps changing while renewing it")

    def _get_once(self) -> JSON | None:
        """GET without the client's own retries: the renewer retries, knowing its deadline."""
        try:
            return self.kube.request("GET", self.path, retry=False, what=f"lease {self.name!r}")
        except KubeApiError as exc:
            if exc.not_found:
                return None
            raise

    def release(self) -> None:
        """Deletes the Lease if this run still holds it; never raises for a missing Lease.

        One DELETE with the resourceVersion we wrote last; if that precondition
        fails (409) the Lease changed hands or was renewed elsewhere: re-read and
        delete only if it is still ours.
        """
        if not self.held:
            return
        ident, self.held = self.held, None
        try:
            if self.resource_version:
                try:
                    self._delete(self.resource_version)
                    return
                except KubeApiError as exc:
                    if exc.status == 404:
                        return
                    if exc.status != 409:
                        raise
            lease = self.kube.get_or_none(self.path, what=f"lease {self.name!r}")
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != ident:
                return
            self._delete(lease["metadata"]["resourceVersion"])
        except KubeApiError as exc:
            if exc.status not in (404, 409):
                raise

    def read(self) -> LockInfo | None:
        lease = self.kube.get_or_none(self.path, what=f"lease {self.name!r}")
        if lease is None or not (lease.get("spec") or {}).get("holderIdentity"):
            return None
        return lease_info(lease, self.target)

    def force(self) -> LockInfo | None:
        """`ajudaplay unlock`: deletes the Lease whoever holds it; returns who held it."""
        lease = self.kube.get_or_none(self.path, what=f"lease {self.name!r}")
        if lease is None:
            return None
        info = lease_info(lease, self.target) if (lease.get("spec") or {}).get("holderIdentity") else None
        try:
            self._delete(lease["metadata"]["resourceVersion"])
        except KubeApiError as exc:
            if exc.status != 404:
                raise
        return info

    def _delete(self, resource_version: str) -> None:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": resource_version}}
        self.kube.request("DELETE", self.path, body=body, what=f"lease {self.name!r}")
