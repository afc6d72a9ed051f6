"""Files in and out of a service, the mode-agnostic half: tar archives, checksums, the controller's side.

Both modes move a file or a folder as a tar archive, the stream `kubectl cp`
and `docker cp` use; a mode supplies only a `Transport` (read an archive of a
path in the container, write one into it). What comes from the target is
never trusted: every member must sit under the one top name asked for (no
absolute name, no `..`), and extraction uses tarfile's `data` filter (no
links out, no devices, no setuid bits). Every file's sha256 is compared
between what was sent and what was received; the receiving side is written
under a temporary name and renamed into place only once it checked out.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import posixpath
import shutil
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Protocol

from ajudaplay.errors import TargetError
from ajudaplay.targets.base import Change, Result, StepContext

# $1 folder, $2 staged name, $3 final path: a folder is moved aside first (rename cannot replace one)
COMMIT_SH = ('cd "$1" && if [ -d "$3" ] && [ ! -L "$3" ]; then mv "$3" "$2.old" && mv "$2" "$3" && rm -rf "$2.old"; '
             'else mv -f "$2" "$3"; fi')

# relative path (top name first) -> sha256 of a file's bytes, "dir", or "link:<target>"
Manifest = dict[str, str]


class Transport(Protocol):
    """How one mode reaches the container's files (targets/kubernetes/copying.py, targets/compose/copying.py)."""

    where: str  # "pod api-5d9c-x container api", for messages and registered data

    def read(self, path: str) -> Archive | None:
        """A tar archive whose top member is basename(path); None when the path does not exist."""
        ...

    def stage(self, folder: str, final: str, build: Callable[[str], bytes]) -> tuple[str, Manifest]:
        """Extract `build(name)` (an archive whose top member is `name`) into `folder` under a name the
        transport picks (a temporary one, or `final` where nothing can be renamed afterwards): that name
        and the checksums the container side computed of what it received."""
        ...

    def commit(self, folder: str, name: str, final: str) -> None:
        """Rename the verified `folder/name` to `final` (replacing what was there); no-op when name is final."""
        ...

    def discard(self, folder: str, name: str) -> None:
        """Remove a staged copy that did not check out (best effort)."""
        ...


@dataclass(frozen=True)
class Archive:
    """What the sending side produced: the tar bytes and its own checksums of them."""

    data: bytes
    sent_files: Manifest | None = None  # per-file sha256 computed where the files are
    sent_sha256: str | None = None  # sha256 of the archive as the sender wrote it


def staging_name(final: str) -> str:
    """The temporary name a copy gets beside its final place (hidden, unique, recognisably ours)."""
    return f".{posixpath.basename(final)}.ajudaplay-{uuid.uuid4().hex[:8]}"


# archives ----------------------------------------------------------------------------
def safe_members(tar: tarfile.TarFile, top: str, what: str) -> list[tarfile.TarInfo]:
    """The members, each checked to be `top` or under it; anything else is refused, never extracted."""
    members = tar.getmembers()
    for m in members:
        parts = PurePosixPath(m.name).parts
        if m.name.startswith("/") or ".." in parts or not parts or parts[0] != top:
            raise TargetError(f"{what}: refused the archive: member {m.name!r} is not under {top!r} "
                              "(absolute names and '..' are never extracted)")
        if m.issym() or m.islnk():
            link = PurePosixPath(m.linkname)
            if m.linkname.startswith("/") or ".." in link.parts:
                raise TargetError(f"{what}: refused the archive: link {m.name!r} points outside ({m.linkname!r})")
    return members


def complete(data: bytes) -> bool:
    """The archive ends as tar ends one (whole 512-byte blocks, two zero blocks last) and parses."""
    if len(data) < 1024 or len(data) % 512 or not data.endswith(b"\0" * 1024):
        return False
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            tar.getmembers()
    except tarfile.TarError:
        return False
    return True


def tar_manifest(data: bytes, top: str, what: str) -> Manifest:
    """Per-member checksums of an archive, computed here (the receiving end)."""
    found: Manifest = {}
    with _open(data, what) as tar:
        for m in safe_members(tar, top, what):
            name = posixpath.normpath(m.name)
            if m.isfile():
                handle = tar.extractfile(m)
                found[name] = hashlib.sha256(handle.read() if handle else b"").hexdigest()
            elif m.isdir():
                found[name] = "dir"
            elif m.issym():
                found[name] = f"link:{m.linkname}"
    return found


class Truncated(TargetError):
    """The archive ended early or is garbled: worth one more try (kubectl cp retries the same way)."""


def _open(data: bytes, what: str) -> tarfile.TarFile:
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
        tar.getmembers()  # reads the whole index now, so a short archive fails here and not mid-use
        return tar
    except tarfile.TarError as exc:
        raise Truncated(f"{what}: the archive received is not a complete tar stream ({exc})") from exc


def local_manifest(path: Path, top: str) -> Manifest:
    """Checksums of a controller-side file or folder, named as they would be in an archive with `top`."""
    found: Manifest = {}
    if path.is_symlink():
        return {top: f"link:{os.readlink(path)}"}
    if path.is_file():
        return {top: _sha_file(path)}
    found[top] = "dir"
    for item in sorted(path.rglob("*")):
        name = posixpath.join(top, item.relative_to(path).as_posix())
        if item.is_symlink():
            found[name] = f"link:{os.readlink(item)}"
        elif item.is_dir():
            found[name] = "dir"
        elif item.is_file():
            found[name] = _sha_file(item)
    return found


def _sha_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pack(path: Path, top: str, mode: int | None) -> bytes:
    """A tar archive of a local file or folder under the name `top`; `mode` for every regular file."""
    buffer = io.BytesIO()

    def fix(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if mode is not None and info.isfile():
            info.mode = mode
        return info

    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(path), arcname=top, recursive=True, filter=fix)
    return buffer.getvalue()


def files_only(manifest: Manifest) -> Manifest:
    """The comparable part: files and links (folders are implied, and their listing differs per tool)."""
    return {k: v for k, v in manifest.items() if v != "dir"}


def regular(manifest: Manifest) -> Manifest:
    """Regular files only: what `sha256sum` can vouch for on the other side (links are not followed)."""
    return {k: v for k, v in manifest.items() if v != "dir" and not v.startswith("link:")}


def summary(manifest: Manifest) -> tuple[int, str]:
    """(number of files, sha256): a file's own sha256, or for a folder the sha256 of its sorted listing."""
    files = files_only(manifest)
    if len(manifest) == 1 and len(files) == 1:
        return 1, next(iter(files.values()))
    listing = "".join(f"{v}  {k.split('/', 1)[1] if '/' in k else '.'}\n" for k, v in sorted(files.items()))
    return len(files), hashlib.sha256(listing.encode()).hexdigest()


def relative(manifest: Manifest) -> Manifest:
    """The manifest with its top name replaced by '.', so copies under other names compare."""
    return {("." + k[k.index("/"):] if "/" in k else "."): v for k, v in manifest.items()}


def compare(sent: Manifest, received: Manifest, what: str) -> None:
    """Fail loudly when a single byte differs between both ends."""
    a, b = regular(relative(sent)), regular(relative(received))
    if a != b:
        bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        raise TargetError(f"{what}: checksum mismatch between what was sent and what was received "
                          f"({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}); nothing was put in place")


def _size(manifest_source: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(manifest_source), mode="r:") as tar:
        return sum(m.size for m in tar.getmembers() if m.isfile())


def _data(src: str, dest: str, manifest: Manifest, size: int, changed: bool, where: str) -> dict[str, object]:
    count, sha = summary(manifest)
    return {"src": src, "dest": dest, "size": size, "sha256": sha, "files": count, "changed": changed, "where": where}


# fetch: container -> controller ---------------------------------------------------------
def fetch(ctx: StepContext, transport: Transport, src: str, dest: Path, shown_dest: str) -> Result:
    """Copy `src` from the container to `dest` on the controller (a trailing '/' on dest: into that folder)."""
    what = f"fetch {src} from {transport.where}"
    top = posixpath.basename(src.rstrip("/")) or "root"
    dest = dest / top if shown_dest.endswith("/") else dest
    archive = transport.read(src)
    if archive is None:
        raise TargetError(f"{what}: no such file or folder in the container: {src}")
    if archive.sent_sha256 is not None:
        got = hashlib.sha256(archive.data).hexdigest()
        if got != archive.sent_sha256:
            raise TargetError(f"{what}: checksum mismatch: the archive was sent with sha256 {archive.sent_sha256}, "
                              f"received with {got}; nothing was written")
    received = tar_manifest(archive.data, top, what)
    if archive.sent_files is not None:
        compare(archive.sent_files, received, what)
    size = _size(archive.data)
    is_dir = received.get(top) == "dir"
    if dest.exists() and dest.is_dir() != is_dir and not dest.is_symlink():
        kind = "folder" if dest.is_dir() else "file"
        raise TargetError(f"{what}: {dest} is a {kind} and {src} is not; end dest with '/' to copy into a folder")
    current = local_manifest(dest, top) if dest.exists() else None
    changed = current is None or files_only(current) != files_only(received)
    data = _data(src, str(dest), received, size, changed, transport.where)
    change = Change(f"{dest}", None if current is None else summary(current)[1][:12], summary(received)[1][:12])
    if not changed:
        return Result(data=data, msg=f"{dest} already has the content of {src} ({size} bytes)")
    if ctx.check:
        return Result(changed=True, changes=[change], data=data, msg=f"would fetch {src} ({size} bytes) to {dest}")
    _place_local(archive.data, top, dest, received, what)
    return Result(changed=True, changes=[change], data=data, msg=f"fetched {src} ({size} bytes) to {dest}")


def _place_local(data: bytes, top: str, dest: Path, expected: Manifest, what: str) -> None:
    """Extract beside `dest` under a temporary name, re-check every file, then rename into place."""
    parent = dest.parent
    if not parent.is_dir():
        raise TargetError(f"{what}: the folder {parent} does not exist on the controller")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.ajudaplay-", dir=parent))
    except OSError as exc:
        raise TargetError(f"{what}: cannot write in {parent}: {exc.strerror or exc}") from exc
    try:
        with _open(data, what) as tar:
            members = safe_members(tar, top, what)
            tar.extractall(staging, members=members, filter="data")
        compare(expected, local_manifest(staging / top, top), what)
        old = None
        if dest.is_dir() and not dest.is_symlink():  # a folder cannot be renamed over: move it aside first
            old = parent / f".{dest.name}.ajudaplay-old-{uuid.uuid4().hex[:8]}"
            os.rename(dest, old)
        os.replace(staging / top, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except tarfile.FilterError as exc:
        raise TargetError(f"{what}: refused the archive: {exc}") from exc
    except OSError as exc:
        full = " (the controller's disk is full)" if exc.errno == errno.ENOSPC else ""
        raise TargetError(f"{what}: cannot write {dest}: {exc.strerror or exc}{full}; nothing was put in place") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# upload: controller -> container ------------------------------------------------------
def upload(ctx: StepContext, transport: Transport, src: Path, dest: str, mode: int | None, shown_src: str) -> Result:
    """Copy the controller's `src` to `dest` in the container (a trailing '/' on dest: into that folder)."""
    what = f"upload {shown_src} to {transport.where}"
    if not src.exists():
        raise TargetError(f"{what}: no such file or folder on the controller: {src}")
    final = posixpath.join(dest, src.name) if dest.endswith("/") else dest.rstrip("/") or "/"
    folder, top = posixpath.dirname(final) or "/", posixpath.basename(final)
    if not top:
        raise TargetError(f"upload.dest: {dest!r} names no file or folder")
    try:
        data = pack(src, top, mode)
    except OSError as exc:
        raise TargetError(f"{what}: cannot read {src}: {exc.strerror or exc}") from exc
    sent = tar_manifest(data, top, what)
    size = _size(data)
    existing = transport.read(final)
    current = tar_manifest(existing.data, top, what) if existing is not None else None
    changed = current is None or files_only(current) != files_only(sent) or mode is not None and _modes_differ(
        existing, top, mode, what)
    out = _data(shown_src, final, sent, size, changed, transport.where)
    change = Change(final, None if current is None else summary(current)[1][:12], summary(sent)[1][:12])
    if not changed:
        return Result(data=out, msg=f"{final} already has the content of {shown_src} ({size} bytes)")
    if ctx.check:
        return Result(changed=True, changes=[change], data=out, msg=f"would upload {shown_src} ({size} bytes) to {final}")
    name, received = transport.stage(folder, final, lambda name: pack(src, name, mode) if name != top else data)
    try:
        compare(sent, received, what)
    except TargetError:
        transport.discard(folder, name)
        raise
    transport.commit(folder, name, final)
    return Result(changed=True, changes=[change], data=out, msg=f"uploaded {shown_src} ({size} bytes) to {final}")


def _modes_differ(existing: Archive | None, top: str, mode: int, what: str) -> bool:
    if existing is None:
        return True
    with _open(existing.data, what) as tar:
        return any(m.isfile() and (m.mode & 0o7777) != mode for m in safe_members(tar, top, what))


def parse_sums(text: str, strip: str = "") -> Manifest:
    """`sha256sum` output (`HASH  NAME` lines) -> {name: hash}, names relative after removing `strip`."""
    found: Manifest = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if sep and len(digest) == 64:
            name = name[2:] if name.startswith("./") else name
            found[posixpath.normpath(name[len(strip):] if strip and name.startswith(strip) else name)] = digest
    return found
