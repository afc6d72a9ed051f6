"""Fixtures of the conformance suite: one provisioned target per mode, shared by every scenario.

The real parts come from the other folders' fixtures (imported here so pytest registers them):
Docker and sshd from tests/compose/conftest.py, the real node from tests/kubernetes/conftest.py
and tests/infra/k8s (loaded session-wide by tests/conftest.py). Each mode is provisioned once per
module; `mode` is parametrized module-wide, so pytest runs every scenario of one mode before the next.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client

from tests.compose.conftest import docker_engine, make_project, sshd  # noqa: F401 - fixtures
from tests.conformance.drivers import Mode, compose_mode, fake_mode, kind_of, kubernetes_mode
from tests.conformance.timing import TIMES
from tests.kubernetes.conftest import NodeCluster

# compose-local first: the reference test_conformance_agreement.py compares the others with
MODES = ["compose-local", pytest.param("compose-ssh", marks=pytest.mark.ssh),
         pytest.param("kubernetes", marks=pytest.mark.kubernetes), "fake"]



@pytest.fixture(scope="module")
def module_namespace(control_plane: Any, k8s_api: client.ApiClient) -> Iterator[str]:
    """A namespace for the whole module (the `namespace` fixture is per test), deleted afterwards."""
    core = client.CoreV1Api(k8s_api)
    name = f"conf-{uuid.uuid4().hex[:8]}"
    body: Any = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    core.create_namespace(body, _preload_content=False)
    try:
        yield name
    finally:
        core.delete_namespace(name, _preload_content=False)


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mode]:
    """The service provisioned on one mode; its provisioning time is recorded with the scenarios'."""
    mode_id: str = request.param
    workdir = tmp_path_factory.mktemp(mode_id)
    with TIMES.measure(mode_id, "provision"):
        if mode_id == "fake":
            provisioned = fake_mode(workdir)
        elif mode_id.startswith("compose-"):
            request.getfixturevalue("docker_engine")
            (workdir / "project").mkdir()
            project = make_project(request, workdir / "project", mode_id.removeprefix("compose-"))
            provisioned = compose_mode(mode_id, workdir, project)
        else:
            control_plane = request.getfixturevalue("control_plane")
            request.getfixturevalue("k8s_node")
            cluster = NodeCluster(control_plane.kubeconfig, request.getfixturevalue("module_namespace"))
            _wait_default_service_account(cluster)
            provisioned = kubernetes_mode(workdir, cluster)
    try:
        yield provisioned
    finally:
        if provisioned.cleanup is not None:
            provisioned.cleanup()


def _wait_default_service_account(cluster: NodeCluster, seconds: float = 30) -> None:
    """Pods cannot be created before the namespace's default ServiceAccount exists."""
    import time

    deadline = time.monotonic() + seconds
    while cluster.kubectl("get", "serviceaccount", "default", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no default ServiceAccount in {cluster.namespace} after {seconds}s")
        time.sleep(0.2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Strict xfail on the (mode, scenario) pairs the table says disagree today, with the table's reason;
    the agreement tests go last (they compare what the scenarios recorded), whatever the file order."""
    from tests.conformance.scenarios import Scenario

    agreement = [i for i in items if i.path.name == "test_conformance_agreement.py"]
    if agreement:
        items[:] = [i for i in items if i.path.name != "test_conformance_agreement.py"] + agreement
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        mode_id, scenario = params.get("mode"), params.get("scenario")
        if not isinstance(mode_id, str):
            continue
        if isinstance(scenario, Scenario):
            reason = scenario.xfail.get(mode_id) or scenario.xfail.get(kind_of(mode_id))
            if reason:
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Wall time per mode (provisioning + scenarios), printed at the end of the run."""
    for line in TIMES.lines():
        terminalreporter.write_line(line)
