"""`certificate`: a cert-manager Certificate (read, renew like `cmctl renew`) or a TLS Secret from files.

cmctl renew sets the Issuing=True condition (reason ManuallyTriggered) through
the status subresource; cert-manager then issues and bumps status.revision.
We wait on a watch for Ready=True with a higher revision. A TLS Secret is
written only after ajudaplay.certs validated the pair (key matches, not
expired). Either way `min_days` fails the task when notAfter is too close,
and the serving Deployment (`reload`) is restarted after a change.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ajudaplay import certs
from ajudaplay.errors import InvalidInput, TargetError
from ajudaplay.targets.base import CertificateRequest, Change, Result, StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import missing
from ajudaplay.targets.kubernetes.services import ServiceRef
from ajudaplay.targets.kubernetes.watching import wait_for

CM_VERSION = "cert-manager.io/v1"
DEFAULT_TIMEOUT = 300.0
RestartService = Callable[[str], Result]


def _condition(obj: JSON, kind: str) -> JSON | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def _is_true(obj: JSON, kind: str) -> bool:
    cond = _condition(obj, kind)
    return bool(cond and cond.get("status") == "True")


def _days_left(not_after: str | None) -> int | None:
    if not not_after:
        return None
    when = dt.datetime.fromisoformat(not_after.replace("Z", "+00:00"))
    return int((when - dt.datetime.now(dt.timezone.utc)).total_seconds() // 86400)


def _cert_data(cert: JSON) -> dict[str, Any]:
    status = cert.get("status") or {}
    ready = _condition(cert, "Ready") or {}
    return {
        "kind": "cert-manager",
        "name": cert["metadata"]["name"],
        "ready": ready.get("status") == "True",
        "ready_reason": ready.get("reason"),
        "ready_message": ready.get("message"),
        "not_after": status.get("notAfter"),
        "renewal_time": status.get("renewalTime"),
        "revision": status.get("revision"),
        "days_left": _days_left(status.get("notAfter")),
        "expired": (_days_left(status.get("notAfter")) or 0) < 0,
        "secret": (cert.get("spec") or {}).get("secretName"),
    }


def _with_secret_facts(kube: Kube, data: dict[str, Any]) -> dict[str, Any]:
    """Subject/serial/fingerprint from the issued Secret, best effort (RBAC may hide Secrets)."""
    if not data.get("secret"):
        return data
    try:
        secret = kube.get_or_none(kube.ns_path("v1", "secrets", str(data["secret"])), what=f"secret {data['secret']!r}")
        pem = base64.b64decode(((secret or {}).get("data") or {}).get("tls.crt", ""))
        if pem:
            info = certs.inspect_pem(pem, f"secret {data['secret']}")
            data.update({k: v for k, v in info.as_data().items() if k in ("subject", "issuer", "serial", "fingerprint")})
    except (TargetError, InvalidInput, ValueError):
        pass
    return data


def certificate(kube: Kube, ctx: StepContext, ref: ServiceRef | None, request: CertificateRequest, restart_service: RestartService) -> Result:
    """Dispatches on the request: files → TLS Secret, otherwise the cert-manager Certificate."""
    if request.cert_file or request.key_file:
        result = _tls_secret(kube, ctx, ref, request)
    else:
        result = _cert_manager(kube, ctx, ref, request)
    if result.changed and request.reload and not result.failed:
        restarted = restart_service(request.reload)
        result.changes.extend(restarted.changes)
        result.revisions.extend(restarted.revisions)
        result.msg += f"; {restarted.msg}"
        result.failed = restarted.failed
    days = result.data.get("days_left")
    if request.min_days is not None and not result.failed and isinstance(days, int) and days < request.min_days:
        result.failed = True
        result.msg = (f"certificate {result.data.get('name')!r} expires in {days} days (notAfter {result.data.get('not_after')}), "
                      f"fewer than min_days={request.min_days}; " + result.msg)
    return result


def _name(ref: ServiceRef | None, request: CertificateRequest, field: str, target: str) -> str:
    """The inventory's mapping wins (playbooks pass a generic `name`, e.g. cert-renew.yml's "tls"); else `name`."""
    mapped = getattr(ref, field, None) if ref is not None else None
    if mapped:
        return str(mapped)
    if request.name:
        return request.name
    if ref is None:
        raise TargetError(f"target {target!r}: the certificate action needs `name` or a `service` with {field!r} in the inventory")
    return ref.require(field, "certificate", target)


def _cert_manager(kube: Kube, ctx: StepContext, ref: ServiceRef | None, request: CertificateRequest) -> Result:
    name = _name(ref, request, "certificate", kube.target)
    path = kube.ns_path(CM_VERSION, "certificates", name)
    what = f"certificate {name!r}"
    try:
        cert = kube.get(path, what=what)
    except KubeApiError as exc:
        if not exc.not_found:
            raise
        hint = "is cert-manager installed (its CRDs)?" if exc.details.get("name") != name else f"the Certificate name is {name!r}"
        raise missing(kube, exc, hint) from exc
    if not request.renew:
        data = _with_secret_facts(kube, _cert_data(cert))
        return Result(msg=f"certificate {name!r}: ready={data['ready']}, notAfter {data['not_after']}", data=data)
    revision = int((cert.get("status") or {}).get("revision") or 0)
    change = Change(f"certificate {name} revision", str(revision), str(revision + 1))
    if not _is_true(cert, "Issuing"):
        _trigger(kube, ctx, path, name)
    if ctx.check:
        return Result(changed=True, msg=f"would trigger renewal of certificate {name!r}", changes=[change], data=_cert_data(cert))
    ctx.log(f"certificate {name}: renewal triggered; waiting for Ready with revision {revision + 1}")

    def renewed(obj: JSON) -> tuple[bool, str]:
        status = obj.get("status") or {}
        rev = int(status.get("revision") or 0)
        if rev > revision and _is_true(obj, "Ready") and not _is_true(obj, "Issuing"):
            return True, f"certificate {name} renewed (revision {rev})"
        issuing = _condition(obj, "Issuing") or {}
        if issuing.get("status") == "False" and issuing.get("reason") == "Failed":
            raise TargetError(f"certificate {name!r}: issuance failed: {issuing.get('message', '')}")
        return False, f"waiting for certificate {name} (revision {rev}, ready={_is_true(obj, 'Ready')})"

    timeout = request.timeout or ctx.timeout or DEFAULT_TIMEOUT
    final = wait_for(kube, kube.ns_path(CM_VERSION, "certificates"), name, cert, renewed,
                     timeout=float(timeout), cancel=ctx.cancel, log=ctx.log, what=what)
    data = _with_secret_facts(kube, _cert_data(final))
    return Result(changed=True, msg=f"certificate {name!r} renewed: revision {data['revision']}, notAfter {data['not_after']}",
                  changes=[Change(change.what, change.before, str(data["revision"]))], data=data)


def _trigger(kube: Kube, ctx: StepContext, path: str, name: str) -> None:
    """cmctl renew: Issuing=True/ManuallyTriggered via UpdateStatus (at the read resourceVersion, 409 → re-read)."""
    for attempt in range(3):
        cert = kube.get(path, what=f"certificate {name!r}")
        if _is_true(cert, "Issuing"):
            return
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = dict(cert.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Issuing"]
        conditions.append({"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
                           "message": "Certificate re-issuance manually triggered", "lastTransitionTime": now,
                           "observedGeneration": cert["metadata"].get("generation")})
        status["conditions"] = conditions
        body = dict(cert, status=status)
        try:
            kube.request("PUT", f"{path}/status", body=body, dry_run=ctx.check, what=f"certificate {name!r} status")
            return
        except KubeApiError as exc:
            if exc.status != 409 or attempt == 2:
                raise


def _read(path: Path | None, base: Path, label: str) -> tuple[bytes, str]:
    if path is None:
        raise TargetError(f"the certificate action needs both cert_file and key_file (missing {label})")
    full = path if path.is_absolute() else base / path
    try:
        return full.read_bytes(), str(full)
    except OSError as exc:
        raise TargetError(f"cannot read {label} {full}: {exc.strerror}") from exc


def _tls_secret(kube: Kube, ctx: StepContext, ref: ServiceRef | None, request: CertificateRequest) -> Result:
    name = _name(ref, request, "tls_secret", kube.target)
    cert_pem, cert_src = _read(request.cert_file, ctx.base_dir, "cert_file")
    key_pem, key_src = _read(request.key_file, ctx.base_dir, "key_file")
    info = certs.validate_pair(cert_pem, key_pem, cert_src, key_src)
    data = dict(info.as_data(), kind="tls-secret", name=name)
    path = kube.ns_path("v1", "secrets", name)
    what = f"secret {name!r}"
    existing = kube.get_or_none(path, what=what)
    wanted = {"tls.crt": base64.b64encode(cert_pem).decode("ascii"), "tls.key": base64.b64encode(key_pem).decode("ascii")}
    before = None
    if existing is not None:
        if existing.get("type") not in (None, "kubernetes.io/tls"):
            raise TargetError(f"secret {name!r} has type {existing.get('type')!r}, not kubernetes.io/tls; refusing to replace it")
        old = existing.get("data") or {}
        if old.get("tls.crt") == wanted["tls.crt"] and old.get("tls.key") == wanted["tls.key"]:
            return Result(msg=f"TLS secret {name!r} already holds this certificate (notAfter {info.not_after:%Y-%m-%d})", data=data)
        try:
            before = certs.inspect_pem(base64.b64decode(old.get("tls.crt", "")), f"secret {name}").fingerprint[:16]
        except Exception:  # noqa: BLE001 - an unreadable old certificate is just "something else"
            before = "unparseable"
    change = Change(f"tls secret {name}", before, info.fingerprint[:16])
    body: JSON = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                  "metadata": {"name": name, "namespace": kube.namespace}, "data": wanted}
    if existing is None:
        kube.request("POST", kube.ns_path("v1", "secrets"), body=body, dry_run=ctx.check, what=what)
    else:
        body["metadata"] = dict(existing["metadata"])
        kube.request("PUT", path, body=body, dry_run=ctx.check, what=what)
    verb = "would install" if ctx.check else "installed"
    return Result(changed=True, msg=f"{verb} certificate {info.subject} (notAfter {info.not_after:%Y-%m-%d}) in TLS secret {name!r}",
                  changes=[change], data=data)
