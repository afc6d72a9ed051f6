"""Simulated cert-manager (real CRDs + a signing thread), so renewal flows can be tested without the real controller."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import threading
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.infra.k8s.controlplane import TestCA
from tests.infra.k8s.nodesim import Obj, WatchLoop, api_client_for, set_field

log = logging.getLogger("ajudaplay.tests.k8s.certmanager")
GROUP, VERSION = "cert-manager.io", "v1"
_KINDS = [  # (plural, kind, scope, short names, printer columns)
    ("certificates", "Certificate", "Namespaced", ["cert", "certs"], [
        ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        ("Secret", "string", ".spec.secretName"),
        ("Age", "date", ".metadata.creationTimestamp")]),
    ("certificaterequests", "CertificateRequest", "Namespaced", ["cr", "crs"], [
        ("Approved", "string", '.status.conditions[?(@.type=="Approved")].status'),
        ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        ("Age", "date", ".metadata.creationTimestamp")]),
    ("issuers", "Issuer", "Namespaced", [], []),
    ("clusterissuers", "ClusterIssuer", "Cluster", [], []),
]


def _crd(plural: str, kind: str, scope: str, short: list[str], cols: list[tuple[str, str, str]]) -> Obj:
    version: Obj = {"name": VERSION, "served": True, "storage": True, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    if cols:
        version["additionalPrinterColumns"] = [{"name": n, "type": t, "jsonPath": p} for n, t, p in cols]
    names: Obj = {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List",
                  "categories": ["cert-manager"]}
    if short:
        names["shortNames"] = short
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": scope, "names": names, "versions": [version]}}


def install_crds(kubeconfig: str | Any, timeout: float = 30.0) -> None:
    """Create the cert-manager.io/v1 CRDs (Certificate, CertificateRequest, Issuer, ClusterIssuer); wait Established."""
    ext = client.ApiextensionsV1Api(api_client_for(kubeconfig))
    for spec in _KINDS:
        try:
            ext.create_custom_resource_definition(_crd(*spec), _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:
                raise
    deadline = time.monotonic() + timeout
    for plural, *_ in _KINDS:
        while True:
            crd = json.loads(ext.read_custom_resource_definition(f"{plural}.{GROUP}", _preload_content=False).data)
            conds = (crd.get("status") or {}).get("conditions") or []  # null until the server sets them
            if any(c["type"] == "Established" and c["status"] == "True" for c in conds):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {plural}.{GROUP} not Established after {timeout}s: {conds}")
            time.sleep(0.2)


def parse_go_duration(text: str) -> dt.timedelta:
    """'2160h0m0s' / '1h30m' / '90s' -> timedelta."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts:
        raise ValueError(f"bad duration {text!r}")
    return dt.timedelta(seconds=sum(float(n) * units[u] for n, u in parts))


def _ts(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _new_key(spec: Obj) -> Any:
    pk = spec.get("privateKey") or {}
    algo, size = (pk.get("algorithm") or "RSA").upper(), pk.get("size")
    if algo == "ECDSA":
        return ec.generate_private_key({384: ec.SECP384R1(), 521: ec.SECP521R1()}.get(size, ec.SECP256R1()))
    if algo == "ED25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=size or 2048)


class CertManagerSimulator:
    """Issues Certificates when not Ready, when `Issuing=True` (cmctl renew), on spec change or at renewalTime."""

    def __init__(self, kubeconfig: str | Any, *, ca: TestCA | None = None,
                 duration: dt.timedelta = dt.timedelta(days=90), renew_before: dt.timedelta | None = None,
                 window_seconds: int = 5) -> None:
        self.api = api_client_for(kubeconfig)
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.ca = ca or TestCA.create("ajudaplay-test-issuer-ca")
        self.duration, self.renew_before = duration, renew_before
        self.issued: list[tuple[str, str, int]] = []  # (namespace, name, revision), in order
        self._written_rv: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watch = WatchLoop(lambda **kw: self.custom.list_cluster_custom_object(GROUP, VERSION, "certificates", **kw),
                                self._on_certificate, self._stop, window_seconds=window_seconds)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "CertManagerSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "CertManagerSimulator":
        self._thread = threading.Thread(target=self._watch.run, name="certmanager-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._watch.interrupt()
        if self._thread:
            self._thread.join(timeout=15)

    # reconcile -------------------------------------------------------------------
    def needs_issuance(self, cert: Obj) -> str | None:
        """Why this Certificate must be (re)issued now, or None."""
        meta, status = cert["metadata"], cert.get("status") or {}
        conds = {c.get("type"): c for c in status.get("conditions") or []}
        if conds.get("Issuing", {}).get("status") == "True":
            return "Issuing"
        ready = conds.get("Ready")
        if not ready or ready.get("status") != "True":
            return "NotReady"
        if ready.get("observedGeneration") not in (None, meta.get("generation")):
            return "SpecChanged"
        renewal = status.get("renewalTime")
        if renewal and dt.datetime.fromisoformat(renewal.replace("Z", "+00:00")) <= dt.datetime.now(dt.timezone.utc):
            return "Renewing"
        return None

    def _on_certificate(self, kind: str, cert: Obj) -> None:
        if kind == "DELETED" or cert["metadata"].get("deletionTimestamp"):
            return
        uid, rv = cert["metadata"]["uid"], int(cert["metadata"]["resourceVersion"])
        with self._lock:
            if rv < self._written_rv.get(uid, 0):
                return  # stale event from before our own status write
            reason = self.needs_issuance(cert)
            if reason:
                self.issue(cert, reason)

    def issue(self, cert: Obj, reason: str = "Issuing") -> None:
        """Sign, write the TLS Secret and a CertificateRequest, then mark the Certificate Ready."""
        meta, spec, status = cert["metadata"], cert["spec"], cert.get("status") or {}
        ns, name = meta["namespace"], meta["name"]
        revision = int(status.get("revision") or 0) + 1
        duration = parse_go_duration(spec["duration"]) if spec.get("duration") else self.duration
        renew_before = parse_go_duration(spec["renewBefore"]) if spec.get("renewBefore") else \
            (self.renew_before or duration / 3)
        key = self._key_for(ns, spec)
        dns = list(spec.get("dnsNames") or [])
        cn = spec.get("commonName") or (dns[0] if dns else name)
        not_before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        crt_pem, key_pem = self.ca.issue(cn, dns, list(spec.get("ipAddresses") or []), not_before=not_before,
                                         duration=duration, key=key, client="client auth" in (spec.get("usages") or []))
        issuer = spec.get("issuerRef") or {}
        self._write_secret(ns, spec["secretName"], name, issuer, crt_pem, key_pem)
        self._write_request(cert, revision, key, cn, dns, crt_pem)
        t = _ts(dt.datetime.now(dt.timezone.utc))
        new_status = {
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "lastTransitionTime": t,
                            "message": "Certificate is up to date and has not expired",
                            "observedGeneration": meta.get("generation")}],
            "revision": revision, "notBefore": _ts(not_before), "notAfter": _ts(not_before + duration),
            "renewalTime": _ts(not_before + duration - renew_before),
            "nextPrivateKeySecretName": None, "lastFailureTime": None}  # merge patch: None removes
        resp = self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, "certificates", name,
                                                                {"status": new_status},
                                                                _preload_content=False)
        self._written_rv[meta["uid"]] = int(json.loads(resp.data)["metadata"]["resourceVersion"])
        self.issued.append((ns, name, revision))
        log.info("issued %s/%s revision %d (%s)", ns, name, revision, reason)

    def _key_for(self, ns: str, spec: Obj) -> Any:
        if ((spec.get("privateKey") or {}).get("rotationPolicy") or "Never") != "Always":
            try:
                secret = json.loads(self.core.read_namespaced_secret(spec["secretName"], ns,
                                                                     _preload_content=False).data)
                pem = base64.b64decode((secret.get("data") or {}).get("tls.key", ""))
                if pem:
                    return serialization.load_pem_private_key(pem, password=None)
            except (ApiException, ValueError):
                pass
        return _new_key(spec)

    def _write_secret(self, ns: str, secret_name: str, cert_name: str, issuer: Obj, crt: bytes, key: bytes) -> None:
        annotations = {"cert-manager.io/certificate-name": cert_name,
                       "cert-manager.io/issuer-name": issuer.get("name", ""),
                       "cert-manager.io/issuer-kind": issuer.get("kind", "Issuer"),
                       "cert-manager.io/issuer-group": issuer.get("group", GROUP)}
        data = {"tls.crt": _b64(crt), "tls.key": _b64(key), "ca.crt": _b64(self.ca.cert_pem)}
        body = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "data": data,
                "metadata": {"name": secret_name, "namespace": ns, "annotations": annotations}}
        try:
            self.core.create_namespaced_secret(ns, body, _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.patch_namespaced_secret(secret_name, ns, set_field("/data", data) +
                                              set_field("/metadata/annotations", annotations),
                                              _preload_content=False)

    def _write_request(self, cert: Obj, revision: int, key: Any, cn: str, dns: list[str], crt: bytes) -> None:
        meta, spec = cert["metadata"], cert["spec"]
        csr = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        if dns:
            csr = csr.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
        algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        csr_pem = csr.sign(key, algo).public_bytes(serialization.Encoding.PEM)
        name, ns = f"{meta['name']}-{revision}", meta["namespace"]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "CertificateRequest", "metadata": {
            "name": name, "namespace": ns,
            "annotations": {"cert-manager.io/certificate-name": meta["name"],
                            "cert-manager.io/certificate-revision": str(revision)},
            "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "Certificate", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"request": _b64(csr_pem), "issuerRef": spec.get("issuerRef") or {},
                     "usages": spec.get("usages") or ["digital signature", "key encipherment"]}}
        try:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "certificaterequests", body,
                                                        _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:
                raise
        t = _ts(dt.datetime.now(dt.timezone.utc))
        self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, "certificaterequests", name, {
            "status": {"certificate": _b64(crt), "ca": _b64(self.ca.cert_pem), "conditions": [
                {"type": "Approved", "status": "True", "reason": "cert-manager.io", "lastTransitionTime": t,
                 "message": "Certificate request has been approved by cert-manager.io"},
                {"type": "Ready", "status": "True", "reason": "Issued", "lastTransitionTime": t,
                 "message": "Certificate fetched from issuer successfully"}]}},
            _preload_content=False)
