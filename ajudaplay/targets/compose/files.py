"""config, secret and certificate on a Compose host: files next to the project.

Each compares what is on the host first, writes only what differs (through
the host connection, atomically), and restarts or reloads the service only
when something changed. Secret values never leave this module: changes name
keys only.
"""

from __future__ import annotations

import difflib
import hashlib
import posixpath
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ajudaplay import certs, envfile
from ajudaplay.errors import InvalidInput, TargetError
from ajudaplay.outcomes import DEFAULT_WAIT, CertificateOutcome, Change, ConfigOutcome, SecretOutcome
from ajudaplay.targets.compose import ops
from ajudaplay.targets.compose.health import HealthFailure, wait_healthy

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


def _sha256(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def config(sess: Session, ctx: StepContext, svc: ServiceMap, files: dict[str, bytes], restart: bool) -> ConfigOutcome:
    """Upload config files into the service's config folder; restart only if one changed."""
    folder = sess.settings.path(svc.config_dir or f"config/{svc.compose}")
    changes: list[Change] = []
    pending: list[tuple[str, bytes]] = []
    for name, content in sorted(files.items()):
        path = posixpath.join(folder, name)
        current = sess.project.host.read_file(path)
        if current == content:
            continue
        shown = posixpath.relpath(path, sess.settings.project_dir)  # config/nginx/default.conf, as the project names it
        changes.append(Change(f"config {shown}", None if current is None else _sha256(current), _sha256(content),
                              _diff(path, current, content)))
        pending.append((path, content))
    data: dict[str, object] = {"service": svc.name, "dir": folder, "files": sorted(files), "changed_files": [p for p, _ in pending], "restarted": False}
    if not pending:
        return ConfigOutcome.of(data, msg=f"{svc.name}: config unchanged ({len(files)} file(s))")
    if ctx.check:
        more = f" and restart {svc.name}" if restart else ""
        return ConfigOutcome.of(data, changed=True, changes=changes, msg=f"would update {len(pending)} file(s){more}")
    for path, content in pending:
        sess.project.write_file(path, content, 0o644)
    if restart:
        done = ops.restart(sess, ctx, svc, reason="restarted (config changed)")
        return ConfigOutcome.of(dict(data, restarted=True), changed=True, failed=done.failed, changes=changes + done.changes,
                      msg=f"updated {len(pending)} file(s); {done.msg}")
    return ConfigOutcome.of(data, changed=True, changes=changes, msg=f"updated {len(pending)} file(s)")


def secret(sess: Session, ctx: StepContext, svc: ServiceMap, values: dict[str, str], restart: bool) -> SecretOutcome:
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
                               "updated": updated, "removed": removed, "restarted": False}
    if not changes and not needs_override:
        return SecretOutcome.of(data, msg=f"{svc.name}: secret env file unchanged ({len(values)} key(s))")
    if needs_override:
        changes.append(Change(f"{svc.name} env_file", None, path))
    if ctx.check:
        return SecretOutcome.of(data, changed=True, changes=changes, msg=f"would update {path} ({len(changes)} change(s))")
    sess.project.write_file(path, content, 0o600)  # created 0600 before the first byte (hosts/)
    if needs_override:
        sess.save_override(sess.override.with_env_file(svc.compose, path))
    if not restart:
        return SecretOutcome.of(data, changed=True, changes=changes, msg=f"updated {path}")
    # environment is read when a container is created: recreate, not restart
    containers = sess.project.containers(svc.compose)
    timeout = ctx.timeout or DEFAULT_WAIT
    sess.project.compose(
        "up", "-d", "--no-deps", "--force-recreate", "--scale", f"{svc.compose}={max(1, len(containers))}", svc.compose,
        what=f"recreating service {svc.compose!r} with the new environment", timeout=timeout,
    )
    try:
        wait_healthy(sess.project, ctx, svc.compose, None, max(1, len(containers)), svc.health_url, timeout)
    except HealthFailure as exc:
        return SecretOutcome.of(dict(data, restarted=True), changed=True, failed=True, changes=changes, msg=str(exc))
    return SecretOutcome.of(dict(data, restarted=True), changed=True, changes=changes,
                            msg=f"updated {path}; {svc.name} recreated, healthy")


@dataclass(frozen=True)
class _CertFiles:
    """Where a service's pair lives on the host, and the previous pair kept beside it."""

    cert: str
    key: str

    @property
    def previous(self) -> tuple[str, str]:
        return f"{self.cert}.previous", f"{self.key}.previous"


Pair = tuple[bytes | None, bytes | None]


def _cert_files(sess: Session, svc: ServiceMap, name: str | None) -> _CertFiles:
    base = name or svc.compose
    cert = svc.tls_cert or f"certs/{base}.crt"
    key = svc.tls_key or f"certs/{base}.key"
    return _CertFiles(sess.settings.path(cert), sess.settings.path(key))


def _read_pair(sess: Session, cert: str, key: str) -> Pair:
    return sess.project.host.read_file(cert), sess.project.host.read_file(key)


def _host_cert(sess: Session, path: str, data: bytes | None) -> certs.CertInfo | None:
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


def certificate(sess: Session, ctx: StepContext, req: CertificateRequest) -> CertificateOutcome:
    """Install a pair from files, put the previous pair back, or run a renewal command; enforce min_days.

    Every check that can refuse a pair (ajudaplay.certs.validate_pair) runs
    before anything is written; an accepted pair moves the one it replaces to
    `<file>.previous` (one step of `restore_previous`), then `reload` runs.
    """
    if req.service is None:
        raise TargetError("certificate on a Compose target needs `service` (whose certificate files to manage)")
    svc = sess.settings.service(req.service)
    files = _cert_files(sess, svc, req.name)
    current = _read_pair(sess, files.cert, files.key)
    if req.restore_previous:
        previous = _read_pair(sess, *files.previous)
        if previous[0] is None or previous[1] is None:
            raise TargetError(f"no previous certificate to restore: {files.previous[0]} and {files.previous[1]} "
                              "are kept when a certificate is replaced, and there is none yet")
        return _install(sess, ctx, req, svc, files, current, (previous[0], previous[1]), files.previous)
    if req.cert_file is not None and req.key_file is not None:
        new = (req.cert_file.read_bytes(), req.key_file.read_bytes())
        return _install(sess, ctx, req, svc, files, current, new, (str(req.cert_file), str(req.key_file)))
    if req.command or req.renew:
        return _renew(sess, ctx, req, svc, files, current)
    return _report(_host_cert(sess, files.cert, current[0]), files, req, [], [])


def _install(sess: Session, ctx: StepContext, req: CertificateRequest, svc: ServiceMap, files: _CertFiles,
             current: Pair, new: tuple[bytes, bytes], sources: tuple[str, str]) -> CertificateOutcome:
    """Vet `new`, keep `current` as the previous pair, write, reload: refused means untouched."""
    info = certs.validate_pair(new[0], new[1], sources[0], sources[1], req.min_days)
    if current == new:
        return _report(info, files, req, [], [])
    changes = [Change(f"certificate {files.cert}", _label(_readable(current[0], files.cert)), _label(info))]
    keep = current[0] is not None and current[1] is not None
    if keep:
        changes.append(Change(f"certificate {files.previous[0]}", None, "the replaced pair, for restore_previous"))
    if ctx.check:
        return _report(info, files, req, changes, [f"would reload {req.reload}"] if req.reload else [])
    if keep:
        _keep_previous(sess, files, current)
    sess.project.write_file(files.key, new[1], 0o600)
    sess.project.write_file(files.cert, new[0], 0o644)
    return _report(info, files, req, changes, [_reload(sess, ctx, req.reload, svc)])


def _keep_previous(sess: Session, files: _CertFiles, pair: Pair) -> None:
    """Copy the pair being replaced beside it; written first, so a failure here changes nothing served."""
    if pair[0] is not None and pair[1] is not None:
        sess.project.write_file(files.previous[0], pair[0], 0o644)
        sess.project.write_file(files.previous[1], pair[1], 0o600)


def _renew(sess: Session, ctx: StepContext, req: CertificateRequest, svc: ServiceMap, files: _CertFiles,
           current: Pair) -> CertificateOutcome:
    """Run the renewal command, then vet what it wrote; a refused pair is put back before any reload."""
    before = _readable(current[0], files.cert)
    if not req.command:
        raise TargetError("certificate renew on a Compose target needs `command` (e.g. certbot renew ...)")
    if ctx.check:
        return _report(before, files, req, [Change(f"certificate {files.cert}", _label(before), "renewal command would run")], [])
    cmd = f"cd {shlex.quote(sess.settings.project_dir)} && {req.command}"
    sess.project.run(cmd, f"renewal command {req.command!r}", timeout=req.timeout or ctx.timeout or 300)
    renewed = _read_pair(sess, files.cert, files.key)
    if renewed == current:
        return _report(_host_cert(sess, files.cert, renewed[0]), files, req, [], ["renewal command left the certificate unchanged"])
    if renewed[0] is None or renewed[1] is None:
        _put_back(sess, files, current)
        raise TargetError(f"renewal command ran but left no certificate and key at {files.cert} and {files.key}")
    try:
        info = certs.validate_pair(renewed[0], renewed[1], files.cert, files.key, req.min_days)
    except InvalidInput as exc:
        _put_back(sess, files, current)
        return CertificateOutcome.of(_data(before, files.cert), failed=True,
                      msg=f"renewed certificate refused, the previous files are back and nothing was reloaded: {exc}")
    changes = [Change(f"certificate {files.cert}", _label(before), _label(info))]
    if current[0] is not None and current[1] is not None:
        _keep_previous(sess, files, current)
        changes.append(Change(f"certificate {files.previous[0]}", None, "the replaced pair, for restore_previous"))
    return _report(info, files, req, changes, [_reload(sess, ctx, req.reload, svc)])


def _put_back(sess: Session, files: _CertFiles, pair: Pair) -> None:
    """Restore the files a refused renewal replaced (remove them if there were none)."""
    for path, content, mode in ((files.key, pair[1], 0o600), (files.cert, pair[0], 0o644)):
        if content is None:
            sess.project.run(f"rm -f {shlex.quote(path)}", f"removing the refused {path}", timeout=30)
        else:
            sess.project.write_file(path, content, mode)


def _readable(data: bytes | None, path: str) -> certs.CertInfo | None:
    """The installed certificate's facts for labels; None when absent or unreadable."""
    try:
        return None if data is None else certs.inspect_pem(data, path)
    except InvalidInput:
        return None


def _report(info: certs.CertInfo | None, files: _CertFiles, req: CertificateRequest, changes: list[Change],
            notes: list[str]) -> CertificateOutcome:
    data = _data(info, files.cert)
    if info is None:
        if changes:
            return CertificateOutcome.of(data, changed=True, changes=changes, msg="; ".join(notes) or "renewal command would run")
        return CertificateOutcome.of(data, failed=True, msg=f"no certificate at {files.cert} on the host")
    problem = certs.check_min_days(info, req.min_days, files.cert) if req.min_days is not None else None
    head = f"{files.cert}: notAfter {info.not_after:%Y-%m-%d %H:%M:%S} UTC ({info.days_left()} days left)"
    msg = "; ".join([head, *notes] + ([problem] if problem else []))
    return CertificateOutcome.of(data, changed=bool(changes), failed=problem is not None, changes=changes, msg=msg)


def _label(info: certs.CertInfo | None) -> str | None:
    return None if info is None else f"notAfter {info.not_after:%Y-%m-%d} serial {info.serial[:16]}"


def _data(info: certs.CertInfo | None, path: str) -> dict[str, object]:
    data: dict[str, object] = {"path": path}
    if info is not None:
        data.update(info.as_data())
    return data
