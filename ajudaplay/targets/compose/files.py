"""config, secret and certificate on a Compose host: files next to the project.

Each compares what is on the host first, writes only what differs (through
the host connection, atomically), and restarts or reloads the service only
when something changed. Secret values never leave this module: changes name
keys only.
"""

from __future__ import annotations

import difflib
import posixpath
import shlex
from typing import TYPE_CHECKING

from ajudaplay import certs, envfile
from ajudaplay.errors import InvalidInput, TargetError
from ajudaplay.targets.base import Change, Result
from ajudaplay.targets.compose import ops
from ajudaplay.targets.compose.health import DEFAULT_TIMEOUT, HealthFailure, wait_healthy

if TYPE_CHECKING:
    from ajudaplay.targets.base import CertificateRequest, StepContext
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap


def _diff(path: str, before: bytes | None, after: bytes) -> str:
    try:
        old = (before or b"").decode().splitlines(keepends=True)
        new = after.decode().splitlines(keepends=True)
    except UnicodeDecodeError:
        return f"binary file {path} differs\n"
    return "".join(difflib.unified_diff(old, new, f"{path} (host)", f"{path} (new)"))


def config(sess: Session, ctx: StepContext, svc: ServiceMap, files: dict[str, bytes], restart: bool) -> Result:
    """Upload config files into the service's config folder; restart only if one changed."""
    folder = sess.settings.path(svc.config_dir or f"config/{svc.compose}")
    changes: list[Change] = []
    pending: list[tuple[str, bytes]] = []
    for name, content in sorted(files.items()):
        path = posixpath.join(folder, name)
        current = sess.project.host.read_file(path)
        if current == content:
            continue
        changes.append(Change(f"config {path}", "absent" if current is None else "old", "new", _diff(path, current, content)))
        pending.append((path, content))
    data: dict[str, object] = {"service": svc.name, "dir": folder, "files": sorted(files), "changed_files": [p for p, _ in pending]}
    if not pending:
        return Result(msg=f"{svc.name}: config unchanged ({len(files)} file(s))", data=data)
    if ctx.check:
        more = f" and restart {svc.name}" if restart else ""
        return Result(changed=True, changes=changes, data=data, msg=f"would update {len(pending)} file(s){more}")
    for path, content in pending:
        sess.project.write_file(path, content, 0o644)
    if restart:
        done = ops.restart(sess, ctx, svc, reason="restarted (config changed)")
        return Result(changed=True, failed=done.failed, changes=changes + done.changes, data=data,
                      msg=f"updated {len(pending)} file(s); {done.msg}")
    return Result(changed=True, changes=changes, data=data, msg=f"updated {len(pending)} file(s)")


def secret(sess: Session, ctx: StepContext, svc: ServiceMap, values: dict[str, str], restart: bool) -> Result:
    """Write the service's env file (created 0600), quoted for the host's Compose CLI; changes name keys only."""
    try:
        content = envfile.format_env(values, sess.probe.cli).encode()
    except envfile.EnvValueError as exc:
        raise TargetError(f"secret for {svc.name!r}: {exc}") from exc
    path = sess.settings.path(svc.env_file) if svc.env_file else sess.settings.default_env_file(svc)
    raw = sess.project.host.read_file(path)
    current = envfile.parse_env((raw or b"").decode("utf-8", "replace"))[0]
    added = sorted(set(values) - set(current))
    removed = sorted(set(current) - set(values))
    updated = sorted(k for k in set(values) & set(current) if values[k] != current[k])
    needs_override = svc.env_file is None and path not in (sess.override.services.get(svc.compose, {}).get("env_file") or [])
    changes = [Change(f"secret {svc.name} {k}", None if k in added else "********", None if k in removed else "********")
               for k in added + updated + removed]
    if raw is not None and raw != content and not changes:  # same values, written the old (misquoted) way
        changes.append(Change(f"secret {svc.name} env file", "other quoting", f"quoted for Compose {sess.probe.cli}"))
    data: dict[str, object] = {"service": svc.name, "path": path, "keys": sorted(values), "added": added,
                               "updated": updated, "removed": removed}
    if not changes and not needs_override:
        return Result(msg=f"{svc.name}: secret env file unchanged ({len(values)} key(s))", data=data)
    if needs_override:
        changes.append(Change(f"{svc.name} env_file", None, path))
    if ctx.check:
        return Result(changed=True, changes=changes, data=data, msg=f"would update {path} ({len(changes)} change(s))")
    sess.project.write_file(path, content, 0o600)  # created 0600 before the first byte (hosts/)
    if needs_override:
        sess.save_override(sess.override.with_env_file(svc.compose, path))
    if not restart:
        return Result(changed=True, changes=changes, data=data, msg=f"updated {path}")
    # environment is read when a container is created: recreate, not restart
    containers = sess.project.containers(svc.compose)
    timeout = ctx.timeout or DEFAULT_TIMEOUT
    sess.project.compose(
        "up", "-d", "--no-deps", "--force-recreate", "--scale", f"{svc.compose}={max(1, len(containers))}", svc.compose,
        what=f"recreating service {svc.compose!r} with the new environment", timeout=timeout,
    )
    try:
        wait_healthy(sess.project, ctx, svc.compose, None, max(1, len(containers)), svc.health_url, timeout)
    except HealthFailure as exc:
        return Result(changed=True, failed=True, changes=changes, data=data, msg=str(exc))
    return Result(changed=True, changes=changes, data=data, msg=f"updated {path}; {svc.name} recreated, healthy")


def _cert_paths(sess: Session, svc: ServiceMap, name: str | None) -> tuple[str, str]:
    base = name or svc.compose
    cert = svc.tls_cert or f"certs/{base}.crt"
    key = svc.tls_key or f"certs/{base}.key"
    return sess.settings.path(cert), sess.settings.path(key)


def _host_cert(sess: Session, path: str) -> certs.CertInfo | None:
    data = sess.project.host.read_file(path)
    if data is None:
        return None
    try:
        return certs.inspect_pem(data, path)
    except InvalidInput as exc:
        raise TargetError(f"target {sess.settings.target!r}: {exc}") from exc


def _reload(sess: Session, ctx: StepContext, name: str | None, fallback: ServiceMap) -> str:
    """Reload the serving service (its reload_command inside the container), else restart it."""
    svc = sess.settings.service(name) if name else fallback
    if svc.reload_command:
        cmd = sess.project.compose_cmd("exec", "-T", svc.compose, "sh", "-c", svc.reload_command)
        sess.project.run(cmd, f"reloading {svc.name} ({svc.reload_command})", timeout=ctx.timeout or 60)
        return f"{svc.name} reloaded"
    done = ops.restart(sess, ctx, svc, reason="restarted (certificate changed)")
    if done.failed:
        raise TargetError(done.msg)
    return f"{svc.name} restarted"


def certificate(sess: Session, ctx: StepContext, req: CertificateRequest) -> Result:
    """Install cert+key files, or run a renewal command; report notAfter; enforce min_days."""
    if req.service is None:
        raise TargetError("certificate on a Compose target needs `service` (whose certificate files to manage)")
    svc = sess.settings.service(req.service)
    cert_path, key_path = _cert_paths(sess, svc, req.name)
    before = _host_cert(sess, cert_path)
    changes: list[Change] = []
    info = before
    notes: list[str] = []
    if req.cert_file is not None and req.key_file is not None:
        cert_pem, key_pem = req.cert_file.read_bytes(), req.key_file.read_bytes()
        info = certs.validate_pair(cert_pem, key_pem, str(req.cert_file), str(req.key_file))
        same = sess.project.host.read_file(cert_path) == cert_pem and sess.project.host.read_file(key_path) == key_pem
        if not same:
            changes.append(Change(f"certificate {cert_path}", _label(before), _label(info)))
            if not ctx.check:
                sess.project.write_file(cert_path, cert_pem, 0o644)
                sess.project.write_file(key_path, key_pem, 0o600)
    elif req.command or req.renew:
        if not req.command:
            raise TargetError("certificate renew on a Compose target needs `command` (e.g. certbot renew ...)")
        if ctx.check:
            changes.append(Change(f"certificate {cert_path}", _label(before), "renewal command would run"))
        else:
            cmd = f"cd {shlex.quote(sess.settings.project_dir)} && {req.command}"
            sess.project.run(cmd, f"renewal command {req.command!r}", timeout=req.timeout or ctx.timeout or 300)
            info = _host_cert(sess, cert_path)
            if info is None:
                raise TargetError(f"renewal command ran but {cert_path} does not exist on the host")
            if before is None or info.fingerprint != before.fingerprint:
                changes.append(Change(f"certificate {cert_path}", _label(before), _label(info)))
            else:
                notes.append("renewal command left the certificate unchanged")
            if info.expired():
                return Result(changed=bool(changes), failed=True, changes=changes, data=_data(info, cert_path),
                              msg=f"certificate {cert_path} is expired after renewal (notAfter {info.not_after:%Y-%m-%d})")
    if changes and not ctx.check:
        notes.append(_reload(sess, ctx, req.reload, svc))
    elif changes and req.reload:
        notes.append(f"would reload {req.reload}")
    data = _data(info, cert_path)
    if info is None:
        if ctx.check and changes:
            return Result(changed=True, changes=changes, data=data, msg="; ".join(notes))
        return Result(failed=True, data=data, msg=f"no certificate at {cert_path} on the host")
    problem = certs.check_min_days(info, req.min_days, cert_path) if req.min_days is not None else None
    head = f"{cert_path}: notAfter {info.not_after:%Y-%m-%d %H:%M:%S} UTC ({info.days_left()} days left)"
    msg = "; ".join([head, *notes] + ([problem] if problem else []))
    return Result(changed=bool(changes), failed=problem is not None, changes=changes, data=data, msg=msg)


def _label(info: certs.CertInfo | None) -> str | None:
    return None if info is None else f"notAfter {info.not_after:%Y-%m-%d} serial {info.serial[:16]}"


def _data(info: certs.CertInfo | None, path: str) -> dict[str, object]:
    data: dict[str, object] = {"path": path}
    if info is not None:
        data.update(info.as_data())
    return data
