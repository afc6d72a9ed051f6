"""`certificate`: a cert-manager Certificate (read, renew like `cmctl renew`) or a TLS Secret from files.

cmctl renew sets the Issuing=True condition (reason ManuallyTriggered) through
the status subresource; cert-manager then issues and bumps status.revision.
We wait on a watch for Ready=True with a higher revision. A TLS Secret is
written only after ajudaplay.certs validated the pair (key matches, not
expired, chain in order, `min_days` left); the pair it replaces stays in the
same Secret as previous-tls.crt/previous-tls.key, written in the same PUT, for
`restore_previous`. `min_days` also fails a cert-manager task when notAfter is
too close, and the serving Deployment (`reload`) is restarted after a change.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ajudaplay import certs
from ajudaplay.errors import InvalidInput, TargetError
from ajudaplay.outcomes import CertificateOutcome, Change, Result
from ajudaplay.targets.base import CertificateRequest, StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import missing
from ajudaplay.targets.kubernetes.services import ServiceRef
from ajudaplay.targets.kubernetes.watching import wait_for

CM_VERSION = "cert-manager.io/v1"
DEFAULT_TIMEOUT = 300.0
RestartService = Callable[[str], Result]  # restarts the named service (`reload`)


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


def certificate(kube: Kube, ctx: StepContext, ref: ServiceRef | None, request: CertificateRequest,
                restart_service: RestartService) -> CertificateOutcome:
    """Dispatches on the request: files → TLS Secret, otherwise the cert-manager Certificate."""
    if request.restore_previous:
        result = _restore_previous(kube, ctx, ref, request)
    elif request.cert_file or request.key_file:
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
    return CertificateOutcome.gathered(result)


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


PREVIOUS = ("previous-tls.crt", "previous-tls.key")  # the replaced pair, kept in the same Secret


def _tls_secret(kube: Kube, ctx: StepContext, ref: ServiceRef | None, request: CertificateRequest) -> Result:
    """Install a vetted pair into the TLS Secret, the pair it replaces moving to previous-tls.*; one PUT."""
    name = _name(ref, request, "tls_secret", kube.target)
    cert_pem, cert_src = _read(request.cert_file, ctx.base_dir, "cert_file")
    key_pem, key_src = _read(request.key_file, ctx.base_dir, "key_file")
    info = certs.validate_pair(cert_pem, key_pem, cert_src, key_src, request.min_days)
    existing = _existing_tls(kube, name)
    return _put_pair(kube, ctx, name, existing, (cert_pem, key_pem), info, "installed")


def _restore_previous(kube: Kube, ctx: StepContext, ref: ServiceRef | None, request: CertificateRequest) -> Result:
    """Swap previous-tls.* back into tls.*, after the same checks as any install."""
    name = _name(ref, request, "tls_secret", kube.target)
    existing = _existing_tls(kube, name)
    old = (existing or {}).get("data") or {}
    if not all(old.get(k) for k in PREVIOUS):
        raise TargetError(f"TLS secret {name!r} holds no previous certificate to restore ({PREVIOUS[0]}/{PREVIOUS[1]} "
                          "are kept when a certificate is replaced, and there is none yet)")
    pair = (base64.b64decode(old[PREVIOUS[0]]), base64.b64decode(old[PREVIOUS[1]]))
    where = f"secret {name}"
    info = certs.validate_pair(pair[0], pair[1], f"{where} {PREVIOUS[0]}", f"{where} {PREVIOUS[1]}", request.min_days)
    return _put_pair(kube, ctx, name, existing, pair, info, "restored")


def _existing_tls(kube: Kube, name: str) -> JSON | None:
    existing = kube.get_or_none(kube.ns_path("v1", "secrets", name), what=f"secret {name!r}")
    if existing is not None and existing.get("type") not in (None, "kubernetes.io/tls"):
        raise TargetError(f"secret {name!r} has type {existing.get('type')!r}, not kubernetes.io/tls; refusing to replace it")
    return existing


def _put_pair(kube: Kube, ctx: StepContext, name: str, existing: JSON | None, pair: tuple[bytes, bytes],
              info: certs.CertInfo, verb: str) -> Result:
    data = dict(info.as_data(), kind="tls-secret", name=name)
    what = f"secret {name!r}"
    wanted = {"tls.crt": base64.b64encode(pair[0]).decode("ascii"), "tls.key": base64.b64encode(pair[1]).decode("ascii")}
    old = (existing or {}).get("data") or {}
    if old.get("tls.crt") == wanted["tls.crt"] and old.get("tls.key") == wanted["tls.key"]:
        return Result(msg=f"TLS secret {name!r} already holds this certificate (notAfter {info.not_after:%Y-%m-%d})", data=data)
    changes = [Change(f"tls secret {name}", _fingerprint(old.get("tls.crt"), name), info.fingerprint[:16])]
    if old.get("tls.crt") and old.get("tls.key"):  # the replaced pair stays one restore_previous away
        wanted.update({PREVIOUS[0]: old["tls.crt"], PREVIOUS[1]: old["tls.key"]})
        changes.append(Change(f"tls secret {name} {PREVIOUS[0]}", None, "the replaced pair, for restore_previous"))
    elif old.get(PREVIOUS[0]) and old.get(PREVIOUS[1]):
        wanted.update({k: old[k] for k in PREVIOUS})
    body: JSON = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                  "metadata": {"name": name, "namespace": kube.namespace}, "data": wanted}
    if existing is None:
        kube.request("POST", kube.ns_path("v1", "secrets"), body=body, dry_run=ctx.check, what=what)
    else:
        body["metadata"] = dict(existing["metadata"])  # with its resourceVersion: a concurrent change is a 409
        kube.request("PUT", kube.ns_path("v1", "secrets", name), body=body, dry_run=ctx.check, what=what)
    if ctx.check:
        verb = {"installed": "would install", "restored": "would restore"}[verb]
    return Result(changed=True, msg=f"{verb} certificate {info.subject} (notAfter {info.not_after:%Y-%m-%d}) in TLS secret {name!r}",
                  changes=changes, data=data)


def _fingerprint(b64: str | None, name: str) -> str | None:
    if not b64:
        return None
    try:
        return certs.inspect_pem(base64.b64decode(b64), f"secret {name}").fingerprint[:16]
    except (InvalidInput, ValueError):
        return "unparseable"
