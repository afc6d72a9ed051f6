"""A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager) on loopback, so tests hit real API semantics."""

from __future__ import annotations

import ctypes
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

K8S_VERSION = "v1.20.2"
DEFAULT_CACHE = Path(os.environ.get("AJUDAPLAY_K8S_CACHE", f"/var/cache/ajudaplay/k8s/{K8S_VERSION}"))
BUILD_SCRIPT = Path(__file__).with_name("build-controlplane.sh")
CONTEXT = "ajudaplay-test"
READONLY_NAMESPACE = "ajudaplay-readonly"


class ControlPlaneError(RuntimeError):
    """The control plane could not be started or a component died."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<no log: {exc}>"


def _pem_key(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class TestCA:
    """A self-signed test CA that signs serving/client certificates."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    __test__ = False  # not a pytest class

    @classmethod
    def create(cls, name: str = "ajudaplay-test-ca") -> "TestCA":
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> "TestCA":
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(cert, key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _pem_key(self.key)

    def issue(self, common_name: str, dns_names: list[str] | None = None, ips: list[str] | None = None,
              *, not_before: dt.datetime | None = None, duration: dt.timedelta = dt.timedelta(days=365),
              key: Any = None, server: bool = True, client: bool = False) -> tuple[bytes, bytes]:
        """Sign a leaf certificate; returns (cert PEM, key PEM)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        not_before = not_before or dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names or []]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
        usages = ([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + \
                 ([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_before + duration)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def write_kubeconfig(path: Path, *, server: str, ca_file: Path, token: str, user: str,
                     context: str = CONTEXT, namespace: str | None = None) -> Path:
    """Write a token kubeconfig usable by kubectl and the Python client (JSON is valid YAML)."""
    ctx: dict[str, Any] = {"cluster": context, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": ctx}],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    path.chmod(0o600)
    return path


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies (even by SIGKILL), so no component outlives it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# --------------------------------------------------------------------------- control plane


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager as subprocesses on free loopback ports."""

    def __init__(self, bin_dir: Path | str | None = None, workdir: Path | str | None = None,
                 *, keep: bool | None = None, ready_timeout: float = 60.0) -> None:
        self.bin_dir = Path(bin_dir or os.environ.get("AJUDAPLAY_K8S_BIN", DEFAULT_CACHE / "bin"))
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ajudaplay-k8s-"))
        self.keep = keep if keep is not None else os.environ.get("AJUDAPLAY_K8S_KEEP") == "1"
        self.ready_timeout = ready_timeout
        self.context = CONTEXT
        self.token = uuid.uuid4().hex
        self.restricted_token = uuid.uuid4().hex
        self.restricted_user = "viewer"
        self.restricted_namespace = READONLY_NAMESPACE
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.server = ""
        self.startup_seconds = 0.0
        self._etcd_data: Path | None = None

    # paths -----------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def restricted_kubeconfig(self) -> Path:
        return self.workdir / "viewer.kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "ca.crt"

    @property
    def ca_key_file(self) -> Path:
        return self.workdir / "ca.key"

    def ca(self) -> TestCA:
        """The test CA (to sign further certificates, e.g. the fault proxy's)."""
        return TestCA.load(self.ca_file, self.ca_key_file)

    # lifecycle ---------------------------------------------------------------
    def __enter__(self) -> "ControlPlane":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "ControlPlane":
        t0 = time.monotonic()
        self._check_binaries()
        self._write_credentials()
        try:
            etcd_port = self._start_etcd()
            api_port = self._start_apiserver(etcd_port)
            self._wait_http(f"{self.server}/readyz", "kube-apiserver", token=self.token)
            self._start_controller_manager()
            self._setup_restricted_user()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        _ = api_port
        return self

    def stop(self) -> None:
        procs = [self.procs.pop(n) for n in ("kube-controller-manager", "kube-apiserver", "etcd") if n in self.procs]
        try:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 10
            for proc in procs:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        finally:  # even on KeyboardInterrupt: never leave a component behind
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if self._etcd_data is not None:
            shutil.rmtree(self._etcd_data, ignore_errors=True)
            self._etcd_data = None
        if self._own_workdir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def check_alive(self) -> None:
        """Raise ControlPlaneError (with the log tail) if any component has exited."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise ControlPlaneError(
                    f"{name} exited with code {proc.returncode}; log {self.logs[name]}:\n{tail(self.logs[name])}")

    # internals -----------------------------------------------------------------
    def _check_binaries(self) -> None:
        missing = [b for b in ("kube-apiserver", "kube-controller-manager")
                   if not os.access(self.bin_dir / b, os.X_OK)]
        if shutil.which("etcd") is None:
            missing.append("etcd (Debian package etcd-server)")
        if missing:
            raise ControlPlaneError(
                f"Kubernetes control-plane binaries missing: {', '.join(missing)} (looked in {self.bin_dir}). "
                f"Build them once with: sudo bash {BUILD_SCRIPT}  (about 10 min cold, cached afterwards)")

    def _write_credentials(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ca = TestCA.create()
        self.ca_file.write_bytes(ca.cert_pem)
        self.ca_key_file.write_bytes(ca.key_pem)
        crt, key = ca.issue("kube-apiserver",
                            ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                             "kubernetes.default.svc.cluster.local"], ["127.0.0.1", "10.0.0.1"])
        (self.workdir / "apiserver.crt").write_bytes(crt)
        (self.workdir / "apiserver.key").write_bytes(key)
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.workdir / "sa.key").write_bytes(_pem_key(sa_key))
        (self.workdir / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        (self.workdir / "tokens.csv").write_text(
            f'{self.token},admin,admin-uid,"system:masters"\n'
            f'{self.restricted_token},{self.restricted_user},viewer-uid,"ajudaplay:viewers"\n')

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as fh:
            self.procs[name] = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                start_new_session=True, preexec_fn=_die_with_parent)

    def _start_etcd(self) -> int:
        client, peer = free_port(), free_port()
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.workdir
        self._etcd_data = Path(tempfile.mkdtemp(prefix="ajudaplay-etcd-", dir=base))
        self._spawn("etcd", [
            shutil.which("etcd") or "etcd", "--name=default", f"--data-dir={self._etcd_data}",
            f"--listen-client-urls=http://127.0.0.1:{client}", f"--advertise-client-urls=http://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=default=http://127.0.0.1:{peer}", "--log-level=warn", "--logger=zap",
        ])
        self._wait_http(f"http://127.0.0.1:{client}/health", "etcd")
        return client

    def _start_apiserver(self, etcd_port: int) -> int:
        port = free_port()
        w = self.workdir
        self.server = f"https://127.0.0.1:{port}"
        self._spawn("kube-apiserver", [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
            "--insecure-port=0", f"--cert-dir={w}",
            f"--tls-cert-file={w}/apiserver.crt", f"--tls-private-key-file={w}/apiserver.key",
            f"--client-ca-file={w}/ca.crt", f"--token-auth-file={w}/tokens.csv",
            "--authorization-mode=RBAC", "--service-cluster-ip-range=10.0.0.0/24",
            "--endpoint-reconciler-type=none", "--allow-privileged=true", "--profiling=false",
            f"--service-account-key-file={w}/sa.pub", f"--service-account-signing-key-file={w}/sa.key",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--v=1",
        ])
        write_kubeconfig(self.kubeconfig, server=self.server, ca_file=self.ca_file, token=self.token,
                         user="admin", context=self.context)
        write_kubeconfig(self.restricted_kubeconfig, server=self.server, ca_file=self.ca_file,
                         token=self.restricted_token, user=self.restricted_user, context=self.context,
                         namespace=self.restricted_namespace)
        return port

    def _start_controller_manager(self) -> None:
        port = free_port()
        w = self.workdir
        self._spawn("kube-controller-manager", [
            str(self.bin_dir / "kube-controller-manager"),
            f"--kubeconfig={self.kubeconfig}", f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={port}", "--port=0", f"--cert-dir={w}/kcm-certs",
            "--leader-elect=false", "--use-service-account-credentials=false",
            "--controllers=*,-cloud-node-lifecycle,-route,-service",
            f"--service-account-private-key-file={w}/sa.key", f"--root-ca-file={w}/ca.crt",
            f"--cluster-signing-cert-file={w}/ca.crt", f"--cluster-signing-key-file={w}/ca.key",
            "--v=1",
        ])
        self._wait_http(f"https://127.0.0.1:{port}/healthz", "kube-controller-manager", verify=False)

    def _wait_http(self, url: str, name: str, *, token: str | None = None, verify: bool = True) -> None:
        ctx = ssl.create_default_context(cafile=str(self.ca_file)) if verify else ssl._create_unverified_context()
        deadline = time.monotonic() + self.ready_timeout
        last = ""
        while time.monotonic() < deadline:
            self.check_alive()
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
            try:
                with urllib.request.urlopen(req, timeout=3, context=ctx if url.startswith("https") else None) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.25)
        raise ControlPlaneError(f"{name} not ready at {url} after {self.ready_timeout}s (last error: {last}); "
                                f"log {self.logs.get(name)}:\n{tail(self.logs[name]) if name in self.logs else ''}")

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Minimal admin JSON request against the apiserver (no client library needed)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            result: dict[str, Any] = json.loads(r.read() or b"{}")
            return result

    def grant_read(self, namespace: str, user: str | None = None) -> None:
        """Bind ClusterRole `ajudaplay-read` (get/list/watch) to the restricted user in one namespace."""
        self.api("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": f"ajudaplay-read-{user or self.restricted_user}", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ajudaplay-read"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                          "name": user or self.restricted_user}],
        })

    def _setup_restricted_user(self) -> None:
        # explicit rules: the aggregated `view` role is filled in asynchronously by the controller-manager
        self.api("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "ajudaplay-read"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]})
        self.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": self.restricted_namespace}})
        self.grant_read(self.restricted_namespace)


def main(argv: list[str] | None = None) -> None:
    """Start by hand: python -m tests.infra.k8s.controlplane [--node]; runs until SIGINT or SIGTERM.

    Both signals are handled explicitly: a shell that starts a job in the background makes it ignore
    SIGINT, and `kill` sends SIGTERM; either way everything started here is stopped.
    """
    import argparse
    import threading

    parser = argparse.ArgumentParser(prog="python -m tests.infra.k8s.controlplane")
    parser.add_argument("--node", action="store_true",
                        help="also start a real node (kubelet on the local Docker engine + kube-scheduler)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with ControlPlane(keep=True) as cp:
        node = None
        if args.node:
            from tests.infra.k8s.node import RealNode

            node = RealNode(cp).start()
        try:
            print(f"server: {cp.server}\nkubeconfig: {cp.kubeconfig}\n"
                  f"restricted: {cp.restricted_kubeconfig} (read-only in {cp.restricted_namespace})\n"
                  f"logs: {cp.workdir}/*.log\n"
                  + (f"node: {node.name} (kubelet + kube-scheduler, pods on the local Docker engine)\n" if node else "")
                  + f"try: kubectl --kubeconfig {cp.kubeconfig} get --raw /readyz\n"
                  f"ready", flush=True)
            while not stop.wait(2):
                cp.check_alive()
                if node:
                    node.check_alive()
        finally:
            if node:
                node.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
