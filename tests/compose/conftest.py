"""Fixtures for the Compose target: a real Docker engine, a real sshd, one project per test.

Every scenario runs `ajudaplay run` as a subprocess (the installed console
script) and then asserts on the engine with `docker`. A missing engine fails
the suite loudly; it is never skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
AJUDAPLAY = str(Path(sys.executable).with_name("ajudaplay"))
IMAGES = ["ajudaplay-test/api:v1", "ajudaplay-test/api:v2", "ajudaplay-test/api:v3",
          "ajudaplay-test/api:unhealthy", "ajudaplay-test/nginx:v1"]
SSH_USER = "ajtest"
FAST = ["-e", "healthcheck_interval=1s", "-e", "healthcheck_start_period=1s"]


def docker(*args: str, check: bool = True) -> str:
    """Run the docker CLI on this machine (the engine both modes drive)."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr}")
    return done.stdout


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """The Docker engine and the test images; fails (never skips) when absent."""
    if shutil.which("docker") is None:
        pytest.fail("docker CLI not found: run tests/infra/docker/setup.sh", pytrace=False)
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0:
        pytest.fail(f"Docker engine not answering: {info.stderr.strip()}; run tests/infra/docker/setup.sh", pytrace=False)
    missing = [i for i in IMAGES if subprocess.run(["docker", "image", "inspect", i], capture_output=True).returncode]
    if missing:
        subprocess.run([str(ROOT / "tests/infra/docker/build-images.sh")], check=True, timeout=300)


@pytest.fixture(scope="session")
def sshd() -> Iterator[Any]:
    """A real loopback sshd; users in the docker group. Fails (never skips) when it cannot start."""
    from tests.infra.sshd.sshd import SSHServer

    try:
        server = SSHServer(n_addresses=2)
    except RuntimeError as exc:
        pytest.fail(f"cannot start sshd: {exc}", pytrace=False)
    with server:
        yield server


@dataclass
class Run:
    """One finished `ajudaplay run`: exit code, output, and the JSON events."""

    rc: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def results(self, task: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == "task_result" and (task is None or e["task"] == task)]

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Project:
    """A Compose project prepared by playbooks/compose-host.yml, local or over SSH."""

    mode: str
    name: str
    dir: str
    inventory: Path
    env: dict[str, str]

    def run(self, playbook: str, *args: str, timeout: float = 180) -> Run:
        path = playbook if playbook.startswith("/") else str(PLAYBOOKS / playbook)
        cmd = [AJUDAPLAY, "run", path, "-i", str(self.inventory), "--no-journal", "--output", "json", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return Run(done.returncode, done.stdout, done.stderr, events)

    def start(self, playbook: str, *args: str) -> subprocess.Popen[str]:
        """Start a run in the background (console output)."""
        path = playbook if playbook.startswith("/") else str(PLAYBOOKS / playbook)
        cmd = [AJUDAPLAY, "run", path, "-i", str(self.inventory), "--no-journal", *args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AJUDAPLAY, *args], capture_output=True, text=True, timeout=60, env=self.env)

    # assertions on the real engine -------------------------------------------------
    def containers(self, service: str) -> list[dict[str, Any]]:
        ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.name}",
                     "--filter", f"label=com.docker.compose.service={service}").split()
        return json.loads(docker("inspect", *ids)) if ids else []

    def images(self, service: str) -> list[str]:
        return [c["Config"]["Image"] for c in self.containers(service)]

    def healthy(self, service: str) -> bool:
        cs = self.containers(service)
        return bool(cs) and all(c["State"]["Running"] and c["State"].get("Health", {}).get("Status", "healthy") == "healthy" for c in cs)

    def state_file(self, name: str) -> str | None:
        path = Path(self.dir) / ".ajudaplay" / name
        return path.read_text() if path.exists() else None

    def revisions(self, service: str) -> list[dict[str, Any]]:
        text = self.state_file("revisions.json")
        return json.loads(text)["services"].get(service, []) if text else []

    def snapshot(self) -> str:
        """Everything check mode must leave alone: containers and ajudaplay's files."""
        ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.name}").split()
        docs = json.loads(docker("inspect", *ids)) if ids else []
        keep = [(d["Id"], d["Config"]["Image"], d["State"]["StartedAt"], d["RestartCount"], d["State"]["Status"]) for d in docs]
        files = {n: self.state_file(n) for n in ("revisions.json", "override.yml")}
        conf = Path(self.dir) / "config"
        confs = {str(p): p.read_bytes() for p in sorted(conf.rglob("*")) if p.is_file()} if conf.exists() else {}
        return repr((sorted(keep), files, confs))

    def cleanup(self) -> None:
        ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.name}").split()
        if ids:
            docker("rm", "-f", *ids, check=False)
        docker("network", "rm", f"{self.name}_default", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def write_inventory(path: Path, name: str, project_dir: str, connection: dict[str, Any], **extra: Any) -> None:
    compose = {"project_dir": project_dir, "project_name": name, **connection, **extra}
    inv = {
        "vars": {"image_repos": {"api": "ajudaplay-test/api", "nginx": "ajudaplay-test/nginx"},
                 "versions": {"api": "v1", "nginx": "v1"}},  # what compose-host.yml starts
        "targets": {
            "box": {
                "compose": compose,
                "services": {
                    "api": {"service": "api"},
                    "nginx": {"service": "nginx", "reload_command": "nginx -s reload",
                              "tls_cert": "certs/tls.crt", "tls_key": "certs/tls.key"},
                },
                "vars": {"project_dir": project_dir},
            }
        },
        "groups": {"compose": ["box"], "api": ["box"]},
    }
    path.write_text(json.dumps(inv, indent=2))  # JSON is YAML


def ssh_connection(sshd: Any) -> dict[str, Any]:
    return {"host": f"ssh://{SSH_USER}@127.0.0.1:{sshd.port}", "key": str(sshd.client_key),
            "known_hosts": str(sshd.known_hosts)}


def make_project(
    request: pytest.FixtureRequest, tmp_path: Path, mode: str, prepare: bool = True, **compose: Any
) -> Project:
    name = f"ajt{mode[0]}{uuid.uuid4().hex[:8]}"
    project_dir = f"/tmp/ajudaplay-ct/{name}"
    os.makedirs("/tmp/ajudaplay-ct", mode=0o1777, exist_ok=True)
    os.chmod("/tmp/ajudaplay-ct", 0o1777)
    connection = {"host": "@local"} if mode == "local" else ssh_connection(request.getfixturevalue("sshd"))
    inventory = tmp_path / "inventory.yml"
    write_inventory(inventory, name, project_dir, connection, **compose)
    env = dict(os.environ, AJUDAPLAY_JOURNAL=str(tmp_path / "journal.sqlite"))
    project = Project(mode, name, project_dir, inventory, env)
    request.addfinalizer(project.cleanup)
    if prepare:
        done = project.run("compose-host.yml", *FAST)
        assert done.rc == 0, done.text
    return project


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def project(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> Project:
    """A fresh, prepared project (api v1 + nginx) per test, `@local` and over SSH."""
    return make_project(request, tmp_path, request.param)


@pytest.fixture(scope="module")
def shared_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Project:
    """One prepared local project for tests that must not change it (bad input)."""
    return make_project(request, tmp_path_factory.mktemp("shared"), "local")


# certificates ------------------------------------------------------------------------
def make_cert(folder: Path, name: str, days: int, key_for: str | None = None) -> tuple[Path, Path]:
    """A self-signed cert valid `days` from now (negative: expired) and its key (or another's)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.ajudaplay.test")])
    now = dt.datetime.now(dt.timezone.utc)
    start = now - dt.timedelta(days=abs(days) + 30) if days < 0 else now - dt.timedelta(hours=1)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key_for is None:
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    else:
        key_path = folder / f"{key_for}.key"
    return cert_path, key_path
