"""Pytest fixtures for the real control plane and its simulators.

tests/conftest.py loads this module once as a plugin (`pytest_plugins`), so the
whole session shares one control plane; do not import the fixtures elsewhere.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.infra.k8s.certmanager import CertManagerSimulator, install_crds
from tests.infra.k8s.controlplane import ControlPlane
from tests.infra.k8s.faultproxy import FaultProxy
from tests.infra.k8s.node import RealNode
from tests.infra.k8s.nodesim import NodeSimulator, api_client_for

__all__ = ["control_plane", "k8s_api", "node_sim", "k8s_node", "node_free", "cert_manager", "namespace", "fault_proxy",
           "NEVER_READY_IMAGE", "CRASH_IMAGE", "PULL_ERROR_IMAGE", "SUCCEED_IMAGE"]

NEVER_READY_IMAGE = "img:bad"       # Running, never Ready (readiness probe failing)
CRASH_IMAGE = "img:crash"           # CrashLoopBackOff
PULL_ERROR_IMAGE = "img:missing"    # ImagePullBackOff
SUCCEED_IMAGE = "img:done"          # exits 0 (Jobs complete)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """A fresh etcd + kube-apiserver + kube-controller-manager for the session (fails, never skips)."""
    cp = ControlPlane().start()
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def k8s_api(control_plane: ControlPlane) -> client.ApiClient:
    """An admin ApiClient (official client) on the control plane's kubeconfig."""
    return api_client_for(control_plane.kubeconfig)


@pytest.fixture(scope="session")
def node_sim(control_plane: ControlPlane) -> Iterator[NodeSimulator]:
    """One simulated Ready node that runs every pod; special images listed above misbehave."""
    sim = NodeSimulator(control_plane.kubeconfig, never_ready_images={NEVER_READY_IMAGE},
                        crash_images={CRASH_IMAGE}, pull_error_images={PULL_ERROR_IMAGE},
                        succeed_images={SUCCEED_IMAGE}).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="session")
def k8s_node(control_plane: ControlPlane) -> Iterator[RealNode]:
    """A real node (kubelet on the Docker engine + kube-scheduler): pods are real containers.

    It coexists with node_sim: the node is tainted and only pods placed with node.real_pod_placement()
    run on it. Stopping it removes every pod container and unmounts the kubelet's volumes.
    """
    node = RealNode(control_plane).start()
    _RUNNING_NODES.append(node)
    try:
        yield node
    finally:
        _RUNNING_NODES.remove(node)
        node.stop()


_RUNNING_NODES: list[RealNode] = []


@pytest.fixture
def node_free() -> Iterator[None]:
    """For a test that starts its own real node: the session's node (if running) stops, then starts again.

    Two kubelets on one Docker engine would kill each other's pods, so they never run at once.
    """
    paused = list(_RUNNING_NODES)
    for node in paused:
        node.stop()
    try:
        yield
    finally:
        for node in paused:
            node.start()


@pytest.fixture(scope="session")
def cert_manager(control_plane: ControlPlane) -> Iterator[CertManagerSimulator]:
    """cert-manager.io CRDs plus a simulated issuer."""
    install_crds(control_plane.kubeconfig)
    sim = CertManagerSimulator(control_plane.kubeconfig).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def namespace(control_plane: ControlPlane, k8s_api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace whose default ServiceAccount (and its token) exist, so pods can be created at once."""
    core = client.CoreV1Api(k8s_api)
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                          _preload_content=False)
    deadline = time.monotonic() + 30
    while True:
        control_plane.check_alive()
        try:
            sa = json.loads(core.read_namespaced_service_account("default", name, _preload_content=False).data)
            if sa.get("secrets"):
                break
        except ApiException as exc:
            if exc.status != 404:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"default ServiceAccount token in {name} not created within 30s "
                               f"(controller-manager log: {control_plane.logs.get('kube-controller-manager')})")
        time.sleep(0.1)
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name, _preload_content=False)
        except ApiException:
            pass


@pytest.fixture
def fault_proxy(control_plane: ControlPlane) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the apiserver; use `fault_proxy.kubeconfig`."""
    proxy = FaultProxy(control_plane).start()
    try:
        yield proxy
    finally:
        proxy.stop()
