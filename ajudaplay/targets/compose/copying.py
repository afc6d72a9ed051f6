"""`fetch` and `upload` on Compose: `docker cp` on the host, the archive carried controller <-> host.

`docker cp CONTAINER:PATH -` writes a tar archive and `docker cp - CONTAINER:DIR`
extracts one, on a running or a stopped container alike. The Docker engine
may be on another machine (an SSH target), so the archive goes through a
temporary file on the host (mode 0600), moved with the connection's
read_file/write_file (SFTP / a binary stdin channel over SSH, plain files on
`@local`) and checksummed on both sides of that hop (`sha256sum` on the host).
Into the container, what landed is read back with `docker cp` and compared
file by file with what was sent (targets/copying.py). A running container
gets the copy under a temporary name first, renamed by `docker exec ... mv`
once it checked out (needs `sh` and `mv` in the image); a stopped one cannot
run anything, so the copy is extracted under its final name (nobody reads
it meanwhile) and a folder there is merged into, not replaced.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ajudaplay.errors import TargetError
from ajudaplay.targets import copying

if TYPE_CHECKING:
    from ajudaplay.hosts.base import CommandResult
    from ajudaplay.targets.base import Result, StepContext
    from ajudaplay.targets.compose.cli import Container
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

TIMEOUT = 600.0
MISMATCH_RC = 46
NOT_FOUND = ("No such container:path", "Could not find the file", "must be a directory")


class ContainerFiles:
    """copying.Transport over `docker cp` on the Compose host."""

    def __init__(self, sess: Session, ctx: StepContext, container: Container) -> None:
        self.host, self.ctx, self.target = sess.project.host, ctx, sess.settings.target
        self.cid, self.running = container.id, container.status == "running"
        self.where = f"container {container.name}" + ("" if self.running else f" ({container.status})")

    def _run(self, command: str, what: str) -> CommandResult:
        result = self.host.run(command, timeout=self.ctx.timeout or TIMEOUT, cancel=self.ctx.cancel)
        if not result.ok and not any(n in result.stderr for n in NOT_FOUND):
            detail = (result.stderr or result.stdout).strip()[-400:] or f"exit status {result.rc}"
            full = " (a disk is full)" if "no space left" in detail.lower() else ""
            raise TargetError(f"target {self.target!r}: {what} in {self.where}: {detail}{full}")
        return result

    def _ref(self, path: str) -> str:
        return shlex.quote(f"{self.cid}:{path}")

    def read(self, path: str) -> copying.Archive | None:
        tmp = _host_tmp()
        q = shlex.quote(tmp)
        done = self._run(f"umask 077; docker cp {self._ref(path)} - > {q} && sha256sum < {q}; rc=$?; "
                         f"[ $rc = 0 ] || rm -f {q}; exit $rc", f"reading {path}")
        if not done.ok:
            return None
        try:
            data = self.host.read_file(tmp)
        finally:
            self.host.run(f"rm -f {q}", timeout=30)
        if data is None:
            raise TargetError(f"target {self.target!r}: the archive of {path} vanished from the host ({tmp})")
        return copying.Archive(data, sent_sha256=done.stdout.split()[0] if done.stdout.split() else "")

    def stage(self, folder: str, final: str, build: Callable[[str], bytes]) -> tuple[str, copying.Manifest]:
        name = copying.staging_name(final) if self.running else posixpath.basename(final)
        data = build(name)
        tmp = _host_tmp()
        q = shlex.quote(tmp)
        self.host.write_file(tmp, data, 0o600)
        sha = hashlib.sha256(data).hexdigest()
        done = self._run(
            f"[ \"$(sha256sum < {q} | cut -c1-64)\" = {sha} ] || {{ echo 'checksum mismatch between the controller "
            f"and the host' >&2; rm -f {q}; exit {MISMATCH_RC}; }}; docker cp - {self._ref(folder)} < {q}; rc=$?; "
            f"rm -f {q}; exit $rc", f"writing into {folder}")
        if not done.ok:
            raise TargetError(f"target {self.target!r}: upload to {self.where}: no such folder in the container: {folder}")
        back = self.read(posixpath.join(folder, name))
        return name, copying.tar_manifest(back.data, name, self.where) if back is not None else {}

    def commit(self, folder: str, name: str, final: str) -> None:
        if name == posixpath.basename(final):
            return
        args = " ".join(shlex.quote(a) for a in (copying.COMMIT_SH, "sh", folder, name, posixpath.basename(final)))
        done = self.host.run(f"docker exec {self.cid} sh -c {args}", timeout=120, cancel=self.ctx.cancel)
        if not done.ok:
            self.discard(folder, name)
            raise TargetError(f"target {self.target!r}: renaming the copy into {final} in {self.where} failed "
                              f"(needs sh and mv in the image): {(done.stderr or done.stdout).strip()[-300:]}")

    def discard(self, folder: str, name: str) -> None:
        if self.running and name:
            path = shlex.quote(posixpath.join(folder, name))
            self.host.run(f"docker exec {self.cid} rm -rf -- {path}", timeout=60)


def _host_tmp() -> str:
    return f"/tmp/.ajudaplay-cp-{uuid.uuid4().hex}.tar"


def _container(sess: Session, svc: ServiceMap) -> Container:
    """The service's first running container, else its first one (docker cp works on a stopped container)."""
    containers = sess.project.containers(svc.compose)
    running = [c for c in containers if c.status == "running"]
    if not containers:
        raise TargetError(f"target {sess.settings.target!r}: service {svc.compose!r} has no container to copy files with")
    return (running or containers)[0]


def fetch(sess: Session, ctx: StepContext, svc: ServiceMap, src: str, dest: Path, shown_dest: str) -> Result:
    """Copy a file or folder from the service's container to the controller."""
    container = _container(sess, svc)
    result = copying.fetch(ctx, ContainerFiles(sess, ctx, container), src, dest, shown_dest)
    result.data["container"] = container.name
    return result


def upload(sess: Session, ctx: StepContext, svc: ServiceMap, src: Path, dest: str, mode: int | None,
           shown_src: str) -> Result:
    """Copy a controller file or folder into the service's container."""
    container = _container(sess, svc)
    result = copying.upload(ctx, ContainerFiles(sess, ctx, container), src, dest, mode, shown_src)
    result.data["container"] = container.name
    return result
