"""certificate on Compose: a refused pair leaves the files and NGINX untouched; an accepted one keeps the previous.

Real engine, `@local` and over SSH. The nginx stand-in counts its reloads in
/www/reloads, so "not reloaded" is measured, not assumed.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import Project, Run, docker, make_cert


def reloads(project: Project) -> int:
    out = docker("exec", project.containers("nginx")[0]["Id"], "sh", "-c", "cat /www/reloads 2>/dev/null || echo 0")
    return int(out.strip() or 0)


def installed(project: Project) -> dict[str, bytes]:
    certs = Path(project.dir) / "certs"
    return {p.name: p.read_bytes() for p in sorted(certs.iterdir())} if certs.exists() else {}


def install(project: Project, cert: Path, key: Path, *extra: str) -> Run:
    return project.run("cert-renew.yml", "-e", f"cert_file={cert}", "-e", f"key_file={key}", *extra)


def restore_playbook(tmp_path: Path, min_days: int | None = None) -> str:
    args: dict[str, object] = {"service": "nginx", "name": "tls", "restore_previous": True, "reload": "nginx"}
    if min_days is not None:
        args["min_days"] = min_days
    path = tmp_path / "restore.yml"
    path.write_text(json.dumps([{"name": "Restore", "hosts": "all", "tasks": [{"name": "Restore", "certificate": args}]}]))
    return str(path)


def test_short_certificate_is_refused_before_anything_is_written(project: Project, tmp_path: Path) -> None:
    month = make_cert(tmp_path, "month", days=30)
    done = install(project, *month)  # cert-renew.yml: min_days 14
    assert done.rc == 0, done.text
    good = installed(project)
    assert good == {"tls.crt": month[0].read_bytes(), "tls.key": month[1].read_bytes()}
    assert reloads(project) == 1

    week = make_cert(tmp_path, "week", days=5)
    refused = install(project, *week)
    assert refused.rc == 2, refused.text
    [res] = refused.results("Install the certificate from files")
    assert res["status"] == "failed" and "fewer than min_days=14" in res["msg"], res
    assert installed(project) == good  # files untouched, no .previous either
    assert reloads(project) == 1  # NGINX never reloaded onto it


def test_accepted_certificate_keeps_the_previous_pair_and_restore_swaps_back(project: Project, tmp_path: Path) -> None:
    month = make_cert(tmp_path, "month", days=30)
    quarter = make_cert(tmp_path, "quarter", days=90)
    assert install(project, *month).rc == 0
    done = install(project, *quarter)
    assert done.rc == 0, done.text
    files = installed(project)
    assert files["tls.crt"] == quarter[0].read_bytes() and files["tls.key"] == quarter[1].read_bytes()
    assert files["tls.crt.previous"] == month[0].read_bytes() and files["tls.key.previous"] == month[1].read_bytes()
    certs = Path(project.dir) / "certs"
    assert stat.S_IMODE((certs / "tls.key.previous").stat().st_mode) == 0o600
    assert reloads(project) == 2

    too_short = project.run(restore_playbook(tmp_path, min_days=60))  # the previous pair has 30 days
    assert too_short.rc == 2 and "fewer than min_days=60" in too_short.text, too_short.text
    assert installed(project) == files and reloads(project) == 2

    back = project.run(restore_playbook(tmp_path))
    assert back.rc == 0, back.text
    assert back.results("Restore")[0]["changed"] is True
    swapped = installed(project)
    assert swapped["tls.crt"] == month[0].read_bytes() and swapped["tls.key"] == month[1].read_bytes()
    assert swapped["tls.crt.previous"] == quarter[0].read_bytes()
    assert reloads(project) == 3


def test_restore_without_a_previous_pair_fails_and_changes_nothing(project: Project, tmp_path: Path) -> None:
    assert install(project, *make_cert(tmp_path, "first", days=30)).rc == 0
    files = installed(project)
    done = project.run(restore_playbook(tmp_path))
    assert done.rc == 2 and "no previous certificate to restore" in done.text, done.text
    assert installed(project) == files and reloads(project) == 1


def test_refused_renewal_puts_the_previous_files_back_without_reload(project: Project, tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    month = make_cert(tmp_path, "month", days=30)
    assert install(project, *month).rc == 0
    source = Path(f"{project.dir}-renewal")  # readable by the SSH user too
    source.mkdir(mode=0o755)
    request.addfinalizer(lambda: shutil.rmtree(source, ignore_errors=True))
    cert, key = make_cert(source, "short", days=5)
    for p in (cert, key):
        os.chmod(p, 0o644)
    command = f"cp {cert} certs/tls.crt && cp {key} certs/tls.key"
    done = project.run("cert-renew.yml", "-e", json.dumps({"renew_command": command}))
    assert done.rc == 2, done.text
    [res] = done.results("Renew the certificate")
    assert "refused" in res["msg"] and "fewer than min_days=14" in res["msg"], res
    assert installed(project) == {"tls.crt": month[0].read_bytes(), "tls.key": month[1].read_bytes()}
    assert reloads(project) == 1


# ajudaplay.certs, the checks both modes run before writing ------------------------------------
def _issue(subject: str, issuer_key: Any, issuer_name: Any, days: int, ca: bool) -> tuple[Any, Any]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=400))
               .not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def test_chain_order_and_expired_intermediates_are_refused() -> None:
    from cryptography.hazmat.primitives import serialization

    from ajudaplay import certs
    from ajudaplay.errors import InvalidInput

    pem = serialization.Encoding.PEM
    root_key, root = _issue("root", None, None, 3650, True)
    mid_key, mid = _issue("intermediate", root_key, root.subject, 365, True)
    leaf_key, leaf = _issue("leaf", mid_key, mid.subject, 30, False)
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    good = leaf.public_bytes(pem) + mid.public_bytes(pem)
    assert certs.validate_pair(good, key_pem, "full.pem", "key.pem", min_days=14).subject == "CN=leaf"
    with pytest.raises(InvalidInput, match="not issued by"):
        certs.validate_pair(leaf.public_bytes(pem) + root.public_bytes(pem), key_pem, "wrong.pem", "key.pem")
    _, old_mid = _issue("intermediate", root_key, root.subject, -1, True)
    with pytest.raises(InvalidInput, match="certificate 2 of the chain .* has expired"):
        certs.validate_pair(leaf.public_bytes(pem) + old_mid.public_bytes(pem), key_pem, "old.pem", "key.pem")
    with pytest.raises(InvalidInput, match="fewer than min_days=31"):
        certs.validate_pair(good, key_pem, "full.pem", "key.pem", min_days=31)
