"""One driver per target kind: provision the same service, hand back the inventory entry that names it.

Every driver starts from the same `ServiceDescription` (a name, the image it runs first, its replicas,
the names of its ConfigMap/Secret where a mode has them) and builds what that mode needs:
a Compose project (compose-host.yml, the project's own preparation playbook), a Deployment plus
ConfigMap plus Secret on the real test node, or the fake target's initial state. Provisioning happens
once per mode (module-scoped fixtures in conftest.py); the scenarios then reuse that state in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

API_V1, API_V2, API_V3, API_UNHEALTHY = (f"ajudaplay-test/api:{tag}" for tag in ("v1", "v2", "v3", "unhealthy"))
MODE_IDS = ("compose-local", "compose-ssh", "kubernetes", "fake")  # the order they run in
REFERENCE = "compose-local"  # test_conformance_agreement.py compares every other mode with this one


@dataclass(frozen=True)
class ServiceDescription:
    """The service every mode provisions: what it runs before the first scenario."""

    name: str = "api"
    image: str = API_V1
    replicas: int = 1
    configmap: str = "api-config"
    secret: str = "api-env"
    certificate: str = "api-tls"  # a cert-manager Certificate that the suite never creates


SERVICE = ServiceDescription()


@dataclass
class Mode:
    """A provisioned target: its id (test ids, reports) and the inventory that reaches it."""

    id: str  # "fake", "compose-local", "compose-ssh", "kubernetes"
    kind: str  # the inventory kind: fake, compose, kubernetes
    inventory: dict[str, Any]
    workdir: Path
    make_target: Callable[[Any], Any] | None = None  # None: the engine's factory builds a new target per run

    def write_inventory(self) -> Path:
        path = self.workdir / "inventory.yml"
        path.write_text(json.dumps(self.inventory, indent=2))  # JSON is YAML
        return path


def kind_of(mode_id: str) -> str:
    """The inventory kind of a mode id: "compose-ssh" -> "compose"."""
    return mode_id.split("-")[0]


def inventory_for(kind: str, connection: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    """One target `t` of `kind` with the one service; the scenario playbooks run on `hosts: t`."""
    return {"targets": {"t": {kind: connection, "services": {SERVICE.name: service}}}}


def fake_mode(workdir: Path, svc: ServiceDescription = SERVICE) -> Mode:
    """The fake target (ajudaplay/targets/fake.py) starting at `svc.image` as its revision 1.

    Its state lives in the FakeTarget object, so every run gets the same one (a real target's
    state lives in Docker or the cluster and outlasts the run).
    """
    from ajudaplay.targets.fake import FakeTarget

    connection = {"images": {svc.name: svc.image}, "unhealthy_images": [API_UNHEALTHY]}
    kept: dict[str, FakeTarget] = {}

    def make_target(spec: Any) -> FakeTarget:
        if spec.name not in kept:
            kept[spec.name] = FakeTarget(spec)
        return kept[spec.name]

    return Mode("fake", "fake", inventory_for("fake", connection, {}), workdir, make_target)


def compose_mode(mode_id: str, workdir: Path, project: Any, svc: ServiceDescription = SERVICE) -> Mode:
    """A Compose project made by tests/compose/conftest.py's make_project (compose-host.yml: api at v1)."""
    inv = json.loads(Path(project.inventory).read_text())
    connection = inv["targets"]["box"]["compose"]
    return Mode(mode_id, "compose", inventory_for("compose", connection, {"service": svc.name}), workdir)


def kubernetes_objects(svc: ServiceDescription = SERVICE) -> list[dict[str, Any]]:
    """The ConfigMap and Secret the service maps to (the Deployment comes from tests/kubernetes/conftest.py)."""
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": svc.configmap}, "data": {}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": svc.secret}, "type": "Opaque", "data": {}},
    ]


def kubernetes_mode(workdir: Path, cluster: Any, svc: ServiceDescription = SERVICE) -> Mode:
    """A Deployment (real pods on the test node, readiness like the Compose healthcheck) + ConfigMap + Secret."""
    for manifest in kubernetes_objects(svc):
        cluster.apply(manifest)
    # progress deadline 15 s: an image that never gets Ready fails its rollout soon (atomic scenario), and a
    # real pod on a loaded machine still has the time to get Ready
    cluster.deployment(svc.name, svc.image, replicas=svc.replicas, container=svc.name, deadline=15)
    connection = {"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace}
    service = {"deployment": svc.name, "container": svc.name, "configmap": svc.configmap, "secret": svc.secret,
               "certificate": svc.certificate}
    return Mode("kubernetes", "kubernetes", inventory_for("kubernetes", connection, service), workdir)
