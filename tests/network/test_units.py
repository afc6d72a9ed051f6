"""The network actions without a deployment: cheap cases on the fake target, local tools and local servers.

`http from: service` and the in-service lookups run their fixed scripts here through a stand-in
for the service's exec (LocalExec: the fake target whose exec runs the argv on this machine with
a PATH holding only the tools the test gives, to play an image that has busybox wget, curl, or
neither), against a loopback HTTP server. dns answers come from tests/infra/dns (a local DNS
server standing in for a public resolver). Kubernetes Ingress parsing reads canned API answers.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from ajudaplay.actions.base import ActionContext
from ajudaplay.actions.host_probes import run_http
from ajudaplay.actions.network import parse_lookups, run_dns, run_endpoints
from ajudaplay.errors import TargetError
from ajudaplay.integrations.dns import compare, parse_nslookup, resolve
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.outcomes import ExecOutcome, to_result
from ajudaplay.targets.compose.network import from_inspect
from ajudaplay.targets.fake import FakeTarget
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.network import ingress_hosts, selects
from ajudaplay.yamlmarks import Mark
from tests.infra.dns.server import DNSServer
from tests.kubernetes.conftest import step


class LocalExec(FakeTarget):
    """The fake target, but exec runs the argv here with PATH = `bin` (the 'image')."""

    bin: Path

    def exec(self, ctx: Any, service: str, command: Any, *, container: str | None = None, pod: str | None = None,
             stdin: str | None = None) -> Any:
        done = subprocess.run(command, capture_output=True, text=True, timeout=ctx.timeout,
                              env={"PATH": str(self.bin)})
        return to_result(ExecOutcome(rc=done.returncode, stdout=done.stdout, stderr=done.stderr,
                                     stdout_lines=done.stdout.splitlines(), stderr_lines=done.stderr.splitlines(),
                                     cmd=" ".join(command), failed=done.returncode != 0))


def image(tmp_path: Path, *tools: str) -> Path:
    """A folder of the given tools (and sh): what the 'image' has. `wget` is busybox's applet."""
    folder = tmp_path / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    for tool in ("sh", *tools):
        real = shutil.which("busybox") if tool == "wget" else shutil.which(tool)
        assert real, f"{tool} not on this machine"
        link = folder / tool
        if tool == "wget":
            link.write_text(f"#!{shutil.which('sh')}\nexec {real} wget \"$@\"\n")
            link.chmod(0o755)
        else:
            link.symlink_to(real)
    return folder


def context(tmp_path: Path, *tools: str, services: dict[str, Any] | None = None) -> ActionContext:
    spec = TargetSpec(name="t", kind="fake", mark=Mark("inventory.yml", 1, 1), connection={},
                      services=services or {"api": {}})
    target = LocalExec(spec)
    target.bin = image(tmp_path, *tools)
    return ActionContext(target=target, step=step(), vars={}, render=lambda v: v)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/health":
            body = f"ok {self.headers.get('X-Probe', '-')}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(503)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("tool", ["wget", "curl"])
def test_http_from_service_with_each_client(tmp_path: Path, web: str, tool: str) -> None:
    ctx = context(tmp_path, tool)
    args = {"url": f"{web}/health", "from": "service", "service": "api", "headers": {"X-Probe": "a b; $(x)"},
            "return_content": True, "timeout": 10}
    result = run_http(ctx, args)
    assert not result.failed, result.msg
    assert result.data["status"] == 200 and result.data["tool"] == tool and result.data["from"] == "service"
    assert result.data["content"] == "ok a b; $(x)"  # the header reached the server as one word, unexpanded
    assert result.data["headers"]["content-type"] == "text/plain" and result.data["elapsed"] > 0
    failing = run_http(ctx, {**args, "url": f"{web}/down"})
    assert failing.failed and failing.data["status"] == 503 and "expected 200" in failing.msg


def test_http_from_service_without_a_client_says_so(tmp_path: Path, web: str) -> None:
    result = run_http(context(tmp_path), {"url": f"{web}/health", "from": "service", "service": "api"})
    assert result.failed and result.msg.startswith("neither wget nor curl found in the image of api")
    assert result.data["status"] == -1


def test_http_from_service_no_answer_and_bad_input(tmp_path: Path) -> None:
    ctx = context(tmp_path, "curl")
    refused = run_http(ctx, {"url": "http://127.0.0.1:9/", "from": "service", "service": "api", "timeout": 5})
    assert refused.failed and refused.data["status"] == -1 and refused.data["tool"] == "curl"
    assert "no HTTP answer (curl)" in refused.msg
    with pytest.raises(TargetError, match="GET requests only"):
        run_http(ctx, {"url": "http://127.0.0.1:9/", "from": "service", "service": "api", "method": "POST"})
    with pytest.raises(TargetError, match="http.service: required"):
        run_http(ctx, {"url": "http://127.0.0.1:9/", "from": "service"})
    checking = ActionContext(target=ctx.target, step=step(check=True), vars={}, render=lambda v: v)
    with pytest.raises(TargetError, match="GET requests only"):  # said in check mode too, not skipped
        run_http(checking, {"url": "http://127.0.0.1:9/", "from": "service", "service": "api", "method": "PUT"})


def test_dns_from_the_controller_every_kind_of_answer() -> None:
    zone = {"api.example.test": {"A": ["192.0.2.10"], "AAAA": ["2001:db8::10"]},
            "www.example.test": {"CNAME": ["api.example.test"]}, "v4only.example.test": {"A": ["192.0.2.11"]}}
    with DNSServer(zone, silent=("slow.example.test",)) as server:
        got = resolve(["api.example.test", "www.example.test", "v4only.example.test", "nope.example.test",
                       "slow.example.test"], ["A", "AAAA", "CNAME"], nameserver=server.address, timeout=0.5)
    assert got["api.example.test"]["A"] == {"status": "ok", "answers": ["192.0.2.10"]}
    assert got["api.example.test"]["AAAA"] == {"status": "ok", "answers": ["2001:db8::10"]}
    assert got["www.example.test"]["CNAME"] == {"status": "ok", "answers": ["api.example.test"]}
    assert got["www.example.test"]["A"] == {"status": "ok", "answers": ["192.0.2.10"], "canonical": "api.example.test"}
    assert got["v4only.example.test"]["AAAA"] == {"status": "noanswer", "answers": []}
    assert got["nope.example.test"]["A"] == {"status": "nxdomain", "answers": []}
    assert got["slow.example.test"]["A"]["status"] == "timeout"


def test_dns_action_compares_with_the_service(tmp_path: Path) -> None:
    """getent here (the 'image') resolves localhost from /etc/hosts; the DNS server says otherwise."""
    ctx = context(tmp_path, "getent")
    with DNSServer({"localhost": {"A": ["127.0.0.2"]}}) as server:
        result = run_dns(ctx, {"names": "localhost", "types": "A", "nameserver": server.address, "service": "api"})
    assert not result.failed, result.msg
    assert result.data["answers"] == {"localhost": {"A": {"status": "ok", "answers": ["127.0.0.2"]}}}
    assert result.data["from_service"]["localhost"]["A"]["answers"] == ["127.0.0.1"] and result.data["tool"] == "getent"
    assert result.data["agree"] is False
    assert result.data["mismatches"] == [{"name": "localhost", "type": "A", "controller": ["127.0.0.2"],
                                          "controller_status": "ok", "service": ["127.0.0.1"], "service_status": "ok"}]
    with pytest.raises(TargetError, match="neither getent nor nslookup found in the image of api"):
        run_dns(context(tmp_path / "none"), {"names": ["localhost"], "from": "service", "service": "api"})
    with pytest.raises(TargetError, match="dns.nameserver"):
        run_dns(ctx, {"names": ["localhost"], "nameserver": "dns.example:53"})
    with pytest.raises(TargetError, match="dns.names"):
        run_dns(ctx, {"names": ["bad name"]})


BUSYBOX_NSLOOKUP = "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nNon-authoritative answer:\nName:\tapi\nAddress: 172.21.0.2\n"


def test_lookup_outputs_of_each_tool() -> None:
    assert parse_nslookup(BUSYBOX_NSLOOKUP) == (["172.21.0.2"], [], False)
    bind = ("Server:\t127.0.0.53\nAddress:\t127.0.0.53#53\n\nNon-authoritative answer:\nwww.example.test\tcanonical "
            "name = api.example.test.\nName:\tapi.example.test\nAddress: 192.0.2.10\nName:\tapi.example.test\n"
            "Address: 2001:db8::10\n")
    assert parse_nslookup(bind) == (["192.0.2.10", "2001:db8::10"], ["api.example.test"], False)
    assert parse_nslookup("Server:\t1.1.1.1\nAddress:\t1.1.1.1:53\n\n** server can't find nope: NXDOMAIN\n")[2]
    out = (f"@@ajudaplay-name nslookup api\n{BUSYBOX_NSLOOKUP}\n@@ajudaplay-rc 0\n"
           "@@ajudaplay-name nslookup slow\nTerminated\n@@ajudaplay-rc 143\n")
    got, tool = parse_lookups(out, {"rc": 0}, "api", ["A", "AAAA"])
    assert tool == "nslookup"
    assert got["api"] == {"A": {"status": "ok", "answers": ["172.21.0.2"]}, "AAAA": {"status": "noanswer", "answers": []}}
    assert got["slow"]["A"]["status"] == "timeout"
    assert compare({"x": {"A": {"status": "nxdomain", "answers": []}}}, {"x": {"A": {"status": "nxdomain", "answers": []}}}) == []
    assert compare({"x": {"A": {"status": "ok", "answers": ["1.2.3.4"]}}}, {"x": {"A": {"status": "timeout", "answers": []}}})


def test_endpoints_action_adds_the_inventory_hosts(tmp_path: Path) -> None:
    ctx = context(tmp_path, services={"api": {"hosts": ["api.example.test", "status.example.test"]}})
    result = run_endpoints(ctx, {"service": "api"})
    assert result.data["hosts"] == ["api.example.test", "status.example.test"] and result.data["ready"]
    bad = context(tmp_path / "bad", services={"api": {"hosts": [1]}})
    with pytest.raises(TargetError, match=r"services\.api\.hosts"):
        run_endpoints(bad, {"service": "api"})


def test_compose_endpoints_from_inspect() -> None:
    def doc(name: str, status: str, health: str | None, ports: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {"Status": status, **({"Health": {"Status": health}} if health else {})}
        return {"Name": f"/{name}", "State": state, "Config": {"ExposedPorts": {"8080/tcp": {}}},
                "NetworkSettings": {"Ports": ports, "Networks": {"p_default": {"IPAddress": f"10.0.0.{len(name)}"}}}}

    got = from_inspect([doc("p-api-2", "running", "unhealthy", {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "2"}]}),
                        doc("p-api-1", "running", "healthy", {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "1"}]}),
                        doc("p-api-30", "exited", None, {})], "api", "api", "p")
    assert [r["where"] for r in got.ready] == ["p-api-1"]
    assert [r["where"] for r in got.not_ready] == ["p-api-2", "p-api-30"]
    assert got.ports == [{"name": "8080/tcp", "port": 8080, "target_port": 8080, "protocol": "TCP",
                          "published": ["127.0.0.1:1", "127.0.0.1:2"]}]
    assert got.internal_urls == ["http://api:8080"] and got.msg == "1 ready, 2 not ready"


class CannedKube:
    """Canned API answers by path; a path mapped to an int answers that error status."""

    namespace = "ns"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def ns_path(self, group_version: str, resource: str, name: str | None = None, sub: str | None = None) -> str:
        return f"{group_version}/{resource}" + (f"/{name}" if name else "")

    def get(self, path: str, **kw: Any) -> Any:
        answer = self.answers.get(path, 404)
        if isinstance(answer, int):
            raise KubeApiError(answer, "NotFound", "the server could not find the requested resource")
        return answer

    def get_or_none(self, path: str, **kw: Any) -> Any:
        return self.answers.get(path)


def test_ingress_hosts_v1_and_the_v1beta1_fallback() -> None:
    v1 = {"items": [
        {"metadata": {"name": "web"}, "spec": {"rules": [
            {"host": "a.example", "http": {"paths": [{"backend": {"service": {"name": "api"}}}]}},
            {"host": "b.example", "http": {"paths": [{"backend": {"service": {"name": "other"}}}]}}]}},
        {"metadata": {"name": "default"}, "spec": {"defaultBackend": {"service": {"name": "api"}},
                                                   "rules": [{"host": "c.example"}]}}]}
    kube: Any = CannedKube({"networking.k8s.io/v1/ingresses": v1})
    assert ingress_hosts(kube, {"api"}) == (["a.example", "c.example"], ["default", "web"])
    beta = {"items": [{"metadata": {"name": "old"}, "spec": {"rules": [
        {"host": "d.example", "http": {"paths": [{"backend": {"serviceName": "api", "servicePort": 80}}]}}]}}]}
    kube = CannedKube({"networking.k8s.io/v1/ingresses": 404, "networking.k8s.io/v1beta1/ingresses": beta})
    assert ingress_hosts(kube, {"api"}) == (["d.example"], ["old"])
    assert selects({"spec": {"selector": {"app": "api"}}}, {"app": "api", "tier": "web"})
    assert not selects({"spec": {}}, {"app": "api"})  # a Service without a selector selects nothing


def test_kubernetes_endpoints_from_api_answers() -> None:
    """The Services selecting the pod template, their Endpoints, node ports and the Ingress (v1beta1 cluster)."""
    from ajudaplay.targets.kubernetes.network import endpoints
    from ajudaplay.targets.kubernetes.services import ServiceRef

    deployment = {"metadata": {"name": "api"}, "spec": {"template": {"metadata": {"labels": {"app": "api", "tier": "web"}}}}}
    services = {"items": [
        {"metadata": {"name": "api"}, "spec": {"selector": {"tier": "web"}, "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30080}]}},
        {"metadata": {"name": "headless"}, "spec": {"ports": [{"port": 1}]}},  # no selector: never counted
        {"metadata": {"name": "db"}, "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}}]}
    found = {"subsets": [{"addresses": [{"ip": "10.1.0.5", "targetRef": {"kind": "Pod", "name": "api-1"}}],
                          "notReadyAddresses": [{"ip": "10.1.0.6", "targetRef": {"kind": "Pod", "name": "api-2"}}],
                          "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}
    beta = {"items": [{"metadata": {"name": "site"}, "spec": {"rules": [
        {"host": "api.example.test", "http": {"paths": [{"backend": {"serviceName": "api", "servicePort": 80}}]}}]}}]}
    kube: Any = CannedKube({"apps/v1/deployments/api": deployment, "v1/services": services, "v1/endpoints/api": found,
                            "networking.k8s.io/v1beta1/ingresses": beta})
    got = endpoints(kube, step(), ServiceRef(service="api", deployment="api"))
    assert got.ready == [{"address": "10.1.0.5", "port": 8080, "protocol": "TCP", "where": "api-1"}]
    assert got.not_ready == [{"address": "10.1.0.6", "port": 8080, "protocol": "TCP", "where": "api-2"}]
    assert got.ports == [{"name": "http", "port": 80, "target_port": 8080, "protocol": "TCP", "published": ["*:30080"]}]
    assert got.internal_urls == ["http://api.ns.svc:80"] and got.hosts == ["api.example.test"]
    assert got.extra == {"services": ["api"], "ingresses": ["site"]} and got.warnings == []
    none = endpoints(CannedKube({"apps/v1/deployments/api": deployment, "v1/services": {"items": []}}), step(),  # type: ignore[arg-type]
                     ServiceRef(service="api", deployment="api"))
    assert none.ready == [] and none.hosts == [] and "no Service in namespace 'ns' selects" in none.warnings[0]
