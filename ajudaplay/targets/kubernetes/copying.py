"""`fetch` and `upload` on Kubernetes: a tar stream over the pods/exec subresource, as `kubectl cp` does.

kubectl cp runs `tar cf - <src>` (out) and `tar xmf - -C <dir>` (in) in the
container; so does this, in one Ready pod of the service (else one Running
pod), with three additions: the container's own `sha256sum` of every file it
sends or received (compared with ours: targets/copying.py), a temporary name
renamed into place only after that check, and the archive's length in the
command (`head -c N | tar xf -`), because a server before 1.30 cannot signal
the end of stdin. The image needs `sh`, `tar`, `head`, `find`, `sha256sum`
and `mv` (busybox has them all); without `sha256sum` the sending side's
check is skipped with a warning.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Callable

from ajudaplay.errors import TargetError
from ajudaplay.targets import copying
from ajudaplay.targets.base import Result, StepContext
from ajudaplay.targets.kubernetes import podexec
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.objects import list_pods, pick_container, read_deployment
from ajudaplay.targets.kubernetes.services import ServiceRef

MISSING_RC = 44  # our scripts' "no such file or folder" exit status
TIMEOUT = 600.0  # seconds for one transfer when the step sets none

# $1 folder, $2 name: per-file sums on stderr, then the archive on stdout (one round trip)
READ_SH = ('cd "$1" 2>/dev/null && [ -e "$2" ] || { [ -L "$1/$2" ] || exit %d; }; '
           'if command -v sha256sum >/dev/null 2>&1; then find "$2" -type f -exec sha256sum {} + >&2 || exit 45; '
           'else echo ajudaplay-no-sha256sum >&2; fi; exec tar cf - "$2"') % MISSING_RC
# $1 folder, $2 name, $3 offset: the same archive again from byte $3 on (kubectl cp --retries does the same)
RESUME_SH = 'cd "$1" && tar cf - "$2" | tail -c +"$3"'
RETRIES = 5  # an exec stream can end before all of its output arrived (kubernetes/kubernetes#60140)
# $1 folder, $2 name, $3 length: extract exactly $3 bytes of stdin, then the sums of what arrived
STAGE_SH = ('[ -d "$1" ] || { echo "no such folder: $1" >&2; exit %d; }; cd "$1" && '
            'head -c "$3" | tar xf - && '
            'if command -v sha256sum >/dev/null 2>&1; then find "$2" -type f -exec sha256sum {} +; '
            'else echo ajudaplay-no-sha256sum; fi') % MISSING_RC

class PodFiles:
    """copying.Transport over exec in one pod's container."""

    def __init__(self, kube: Kube, ctx: StepContext, pod: str, container: str) -> None:
        self.kube, self.ctx, self.pod, self.container = kube, ctx, pod, container
        self.where = f"pod {pod} container {container}"
        self.warnings: list[str] = []

    def _sh(self, script: str, *args: str, stdin: bytes | None = None) -> podexec.Finished:
        return podexec.run(self.kube, self.pod, self.container, ["sh", "-c", script, "sh", *args], stdin=stdin,
                           timeout=self.ctx.timeout or TIMEOUT, cancel=self.ctx.cancel, what=f"copy in {self.where}")

    def _fail(self, what: str, done: podexec.Finished) -> TargetError:
        detail = (done.error or done.stderr.decode("utf-8", "replace")).strip()[-400:] or f"exit status {done.rc}"
        full = " (the container's disk is full)" if "No space left" in detail else ""
        return TargetError(f"{what} in {self.where}: {detail}{full}")

    def read(self, path: str) -> copying.Archive | None:
        folder, name = posixpath.split(path.rstrip("/") or "/")
        done = self._sh(READ_SH, folder or "/", name or ".")
        if podexec.no_shell(done):
            raise TargetError(f"copy in {self.where}: the image has no `sh` (and `tar`), which copying needs, "
                              "as for kubectl cp")
        if done.rc == MISSING_RC:
            return None
        if done.rc != 0:
            raise self._fail(f"reading {path}", done)
        data = self._resume(folder or "/", name or ".", done.stdout)
        text = done.stderr.decode("utf-8", "replace")
        if "ajudaplay-no-sha256sum" in text:
            self.warnings.append(f"{self.where} has no sha256sum: the sending side's checksums were not compared")
            return copying.Archive(data)
        return copying.Archive(data, sent_files=copying.parse_sums(text))

    def _resume(self, folder: str, name: str, data: bytes) -> bytes:
        """Complete an archive whose stream ended early by asking for the rest (the bytes are the same:
        tar of unchanged files is deterministic, and the checksums catch it when they are not)."""
        for _ in range(RETRIES):
            if copying.complete(data):
                return data
            more = self._sh(RESUME_SH, folder, name, str(len(data) + 1))
            if more.rc != 0:
                raise self._fail(f"reading {posixpath.join(folder, name)} again", more)
            data += more.stdout
        if copying.complete(data):
            return data
        raise copying.Truncated(f"copy in {self.where}: the archive of {posixpath.join(folder, name)} was still "
                                f"incomplete after {RETRIES} resumed reads ({len(data)} bytes)")

    def stage(self, folder: str, final: str, build: Callable[[str], bytes]) -> tuple[str, copying.Manifest]:
        name = copying.staging_name(final)
        data = build(name)
        done = self._sh(STAGE_SH, folder, name, str(len(data)), stdin=data)
        if done.rc == MISSING_RC:
            raise TargetError(f"upload to {self.where}: no such folder in the container: {folder}")
        if done.rc != 0:
            self.discard(folder, name)
            raise self._fail(f"writing into {folder}", done)
        text = done.stdout.decode("utf-8", "replace")
        if "ajudaplay-no-sha256sum" in text:  # receiving side: read back what landed, sum it here
            self.warnings.append(f"{self.where} has no sha256sum: what it received was read back and compared")
            back = self.read(posixpath.join(folder, name))
            return name, copying.tar_manifest(back.data, name, self.where) if back else {}
        return name, copying.parse_sums(text)

    def commit(self, folder: str, name: str, final: str) -> None:
        done = self._sh(copying.COMMIT_SH, folder, name, posixpath.basename(final))
        if done.rc != 0:
            self.discard(folder, name)
            raise self._fail(f"renaming the copy into {final}", done)

    def discard(self, folder: str, name: str) -> None:
        try:
            self._sh('cd "$1" && rm -rf -- "$2"', folder, name)
        except TargetError:
            pass


def _pod(kube: Kube, ref: ServiceRef, pods: list[JSON]) -> str:
    """A Ready pod (the first by name), else a Running one: copying needs only a running container."""
    def ready(p: JSON) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (p.get("status") or {}).get("conditions") or [])
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    for usable in ([p for p in live if ready(p)], [p for p in live if (p.get("status") or {}).get("phase") == "Running"]):
        if usable:
            return str(sorted(p["metadata"]["name"] for p in usable)[0])
    raise TargetError(f"service {ref.service!r} (deployment {ref.deployment}) has no running pod to copy files with")


def transport(kube: Kube, ctx: StepContext, ref: ServiceRef) -> PodFiles:
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    return PodFiles(kube, ctx, _pod(kube, ref, list_pods(kube, deployment)), container)


def fetch(kube: Kube, ctx: StepContext, ref: ServiceRef, src: str, dest: Path, shown_dest: str) -> Result:
    """Copy a file or folder from the service's container to the controller."""
    files = transport(kube, ctx, ref)
    result = copying.fetch(ctx, files, src, dest, shown_dest)
    result.data.update(pod=files.pod, container=files.container)
    result.warnings += files.warnings
    return result


def upload(kube: Kube, ctx: StepContext, ref: ServiceRef, src: Path, dest: str, mode: int | None,
           shown_src: str) -> Result:
    """Copy a controller file or folder into the service's container."""
    files = transport(kube, ctx, ref)
    result = copying.upload(ctx, files, src, dest, mode, shown_src)
    result.data.update(pod=files.pod, container=files.container)
    result.warnings += files.warnings
    return result

