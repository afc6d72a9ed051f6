"""Maps a playbook's service name to this target's Kubernetes objects, from the inventory.

    services:
      api: {deployment: ajudadorabot-api, container: api, hpa: ajudadorabot-api-hpa,
            configmap: api-config, secret: api-env, certificate: api-tls, tls_secret: api-tls}

Only `deployment` has a default (the service name); the other objects are
named explicitly because guessing a Secret's name would be unsafe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ajudaplay.errors import TargetError, UnknownService


@dataclass(frozen=True)
class ServiceRef:
    """The Kubernetes objects behind one service on one target."""

    service: str
    deployment: str
    container: str | None = None
    hpa: str | None = None
    configmap: str | None = None
    secret: str | None = None
    certificate: str | None = None
    tls_secret: str | None = None

    def require(self, field: str, action: str, target: str) -> str:
        """The named object, or a clear error saying which inventory key to add."""
        value = getattr(self, field)
        if not value:
            raise TargetError(
                f"target {target!r}: service {self.service!r} has no {field!r} in the inventory, "
                f"which the {action} action needs\n    hint: add services.{self.service}.{field}: NAME"
            )
        return str(value)


def resolve(services: dict[str, dict[str, Any]], service: str, target: str) -> ServiceRef:
    """The ServiceRef for `service`, or UnknownService listing what the inventory defines."""
    if service not in services:
        raise UnknownService(service, target, list(services))
    raw = services[service] or {}

    def opt(key: str) -> str | None:
        value = raw.get(key)
        return None if value in (None, "") else str(value)

    return ServiceRef(
        service=service,
        deployment=opt("deployment") or service,
        container=opt("container"),
        hpa=opt("hpa"),
        configmap=opt("configmap"),
        secret=opt("secret"),
        certificate=opt("certificate"),
        tls_secret=opt("tls_secret"),
    )
