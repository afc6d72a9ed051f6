"""Network actions: `endpoints` (where a service takes traffic) and `dns` (names from here and from inside).

`endpoints` is a read-only service verb (ServiceOps.endpoints) on every mode;
the public host names the inventory gives a service (`services.S.hosts`) are
added here, once for all modes (Compose has no Ingress to read them from).
`dns` resolves names from the controller (ajudaplay.integrations.dns) and from
inside the service through `exec`, and compares the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ajudaplay.actions.base import ActionSpec, Registry
from ajudaplay.errors import InvalidInput, TargetError

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.results import Result

__all__ = ["inventory_hosts", "register", "run_endpoints"]


def register(registry: Registry) -> None:
    """Add the network actions to `registry`."""
    registry.register(ActionSpec("endpoints", run_endpoints,
                                 description="Read a service's ready/not-ready addresses, ports, internal URLs and hosts."))


def _service(action: str, args: Any) -> str:
    if not isinstance(args, dict):
        raise TargetError(f"{action}: expected a mapping of arguments, got {type(args).__name__}")
    value = args.get("service")
    if not isinstance(value, str) or not value.strip():
        raise TargetError(f"{action}.service: required, the name of a service in the inventory (e.g. api)")
    return value.strip()


def inventory_hosts(ctx: ActionContext, service: str) -> list[str]:
    """The inventory's `services.<service>.hosts` for this target (a name or a list of names)."""
    mapping = ctx.target.spec.services.get(service)
    raw = mapping.get("hosts") if isinstance(mapping, dict) else None
    if raw is None or raw == "":
        return []
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(h, str) and h.strip() for h in items):
        raise TargetError(f"target {ctx.target.name!r}: services.{service}.hosts: expected a list of host names")
    return [h.strip() for h in items]


def run_endpoints(ctx: ActionContext, args: Any) -> Result:
    """endpoints: {service}; read-only, so it runs in check mode too."""
    from ajudaplay.outcomes import to_result
    from ajudaplay.targets.base import service_ops

    service = _service("endpoints", args)
    try:
        result = service_ops(ctx.target, "endpoints").endpoints(ctx.step, service)
    except InvalidInput as exc:
        raise TargetError(str(exc)) from exc
    extra = [h for h in inventory_hosts(ctx, service) if h not in (result.outcome.hosts if result.outcome else [])]
    if result.outcome is None or not extra:
        return result
    return to_result(result.outcome.but(hosts=[*result.outcome.hosts, *extra]))
