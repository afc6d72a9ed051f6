"""TLS Secret from files on the real kube-apiserver: refused pairs change nothing, accepted ones keep the previous.

kubectl reads the Secret back (data and resourceVersion), and the serving
Deployment's revisions show whether it was restarted.
Secrets are API objects: the simulated node (conftest.py `cluster`) is enough, no container runs.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.errors import InvalidInput, TargetError
from ajudaplay.targets.base import CertificateRequest
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.kubernetes.conftest import Cluster, step

pytestmark = pytest.mark.kubernetes


def make_pair(folder: Path, name: str, days: int) -> tuple[bytes, bytes]:
    """A self-signed certificate valid `days` from now and its key, written as <name>.crt/.key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.ajudaplay.test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (folder / f"{name}.crt").write_bytes(pem)
    (folder / f"{name}.key").write_bytes(key_pem)
    return pem, key_pem


def request(name: str | None = None, **kw: Any) -> CertificateRequest:
    files = {"cert_file": Path(f"{name}.crt"), "key_file": Path(f"{name}.key")} if name else {}
    return CertificateRequest(service="api", reload="nginx", **files, **kw)


def secret_data(cluster: Cluster) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in cluster.get("secret", "api-tls")["data"].items()}


def test_short_certificate_is_refused_and_nothing_changes(cluster: Cluster, target: KubernetesTarget, tmp_path: Path) -> None:
    cluster.deployment("nginx", "img:v1", container="nginx")
    month = make_pair(tmp_path, "month", 30)
    make_pair(tmp_path, "week", 5)
    first = target.certificate(step(base_dir=tmp_path), request("month", min_days=14))
    assert first.changed and not first.failed, first.msg
    before = cluster.get("secret", "api-tls")
    assert secret_data(cluster) == {"tls.crt": month[0], "tls.key": month[1]}  # nothing to keep on a first install
    revisions = cluster.revisions("nginx")

    with pytest.raises(InvalidInput, match="fewer than min_days=14"):
        target.certificate(step(base_dir=tmp_path), request("week", min_days=14))
    after = cluster.get("secret", "api-tls")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["data"] == before["data"]
    assert cluster.revisions("nginx") == revisions  # not restarted


def test_accepted_certificate_keeps_the_previous_and_restore_swaps(cluster: Cluster, target: KubernetesTarget,
                                                                  tmp_path: Path) -> None:
    cluster.deployment("nginx", "img:v1", container="nginx")
    month = make_pair(tmp_path, "month", 30)
    quarter = make_pair(tmp_path, "quarter", 90)
    with pytest.raises(TargetError, match="no previous certificate to restore"):
        target.certificate(step(base_dir=tmp_path), request(restore_previous=True))
    assert target.certificate(step(base_dir=tmp_path), request("month", min_days=14)).changed
    second = target.certificate(step(base_dir=tmp_path), request("quarter", min_days=14))
    assert second.changed and not second.failed, second.msg
    assert secret_data(cluster) == {"tls.crt": quarter[0], "tls.key": quarter[1],
                                    "previous-tls.crt": month[0], "previous-tls.key": month[1]}
    assert cluster.get("secret", "api-tls")["type"] == "kubernetes.io/tls"
    revisions = cluster.revisions("nginx")

    check = target.certificate(step(check=True, base_dir=tmp_path), request(restore_previous=True))
    assert check.changed and "would restore" in check.msg
    assert secret_data(cluster)["tls.crt"] == quarter[0]

    before = cluster.get("secret", "api-tls")["metadata"]["resourceVersion"]
    with pytest.raises(InvalidInput, match="fewer than min_days=60"):  # the previous pair has 30 days
        target.certificate(step(base_dir=tmp_path), request(restore_previous=True, min_days=60))
    assert cluster.get("secret", "api-tls")["metadata"]["resourceVersion"] == before

    restored = target.certificate(step(base_dir=tmp_path), request(restore_previous=True))
    assert restored.changed and not restored.failed, restored.msg
    assert secret_data(cluster) == {"tls.crt": month[0], "tls.key": month[1],
                                    "previous-tls.crt": quarter[0], "previous-tls.key": quarter[1]}
    assert len(cluster.revisions("nginx")) == len(revisions) + 1  # the serving Deployment restarted
