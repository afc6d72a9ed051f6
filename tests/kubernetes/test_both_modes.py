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

from tests.compose.conftest import Project, docker_engine, make_project  # noqa: F401 - fixture
from tests.kubernetes.conftest import NodeCluster

pytestmark = [pytest.mark.kubernetes, pytest.mark.docker]

V1, V2 = "ajudaplay-test/api:v1", "ajudaplay-test/api:v2"


def both_modes_project(request: pytest.FixtureRequest, tmp_path: Path, cluster: NodeCluster) -> Project:
    """A local Compose project (target `box`) and the cluster (target `cluster`), both in group `api`, at api v1."""
    project = make_project(request, tmp_path, "local")
    cluster.deployment("api", V1)
    inv: dict[str, Any] = json.loads(project.inventory.read_text())
    inv["targets"]["cluster"] = {
        "kubernetes": {"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace},
        "services": {"api": {"deployment": "api", "container": "api"}},
    }
    inv["groups"]["api"] = ["box", "cluster"]
    project.inventory.write_text(json.dumps(inv))
    return project


def test_deploy_and_rollback_on_compose_and_kubernetes_in_one_run(
    request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None, node_cluster: NodeCluster
) -> None:
    project = both_modes_project(request, tmp_path, node_cluster)
    cluster = node_cluster

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


SHAPES = """
- name: Shapes
  hosts: api
  tasks:
    - name: deploy
      deploy: {service: api, image: "%s"}
    - name: history
      history: {service: api}
    - name: status
      status: {service: api}
"""


def _shape(value: Any) -> Any:
    """A registered value's shape: types, and the keys of mappings (lists by their first entry)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[-1])] if value else []
    return type(value).__name__


def test_deploy_history_and_status_register_the_same_keys_and_types_on_both_modes(
    request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None, node_cluster: NodeCluster
) -> None:
    from ajudaplay.outcomes import DeployOutcome, Revision, RevisionList, ServiceStatus

    project = both_modes_project(request, tmp_path, node_cluster)
    playbook = tmp_path / "shapes.yml"
    playbook.write_text(SHAPES % V2)

    run = project.run(str(playbook))
    assert run.rc == 0, run.text
    [start] = [e for e in run.events if e.get("event") == "run_start"]
    data = {(e["task"], e["target"]): e["data"] for e in run.results()}
    for task, cls, skip in (("deploy", DeployOutcome, {"rolled_back_to"}),
                            ("history", RevisionList, set()), ("status", ServiceStatus, {"containers", "pods"})):
        box, cluster = data[(task, "box")], data[(task, "cluster")]
        keys = [k for k in cls.registered_keys() if k not in skip]
        # `why` entries are compared when both modes have one (a probe may fail once on a loaded machine)
        same = [k for k in keys if k != "revisions" and not (k == "why" and not (box[k] and cluster[k]))]
        assert {k: _shape(box[k]) for k in same} == {k: _shape(cluster[k]) for k in same}, task
        if task == "status":
            assert isinstance(box["why"], list) and isinstance(cluster["why"], list)
    for target in ("box", "cluster"):  # rolled out: every replica there, ready and available
        counts = data[("deploy", target)]["replicas"]
        assert set(counts) == {"desired", "current", "ready", "available"} and len(set(counts.values())) == 1, counts
    for target in ("box", "cluster"):
        newest = data[("history", target)]["revisions"][-1]
        assert {k: newest[k] for k in Revision.KEYS if k in ("image", "user", "run_id", "current")} == \
            {"image": V2, "user": start["user"], "run_id": start["run_id"], "current": True}, target
        assert isinstance(newest["revision"], int) and newest["revision"] == data[("history", target)]["current"]
    assert "containers" in data[("status", "box")] and "pods" in data[("status", "cluster")]
