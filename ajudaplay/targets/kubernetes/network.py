"""`endpoints` on Kubernetes: the Services in front of a Deployment, their Endpoints and Ingress hosts.

What `kubectl get svc,endpoints,ingress` shows an on-call engineer, narrowed to
one service: the Services whose selector matches the Deployment's pod template
labels (a Service selects pods, not Deployments), the ready and not-ready
addresses of their Endpoints (the pod from targetRef as `where`), and the hosts
of the Ingress rules whose backend is one of those Services
(networking.k8s.io/v1; v1beta1 on clusters that do not serve v1). Read-only.
"""

from __future__ import annotations

from typing import Any

from ajudaplay.outcomes import EndpointsOutcome
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import read_deployment
from ajudaplay.targets.kubernetes.services import ServiceRef

__all__ = ["endpoints", "ingress_hosts", "selects"]

INGRESS_APIS = ("networking.k8s.io/v1", "networking.k8s.io/v1beta1")


def endpoints(kube: Kube, ctx: StepContext, ref: ServiceRef) -> EndpointsOutcome:
    """The service's Services, their ready/not-ready addresses, ports, internal URLs and Ingress hosts."""
    deployment = read_deployment(kube, ref)
    labels = ((((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}
    listing = kube.get(kube.ns_path("v1", "services"), what="services")
    services = sorted((s for s in listing.get("items") or [] if selects(s, labels)),
                      key=lambda s: str(s["metadata"]["name"]))
    names = [str(s["metadata"]["name"]) for s in services]
    ready: list[dict[str, Any]] = []
    not_ready: list[dict[str, Any]] = []
    ports: list[dict[str, Any]] = []
    urls: list[str] = []
    for svc in services:
        name = str(svc["metadata"]["name"])
        for p in (svc.get("spec") or {}).get("ports") or []:
            ports.append({"name": p.get("name") or "", "port": p.get("port"),
                          "target_port": p.get("targetPort", p.get("port")), "protocol": p.get("protocol") or "TCP",
                          "published": _published(svc, p)})
            urls.append(f"http://{name}.{kube.namespace}.svc:{p.get('port')}")
        found = kube.get_or_none(kube.ns_path("v1", "endpoints", name), what=f"endpoints {name!r}") or {}
        for subset in found.get("subsets") or []:
            subset_ports = subset.get("ports") or [{}]
            ready.extend(_addresses(subset.get("addresses"), subset_ports))
            not_ready.extend(_addresses(subset.get("notReadyAddresses"), subset_ports))
    warnings = [] if services else [
        f"no Service in namespace {kube.namespace!r} selects the pods of deployment {ref.deployment!r}"]
    hosts, ingresses = ingress_hosts(kube, set(names))
    return EndpointsOutcome(
        service=ref.service, ready=ready, not_ready=not_ready, ports=ports, internal_urls=urls, hosts=hosts,
        msg=f"{len(ready)} ready, {len(not_ready)} not ready" + (f" behind {', '.join(names)}" if names else ""),
        warnings=warnings, extra={"services": names, "ingresses": ingresses},
    )


def selects(service: JSON, labels: dict[str, Any]) -> bool:
    """True when the Service's selector is non-empty and every pair of it is among the pod labels."""
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _published(svc: JSON, port: JSON) -> list[str]:
    """Where a Service port is reachable from outside the cluster: node ports, load balancer addresses."""
    out = [f"*:{port['nodePort']}"] if port.get("nodePort") else []
    for lb in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if lb.get("ip") or lb.get("hostname"):
            out.append(f"{lb.get('ip') or lb.get('hostname')}:{port.get('port')}")
    return out


def _addresses(addresses: Any, ports: list[JSON]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for a in addresses or []:
        ref = a.get("targetRef") or {}
        where = str(ref.get("name") or a.get("hostname") or a.get("ip") or "")
        for p in ports:
            out.append({"address": a.get("ip"), "port": p.get("port"), "protocol": p.get("protocol") or "TCP",
                        "where": where})
    return out


def ingress_hosts(kube: Kube, services: set[str]) -> tuple[list[str], list[str]]:
    """Hosts of the Ingress rules whose backends include one of `services`, and those Ingresses' names."""
    if not services:
        return [], []
    items: list[JSON] = []
    for api in INGRESS_APIS:
        try:
            items = list(kube.get(kube.ns_path(api, "ingresses"), what=f"ingresses ({api})").get("items") or [])
            break
        except KubeApiError as exc:
            if exc.status != 404:  # 404: this version is not served; 403 and others are said as they are
                raise
    hosts: list[str] = []
    names: list[str] = []
    for ing in items:
        spec = ing.get("spec") or {}
        default = _backend(spec.get("defaultBackend") or spec.get("backend"))
        used = False
        for rule in spec.get("rules") or []:
            backends = {_backend(p.get("backend")) for p in ((rule.get("http") or {}).get("paths") or [])}
            if not backends and default:
                backends = {default}
            if backends & services:
                used = True
                if rule.get("host") and rule["host"] not in hosts:
                    hosts.append(str(rule["host"]))
        if used or default in services:
            names.append(str((ing.get("metadata") or {}).get("name")))
    return hosts, sorted(names)


def _backend(backend: Any) -> str | None:
    """The Service name of a backend: v1 `service.name`, v1beta1 `serviceName`."""
    if not isinstance(backend, dict):
        return None
    name = (backend.get("service") or {}).get("name") or backend.get("serviceName")
    return str(name) if name else None
