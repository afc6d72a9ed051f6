"""One procedure serves both modes: one inventory, a Compose target (real Docker) and a Kubernetes target.

`deploy.yml` then `rollback.yml` act on both in one run each; the recap shows both. Both run the
same busybox images as real containers on the same Docker engine: Compose directly, Kubernetes as
pods of the test kubelet (readiness from the same wget on /health as the Compose healthcheck).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import docker_engine, make_project  # noqa: F401 - fixture
from tests.kubernetes.conftest import NodeCluster

pytestmark = [pytest.mark.kubernetes, pytest.mark.docker]

V1, V2 = "ajudaplay-test/api:v1", "ajudaplay-test/api:v2"


def test_deploy_and_rollback_on_compose_and_kubernetes_in_one_run(
    request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None, node_cluster: NodeCluster
) -> None:
    project = make_project(request, tmp_path, "local")
    cluster = node_cluster
    cluster.deployment("api", V1)
    inv: dict[str, Any] = json.loads(project.inventory.read_text())
    inv["targets"]["cluster"] = {
        "kubernetes": {"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace},
        "services": {"api": {"deployment": "api", "container": "api"}},
    }
    inv["groups"]["api"] = ["box", "cluster"]
    project.inventory.write_text(json.dumps(inv))

    def k8s_image() -> str:
        return str(cluster.get("deployment", "api")["spec"]["template"]["spec"]["containers"][0]["image"])

    deployed = project.run("deploy.yml", "-e", f"image={V2}")
    assert deployed.rc == 0, deployed.text
    assert project.images("api") == [V2] and project.healthy("api")
    assert k8s_image() == V2
    assert _recap(deployed.events) == {"box": 1, "cluster": 1}, deployed.text

    back = project.run("rollback.yml")
    assert back.rc == 0, back.text
    assert project.images("api") == [V1] and project.healthy("api")
    assert k8s_image() == V1
    pods = cluster.get("pods", "-l", "app=api")["items"]
    live = [p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert live and all(cluster.kubectl("exec", name, "--", "cat", "/www/version").stdout == "v1\n" for name in live)
    assert cluster.revisions("api") == [(2, V2), (3, V1)]
    assert _recap(back.events) == {"box": 1, "cluster": 1}, back.text


def _recap(events: list[dict[str, Any]]) -> dict[str, int]:
    """target -> changed count from the run_end event (the recap's data)."""
    [finished] = [e for e in events if e.get("event") == "run_end"]
    return {name: stats["changed"] for name, stats in finished["stats"].items()}
