"""network.yml and dns.yml, unchanged and in check mode (both are read-only), on one real Compose project.

One module-scoped project (compose-host.yml: api v1 + nginx) and one run of each playbook:
endpoints (the api container ready, its port published on 127.0.0.1), `http from: service`
through the image's busybox wget to its own loopback (200) and to a URL only the controller
can reach (the published port: refused inside the container), the public health URL from
here, the verdict line; then dns.yml with a local DNS server (tests/infra/dns, a stand-in
for a public resolver) answering the Compose service name with the container's address,
which Docker's embedded DNS also gives inside: both views agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import Project, Run, docker_engine, make_project  # noqa: F401 - fixture
from tests.infra.dns.server import DNSServer


@pytest.fixture(scope="module")
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Project:  # noqa: F811
    made = make_project(request, tmp_path_factory.mktemp("network"), "local")
    inv = json.loads(made.inventory.read_text())
    inv["targets"]["box"]["services"]["api"]["hosts"] = ["api"]  # the public name dns.yml checks
    made.inventory.write_text(json.dumps(inv))
    return made


def data(run: Run, task: str) -> list[dict[str, Any]]:
    found = [e for e in run.results() if e["task"].startswith(task)]
    assert found, f"no result for {task!r}:\n{run.text}"
    return found


def published(project: Project) -> str:
    [container] = project.containers("api")
    [binding] = container["NetworkSettings"]["Ports"]["8080/tcp"]
    return f"{binding['HostIp']}:{binding['HostPort']}"


def test_network_playbook(project: Project) -> None:
    public = published(project)
    [container] = project.containers("api")
    run = project.run("network.yml", "-e", '{"inside_urls": ["http://127.0.0.1:8080/health"]}',
                      "-e", f"health_url=http://{public}/health", "-e", "inside_timeout=5", "--check")
    assert run.rc == 0, run.text
    [ep] = data(run, "Endpoints")
    got = ep["data"]
    assert [r["where"] for r in got["ready"]] == [container["Name"].lstrip("/")] and got["not_ready"] == []
    assert got["ready"][0]["port"] == 8080 and got["ready"][0]["address"]
    assert got["ports"] == [{"name": "8080/tcp", "port": 8080, "target_port": 8080, "protocol": "TCP",
                             "published": [public]}]
    assert got["internal_urls"] == ["http://api:8080"] and got["hosts"] == ["api"]
    [inside] = data(run, "From inside the service, its internal URLs")
    assert inside["status"] == "ok", inside["msg"]
    assert inside["data"]["status"] == 200 and inside["data"]["tool"] == "wget", inside
    assert inside["data"]["elapsed"] > 0
    [outward] = data(run, "From inside the service, the public health URL")  # 127.0.0.1:PORT is the host's, not its
    assert outward["status"] == "ignored" and outward["data"]["status"] == -1, outward
    assert "refused" in outward["msg"] and outward["data"]["tool"] == "wget"
    [here] = data(run, "The public health URL from here")
    assert here["status"] == "ok" and here["data"]["status"] == 200
    [verdict] = data(run, "Verdict")
    assert verdict["msg"].startswith("network api: problem: the service cannot reach the public health URL"), verdict
    assert "1 ready / 0 not ready" in verdict["msg"] and "1/1 internal URL(s) reached" in verdict["msg"]


def test_dns_playbook_agrees_with_the_embedded_dns(project: Project) -> None:
    [container] = project.containers("api")
    networks = container["NetworkSettings"]["Networks"]
    address = networks[f"{project.name}_default"]["IPAddress"]
    with DNSServer({"api": {"A": [address]}}) as server:
        run = project.run("dns.yml", "-e", f"nameserver={server.address}", "-e", "types=A",
                          "-e", "dns_timeout=2", "--check")
    assert run.rc == 0, run.text
    [resolved] = data(run, "Resolve")
    assert resolved["status"] == "ok", resolved["msg"]
    got = resolved["data"]
    assert got["answers"] == {"api": {"A": {"status": "ok", "answers": [address]}}}
    assert got["from_service"] == {"api": {"A": {"status": "ok", "answers": [address]}}}
    assert got["agree"] is True and got["mismatches"] == [] and got["tool"] in ("nslookup", "getent")
    assert ("api", "A") in server.queries
    [verdict] = data(run, "Verdict")
    assert verdict["msg"].startswith("dns api: problem: none found"), verdict
